"""Generative adversarial networks, from the minimax game to a DCGAN on MNIST.

The chapter's code, in the order the book uses it:

1. **Losses** (:data:`losses`): the saturating and non-saturating GAN losses, least squares,
   Wasserstein and hinge, each written once; :func:`gradient_penalty` and :func:`clip_weights` for
   the two ways of keeping a Wasserstein critic 1-Lipschitz.
2. **Theory in one dimension**: :func:`value_function`, :func:`optimal_discriminator` and
   :func:`jensen_shannon` by quadrature on a grid, and :func:`train_discriminator_1d`, a real
   discriminator trained on samples that should approach :math:`D^*`.
3. **Mode collapse in two dimensions**: the ring and grid mixtures (:func:`ring_mixture`,
   :func:`grid_mixture`), MLP GANs trained by :func:`train_gan_2d` under four methods
   (:data:`METHODS_2D`), and :func:`compare_methods_2d` for the table over seeds.
4. **DCGAN on MNIST**: :class:`DCGenerator`, :class:`DCDiscriminator`, :func:`check_shapes`,
   :func:`train_dcgan` and :func:`generate_images` (scored by :mod:`aigc_lessons.metrics`).
5. **Common mistakes**, each reproduced by a function that measures its symptom and its fix:
   :func:`mistake_detached_fake`, :func:`mistake_wrong_output_size`,
   :func:`mistake_max_over_both_players`, :func:`mistake_d_as_density`.
6. **Benchmarks** :func:`bench_2d` and :func:`bench_mnist` for ``python -m aigc_lessons.bench``.

Training functions take a configuration dataclass (quick and full values side by side in
``Config.for_mode``) and return a result dataclass; they resume exactly from an atomic checkpoint.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Iterator, Mapping

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import runtime
from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state

Tensor = torch.Tensor

# ============================================================================================ losses


@dataclass(frozen=True)
class GanLoss:
    """One GAN objective as the two losses each player *minimises*.

    ``discriminator(real_out, fake_out)`` and ``generator(fake_out)`` take the raw outputs of the
    discriminator (a logit for the two classic losses, an unbounded score for the others) and
    return scalars. ``d_formula`` / ``g_formula`` are the same losses in LaTeX, for the book's
    table; ``output`` says what the discriminator's output means.
    """

    name: str
    discriminator: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]
    output: str
    d_formula: str
    g_formula: str
    reference: str


def _bce_discriminator(real_logit: Tensor, fake_logit: Tensor) -> Tensor:
    r"""Minus the value function: :math:`-\E\log D(x) - \E\log(1 - D(G(z)))`, with :math:`D=\sigma(\ell)`.

    :math:`-\log\sigma(\ell) = \operatorname{softplus}(-\ell)` and
    :math:`-\log(1-\sigma(\ell)) = \operatorname{softplus}(\ell)`: exact and stable for any logit.
    """
    return F.softplus(-real_logit).mean() + F.softplus(fake_logit).mean()


def _saturating_generator(fake_logit: Tensor) -> Tensor:
    r""":math:`\E\log(1 - D(G(z))) = -\E\operatorname{softplus}(\ell)`; its gradient in the logit is
    :math:`-\sigma(\ell) = -D(G(z))`, which vanishes when the discriminator wins (:math:`D\to 0`)."""
    return -F.softplus(fake_logit).mean()


def _non_saturating_generator(fake_logit: Tensor) -> Tensor:
    r""":math:`-\E\log D(G(z)) = \E\operatorname{softplus}(-\ell)`; gradient :math:`-(1 - D(G(z)))`,
    close to :math:`-1` exactly when the saturating loss gives nothing."""
    return F.softplus(-fake_logit).mean()


def _lsgan_discriminator(real: Tensor, fake: Tensor) -> Tensor:
    r"""Least squares with targets b = 1 for real, a = 0 for fake: :math:`\tfrac12\E(D(x)-1)^2 + \tfrac12\E D(G(z))^2`."""
    return 0.5 * ((real - 1.0) ** 2).mean() + 0.5 * (fake ** 2).mean()


def _lsgan_generator(fake: Tensor) -> Tensor:
    r""":math:`\tfrac12\E(D(G(z)) - c)^2` with c = 1."""
    return 0.5 * ((fake - 1.0) ** 2).mean()


def _wasserstein_critic(real: Tensor, fake: Tensor) -> Tensor:
    r"""Minus the Kantorovich-Rubinstein dual: :math:`\E f(G(z)) - \E f(x)` (plus a Lipschitz constraint)."""
    return fake.mean() - real.mean()


def _score_generator(fake: Tensor) -> Tensor:
    r""":math:`-\E f(G(z))`: the generator raises the critic's score of its samples (WGAN and hinge)."""
    return -fake.mean()


def _hinge_discriminator(real: Tensor, fake: Tensor) -> Tensor:
    r""":math:`\E\max(0, 1 - D(x)) + \E\max(0, 1 + D(G(z)))`."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


#: The five objectives of the chapter, by name. Read-only: add a loss by writing a new module.
losses: Mapping[str, GanLoss] = MappingProxyType({
    "saturating": GanLoss(
        "saturating", _bce_discriminator, _saturating_generator, "logit",
        r"-\E\log D(x) - \E\log(1-D(G(z)))", r"\E\log(1-D(G(z)))", "goodfellow2014generative"),
    "non_saturating": GanLoss(
        "non_saturating", _bce_discriminator, _non_saturating_generator, "logit",
        r"-\E\log D(x) - \E\log(1-D(G(z)))", r"-\E\log D(G(z))", "goodfellow2014generative"),
    "least_squares": GanLoss(
        "least_squares", _lsgan_discriminator, _lsgan_generator, "score",
        r"\tfrac12\E(D(x)-1)^2 + \tfrac12\E D(G(z))^2", r"\tfrac12\E(D(G(z))-1)^2", "mao2017least"),
    "wasserstein": GanLoss(
        "wasserstein", _wasserstein_critic, _score_generator, "score",
        r"\E f(G(z)) - \E f(x)\ (+\lambda\,\mathrm{GP})", r"-\E f(G(z))", "arjovsky2017wasserstein"),
    "hinge": GanLoss(
        "hinge", _hinge_discriminator, _score_generator, "score",
        r"\E\max(0,1-D(x)) + \E\max(0,1+D(G(z)))", r"-\E D(G(z))", "lim2017geometric"),
})


def get_loss(name: str) -> GanLoss:
    """The :class:`GanLoss` called ``name``; unknown names raise ``KeyError`` listing the valid ones."""
    if name not in losses:
        raise KeyError(f"Unknown GAN loss {name!r}; valid names are: {', '.join(losses)}.")
    return losses[name]


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                     generator: torch.Generator | None = None) -> Tensor:
    r"""WGAN-GP penalty :math:`\E_{\hat x}(\lVert\nabla_{\hat x} f(\hat x)\rVert_2 - 1)^2`.

    :math:`\hat x = \epsilon x + (1-\epsilon)\tilde x` with :math:`\epsilon\sim U[0,1]` per sample,
    on straight lines between real and generated samples (Gulrajani et al. 2017). The graph is kept
    (``create_graph``) so the penalty itself can be minimised.
    """
    if real.shape != fake.shape:
        raise ValueError(f"gradient_penalty: real {tuple(real.shape)} and fake {tuple(fake.shape)} differ")
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(eps_shape, generator=generator, device="cpu").to(real.device, real.dtype)
    x_hat = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()


@torch.no_grad()
def clip_weights(module: nn.Module, c: float) -> None:
    """Original WGAN's crude Lipschitz constraint: clamp every parameter into ``[-c, c]``."""
    if c <= 0:
        raise ValueError(f"clip value must be positive, got {c}")
    for p in module.parameters():
        p.clamp_(-c, c)


