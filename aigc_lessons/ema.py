"""An exponential moving average of a model's weights, the one implementation the chapters share.

Sampling from the average of the last few thousand generator weights instead of the last one damps
the oscillations of adversarial training (Yazici et al. 2019, "The Unusual Effectiveness of
Averaging in GAN Training") and is standard for diffusion models (Ho et al. 2020).
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn

__all__ = ["averaged_copy", "ema_decay", "ema_update"]


def averaged_copy(model: nn.Module) -> nn.Module:
    """The start of a moving average of ``model``: an independent copy of it (weights and buffers) that
    takes no gradients; :func:`ema_update` then moves it after every optimiser step."""
    return copy.deepcopy(model).requires_grad_(False)


def ema_decay(decay: float, step: int) -> float:
    r"""The decay used at update number ``step`` (0 for the first):
    :math:`\min\bigl(\text{decay},\ \tfrac{1 + t}{10 + t}\bigr)`.

    The warm-up keeps the average from remembering the random initial weights for thousands of
    steps in a short run (with a constant 0.999 they would still weigh :math:`0.999^{1000}\approx
    37\%` after 1,000 steps). The constant takes over once :math:`(1+t)/(10+t)` reaches it, at
    :math:`t = (10\,\text{decay} - 1)/(1 - \text{decay})`: after 890 updates for 0.99, 1,790 for 0.995
    and 8,990 for 0.999.
    """
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"an EMA decay lies in [0, 1), got {decay}")
    if step < 0:
        raise ValueError(f"step counts updates from 0, got {step}")
    return min(decay, (1.0 + step) / (10.0 + step))


@torch.no_grad()
def ema_update(average: nn.Module, model: nn.Module, decay: float, step: int) -> None:
    r"""One update :math:`\bar\theta \leftarrow \beta\,\bar\theta + (1-\beta)\,\theta` with
    :math:`\beta` = :func:`ema_decay` ``(decay, step)``, for every parameter; buffers (batch-norm
    statistics) are copied from ``model``, since they are estimates, not weights being trained."""
    beta = ema_decay(decay, step)
    for p_avg, p in zip(average.parameters(), model.parameters(), strict=True):
        p_avg.lerp_(p, 1.0 - beta)
    for b_avg, b in zip(average.buffers(), model.buffers(), strict=True):
        b_avg.copy_(b)
