r"""The noise-prediction loss of Ho et al. (2020): predict the noise that was added, squared error.

A network :math:`\varepsilon_\theta(x_t, t)` sees :math:`x_t = \sqrt{\bar\alpha_t} x_0 +
\sqrt{1 - \bar\alpha_t}\,\varepsilon` and predicts :math:`\varepsilon`. The "simple" loss weighs
every time step alike:

.. math::

    L_{\text{simple}}(\theta) = \E_{t \sim U\{1..T\},\, x_0,\, \varepsilon}
        \big\lVert \varepsilon - \varepsilon_\theta(x_t, t) \big\rVert^2 .

:mod:`~aigc_lessons.diffusion.bound` shows that each term of the variational bound is this squared
error times a weight :math:`\lambda_t`; dropping the weights is the "simple" choice.
"""

from __future__ import annotations

from typing import Callable

import torch

from .schedule import NoiseSchedule, q_sample

Tensor = torch.Tensor
#: A noise predictor, called as ``model(x_t, t)`` with ``t`` a (B,) tensor of integer steps in 1..T.
EpsModel = Callable[[Tensor, Tensor], Tensor]

__all__ = ["EpsModel", "sample_timesteps", "noise_prediction_loss"]


def sample_timesteps(n: int, T: int, generator: torch.Generator | None = None) -> Tensor:
    """``n`` time steps drawn uniformly from 1..T (a CPU long tensor)."""
    return torch.randint(1, T + 1, (n,), generator=generator)


def noise_prediction_loss(model: Callable[..., Tensor], schedule: NoiseSchedule, x0: Tensor, *,
                          generator: torch.Generator | None = None, t: Tensor | None = None,
                          noise: Tensor | None = None, y: Tensor | None = None,
                          reduction: str = "mean") -> Tensor:
    r"""The epsilon-MSE :math:`\lVert \varepsilon - \varepsilon_\theta(x_t, t) \rVert^2` of a batch.

    ``t`` (default: uniform on 1..T) and ``noise`` (default: standard normal) are drawn from
    ``generator`` on the CPU and moved to ``x0``'s device, so a seeded run is the same on any
    device. ``y`` (class labels) is passed to the model when given. ``reduction``: ``"mean"``
    (over every element, the loss that is trained), ``"none"`` (the squared error summed over each
    example's dimensions, shape (B,)).
    """
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    n = x0.shape[0]
    if t is None:
        t = sample_timesteps(n, schedule.T, generator)
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
    t = t.to(x0.device)
    xt = q_sample(schedule, x0, t, noise)
    pred = model(xt, t) if y is None else model(xt, t, y)
    if pred.shape != x0.shape:
        raise ValueError(f"the model predicts noise of shape {tuple(pred.shape)} for data {tuple(x0.shape)}")
    err = (pred - noise).pow(2)
    return err.mean() if reduction == "mean" else err.reshape(n, -1).sum(dim=1)
