r"""Sampling: the ancestral DDPM sampler, deterministic DDIM, and classifier-free guidance.

Both samplers walk down a decreasing sequence of time steps :math:`T = \tau_K > \dots > \tau_1 > 0`
(:func:`timesteps`; all :math:`T` steps or a sub-sequence) and at each step ask a noise predictor
``eps_model(x, t)`` for :math:`\hat\varepsilon`, from which
:math:`\hat x_0 = (x_t - \sqrt{1 - \bar\alpha_t}\,\hat\varepsilon) / \sqrt{\bar\alpha_t}`.

* :func:`ddpm_sample` (Ho et al. 2020) draws :math:`x_s` from the posterior
  :math:`q(x_s \mid x_t, \hat x_0)` of :func:`~aigc_lessons.diffusion.q_posterior`, adding fresh noise
  at every step but the last.
* :func:`ddim_sample` (Song, Meng & Ermon 2021) with :math:`\eta = 0` moves deterministically:
  :math:`x_s = \sqrt{\bar\alpha_s}\, \hat x_0 + \sqrt{1 - \bar\alpha_s}\, \hat\varepsilon`.

:func:`classifier_free_guidance` (Ho & Salimans 2022) turns a class-conditional model with a null
label into such a noise predictor for given labels and a guidance scale :math:`w`.
"""

from __future__ import annotations

from typing import Callable

import torch

from .bound import VARIANCES, predict_x0
from .schedule import NoiseSchedule, q_posterior

Tensor = torch.Tensor

__all__ = ["timesteps", "ddpm_sample", "ddim_sample", "classifier_free_guidance"]


def timesteps(T: int, steps: int | None = None) -> list[int]:
    """``steps`` time steps from ``T`` down to 1, evenly spaced (all ``T`` when ``steps`` is None)."""
    steps = T if steps is None else int(steps)
    if not 1 <= steps <= T:
        raise ValueError(f"steps must lie in 1..{T}, got {steps}")
    values = torch.linspace(T, 1, steps, dtype=torch.float64).round().long().tolist()
    return list(dict.fromkeys(values))


def _start(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device | str) -> Tensor:
    return torch.randn(shape, generator=generator).to(device)


def _eps(eps_model: Callable[[Tensor, Tensor], Tensor], x: Tensor, t: int) -> Tensor:
    return eps_model(x, torch.full((x.shape[0],), t, dtype=torch.long, device=x.device))


def _x0(schedule: NoiseSchedule, x: Tensor, t: int, eps: Tensor, clip: float | None) -> tuple[Tensor, Tensor]:
    """:math:`\\hat x_0` (clipped to ``[-clip, clip]`` when given) and the noise consistent with it."""
    x0 = predict_x0(schedule, x, t, eps)
    if clip is None:
        return x0, eps
    x0 = x0.clamp(-clip, clip)
    ab = schedule.at(schedule.alpha_bar, t, x)
    return x0, (x - ab.sqrt() * x0) / (1 - ab).sqrt()


@torch.no_grad()
def ddpm_sample(eps_model: Callable[[Tensor, Tensor], Tensor], schedule: NoiseSchedule, shape: tuple[int, ...], *,
                steps: int | None = None, variance: str = "posterior", clip: float | None = None,
                generator: torch.Generator | None = None, device: torch.device | str = "cpu",
                noise_at_last_step: bool = False, trajectory: list | None = None) -> Tensor:
    r"""Ancestral sampling: :math:`x_T \sim \mathcal N(0, I)`, then :math:`x_s \sim \mathcal N(\tilde\mu, \sigma^2 I)` down to :math:`x_0`.

    The mean is the posterior mean :math:`c_0 \hat x_0 + c_t x_t` of
    :func:`~aigc_lessons.diffusion.q_posterior` between consecutive steps of :func:`timesteps`
    ``(T, steps)``; the variance is the posterior's (``"posterior"``, :math:`\tilde\beta`) or the
    step's own :math:`1 - \bar\alpha_t / \bar\alpha_s` (``"beta"``). No noise is added on the last
    step, which returns the mean: ``noise_at_last_step=True`` adds it anyway (a common mistake,
    kept to measure it). ``clip`` clamps :math:`\hat x_0` (images live in [-1, 1]). All random
    numbers come from ``generator`` on the CPU. ``trajectory``, a list, receives ``(t, x)`` after
    every step.
    """
    if variance not in VARIANCES:
        raise KeyError(f"Unknown decoder variance {variance!r}; valid names are: {', '.join(VARIANCES)}.")
    seq = timesteps(schedule.T, steps)
    x = _start(shape, generator, device)
    for i, t in enumerate(seq):
        s = seq[i + 1] if i + 1 < len(seq) else 0
        eps = _eps(eps_model, x, t)
        x0, _ = _x0(schedule, x, t, eps, clip)
        post = q_posterior(schedule, t, s, like=x)
        mean = post.mean(x0, x)
        if s > 0 or noise_at_last_step:
            var = post.variance if variance == "posterior" else \
                1 - schedule.at(schedule.alpha_bar, t, x) / schedule.at(schedule.alpha_bar, s, x)
            x = mean + var.sqrt() * torch.randn(shape, generator=generator).to(x)
        else:
            x = mean
        if trajectory is not None:
            trajectory.append((s, x.cpu().clone()))
    return x


