"""The small GPT's common mistake, reproduced and measured: training without the causal mask.

:func:`causal_mask_mistake` returns an :class:`aigc_lessons.mistakes.MistakeReport` with the leaky
model's measurements (``symptom``) next to the causal model's (``fixed``); the attention chapter's
other two mistakes are in :mod:`aigc_lessons.attention.mistakes`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..mistakes import MistakeReport
from ..runtime import cpu_threads
from .corpora import TextSplits, shakespeare_splits
from .model import GPT, GPTConfig
from .sampling import generate_text
from .train import TrainConfig, train_lm

__all__ = ["causal_mask_mistake", "plot_causal_mask_mistake"]


@torch.no_grad()
def _prefix_loss(model: GPT, windows: torch.Tensor) -> float:
    """Next-token loss where position t is predicted from ``x[:t+1]`` alone (the model is rerun on each
    prefix): what a model can do at generation time, when the future does not exist yet."""
    model.eval()
    total, count = 0.0, 0
    for t in range(windows.shape[1] - 1):
        logits = model(windows[:, : t + 1])[:, -1]
        total += float(F.cross_entropy(logits, windows[:, t + 1], reduction="sum"))
        count += windows.shape[0]
    return total / count


def causal_mask_mistake(steps: int = 300, *, n_layer: int = 2, n_embd: int = 64, block_size: int = 32,
                        batch_size: int = 16, lr: float = 3e-3, seed: int = 0,
                        splits: TextSplits | None = None) -> MistakeReport:
    """Mistake: a GPT trained without the causal mask. Position t then sees x[t+1], which is its
    own target, so training teaches it to copy instead of to predict.

    Trains the same small model with and without the mask for ``steps`` steps (learning rate ``lr``
    after a 10-step warm-up) on tiny-shakespeare and measures, without the mask (``symptom``) and with it
    (``fixed``): ``train_loss`` (the loss the training loop reports, mean of its last 30 batches) and
    ``prefix_loss`` (held-out loss when each character is predicted from its prefix only: the
    situation of generation, when the future does not exist yet). ``details`` holds, for
    ``"causal"`` and ``"leaky"``, the training ``curves`` (``(step, batch loss)`` pairs) and a greedy
    ``samples`` continuation of ``"ROMEO:\\n"``.
    """
    splits = splits or shakespeare_splits()
    cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, min_lr=lr, warmup_steps=10,
                      eval_interval=steps, eval_batches=2, final_eval_tokens=2048, log_interval=10,
                      checkpoint_interval=10**9, cpu_threads=1, seed=seed)
    measured: dict[str, dict] = {}
    curves: dict[str, list] = {}
    samples: dict[str, str] = {}
    windows = torch.stack([splits.val[i: i + block_size + 1] for i in range(0, 16 * 997, 997)])
    for name, causal in (("causal", True), ("leaky", False)):
        torch.manual_seed(seed)
        model = GPT(GPTConfig(splits.tokenizer.vocab_size, block_size=block_size, n_layer=n_layer, n_head=4,
                              n_embd=n_embd, causal=causal))
        res = train_lm(model, splits, cfg, progress=False)
        with cpu_threads(1):
            prefix = _prefix_loss(model, windows)
        measured[name] = {"train_loss": float(np.mean(res.history["batch_loss"][-3:])), "prefix_loss": prefix}
        curves[name] = list(zip(res.history["batch_step"], res.history["batch_loss"]))
        samples[name] = generate_text(model, splits.tokenizer, "ROMEO:\n", 60, greedy=True, use_cache=False)[0]
    return MistakeReport(
        name="a missing causal mask",
        cause="self-attention without the causal mask lets position t see x[t+1], its own target",
        symptom=measured["leaky"],
        fixed=measured["causal"],
        details={"curves": curves, "samples": samples, "steps": steps},
    )


def plot_causal_mask_mistake(report: MistakeReport, ax=None):
    """Training-loss curves of the causal and the leaky model (:func:`causal_mask_mistake`), with
    each model's prefix-only held-out loss as a dashed line."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(7, 3.8))[1]
    for name, colour, measured in (("causal", "C0", report.fixed), ("leaky", "C3", report.symptom)):
        steps, losses = zip(*report.details["curves"][name])
        label = "with causal mask" if name == "causal" else "without causal mask (leaky)"
        ax.plot(steps, losses, color=colour, label=f"{label}: training loss")
        ax.axhline(measured["prefix_loss"], color=colour, ls="--", lw=1,
                   label=f"{label}: held-out loss, past only")
    ax.set_xlabel("optimisation step")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.set_title("a missing causal mask: low training loss, useless model")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax
