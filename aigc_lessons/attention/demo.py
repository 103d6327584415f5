"""The settings of notebook 06 (attention), quick and full values side by side."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import runtime
from .fusion import FusionConfig

__all__ = ["AttentionDemoConfig"]


@dataclass
class AttentionDemoConfig:
    """Everything notebook 06 varies by mode, quick and full values side by side."""

    d_ks: tuple = (4, 16, 64, 256, 1024)
    scaling_queries: int = 512
    cost_seq_lens: tuple = (128, 256, 512, 1024, 2048)   # on the CPU
    cost_seq_lens_gpu: tuple = (256, 512, 1024, 2048, 4096, 8192, 16384)
    cost_repeats: int = 5
    cost_heads: int = 4
    cost_d_head: int = 32
    mistake_d_k: int = 512
    map_layers: tuple = (0, 2, 5)
    map_heads: tuple = (0, 3, 7, 11)
    fusion: FusionConfig = field(default_factory=FusionConfig)

    @classmethod
    def for_mode(cls, mode: str | None = None, **overrides) -> "AttentionDemoConfig":
        """The quick or full settings (see :func:`aigc_lessons.runtime.for_mode`), then ``overrides``;
        ``fusion`` follows the same mode."""
        fusion = FusionConfig.for_mode(mode)
        return runtime.for_mode(cls, mode,
                                quick=dict(d_ks=(4, 16, 64, 256, 1024), scaling_queries=512, cost_repeats=5,
                                           fusion=fusion),
                                full=dict(d_ks=(4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
                                          scaling_queries=4096, cost_repeats=10, fusion=fusion),
                                **overrides)