def generator_logit_gradient(loss_name: str, d_of_fake: float | Tensor) -> Tensor:
    r"""Autograd's :math:`\partial L_G / \partial \ell` at discriminator outputs ``d_of_fake`` = D(G(z)).

    For a batch of one, the logit is :math:`\ell = \log\frac{D}{1-D}`. The saturating loss gives
    :math:`-D`, the non-saturating :math:`-(1-D)`; the book quotes both at D = 0.001.
    """
    d = torch.as_tensor(d_of_fake, dtype=torch.float64).reshape(-1)
    if ((d <= 0) | (d >= 1)).any():
        raise ValueError("D(G(z)) must lie strictly between 0 and 1")
    logit = torch.log(d / (1 - d)).requires_grad_(True)
    # the losses average over the batch; scaling by its size gives each sample's own gradient
    (grad,) = torch.autograd.grad(get_loss(loss_name).generator(logit) * len(logit), logit)
    return grad


# ===================================================================================== 1-D theory


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


#: The two densities of the 1-D checks: data N(0, 1) and a generator N(1.5, 0.7²) that has drifted.
P_DATA_1D = Gaussian1D(0.0, 1.0)
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
    [1e-300, 1 - 2^-53], the float64 numbers nearest 0 and 1: far in a tail, D* = p_data/(p_data+p_g)
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
    def for_mode(cls, mode: str | None = None) -> "Disc1DConfig":
        m = runtime.resolve_mode(mode)
        return cls(steps=runtime.pick(m, 800, 6000), batch_size=runtime.pick(m, 512, 4096))


@dataclass
class Disc1DResult:
    """The learned D next to D* on a grid, and how far apart they are.

    ``max_abs_error`` is the largest |D - D*| on the grid points where the mixture density
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


@contextlib.contextmanager
def single_thread_if_cpu(device: torch.device) -> Iterator[None]:
    """Run tiny CPU models on one thread, then restore the previous thread count.

    For MLPs of a few thousand weights the work per operation is too small to split; with two
    threads on a busy machine the threads mostly wait for each other (we measured an order of
    magnitude slow-down on a shared 2-core runner). Nothing changes on a GPU.
    """
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ============================================================================ 2-D mixtures of modes


@dataclass(frozen=True)
class Mixture2D:
    """An equal-weight mixture of isotropic 2-D Gaussians N(c_k, sigma² I), k = 1..K."""

    name: str
    centers: tuple[tuple[float, float], ...]
    sigma: float

    @property
    def centers_tensor(self) -> Tensor:
        return torch.tensor(self.centers, dtype=torch.float32)

    @property
    def n_modes(self) -> int:
        return len(self.centers)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples (n, 2): a centre chosen uniformly, plus sigma times standard normal noise."""
        idx = torch.randint(self.n_modes, (n,), generator=generator)
        return self.centers_tensor[idx] + self.sigma * torch.randn(n, 2, generator=generator)

    def coverage(self, samples: Tensor, **kwargs):
        """:func:`aigc_lessons.metrics.mode_coverage` with this mixture's centres and sigma."""
        from .metrics import mode_coverage

        return mode_coverage(samples, self.centers_tensor, self.sigma, **kwargs)


def ring_mixture(n_modes: int = 8, radius: float = 2.0, sigma: float = 0.02) -> Mixture2D:
    """``n_modes`` Gaussians evenly spaced on a circle (the benchmark: 8 modes, radius 2, sigma 0.02)."""
    angles = [2 * math.pi * k / n_modes for k in range(n_modes)]
    return Mixture2D("ring", tuple((radius * math.cos(a), radius * math.sin(a)) for a in angles), sigma)


def grid_mixture(side: int = 5, spacing: float = 2.0, sigma: float = 0.05) -> Mixture2D:
    """A ``side`` x ``side`` grid of Gaussians centred at 0 (benchmark: 5x5, centres -4..4, sigma 0.05)."""
    ticks = [spacing * (k - (side - 1) / 2) for k in range(side)]
    return Mixture2D("grid", tuple((a, b) for a in ticks for b in ticks), sigma)


def get_mixture(name: str) -> Mixture2D:
    """The benchmark mixture ``"ring"`` or ``"grid"``."""
    makers = {"ring": ring_mixture, "grid": grid_mixture}
    if name not in makers:
        raise KeyError(f"Unknown mixture {name!r}; valid names are: {', '.join(makers)}.")
    return makers[name]()


@dataclass(frozen=True)
class Method2D:
    """How a 2-D GAN is trained: the loss, PacGAN packing, gradient penalty and optimiser settings.

    ``pack`` = m shows the discriminator m samples at once, concatenated (PacGAN, Lin et al. 2018):
    a generator that repeats itself is easier to spot in a pack than in a single sample.
    """

    loss: str
    pack: int = 1
    gp_weight: float = 0.0
    d_steps: int = 1
    lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)


#: The four methods the 2-D notebook compares.
METHODS_2D: Mapping[str, Method2D] = MappingProxyType({
    "saturating": Method2D("saturating"),
    "non_saturating": Method2D("non_saturating"),
    "wgan_gp": Method2D("wasserstein", gp_weight=10.0, d_steps=5, lr=1e-3, betas=(0.5, 0.9)),
    "pacgan": Method2D("non_saturating", pack=2),
})