@torch.no_grad()
def ddim_sample(eps_model: Callable[[Tensor, Tensor], Tensor], schedule: NoiseSchedule, shape: tuple[int, ...], *,
                steps: int | None = 50, eta: float = 0.0, clip: float | None = None,
                generator: torch.Generator | None = None, device: torch.device | str = "cpu",
                x_T: Tensor | None = None, trajectory: list | None = None) -> Tensor:
    r"""DDIM sampling on the sub-sequence :func:`timesteps` ``(T, steps)``.

    .. math::

        x_s = \sqrt{\bar\alpha_s}\, \hat x_0 + \sqrt{1 - \bar\alpha_s - \sigma^2}\, \hat\varepsilon + \sigma z,
        \qquad \sigma = \eta \sqrt{\frac{1 - \bar\alpha_s}{1 - \bar\alpha_t}}
                         \sqrt{1 - \frac{\bar\alpha_t}{\bar\alpha_s}} .

    With :math:`\eta = 0` the map from :math:`x_T` to :math:`x_0` is deterministic (pass ``x_T``
    to fix the start); :math:`\eta = 1` has the variance of the ancestral sampler. ``clip`` and
    ``trajectory`` as in :func:`ddpm_sample`.
    """
    if eta < 0:
        raise ValueError(f"eta must be >= 0, got {eta}")
    seq = timesteps(schedule.T, steps)
    x = _start(shape, generator, device) if x_T is None else x_T.to(device).clone()
    for i, t in enumerate(seq):
        s = seq[i + 1] if i + 1 < len(seq) else 0
        eps = _eps(eps_model, x, t)
        x0, eps = _x0(schedule, x, t, eps, clip)
        ab_t, ab_s = schedule.at(schedule.alpha_bar, t, x), schedule.at(schedule.alpha_bar, s, x)
        sigma = eta * ((1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s)).sqrt()
        x = ab_s.sqrt() * x0 + (1 - ab_s - sigma ** 2).clamp(min=0).sqrt() * eps
        if eta > 0 and s > 0:
            x = x + sigma * torch.randn(shape, generator=generator).to(x)
        if trajectory is not None:
            trajectory.append((s, x.cpu().clone()))
    return x


def classifier_free_guidance(model: Callable[[Tensor, Tensor, Tensor], Tensor], labels: Tensor, guidance: float,
                             null_label: int) -> Callable[[Tensor, Tensor], Tensor]:
    r"""A noise predictor that mixes the conditional and unconditional predictions of ``model``.

    .. math::

        \tilde\varepsilon(x_t, t, y) = (1 + w)\, \varepsilon_\theta(x_t, t, y) - w\, \varepsilon_\theta(x_t, t, \varnothing),

    with :math:`w` = ``guidance`` and :math:`\varnothing` = ``null_label`` (the label the model was
    trained on when the real one was dropped). :math:`w = 0` is the plain conditional model; larger
    :math:`w` trades diversity for samples the label explains better. Both predictions run in one
    batch of twice the size.
    """
    if guidance < 0:
        raise ValueError(f"guidance must be >= 0, got {guidance}")

    def eps(x: Tensor, t: Tensor) -> Tensor:
        y = labels.to(x.device)
        if guidance == 0:
            return model(x, t, y)
        both = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, null_label)]))
        cond, uncond = both.chunk(2)
        return (1 + guidance) * cond - guidance * uncond

    return eps
