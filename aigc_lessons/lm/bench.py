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

__all__ = ["bench_shakespeare", "bench_tang", "TARGET_VAL_LOSS", "seconds_to_target", "flops_per_token",
           "bf16_peak_flops"]

#: The held-out loss of nanoGPT's shakespeare_char baseline, the chapter's full-mode target (nats/char).
TARGET_VAL_LOSS = 1.47

# Dense bf16 tensor-core peaks from NVIDIA's data sheets (FLOP/s, without sparsity), by device name.
_BF16_PEAKS = (("H100 PCIe", 756e12), ("H100", 989e12), ("H200", 989e12), ("A100", 312e12))


def seconds_to_target(history: dict, target: float = TARGET_VAL_LOSS) -> float | None:
    """Training seconds at the first evaluation whose held-out estimate is at or below ``target``
    (``None`` if none is): the speed measure of the chapter's full-mode benchmark."""
    for seconds, loss in zip(history["seconds"], history["val_loss"]):
        if loss <= target:
            return float(seconds)
    return None


def flops_per_token(cfg: GPTConfig, n_params: int) -> float:
    r"""Training FLOPs per token, :math:`6N + 12\,L\,T\,d` (appendix B of the PaLM paper, the estimate
    nanoGPT's ``estimate_mfu`` uses): two FLOPs per weight and token forward, four backward, plus the
    attention scores and their weighted sums over a context of :math:`T`. ``n_params`` excludes the
    position table."""
    return 6.0 * n_params + 12.0 * cfg.n_layer * cfg.block_size * cfg.n_embd


def bf16_peak_flops(device_name: str) -> float | None:
    """The dense bf16 peak of a known data-centre GPU (``None`` for any other device)."""
    for key, peak in _BF16_PEAKS:
        if key in device_name:
            return peak
    return None


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
    model = GPT(mcfg)
    res = train_lm(model, splits, tcfg, device=device)
    n_params = sum(p.numel() for p in model.parameters()) - model.pos_emb.weight.numel()
    world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
    peak = bf16_peak_flops(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
    tps = res.metrics["tokens_per_second"]
    metrics = {"val_loss": res.metrics["val_loss"], "steps": res.steps, "tokens_per_second": tps,
               "seconds_to_target": seconds_to_target(res.history),
               "mfu": None if peak is None else flops_per_token(mcfg, n_params) * tps / (peak * world),
               "compile_seconds": res.metrics["compile_seconds"], "processes": world}
    for key in ("val_loss_final", "best_step"):
        if key in res.metrics:
            metrics[key] = res.metrics[key]
    return {"config": {"model": dataclasses.asdict(mcfg), "train": dataclasses.asdict(tcfg)},
            "metrics": metrics, "train_seconds": res.train_seconds}


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
