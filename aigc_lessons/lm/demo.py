"""The settings that notebooks 07 and 08 vary by mode besides the model and training configs."""

from __future__ import annotations

from dataclasses import dataclass

from ..runtime import for_mode

__all__ = ["LMDemoConfig"]


@dataclass
class LMDemoConfig:
    """What notebooks 07 and 08 vary by mode besides the training configs, quick and full side by side."""

    prompt: str = "ROMEO:\n"
    sample_chars: int = 300
    temperatures: tuple = (0.5, 1.0)
    top_k: int = 10
    top_p: float = 0.9
    memo_samples: int = 200       # samples for the memorisation measurement
    memo_chars: int = 256         # characters per sample
    memo_temperature: float = 1.0
    memo_spans: tuple = (10, 20, 30, 40, 50)
    poem_samples: int = 200       # Tang: poems for the format score ...
    poem_temperature: float = 1.0  # ... drawn from the model's own distribution
    poem_top_k: int | None = None
    poem_other_settings: tuple = ((("temperature", 0.5),), (("temperature", 0.8), ("top_k", 50)))
    seed: int = 0

    @classmethod
    def for_mode(cls, mode: str | None = None, **overrides) -> "LMDemoConfig":
        """Quick and full values side by side; keywords override any field."""
        return for_mode(cls, mode, quick=dict(sample_chars=300, memo_samples=200, memo_chars=256),
                        full=dict(sample_chars=600, memo_samples=500, memo_chars=512), **overrides)