@dataclass(frozen=True)
class Gan2DConfig:
    """One MLP GAN run on a 2-D mixture; quick and full values side by side in :meth:`for_mode`.

    Generator: z ~ N(0, I_{z_dim}) → MLP(depth x width, ReLU) → R². Discriminator: R^{2·pack} →
    MLP(depth x width, ReLU) → one output. ``steps`` counts generator updates; each is preceded by
    ``d_steps`` discriminator updates. ``batch_size`` counts samples, real and generated alike; with
    packing the discriminator sees ``batch_size / pack`` packed inputs, so a step costs about the
    same for every method but WGAN-GP (``d_steps`` = 5). Both learning rates decay geometrically
    from ``lr`` to ``lr * lr_final_ratio`` over the run; in our runs this damped the late swings of
    the two players, so that the result depended less on the exact step at which training stopped.
    """

    mixture: str = "ring"
    method: str = "non_saturating"
    loss: str = "non_saturating"
    pack: int = 1
    gp_weight: float = 0.0
    d_steps: int = 1
    lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    lr_final_ratio: float = 0.1
    z_dim: int = 2
    width: int = 128
    depth: int = 3
    batch_size: int = 256
    steps: int = 5000
    seed: int = 0
    n_eval: int = 2500
    snapshot_every: int = 1000
    checkpoint_every: int = 1000

    @classmethod
    def for_mode(cls, mode: str | None = None, *, method: str = "non_saturating", mixture: str = "ring",
                 **overrides) -> "Gan2DConfig":
        """The configuration of ``method`` on ``mixture`` for ``mode``; keywords override fields."""
        if method not in METHODS_2D:
            raise KeyError(f"Unknown 2-D method {method!r}; valid names are: {', '.join(METHODS_2D)}.")
        get_mixture(mixture)
        m = runtime.resolve_mode(mode)
        spec = METHODS_2D[method]
        steps = {"ring": runtime.pick(m, 5000, 20_000), "grid": runtime.pick(m, 5000, 20_000)}[mixture]
        # quick mode: the same number of discriminator updates for every method (WGAN-GP takes 5 per step)
        steps = runtime.pick(m, steps // spec.d_steps, steps)
        base = cls(mixture=mixture, method=method, **asdict(spec), steps=steps,
                   checkpoint_every=runtime.pick(m, 1000, 2000))
        config = replace(base, **overrides)
        if "snapshot_every" not in overrides:  # five snapshots whatever the number of steps
            config = replace(config, snapshot_every=max(config.steps // 5, 1))
        return config

    def __post_init__(self):
        get_mixture(self.mixture)
        get_loss(self.loss)
        if self.pack < 1 or self.d_steps < 1 or self.steps < 0 or self.batch_size < 1:
            raise ValueError(f"pack, d_steps and batch_size must be >= 1 and steps >= 0: {self}")
        if self.batch_size % self.pack:
            raise ValueError(f"batch_size {self.batch_size} is not a multiple of pack {self.pack}")


@dataclass
class Gan2DResult:
    """What :func:`train_gan_2d` returns.

    ``history`` has per-step ``d_loss``, ``g_loss``, ``d_real`` and ``d_fake`` (mean raw D outputs)
    and, at each snapshot step, ``eval_step``, ``modes_covered`` and ``high_quality``.
    ``snapshots`` maps a step to 1,000 generated points from a fixed noise batch.
    """

    config: Gan2DConfig
    generator: nn.Module
    discriminator: nn.Module
    history: dict[str, list[float]]
    snapshots: dict[int, Tensor]
    coverage: object
    train_seconds: float
    resumed_from: int = 0

    @property
    def modes_covered(self) -> int:
        return self.coverage.modes_covered

    @property
    def high_quality(self) -> float:
        return self.coverage.high_quality


def _pack(x: Tensor, pack: int) -> Tensor:
    """(B·m, d) → (B, m·d): m consecutive samples become one input of the packed discriminator."""
    if x.shape[0] % pack:
        raise ValueError(f"batch of {x.shape[0]} cannot be split into packs of {pack}")
    return x.reshape(x.shape[0] // pack, pack * x.shape[1])


def discriminator_step(generator: nn.Module, discriminator: nn.Module, objective: GanLoss, real: Tensor,
                       z: Tensor, opt: torch.optim.Optimizer, *, pack: int = 1, gp_weight: float = 0.0,
                       rng: torch.Generator | None = None) -> dict[str, float]:
    """One discriminator update: minimise ``objective.discriminator`` (+ gradient penalty)."""
    with torch.no_grad():
        fake = generator(z)
    real_out = discriminator(_pack(real, pack))
    fake_out = discriminator(_pack(fake, pack))
    loss = objective.discriminator(real_out, fake_out)
    if gp_weight > 0:
        loss = loss + gp_weight * gradient_penalty(lambda v: discriminator(_pack(v, pack)), real, fake, rng)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return {"d_loss": float(loss.detach()), "d_real": float(real_out.detach().mean()),
            "d_fake": float(fake_out.detach().mean())}


def generator_step(generator: nn.Module, discriminator: nn.Module, objective: GanLoss, z: Tensor,
                   opt: torch.optim.Optimizer, *, pack: int = 1) -> dict[str, float]:
    """One generator update: minimise ``objective.generator(D(G(z)))``.

    The gradient flows from the loss through D into G's weights, so ``fake`` must *not* be detached
    here (see :func:`mistake_detached_fake`). Only G's optimiser steps; D's gradients are discarded.
    """
    fake = generator(z)
    loss = objective.generator(discriminator(_pack(fake, pack)))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return {"g_loss": float(loss.detach())}


def build_gan_2d(config: Gan2DConfig) -> tuple[nn.Module, nn.Module]:
    """Generator MLP(z_dim → 2) and discriminator MLP(2·pack → 1), initialised from the global seed."""
    return (MLP(config.z_dim, 2, config.width, config.depth),
            MLP(2 * config.pack, 1, config.width, config.depth))


def train_gan_2d(config: Gan2DConfig, device: torch.device | str | None = None, *,
                 checkpoint_path: str | Path | None = None, max_steps: int | None = None,
                 objective: GanLoss | None = None, progress: bool = True) -> Gan2DResult:
    """Train an MLP GAN on ``config.mixture`` and measure mode coverage on ``config.n_eval`` samples.

    Every random number (real samples, noise, gradient-penalty mixing) comes from one seeded
    generator whose state is saved in the checkpoint with the models and optimisers, so a run that
    is stopped at ``max_steps`` (the stand-in for an interruption) and started again with the same
    ``checkpoint_path`` takes exactly the steps the uninterrupted run would have taken.
    ``objective`` replaces the loss named in the config (used to reproduce mistakes).
    """
    from tqdm.auto import tqdm

    from .metrics import mode_coverage

    dev = runtime.resolve_device(None if device is None else str(device))
    mixture = get_mixture(config.mixture)
    objective = objective or get_loss(config.loss)
    gen = runtime.seed_everything(config.seed)
    G, D = build_gan_2d(config)
    G, D = G.to(dev), D.to(dev)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=config.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=config.betas)
    decay = lambda t: config.lr_final_ratio ** (t / max(config.steps, 1))  # noqa: E731
    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, decay)
    sched_d = torch.optim.lr_scheduler.LambdaLR(opt_d, decay)
    z_fixed = torch.randn(config.n_eval, config.z_dim, generator=torch.Generator().manual_seed(config.seed + 10_000))
    history: dict[str, list[float]] = {k: [] for k in ("d_loss", "g_loss", "d_real", "d_fake", "eval_step",
                                                       "modes_covered", "high_quality")}
    snapshots: dict[int, Tensor] = {}
    start_step, elapsed = 0, 0.0
    path = Path(checkpoint_path) if checkpoint_path is not None else None
    state = load_checkpoint(path, kind="gan-2d") if path is not None else None
    if state is not None:
        if state["config"] != asdict(config):
            raise ValueError(f"Checkpoint {path} belongs to another configuration; delete it or use another path.")
        G.load_state_dict(state["generator"])
        D.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        sched_g.load_state_dict(state["sched_g"])
        sched_d.load_state_dict(state["sched_d"])
        history, snapshots = state["history"], state["snapshots"]
        start_step, elapsed = state["step"], state["train_seconds"]
        set_rng_state(state["rng"], gen)

    def evaluate(step: int) -> None:
        with torch.no_grad():
            samples = G(z_fixed.to(dev)).cpu()
        cov = mode_coverage(samples, mixture.centers_tensor, mixture.sigma)
        history["eval_step"].append(step)
        history["modes_covered"].append(cov.modes_covered)
        history["high_quality"].append(cov.high_quality)
        snapshots[step] = samples[:1000].clone()

    def save(step: int, seconds: float) -> None:
        if path is not None:
            save_checkpoint({"kind": "gan-2d", "config": asdict(config), "step": step,
                             "generator": G.state_dict(), "discriminator": D.state_dict(),
                             "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                             "sched_g": sched_g.state_dict(), "sched_d": sched_d.state_dict(),
                             "history": history, "snapshots": snapshots, "train_seconds": seconds,
                             "rng": rng_state(gen)}, path)

    stop = config.steps if max_steps is None else min(config.steps, max_steps)
    tic = time.perf_counter()
    with single_thread_if_cpu(dev):
        if start_step == 0 and 0 not in snapshots:
            evaluate(0)
        bar = tqdm(range(start_step, stop), desc=f"{config.method} on {config.mixture} (seed {config.seed})",
                   disable=not progress, leave=False)
        for step in bar:
            n = config.batch_size
            for _ in range(config.d_steps):
                real = mixture.sample(n, gen).to(dev)
                z = torch.randn(n, config.z_dim, generator=gen).to(dev)
                d_log = discriminator_step(G, D, objective, real, z, opt_d, pack=config.pack,
                                           gp_weight=config.gp_weight, rng=gen)
            z = torch.randn(n, config.z_dim, generator=gen).to(dev)
            g_log = generator_step(G, D, objective, z, opt_g, pack=config.pack)
            sched_g.step()
            sched_d.step()
            for k, v in {**d_log, **g_log}.items():
                history[k].append(v)
            done = step + 1
            if done % config.snapshot_every == 0 or done == config.steps:
                evaluate(done)
            if done % config.checkpoint_every == 0 or done == stop:
                save(done, elapsed + time.perf_counter() - tic)
    elapsed += time.perf_counter() - tic
    with torch.no_grad():
        final = G(z_fixed.to(dev)).cpu()
    return Gan2DResult(config=config, generator=G.eval(), discriminator=D.eval(), history=history,
                       snapshots=snapshots, coverage=mode_coverage(final, mixture.centers_tensor, mixture.sigma),
                       train_seconds=elapsed, resumed_from=start_step)


@dataclass(frozen=True)
class Study2DConfig:
    """The comparison of methods in the 2-D notebook, quick and full values side by side.

    Protocol: every method in ``methods`` is trained once (seed ``seeds[0]``) on
    ``selection_mixture`` with its :meth:`Gan2DConfig.for_mode` configuration; the method that
    covers the most modes (ties: the larger share of high-quality samples) is the *best*. The best
    method (every method when ``all_methods_all_seeds``) is then trained on each of ``mixtures`` with
    every seed in ``seeds``, with the overrides in ``seed_overrides[mixture]`` (quick mode: fewer
    steps, so that a CPU can afford five seeds). ``run_overrides`` apply to every run (tests use
    them to shrink the study). The table reports mean and spread over seeds and the number of
    steps of every row. ``workers`` runs that many trainings at once in separate processes on a CPU
    (the runs are independent and seeded, so the numbers do not change with it). ``device``, when
    set, overrides the device passed to :func:`compare_methods_2d`.
    """

    methods: tuple[str, ...] = tuple(METHODS_2D)
    selection_mixture: str = "ring"
    mixtures: tuple[str, ...] = ("ring", "grid")
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    seed_overrides: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    run_overrides: Mapping[str, object] = field(default_factory=dict)
    all_methods_all_seeds: bool = False
    workers: int = 1
    device: str | None = None

    @classmethod
    def for_mode(cls, mode: str | None = None, **overrides) -> "Study2DConfig":
        """Quick: the best method over 5 short seed runs, 2 processes. Full: every method over 5 full
        seed runs, on the CPU in up to 16 processes even when a GPU is present, because MLPs this
        small are bound by kernel-launch latency on a GPU and many CPU processes finish sooner."""
        m = runtime.resolve_mode(mode)
        cores = os.cpu_count() or 1
        base = cls(seed_overrides=runtime.pick(m, {"ring": {"steps": 800}, "grid": {"steps": 800}}, {}),
                   all_methods_all_seeds=runtime.pick(m, False, True),
                   workers=runtime.pick(m, min(2, cores), min(16, cores)), device=runtime.pick(m, None, "cpu"))
        return replace(base, **overrides)

    def __post_init__(self):
        for name in self.methods:
            if name not in METHODS_2D:
                raise KeyError(f"Unknown 2-D method {name!r}; valid names are: {', '.join(METHODS_2D)}.")
        for name in (self.selection_mixture, *self.mixtures):
            get_mixture(name)
        if not self.seeds:
            raise ValueError("at least one seed is needed")


@dataclass
class Study2DResult:
    """What :func:`compare_methods_2d` returns.

    ``selection``: one run per method on the selection mixture; ``best``: the chosen method;
    ``seed_runs[(mixture, method)]``: the runs over seeds; ``table``: a pandas DataFrame with one
    row per (mixture, method, steps) and the mean and standard deviation over its seeds.
    """

    study: Study2DConfig
    mode: str
    selection: dict[str, Gan2DResult]
    best: str
    seed_runs: dict[tuple[str, str], list[Gan2DResult]]
    table: object
    train_seconds: float

    def summary(self) -> dict[str, object]:
        """The bench metrics of CONVENTIONS.md: means over seeds of the best method, per-seed lists."""
        metrics: dict[str, object] = {"best_method": self.best}
        per_seed: dict[str, list[float]] = {}
        for mixture in self.study.mixtures:
            runs = self.seed_runs[(mixture, self.best)]
            modes = [r.modes_covered for r in runs]
            hq = [r.high_quality for r in runs]
            metrics[f"{mixture}.modes_covered"] = float(np.mean(modes))
            metrics[f"{mixture}.high_quality"] = float(np.mean(hq))
            per_seed[f"{mixture}.modes_covered"] = modes
            per_seed[f"{mixture}.high_quality"] = hq
        metrics["per_seed"] = per_seed
        # single-seed rows have no spread: None (JSON null) rather than NaN, which is not valid JSON
        metrics["table"] = self.table.astype(object).where(self.table.notna(), None).to_dict(orient="records")
        return metrics


def _table_row(mixture: str, method: str, runs: list[Gan2DResult], role: str) -> dict[str, object]:
    modes = np.array([r.modes_covered for r in runs], dtype=float)
    hq = np.array([r.high_quality for r in runs], dtype=float)
    return {"mixture": mixture, "method": method, "role": role, "steps": runs[0].config.steps, "seeds": len(runs),
            "modes_mean": modes.mean(), "modes_std": modes.std(ddof=1) if len(runs) > 1 else float("nan"),
            "n_modes": get_mixture(mixture).n_modes,
            "hq_mean": hq.mean(), "hq_std": hq.std(ddof=1) if len(runs) > 1 else float("nan"),
            "per_seed_modes": [int(v) for v in modes], "per_seed_hq": [round(float(v), 4) for v in hq],
            "train_seconds": float(sum(r.train_seconds for r in runs))}


def _train_2d_worker(config: Gan2DConfig, device: str) -> Gan2DResult:
    """Entry point of a worker process: one run, no progress bar, CPU tensors back."""
    result = train_gan_2d(config, device, progress=False)
    result.generator.cpu()
    result.discriminator.cpu()
    return result


def train_many_2d(configs: list[Gan2DConfig], device: torch.device | str | None = None, *, workers: int = 1,
                  progress: bool = True) -> list[Gan2DResult]:
    """Train independent 2-D runs, ``workers`` at a time in separate processes (1: in this process).

    Each run is seeded by its own config, so the results do not depend on ``workers``. On a CPU the
    runs use one thread each (:func:`single_thread_if_cpu`), so two workers keep two cores busy.
    Workers are started with multiprocessing's ``spawn`` method, which re-imports the calling
    script: a script (not a notebook) that asks for several workers needs the usual
    ``if __name__ == "__main__":`` guard around its top-level code.
    """
    from tqdm.auto import tqdm

    dev = str(runtime.resolve_device(None if device is None else str(device)))
    if workers <= 1 or len(configs) <= 1 or dev != "cpu":
        return [train_gan_2d(c, dev, progress=progress) for c in configs]
    import concurrent.futures as cf
    import multiprocessing as mp

    results: list[Gan2DResult | None] = [None] * len(configs)
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(_train_2d_worker, c, dev): i for i, c in enumerate(configs)}
        for fut in tqdm(cf.as_completed(futures), total=len(futures), desc=f"2-D runs ({workers} processes)",
                        disable=not progress, leave=False):
            results[futures[fut]] = fut.result()
    return results  # type: ignore[return-value]


def compare_methods_2d(study: Study2DConfig | None = None, mode: str | None = None,
                       device: torch.device | str | None = None, progress: bool = True) -> Study2DResult:
    """Run the protocol of :class:`Study2DConfig` and return every run and the table."""
    import pandas as pd

    m = runtime.resolve_mode(mode)
    study = study or Study2DConfig.for_mode(m)
    device = study.device or device
    sel_configs = [Gan2DConfig.for_mode(m, method=k, mixture=study.selection_mixture, seed=study.seeds[0],
                                        **dict(study.run_overrides)) for k in study.methods]
    selection = dict(zip(study.methods, train_many_2d(sel_configs, device, workers=study.workers, progress=progress)))
    best = max(study.methods, key=lambda k: (selection[k].modes_covered, selection[k].high_quality))
    planned: dict[tuple[str, str], list[Gan2DConfig]] = {}
    for mixture in study.mixtures:
        for method in (study.methods if study.all_methods_all_seeds else (best,)):
            planned[(mixture, method)] = [
                Gan2DConfig.for_mode(m, method=method, mixture=mixture, seed=seed,
                                     **{**study.run_overrides, **study.seed_overrides.get(mixture, {})})
                for seed in study.seeds]
    # a seed run identical to a selection run is not trained twice
    done = {r.config: r for r in selection.values()}
    todo = [c for cfgs in planned.values() for c in cfgs if c not in done]
    done.update(zip(todo, train_many_2d(todo, device, workers=study.workers, progress=progress)))
    seed_runs = {key: [done[c] for c in cfgs] for key, cfgs in planned.items()}
    rows = [_table_row(study.selection_mixture, k, [r], "selection") for k, r in selection.items()]
    rows += [_table_row(mix, k, runs, "seeds") for (mix, k), runs in seed_runs.items()]
    seconds = sum(r.train_seconds for r in done.values())
    return Study2DResult(study=study, mode=m, selection=selection, best=best, seed_runs=seed_runs,
                         table=pd.DataFrame(rows), train_seconds=seconds)


def plot_snapshots_2d(result: Gan2DResult, steps: list[int] | None = None, axes=None):
    """Scatter the generator's samples at several training steps over the mixture's centres."""
    import matplotlib.pyplot as plt

    mixture = get_mixture(result.config.mixture)
    steps = steps or sorted(result.snapshots)
    if axes is None:
        _, axes = plt.subplots(1, len(steps), figsize=(2.6 * len(steps), 2.8), sharex=True, sharey=True)
    axes = np.atleast_1d(axes)
    c = mixture.centers_tensor
    lim = float(c.abs().max()) + 1.0
    for ax, step in zip(axes, steps):
        pts = result.snapshots[step]
        ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.4, label="generated")
        ax.scatter(c[:, 0], c[:, 1], s=25, marker="x", color="red", label="mode centres")
        ax.set_title(f"step {step}")
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_xlabel("$x_1$ (data units)")
    axes[0].set_ylabel("$x_2$ (data units)")
    axes[0].legend(loc="lower left", fontsize=7, markerscale=3)
    return axes


