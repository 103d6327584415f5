r"""The forward (noising) process: noise schedules, the closed-form marginal and the posterior.

A schedule is the list of per-step noise variances :math:`\beta_1, \dots, \beta_T`. From it follow
:math:`\alpha_t = 1 - \beta_t`, :math:`\bar\alpha_t = \prod_{s \le t} \alpha_s` and the
signal-to-noise ratio :math:`\mathrm{SNR}(t) = \bar\alpha_t / (1 - \bar\alpha_t)`.
:class:`NoiseSchedule` holds all four as tensors of length :math:`T + 1` whose index **is** the
time step: entry 0 stands for the clean data (:math:`\beta_0 = 0`, :math:`\bar\alpha_0 = 1`), so
``alpha_bar[t]`` is :math:`\bar\alpha_t` with no shift to remember. :func:`q_sample` draws from the
marginal :math:`q(x_t \mid x_0)` in one step and :func:`q_posterior` gives the Gaussian
:math:`q(x_s \mid x_t, x_0)` for any earlier step :math:`s < t` (the reverse chain's target).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch

Tensor = torch.Tensor

__all__ = ["NoiseSchedule", "SCHEDULES", "linear_schedule", "cosine_schedule", "get_schedule", "q_sample",
           "Posterior", "q_posterior", "plot_schedules"]


@dataclass(frozen=True, eq=False)
class NoiseSchedule:
    r"""A noise schedule, every quantity indexed by the time step :math:`t = 0, 1, \dots, T`.

    ``betas[t]`` is :math:`\beta_t` (``betas[0] = 0``), ``alphas[t]`` is :math:`1 - \beta_t`,
    ``alpha_bar[t]`` is :math:`\bar\alpha_t = \prod_{s=1}^{t} \alpha_s` (``alpha_bar[0] = 1``) and
    ``snr[t]`` is :math:`\bar\alpha_t / (1 - \bar\alpha_t)` (infinite at :math:`t = 0`). All are
    float64 tensors on the CPU; :meth:`at` picks entries for a batch of time steps and shapes them to
    broadcast against a batch of data.
    """

    name: str
    betas: Tensor
    alphas: Tensor
    alpha_bar: Tensor
    snr: Tensor

    @property
    def T(self) -> int:
        """The number of noising steps."""
        return len(self.betas) - 1

    @classmethod
    def from_betas(cls, name: str, betas: Tensor) -> "NoiseSchedule":
        r"""Build every quantity from :math:`\beta_1, \dots, \beta_T` (a 1-D tensor, each in (0, 1))."""
        betas = torch.as_tensor(betas, dtype=torch.float64).flatten()
        if len(betas) < 1 or bool((betas <= 0).any()) or bool((betas >= 1).any()):
            raise ValueError("a schedule needs at least one beta, each strictly between 0 and 1")
        betas = torch.cat([torch.zeros(1, dtype=torch.float64), betas])
        alphas = 1.0 - betas
        alpha_bar = torch.cumprod(alphas, dim=0)
        return cls(name, betas, alphas, alpha_bar, alpha_bar / (1.0 - alpha_bar))

    def at(self, values: Tensor, t: Tensor | int, like: Tensor) -> Tensor:
        """``values[t]`` as ``like``'s dtype and device, shaped (B, 1, ..., 1) to broadcast over ``like``.

        ``t`` is an int or a (B,) integer tensor of time steps in 0..T.
        """
        t = torch.as_tensor(t, dtype=torch.long)
        if bool((t < 0).any()) or bool((t > self.T).any()):
            raise IndexError(f"time steps must lie in 0..{self.T}, got {t.min().item()}..{t.max().item()}")
        picked = values[t.cpu()].to(device=like.device, dtype=like.dtype)
        return picked.reshape(-1, *([1] * (like.dim() - 1))) if picked.dim() else picked


def linear_schedule(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> NoiseSchedule:
    r"""Ho et al. (2020): :math:`\beta_t` rising linearly from ``beta_start`` to ``beta_end``.

    The published values (1e-4 to 0.02) are for :math:`T = 1000`. For another :math:`T` both ends
    are multiplied by :math:`1000 / T`, so that the total noise :math:`\sum_t \beta_t`, and hence
    :math:`\bar\alpha_T`, stays about the same.
    """
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    scale = 1000.0 / T
    return NoiseSchedule.from_betas("linear", torch.linspace(beta_start * scale, min(beta_end * scale, 0.999), T,
                                                             dtype=torch.float64))


def cosine_schedule(T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
    r"""Nichol & Dhariwal (2021): :math:`\bar\alpha_t = f(t) / f(0)` with
    :math:`f(t) = \cos^2\!\big(\tfrac{t/T + s}{1 + s} \cdot \tfrac{\pi}{2}\big)`.

    The betas are :math:`1 - \bar\alpha_t / \bar\alpha_{t-1}`, capped at ``max_beta`` so that the
    last step stays finite; :math:`\bar\alpha_t` is then rebuilt from the capped betas. The small
    offset :math:`s` keeps :math:`\beta_1` from being vanishingly small.
    """
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    steps = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos((steps / T + s) / (1 + s) * math.pi / 2) ** 2
    ab = f / f[0]
    betas = (1 - ab[1:] / ab[:-1]).clamp(min=1e-12, max=max_beta)
    return NoiseSchedule.from_betas("cosine", betas)


#: name -> constructor ``(T) -> NoiseSchedule``
SCHEDULES = {"linear": linear_schedule, "cosine": cosine_schedule}


def get_schedule(name: str, T: int = 1000) -> NoiseSchedule:
    """The schedule ``"linear"`` or ``"cosine"`` with ``T`` steps; another name raises ``KeyError``."""
    if name not in SCHEDULES:
        raise KeyError(f"Unknown noise schedule {name!r}; valid names are: {', '.join(SCHEDULES)}.")
    return SCHEDULES[name](T)


def q_sample(schedule: NoiseSchedule, x0: Tensor, t: Tensor | int, noise: Tensor) -> Tensor:
    r"""A draw from the marginal :math:`q(x_t \mid x_0)`, in one step instead of :math:`t`.

    .. math::

        q(x_t \mid x_0) = \mathcal N\big(\sqrt{\bar\alpha_t}\, x_0,\ (1 - \bar\alpha_t) I\big),
        \qquad x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \varepsilon,

    with ``noise`` :math:`= \varepsilon \sim \mathcal N(0, I)` of ``x0``'s shape and ``t`` an int or
    a (B,) tensor of time steps (0 returns ``x0``).
    """
    if noise.shape != x0.shape:
        raise ValueError(f"noise {tuple(noise.shape)} and x0 {tuple(x0.shape)} must have the same shape")
    ab = schedule.at(schedule.alpha_bar, t, x0)
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


class Posterior(NamedTuple):
    r"""The Gaussian :math:`q(x_s \mid x_t, x_0) = \mathcal N(c_0 x_0 + c_t x_t,\ v\, I)`.

    ``coef_x0`` is :math:`c_0`, ``coef_xt`` is :math:`c_t` and ``variance`` is :math:`v`, each a
    tensor (B, 1, ..., 1) or a scalar tensor.
    """

    coef_x0: Tensor
    coef_xt: Tensor
    variance: Tensor

    def mean(self, x0: Tensor, xt: Tensor) -> Tensor:
        """The posterior mean :math:`c_0 x_0 + c_t x_t`."""
        return self.coef_x0 * x0 + self.coef_xt * xt


def q_posterior(schedule: NoiseSchedule, t: Tensor | int, s: Tensor | int | None = None,
                like: Tensor | None = None) -> Posterior:
    r"""The coefficients of :math:`q(x_s \mid x_t, x_0)` for :math:`0 \le s < t` (default :math:`s = t - 1`).

    Write :math:`a = \bar\alpha_t / \bar\alpha_s` for the signal kept from step :math:`s` to
    :math:`t` and :math:`b = 1 - a`. Bayes' rule on the two Gaussians
    :math:`q(x_s \mid x_0) = \mathcal N(\sqrt{\bar\alpha_s} x_0, (1 - \bar\alpha_s) I)` and
    :math:`q(x_t \mid x_s) = \mathcal N(\sqrt{a}\, x_s, b I)` gives

    .. math::

        c_0 = \frac{\sqrt{\bar\alpha_s}\, b}{1 - \bar\alpha_t}, \qquad
        c_t = \frac{\sqrt{a}\, (1 - \bar\alpha_s)}{1 - \bar\alpha_t}, \qquad
        v = \frac{1 - \bar\alpha_s}{1 - \bar\alpha_t}\, b .

    For :math:`s = t - 1`, :math:`a = \alpha_t` and :math:`b = \beta_t`: the :math:`\tilde\mu_t`
    and :math:`\tilde\beta_t` of Ho et al. (2020). At :math:`s = 0` the posterior is the point
    :math:`x_0` (:math:`c_0 = 1`, :math:`c_t = 0`, :math:`v = 0`). ``like`` shapes the result to
    broadcast over a batch (see :meth:`NoiseSchedule.at`); without it the tensors are float64.
    """
    t_ = torch.as_tensor(t, dtype=torch.long)
    s_ = t_ - 1 if s is None else torch.as_tensor(s, dtype=torch.long)
    if bool((s_ < 0).any()) or bool((s_ >= t_).any()):
        raise ValueError("q_posterior needs 0 <= s < t")
    ref = like if like is not None else torch.zeros((), dtype=torch.float64)
    ab_t, ab_s = schedule.at(schedule.alpha_bar, t_, ref), schedule.at(schedule.alpha_bar, s_, ref)
    a = ab_t / ab_s
    b = 1 - a
    return Posterior(coef_x0=ab_s.sqrt() * b / (1 - ab_t), coef_xt=a.sqrt() * (1 - ab_s) / (1 - ab_t),
                     variance=(1 - ab_s) / (1 - ab_t) * b)


def plot_schedules(T: int = 1000, axes=None):
    r"""Plot :math:`\bar\alpha_t` and :math:`\log \mathrm{SNR}(t)` against :math:`t` for both schedules."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    t = torch.arange(1, T + 1)
    for name in SCHEDULES:
        sched = get_schedule(name, T)
        axes[0].plot(t, sched.alpha_bar[1:], label=name)
        axes[1].plot(t, sched.snr[1:].log(), label=name)
    axes[0].set_xlabel("time step t (of T = %d)" % T)
    axes[0].set_ylabel(r"$\bar\alpha_t$ (signal variance kept, 0-1)")
    axes[1].set_xlabel("time step t (of T = %d)" % T)
    axes[1].set_ylabel(r"$\log \mathrm{SNR}(t)$ (nats)")
    axes[1].axhline(0.0, color="grey", lw=0.8, ls=":")
    for ax in axes:
        ax.legend()
    return axes
