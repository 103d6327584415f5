"""The minimax game in one dimension: the value function, the optimal discriminator, KL and JSD.

Everything on a float64 grid by the trapezoid rule (:func:`value_function`,
:func:`optimal_discriminator`, :func:`kl_divergence`, :func:`jensen_shannon`), then
:func:`train_discriminator_1d`, a real discriminator trained on samples, which should approach
:math:`D^*`. :class:`MLP` is the small network of this file and of the 2-D GANs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn

from .. import runtime
from ..runtime import single_thread_if_cpu
from .losses import get_loss

Tensor = torch.Tensor

__all__ = ["Gaussian1D", "P_DATA_1D", "P_G_1D", "quadrature_grid", "value_function", "optimal_discriminator",
           "kl_divergence", "jensen_shannon", "MLP", "Disc1DConfig", "Disc1DResult", "train_discriminator_1d"]


@dataclass(frozen=True)
class Gaussian1D:
    """A one-dimensional normal density N(mean, std²) with its pdf and a seeded sampler."""

    mean: float
    std: float

    def __post_init__(self):
        if self.std <= 0:
            raise ValueError(f"std must be positive, got {self.std}")

    def pdf(self, x: Tensor) -> Tensor:
        return torch.exp(-0.5 * ((x - self.mean) / self.std) ** 2) / (self.std * math.sqrt(2 * math.pi))

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self.mean + self.std * torch.randn(n, generator=generator, dtype=torch.float64)


#: The data density of the 1-D checks, N(0, 1).
P_DATA_1D = Gaussian1D(0.0, 1.0)
#: The generator density of the 1-D checks, N(1.5, 0.7²), one that has drifted from the data.
P_G_1D = Gaussian1D(1.5, 0.7)


def quadrature_grid(lo: float = -16.0, hi: float = 16.0, n: int = 320_001) -> Tensor:
    """An even float64 grid for the trapezoid rule; wide enough that both densities vanish at its ends."""
    return torch.linspace(lo, hi, n, dtype=torch.float64)


def _xlogy(x: Tensor, y: Tensor) -> Tensor:
    """x·log(y) with 0·log(0) = 0, the convention of every expectation below."""
    return torch.special.xlogy(x, y)


def value_function(d: Tensor, p_data: Tensor, p_g: Tensor, x: Tensor) -> float:
    r"""The GAN value :math:`V(D,G)=\int p_{data}\log D + p_g\log(1-D)\,dx` by the trapezoid rule.

    ``d``, ``p_data``, ``p_g`` are float64 values on the grid ``x``. D is clamped to
    [1e-300, 1 - 2^-53] (a tiny positive float64, whose log is about -690.8, and the largest float64
    below 1): far in a tail, D* = p_data/(p_data+p_g)
    rounds to exactly 1 where p_g is 1e-40, and p_g·log(1 - D) would be 0·(-inf) instead of about
    -1e-39. A discriminator that is really wrong there still pays about -690 per unit of mass.
    """
    if not (d.shape == p_data.shape == p_g.shape == x.shape):
        raise ValueError("value_function: d, p_data, p_g and x must have the same shape")
    d = d.double().clamp(1e-300, 1.0 - 2.0 ** -53)
    integrand = _xlogy(p_data, d) + _xlogy(p_g, 1 - d)
    return float(torch.trapezoid(integrand, x))


def optimal_discriminator(p_data: Tensor, p_g: Tensor) -> Tensor:
    r""":math:`D^*(x) = p_{data}(x) / (p_{data}(x) + p_g(x))`, the pointwise maximiser of V for fixed G.

    For each x the integrand :math:`a\log y + b\log(1-y)` is concave in y with its maximum at
    y = a / (a + b). Where both densities vanish D* is undefined; we return 1/2 there. Note that
    D* is a *ratio*, not the density :math:`p_{data}` (mistake (d) of the chapter).
    """
    total = p_data + p_g
    return torch.where(total > 0, p_data / torch.where(total > 0, total, torch.ones_like(total)),
                       torch.full_like(total, 0.5))


def kl_divergence(p: Tensor, q: Tensor, x: Tensor) -> float:
    r""":math:`\KL(p\,\Vert\,q)=\int p\log(p/q)\,dx` by the trapezoid rule (inf where q = 0 < p)."""
    return float(torch.trapezoid(_xlogy(p, p) - _xlogy(p, q), x))


def jensen_shannon(p: Tensor, q: Tensor, x: Tensor) -> float:
    r""":math:`\JSD(p\,\Vert\,q) = \tfrac12\KL(p\Vert m) + \tfrac12\KL(q\Vert m)` with :math:`m=(p+q)/2`.

    Between 0 (p = q) and log 2 (disjoint supports), in nats.
    """
    m = 0.5 * (p + q)
    return 0.5 * kl_divergence(p, m, x) + 0.5 * kl_divergence(q, m, x)


class MLP(nn.Sequential):
    """``depth`` hidden layers of ``width`` units with activation ``act``, then a linear output."""

    def __init__(self, d_in: int, d_out: int, width: int, depth: int, act: Callable[[], nn.Module] = nn.ReLU):
        layers: list[nn.Module] = []
        d = d_in
        for _ in range(depth):
            layers += [nn.Linear(d, width), act()]
            d = width
        layers.append(nn.Linear(d, d_out))
        super().__init__(*layers)


@dataclass(frozen=True)
class Disc1DConfig:
    """A discriminator trained on samples of :data:`P_DATA_1D` (label 1) and :data:`P_G_1D` (label 0)."""

    width: int = 64
    depth: int = 2
    batch_size: int = 512
    steps: int = 800
    lr: float = 3e-3
    seed: int = 0

    @classmethod
    def for_mode(cls, mode: str | None = None, **overrides) -> "Disc1DConfig":
        """Quick and full values side by side; keywords override fields."""
        return runtime.for_mode(cls, mode, quick=dict(steps=800, batch_size=512),
                                full=dict(steps=6000, batch_size=4096), **overrides)


@dataclass
class Disc1DResult:
    """The learned D next to D* on a grid, and how far apart they are.

    ``max_abs_error`` is the largest ``|D - D*|`` on the grid points where the mixture density
    (p_data + p_g)/2 exceeds ``mass_threshold``; ``weighted_abs_error`` is
    :math:`\\int \\tfrac12(p_{data}+p_g)|D-D^*|dx`, which needs no threshold.
    """

    config: Disc1DConfig
    x: Tensor
    d_learned: Tensor
    d_star: Tensor
    p_data: Tensor
    p_g: Tensor
    max_abs_error: float
    weighted_abs_error: float
    mass_threshold: float
    history: dict[str, list[float]]
    model: nn.Module


def train_discriminator_1d(config: Disc1DConfig | None = None, p_data: Gaussian1D = P_DATA_1D,
                           p_g: Gaussian1D = P_G_1D, *, mass_threshold: float = 0.02,
                           progress: bool = False) -> Disc1DResult:
    """Train D with the GAN's discriminator loss on fresh samples each step; compare with D*.

    The generator is frozen (its samples are just N(1.5, 0.7²)), so this is the inner maximisation
    of the minimax game on its own: the learned D should approach D* = p_data / (p_data + p_g).
    """
    from tqdm.auto import tqdm

    config = config or Disc1DConfig()
    gen = runtime.seed_everything(config.seed)
    model = MLP(1, 1, config.width, config.depth)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.steps)
    loss_fn = get_loss("non_saturating").discriminator
    history: dict[str, list[float]] = {"d_loss": []}
    with single_thread_if_cpu(torch.device("cpu")):
        for _ in tqdm(range(config.steps), desc="1-D discriminator", disable=not progress, leave=False):
            real = p_data.sample(config.batch_size, gen).float().unsqueeze(1)
            fake = p_g.sample(config.batch_size, gen).float().unsqueeze(1)
            loss = loss_fn(model(real), model(fake))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            history["d_loss"].append(float(loss.detach()))
    x = torch.linspace(-4, 5, 901, dtype=torch.float64)
    with torch.no_grad():
        d = torch.sigmoid(model(x.float().unsqueeze(1))).squeeze(1).double()
    pd, pg = p_data.pdf(x), p_g.pdf(x)
    d_star = optimal_discriminator(pd, pg)
    mass = 0.5 * (pd + pg)
    err = (d - d_star).abs()
    return Disc1DResult(config=config, x=x, d_learned=d, d_star=d_star, p_data=pd, p_g=pg,
                        max_abs_error=float(err[mass > mass_threshold].max()),
                        weighted_abs_error=float(torch.trapezoid(mass * err, x)),
                        mass_threshold=mass_threshold, history=history, model=model)