# ========================================================================================= DCGAN


class ShapeMismatchError(ValueError):
    """Generator output and discriminator input disagree; the message says which layer to fix."""


def _init_dcgan_weights(module: nn.Module) -> None:
    """Radford et al. (2016): convolution and linear weights ~ N(0, 0.02²); batch-norm scale ~ N(1, 0.02²)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGenerator(nn.Module):
    r"""DCGAN generator for 28x28 images.

    z (N, z_dim) → linear → (N, 2c, 7, 7) → BN, ReLU → ``n_upsample`` x [ConvTranspose 4x4
    stride 2 pad 1, which doubles the side: 7 → 14 → 28] (channels 2c → c → 1, BN and ReLU between)
    → tanh, so pixels lie in [-1, 1]. With ``n_upsample`` other than 2 the output is not 28x28: that
    is mistake (b) of the chapter, caught by :func:`check_shapes`.
    """

    def __init__(self, z_dim: int = 64, channels: int = 32, n_upsample: int = 2):
        super().__init__()
        if n_upsample < 0:
            raise ValueError("n_upsample must be >= 0")
        self.z_dim, self.channels = z_dim, channels
        self.project = nn.Sequential(nn.Linear(z_dim, 2 * channels * 49, bias=False),
                                     nn.Unflatten(1, (2 * channels, 7, 7)), nn.BatchNorm2d(2 * channels), nn.ReLU())
        blocks: list[nn.Module] = []
        c = 2 * channels
        for i in range(n_upsample):
            last = i == n_upsample - 1
            c_out = 1 if last else max(channels // (2 ** i), 8)
            blocks.append(nn.ConvTranspose2d(c, c_out, 4, 2, 1, bias=last))
            if not last:
                blocks += [nn.BatchNorm2d(c_out), nn.ReLU()]
            c = c_out
        if n_upsample == 0:
            blocks.append(nn.Conv2d(c, 1, 3, 1, 1))
        self.body = nn.Sequential(*blocks, nn.Tanh())
        self.apply(_init_dcgan_weights)

    def forward(self, z: Tensor) -> Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ShapeMismatchError(f"DCGenerator expects noise of shape (N, {self.z_dim}), got {tuple(z.shape)}")
        return self.body(self.project(z))


class DCDiscriminator(nn.Module):
    r"""DCGAN discriminator for (N, 1, 28, 28) images in [-1, 1].

    Conv 4x4 stride 2 (1 → c, 28 → 14) → LeakyReLU(0.2) → Conv 4x4 stride 2 (c → 2c, 14 → 7) →
    BN → LeakyReLU(0.2) → flatten (2c·7·7) → linear → one logit. No batch norm on the input layer
    (Radford et al. 2016).
    """

    image_shape = (1, 28, 28)

    def __init__(self, channels: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, channels, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(channels, 2 * channels, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * channels), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * channels * 49, 1))
        self.apply(_init_dcgan_weights)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def check_shapes(generator: nn.Module, discriminator: nn.Module, z_dim: int,
                 image_shape: tuple[int, ...] = (1, 28, 28), batch: int = 2) -> tuple[int, ...]:
    """Fail fast, with a readable message, when G's output cannot be D's input.

    Runs a batch of ``batch`` noise vectors through the generator (in eval mode, without gradients)
    and checks that its output is (batch, *image_shape) and that the discriminator maps it to one
    number per image. Returns the generator's per-sample output shape.
    """
    device = next(generator.parameters()).device
    was_training = generator.training, discriminator.training
    generator.eval()
    discriminator.eval()
    try:
        with torch.no_grad():
            out = generator(torch.zeros(batch, z_dim, device=device))
            got = tuple(out.shape[1:])
            if got != tuple(image_shape):
                raise ShapeMismatchError(
                    f"generator outputs images of shape {got} per sample but the discriminator expects "
                    f"{tuple(image_shape)} (the shape of the data). Each stride-2 transposed convolution "
                    f"doubles the side (7 → 14 → 28): check the number of upsampling layers and the "
                    f"output channels of the generator's last layer.")
            try:
                score = discriminator(out)
            except RuntimeError as exc:
                raise ShapeMismatchError(f"the discriminator fails on a {got} batch: {exc}") from exc
            if tuple(score.shape) not in {(batch,), (batch, 1)}:
                raise ShapeMismatchError(f"the discriminator should give one number per image, got {tuple(score.shape)}")
    finally:
        generator.train(was_training[0])
        discriminator.train(was_training[1])
    return got


def to_unit(images: Tensor) -> Tensor:
    """Generator pixels in [-1, 1] → [0, 1], the range of :func:`aigc_lessons.data.load_mnist`."""
    return ((images + 1) / 2).clamp(0, 1)


@dataclass(frozen=True)
class DCGANConfig:
    """DCGAN on MNIST; quick (CPU minutes) and full (one GPU) values side by side in :meth:`for_mode`."""

    z_dim: int = 64
    g_channels: int = 32
    d_channels: int = 32
    batch_size: int = 64
    steps: int = 1200
    lr: float = 5e-4
    betas: tuple[float, float] = (0.5, 0.999)
    loss: str = "non_saturating"
    seed: int = 0
    snapshot_every: int = 300
    checkpoint_every: int = 300
    n_fixed: int = 64
    bf16: bool = False

    @classmethod
    def for_mode(cls, mode: str | None = None, **overrides) -> "DCGANConfig":
        m = runtime.resolve_mode(mode)
        full_steps = 30 * (60_000 // 128)  # 30 epochs of 128 images
        base = cls(z_dim=runtime.pick(m, 64, 100), g_channels=runtime.pick(m, 32, 128),
                   d_channels=runtime.pick(m, 32, 64), batch_size=runtime.pick(m, 64, 128),
                   steps=runtime.pick(m, 1200, full_steps), lr=runtime.pick(m, 5e-4, 2e-4),
                   snapshot_every=runtime.pick(m, 300, 60_000 // 128),
                   checkpoint_every=runtime.pick(m, 300, 60_000 // 128), bf16=runtime.pick(m, False, True))
        return replace(base, **overrides)

    def __post_init__(self):
        get_loss(self.loss)


@dataclass
class DCGANResult:
    """What :func:`train_dcgan` returns: models, per-step history and fixed-noise grids.

    ``history``: ``d_loss``, ``g_loss``, ``d_x`` (mean D(x) on real images) and ``d_g_z`` (mean
    D(G(z)) on the batch the discriminator saw), one entry per step. ``grids`` maps a step to the
    generator's images (in [0, 1]) for the same fixed noise.
    """

    config: DCGANConfig
    generator: DCGenerator
    discriminator: DCDiscriminator
    history: dict[str, list[float]]
    grids: dict[int, Tensor]
    train_seconds: float
    resumed_from: int = 0


def _batch_indices(step: int, batch_size: int, n: int, seed: int) -> Tensor:
    """Indices of the images of ``step``: epoch e = step // (n // batch_size) reads a permutation
    seeded by (seed, e), so any step can be recomputed after a restart without replaying the past."""
    per_epoch = n // batch_size
    epoch, i = divmod(step, per_epoch)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
    return order[i * batch_size:(i + 1) * batch_size]


def train_dcgan(config: DCGANConfig, device: torch.device | str | None = None, *,
                checkpoint_path: str | Path | None = None, max_steps: int | None = None,
                images: Tensor | None = None, progress: bool = True) -> DCGANResult:
    """Train a DCGAN on the 60,000 MNIST training images (pixels rescaled to [-1, 1]).

    One step: a discriminator update on a real batch and a generated batch (detached, so D's loss
    does not move G), then a generator update through the updated D on the same generated batch
    (not detached: this is where G learns). :func:`check_shapes` runs first. With a CUDA device and ``config.bf16`` the
    forward passes run under bf16 autocast. ``max_steps`` stops early (an interruption); calling
    again with the same ``checkpoint_path`` resumes exactly. ``images`` replaces the MNIST training
    set (N, 1, 28, 28) in [0, 1] (tests use a slice).
    """
    from tqdm.auto import tqdm

    from .data import load_mnist

    dev = runtime.resolve_device(None if device is None else str(device))
    objective = get_loss(config.loss)
    if images is None:
        images, _ = load_mnist("train")
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ShapeMismatchError(f"train_dcgan expects images (N, 1, 28, 28), got {tuple(images.shape)}")
    if len(images) < config.batch_size:
        raise ValueError(f"need at least one batch of {config.batch_size} images, got {len(images)}")
    data = images * 2 - 1
    gen = runtime.seed_everything(config.seed)
    G = DCGenerator(config.z_dim, config.g_channels).to(dev)
    D = DCDiscriminator(config.d_channels).to(dev)
    check_shapes(G, D, config.z_dim)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=config.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=config.betas)
    z_fixed = torch.randn(config.n_fixed, config.z_dim, generator=torch.Generator().manual_seed(config.seed + 10_000))
    history: dict[str, list[float]] = {k: [] for k in ("d_loss", "g_loss", "d_x", "d_g_z")}
    grids: dict[int, Tensor] = {}
    start_step, elapsed = 0, 0.0
    path = Path(checkpoint_path) if checkpoint_path is not None else None
    state = load_checkpoint(path, kind="dcgan-mnist") if path is not None else None
    if state is not None:
        if state["config"] != asdict(config):
            raise ValueError(f"Checkpoint {path} belongs to another configuration; delete it or use another path.")
        G.load_state_dict(state["generator"])
        D.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        history, grids = state["history"], state["grids"]
        start_step, elapsed = state["step"], state["train_seconds"]
        set_rng_state(state["rng"], gen)
    use_bf16 = config.bf16 and dev.type == "cuda"

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16) if use_bf16 else contextlib.nullcontext()

    def snapshot(step: int) -> None:
        G.eval()
        with torch.no_grad():
            grids[step] = to_unit(G(z_fixed.to(dev)).float()).cpu()
        G.train()

    def prob(out: Tensor) -> float:
        return float(torch.sigmoid(out.detach().float()).mean()) if objective.output == "logit" else float(out.detach().float().mean())

    stop = config.steps if max_steps is None else min(config.steps, max_steps)
    tic = time.perf_counter()
    if start_step == 0:
        snapshot(0)
    bar = tqdm(range(start_step, stop), desc="DCGAN on MNIST", disable=not progress, leave=False)
    for step in bar:
        real = data[_batch_indices(step, config.batch_size, len(data), config.seed)].to(dev)
        z = torch.randn(config.batch_size, config.z_dim, generator=gen).to(dev)
        with autocast():
            fake = G(z)
            real_out, fake_out = D(real), D(fake.detach())
            d_loss = objective.discriminator(real_out.float(), fake_out.float())
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        with autocast():  # the same fake batch, *not* detached: G's gradient flows through it
            g_loss = objective.generator(D(fake).float())
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        history["d_loss"].append(float(d_loss.detach()))
        history["g_loss"].append(float(g_loss.detach()))
        history["d_x"].append(prob(real_out))
        history["d_g_z"].append(prob(fake_out))
        done = step + 1
        if done % config.snapshot_every == 0 or done == config.steps:
            snapshot(done)
        if path is not None and (done % config.checkpoint_every == 0 or done == stop):
            save_checkpoint({"kind": "dcgan-mnist", "config": asdict(config), "step": done,
                             "generator": G.state_dict(), "discriminator": D.state_dict(),
                             "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "history": history,
                             "grids": grids, "train_seconds": elapsed + time.perf_counter() - tic,
                             "rng": rng_state(gen)}, path)
    elapsed += time.perf_counter() - tic
    return DCGANResult(config=config, generator=G.eval(), discriminator=D.eval(), history=history, grids=grids,
                       train_seconds=elapsed, resumed_from=start_step)


@torch.no_grad()
def generate_images(generator: DCGenerator, n: int, seed: int = 0, batch: int = 1000) -> Tensor:
    """``n`` images (n, 1, 28, 28) in [0, 1] from a generator in eval mode, noise seeded by ``seed``."""
    generator.eval()
    device = next(generator.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(0, n, batch):
        z = torch.randn(min(batch, n - i), generator.z_dim, generator=gen).to(device)
        out.append(to_unit(generator(z).float()).cpu())
    return torch.cat(out)


# =============================================================================== common mistakes


@dataclass
class MistakeReport:
    """A common mistake reproduced: what we measured with it (``symptom``) and with the fix (``fixed``)."""

    name: str
    cause: str
    symptom: dict[str, object]
    fixed: dict[str, object]


def _generator_step_on_detached_fake(generator: nn.Module, discriminator: nn.Module, objective: GanLoss,
                                     z: Tensor, opt: torch.optim.Optimizer) -> dict[str, float]:
    """The buggy generator step of mistake (a): identical to :func:`generator_step` but on ``fake.detach()``."""
    fake = generator(z).detach()  # BUG: cuts the graph between the loss and the generator's weights
    loss = objective.generator(discriminator(fake))
    opt.zero_grad(set_to_none=True)
    loss.backward()  # runs without complaint: the discriminator's weights still require gradients
    opt.step()  # the generator's .grad are None, so Adam skips every one of its weights
    return {"g_loss": float(loss.detach())}


def _flat_params(module: nn.Module) -> Tensor:
    return torch.cat([p.detach().flatten().clone() for p in module.parameters()])


def mistake_detached_fake(steps: int = 50, seed: int = 0) -> MistakeReport:
    """Mistake (a): the generator step computed on ``fake.detach()``.

    Trains the same ring GAN twice from the same initial weights for ``steps`` steps, once with the
    buggy generator step and once with :func:`generator_step`, and measures how far the generator's
    weights moved (L2 norm of the change) and whether it ever received a gradient.
    """
    config = Gan2DConfig(steps=steps, seed=seed)
    mixture = get_mixture(config.mixture)
    objective = get_loss(config.loss)
    out: dict[str, dict[str, object]] = {}
    for variant, g_step in (("buggy", _generator_step_on_detached_fake), ("fixed", generator_step)):
        gen = runtime.seed_everything(seed)
        G, D = build_gan_2d(config)
        before = _flat_params(G)
        opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=config.betas)
        opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=config.betas)
        with single_thread_if_cpu(torch.device("cpu")):
            for _ in range(steps):
                real = mixture.sample(config.batch_size, gen)
                discriminator_step(G, D, objective, real, torch.randn(config.batch_size, config.z_dim, generator=gen), opt_d)
                g_step(G, D, objective, torch.randn(config.batch_size, config.z_dim, generator=gen), opt_g)
        out[variant] = {"generator_weight_change": float((_flat_params(G) - before).norm()),
                        "generator_got_gradient": any(p.grad is not None for p in G.parameters())}
    return MistakeReport("(a) generator step on fake.detach()",
                         "detach() cuts the graph, so the generator loss has no path back to G's weights",
                         out["buggy"], out["fixed"])


def mistake_wrong_output_size(z_dim: int = 64, channels: int = 32) -> MistakeReport:
    """Mistake (b): a generator that outputs 7x7 images fed to a discriminator built for 28x28.

    Symptom: the raw forward pass fails deep inside the discriminator with a message about matrix
    sizes that names neither network; :func:`check_shapes` names both shapes before training.
    The fix (two stride-2 upsampling layers, 7 → 14 → 28) passes the check.
    """
    torch.manual_seed(0)
    bad, good, D = DCGenerator(z_dim, channels, n_upsample=0), DCGenerator(z_dim, channels), DCDiscriminator(channels)
    z = torch.randn(4, z_dim)
    with torch.no_grad():
        bad_shape = tuple(bad(z).shape)
        try:
            D(bad(z))
            raw = "no error"
        except RuntimeError as exc:
            raw = str(exc)
    try:
        check_shapes(bad, D, z_dim)
        checked = "no error"
    except ShapeMismatchError as exc:
        checked = str(exc)
    return MistakeReport("(b) 7x7 generator output into a 28x28 discriminator",
                         "one stride-2 upsampling layer per doubling of the side is missing (7 → 14 → 28)",
                         {"generator_output_shape": bad_shape, "raw_error": raw, "check_shapes_error": checked},
                         {"generator_output_shape": tuple(good(z).shape),
                          "check_shapes": check_shapes(good, D, z_dim)})


def _max_max_generator(fake_logit: Tensor) -> Tensor:
    r"""Mistake (c): the generator *maximises* V as well, i.e. minimises :math:`-\E\log(1-D(G(z)))`."""
    return F.softplus(fake_logit).mean()


#: The objective of mistake (c): both players maximise V(D, G).
MAX_OVER_BOTH_PLAYERS = GanLoss("max_over_both_players", _bce_discriminator, _max_max_generator, "logit",
                                r"-\E\log D(x) - \E\log(1-D(G(z)))", r"-\E\log(1-D(G(z)))", "goodfellow2014generative")


def mistake_max_over_both_players(steps: int = 300, seed: int = 0) -> MistakeReport:
    """Mistake (c): writing the objective as max over D *and* G (a sign error in the generator loss).

    Trains the ring GAN for ``steps`` steps with :data:`MAX_OVER_BOTH_PLAYERS` and with the
    non-saturating loss, and reports the mean D(G(z)) and D loss over the last 50 steps, the
    share of high-quality samples and the mean distance of the samples from the origin (the
    data lie on the circle of radius 2).
    """
    out = {}
    for variant, objective in (("buggy", MAX_OVER_BOTH_PLAYERS), ("fixed", get_loss("non_saturating"))):
        config = Gan2DConfig(steps=steps, seed=seed, snapshot_every=steps, checkpoint_every=steps)
        res = train_gan_2d(config, "cpu", objective=objective, progress=False)
        last = slice(-50, None)
        with torch.no_grad():
            radius = res.snapshots[steps].norm(dim=1).mean()
        out[variant] = {"mean_D_of_G_z": float(torch.sigmoid(torch.tensor(res.history["d_fake"][last])).mean()),
                        "mean_d_loss": float(np.mean(res.history["d_loss"][last])),
                        "high_quality": res.high_quality, "modes_covered": res.modes_covered,
                        "mean_sample_radius": float(radius)}
    return MistakeReport("(c) max over both players",
                         "the generator climbs V instead of descending it, so it helps the discriminator",
                         out["buggy"], out["fixed"])


def mistake_d_as_density(result: Disc1DResult | None = None) -> MistakeReport:
    """Mistake (d): reading D(x) as the data density.

    Uses a discriminator trained by :func:`train_discriminator_1d`. Symptom: where D is largest is
    where p_g is thin, not where the data are dense, and D correlates poorly with p_data. Fix: D
    estimates the *ratio* p_data / (p_data + p_g), so with p_g known,
    p_data = p_g · D / (1 - D); we measure how well that recovers p_data where p_g > 0.05.
    """
    r = result or train_discriminator_1d()
    d, pd, pg, x = r.d_learned, r.p_data, r.p_g, r.x
    corr = float(np.corrcoef(d.numpy(), pd.numpy())[0, 1])
    region = pg > 0.05
    recovered = pg * d / (1 - d)
    rel = ((recovered - pd).abs() / pd)[region]
    return MistakeReport(
        "(d) D(x) read as the data density",
        "D* = p_data / (p_data + p_g) is a density ratio; it is near 1 wherever p_g is thin",
        {"argmax_D": float(x[d.argmax()]), "argmax_p_data": float(x[pd.argmax()]),
         "D_at_argmax_p_data": float(d[pd.argmax()]), "corr_D_p_data": corr},
        {"max_rel_error_recovered_density": float(rel.max()), "region": (float(x[region].min()), float(x[region].max())),
         "max_abs_error_D_vs_D_star": r.max_abs_error})


# ==================================================================================== benchmarks


def bench_2d(mode: str, device: torch.device) -> dict[str, object]:
    """``python -m aigc_lessons.bench gan-2d``: the 2-D study of :func:`compare_methods_2d`."""
    result = compare_methods_2d(Study2DConfig.for_mode(mode), mode, device, progress=True)
    configs = {f"{mix}/{method}": asdict(runs[0].config) for (mix, method), runs in result.seed_runs.items()}
    configs.update({f"selection/{k}": asdict(r.config) for k, r in result.selection.items()})
    return {"config": {"study": asdict(result.study), "runs": configs}, "metrics": result.summary(),
            "train_seconds": result.train_seconds}


def bench_mnist(mode: str, device: torch.device) -> dict[str, object]:
    """``python -m aigc_lessons.bench gan-mnist``: DCGAN on MNIST scored by the evaluation classifier.

    Metrics (CONVENTIONS.md): ``class_share_min``, ``class_share_max``, ``mean_confidence``,
    ``frechet``, ``frechet_real_floor``; plus the untrained generator's Fréchet distance and the
    classifier's test accuracy for context.
    """
    from .data import load_mnist
    from .metrics import mnist_evaluator

    data = (load_mnist("train"), load_mnist("test"))
    evaluator = mnist_evaluator(mode, device, data=data)
    config = DCGANConfig.for_mode(mode)
    result = train_dcgan(config, device, images=data[0][0])
    trained = evaluator(generate_images(result.generator, 10_000, seed=123))
    torch.manual_seed(config.seed)
    untrained = evaluator(generate_images(DCGenerator(config.z_dim, config.g_channels).to(device), 10_000, seed=123))
    return {"config": {"dcgan": asdict(config), "classifier": asdict(evaluator.classifier.config)},
            "metrics": {"class_share_min": trained.class_share_min, "class_share_max": trained.class_share_max,
                        "mean_confidence": trained.mean_confidence, "frechet": trained.frechet,
                        "frechet_real_floor": evaluator.frechet_floor, "frechet_untrained": untrained.frechet,
                        "class_shares": trained.class_shares,
                        "classifier_test_accuracy": evaluator.classifier.test_accuracy},
            "train_seconds": result.train_seconds}
