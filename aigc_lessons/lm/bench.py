"""``python -m aigc_lessons.bench lm-shakespeare`` and ``lm-tang``: the chapter's benchmarks.

Each trains :class:`~aigc_lessons.lm.model.GPT` with the mode's configs and reports what the book
quotes (held-out loss; for the Tang quatrains, the format rate of generated poems).
"""

from __future__ import annotations

import dataclasses

import torch

from ..runtime import seed_everything
from .corpora import format_rate, shakespeare_splits, tang_splits
from .demo import LMDemoConfig
from .model import GPT, GPTConfig
from .poems import sample_poems
from .train import TrainConfig, train_lm

__all__ = ["bench_shakespeare", "bench_tang"]


def _smoke(mcfg: GPTConfig, steps: int | None, batch_size: int | None) -> dict:
    """Test-only caps (overrides of the training config), so that a full-mode run can be started on
    a CPU in seconds."""
    caps: dict = {}
    if steps is not None:
        caps.update(steps=steps, eval_interval=steps, final_eval_tokens=4 * mcfg.block_size, eval_batches=1)
    if batch_size is not None:
        caps.update(batch_size=batch_size)
    return caps


def bench_shakespeare(mode: str, device: torch.device, *, steps: int | None = None,
                      batch_size: int | None = None) -> dict:
    """``python -m aigc_lessons.bench lm-shakespeare``: train :class:`~aigc_lessons.lm.model.GPT` on tiny-shakespeare with the
    mode's configs and report the held-out loss (nats per character). ``steps`` and
    ``batch_size`` are test-only caps (a smoke test of full mode on a CPU)."""
    splits = shakespeare_splits()
    mcfg = GPTConfig.for_mode(mode, splits.tokenizer.vocab_size, "shakespeare")
    tcfg = TrainConfig.for_mode(mode, "shakespeare", **_smoke(mcfg, steps, batch_size))
    seed_everything(tcfg.seed)
    res = train_lm(GPT(mcfg), splits, tcfg, device=device)
    return {"config": {"model": dataclasses.asdict(mcfg), "train": dataclasses.asdict(tcfg)},
            "metrics": {"val_loss": res.metrics["val_loss"], "steps": res.steps,
                        "tokens_per_second": res.metrics["tokens_per_second"],
                        "compile_seconds": res.metrics["compile_seconds"]},
            "train_seconds": res.train_seconds}


def bench_tang(mode: str, device: torch.device, *, steps: int | None = None, batch_size: int | None = None,
               n_samples: int = 200) -> dict:
    """``python -m aigc_lessons.bench lm-tang``: train on five-character quatrains; report held-out
    loss, the format rate of ``n_samples`` generated poems and the training set's own format rate.
    ``steps`` and ``batch_size`` are test-only caps."""
    splits = tang_splits()
    mcfg = GPTConfig.for_mode(mode, splits.tokenizer.vocab_size, "tang")
    tcfg = TrainConfig.for_mode(mode, "tang", **_smoke(mcfg, steps, batch_size))
    seed_everything(tcfg.seed)
    res = train_lm(GPT(mcfg), splits, tcfg, device=device)
    demo = LMDemoConfig.for_mode(mode)
    poems = sample_poems(res.model, splits.tokenizer, n_samples, seed=demo.seed, temperature=demo.poem_temperature,
                         top_k=demo.poem_top_k)
    train_poems = [p for p in splits.train_text.split("\n") if p]
    return {"config": {"model": dataclasses.asdict(mcfg), "train": dataclasses.asdict(tcfg),
                       "sampling": {"n": n_samples, "temperature": demo.poem_temperature, "top_k": demo.poem_top_k}},
            "metrics": {"val_loss": res.metrics["val_loss"], "format_rate": format_rate(poems),
                        "format_rate_train": format_rate(train_poems), "steps": res.steps},
            "train_seconds": res.train_seconds}
