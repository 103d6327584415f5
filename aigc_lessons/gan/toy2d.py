"""Mode collapse in two dimensions: the mixtures, the five training methods and one GAN run.

:func:`ring_mixture` and :func:`grid_mixture` are the benchmark data; :class:`Method2D` says how a
GAN is trained (loss, packing, gradient penalties, generator average, optimiser) and
:data:`METHODS_2D` names the five the chapter compares; :class:`Gan2DConfig` holds one run's settings, including its ``Method2D``;
:func:`train_gan_2d` trains one MLP GAN, resumable from a checkpoint, and measures mode coverage.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import torch
import torch.nn as nn

from .. import runtime
from ..checkpoint import resume_training, save_training
from ..ema import averaged_copy, ema_update
from ..metrics import CoveredModes, ModeCoverage, mode_coverage
from .losses import GanLoss, get_loss, gradient_penalty, r1_penalty
from .theory import MLP

Tensor = torch.Tensor

__all__ = ["Mixture2D", "ring_mixture", "grid_mixture", "get_mixture", "Method2D", "METHODS_2D", "Gan2DConfig",
           "Gan2DResult", "discriminator_step", "generator_step", "build_gan_2d", "train_gan_2d"]


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

    def coverage(self, samples: Tensor, **kwargs) -> ModeCoverage:
        """:func:`aigc_lessons.metrics.mode_coverage` with this mixture's centres and sigma."""
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
    r"""How a 2-D GAN is trained: the loss, PacGAN packing, gradient penalty and optimiser settings.

    ``pack`` = m shows the discriminator m samples at once, concatenated (PacGAN, Lin et al. 2018):
    a generator that repeats itself is easier to spot in a pack than in a single sample.
    ``r1_weight`` = :math:`\gamma` adds :math:`\tfrac{\gamma}{2}\E\lVert\nabla_x D(x)\rVert^2` on real
    data to the discriminator's loss (:func:`~aigc_lessons.gan.losses.r1_penalty`). ``ema`` > 0
    keeps an exponential moving average of the generator's weights
    (:func:`aigc_lessons.ema.ema_update`, decay ``ema`` after a short warm-up) and samples and
    evaluates with it (Yazici et al. 2019). ``z_dim`` is the
    generator's latent size and ``batch_size`` the method's batch (``None``: the run's default).
    ``full_steps`` is the method's number of generator steps in full mode (``None``: the run's default
    of 20,000); quick mode gives every method the same budget of discriminator updates.
    """

    loss: str
    pack: int = 1
    gp_weight: float = 0.0
    d_steps: int = 1
    lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    r1_weight: float = 0.0
    ema: float = 0.0
    z_dim: int = 2
    batch_size: int | None = None
    full_steps: int | None = None

    def __post_init__(self):
        get_loss(self.loss)
        if self.pack < 1 or self.d_steps < 1 or self.z_dim < 1 or any(
                v is not None and v < 1 for v in (self.batch_size, self.full_steps)):
            raise ValueError(f"pack, d_steps, z_dim, batch_size and full_steps must be >= 1: {self}")
        if not 0.0 <= self.ema < 1.0 or self.r1_weight < 0 or self.gp_weight < 0:
            raise ValueError(f"ema must lie in [0, 1) and the penalty weights be >= 0: {self}")


#: The five methods the 2-D notebook compares. The two original losses, WGAN-GP, PacGAN, and the
#: non-saturating loss stabilised by an R1 penalty (gamma = 1), a generator average (decay 0.999) and
#: batches of 512, trained for 40,000 steps in full mode: its 20,000-step record fell short of the targets in
#: one seed, its 40,000-step record met them in every seed (the chapter's full-mode records).
METHODS_2D: Mapping[str, Method2D] = MappingProxyType({
    "saturating": Method2D("saturating"),
    "non_saturating": Method2D("non_saturating"),
    "wgan_gp": Method2D("wasserstein", gp_weight=10.0, d_steps=5, lr=1e-3, betas=(0.5, 0.9)),
    "pacgan": Method2D("non_saturating", pack=2),
    "r1_ema": Method2D("non_saturating", r1_weight=1.0, ema=0.999, batch_size=512, full_steps=40_000),
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

    ``method`` names the training method and ``method_spec`` holds it (loss, pack, gradient penalty,
    discriminator steps, ``lr``, ``betas``, R1, EMA, latent size); left at ``None``, ``method_spec``
    is ``METHODS_2D[method]``; ``z_dim`` and ``batch_size`` left at ``None`` are the method's (a
    batch of 256 when the method names none).
    """

    mixture: str = "ring"
    method: str = "non_saturating"
    method_spec: Method2D | None = None
    lr_final_ratio: float = 0.1
    z_dim: int | None = None
    width: int = 128
    depth: int = 3
    batch_size: int | None = None
    steps: int = 5000
    seed: int = 0
    n_eval: int = 2500
    snapshot_every: int = 1000
    checkpoint_every: int = 1000
    deterministic: bool = True  # torch's deterministic algorithms during training (quick mode)

    @classmethod
    def for_mode(cls, mode: str | None = None, *, method: str = "non_saturating", mixture: str = "ring",
                 **overrides) -> "Gan2DConfig":
        """The configuration of ``method`` on ``mixture`` for ``mode``; keywords override fields."""
        spec = overrides.get("method_spec") or _method_spec(method)
        # quick mode: the same number of discriminator updates for every method (WGAN-GP takes 5 per step),
        # and a narrower network, so that every method, mixture and seed of the notebook fits on a CPU
        config = runtime.for_mode(cls, mode, quick=dict(steps=4000 // spec.d_steps, width=64, checkpoint_every=1000,
                                             deterministic=True),
                                  full=dict(steps=spec.full_steps or 20_000, checkpoint_every=2000,
                                            deterministic=False),
                                  **{"mixture": mixture, "method": method, "method_spec": spec, **overrides})
        if "snapshot_every" not in overrides:  # five snapshots whatever the number of steps
            config = replace(config, snapshot_every=max(config.steps // 5, 1))
        return config

    def __post_init__(self):
        get_mixture(self.mixture)
        if self.method_spec is None:
            object.__setattr__(self, "method_spec", _method_spec(self.method))
        if self.z_dim is None:
            object.__setattr__(self, "z_dim", self.method_spec.z_dim)
        if self.batch_size is None:
            object.__setattr__(self, "batch_size", self.method_spec.batch_size or 256)
        if self.steps < 0 or self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 and steps >= 0: {self}")
        if self.batch_size % self.method_spec.pack:
            raise ValueError(f"batch_size {self.batch_size} is not a multiple of pack {self.method_spec.pack}")


def _method_spec(name: str) -> Method2D:
    """The :class:`Method2D` called ``name``; unknown names raise ``KeyError`` listing the valid ones."""
    if name not in METHODS_2D:
        raise KeyError(f"Unknown 2-D method {name!r}; valid names are: {', '.join(METHODS_2D)}.")
    return METHODS_2D[name]


@dataclass
class Gan2DResult(CoveredModes):
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
    coverage: ModeCoverage
    train_seconds: float
    resumed_from: int = 0


def _pack(x: Tensor, pack: int) -> Tensor:
    """(B·m, d) → (B, m·d): m consecutive samples become one input of the packed discriminator."""
    if x.shape[0] % pack:
        raise ValueError(f"batch of {x.shape[0]} cannot be split into packs of {pack}")
    return x.reshape(x.shape[0] // pack, pack * x.shape[1])


def discriminator_step(generator: nn.Module, discriminator: nn.Module, objective: GanLoss, real: Tensor,
                       z: Tensor, opt: torch.optim.Optimizer, *, pack: int = 1, gp_weight: float = 0.0,
                       r1_weight: float = 0.0, rng: torch.Generator | None = None) -> dict[str, float]:
    """One discriminator update: minimise ``objective.discriminator`` (+ WGAN-GP and/or R1 penalties)."""
    with torch.no_grad():
        fake = generator(z)
    real_out = discriminator(_pack(real, pack))
    fake_out = discriminator(_pack(fake, pack))
    loss = objective.discriminator(real_out, fake_out)
    if gp_weight > 0:
        loss = loss + gp_weight * gradient_penalty(lambda v: discriminator(_pack(v, pack)), real, fake, rng)
    if r1_weight > 0:
        loss = loss + 0.5 * r1_weight * r1_penalty(discriminator, _pack(real, pack))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return {"d_loss": float(loss.detach()), "d_real": float(real_out.detach().mean()),
            "d_fake": float(fake_out.detach().mean())}


def generator_step(generator: nn.Module, discriminator: nn.Module, objective: GanLoss, z: Tensor,
                   opt: torch.optim.Optimizer, *, pack: int = 1) -> dict[str, float]:
    """One generator update: minimise ``objective.generator(D(G(z)))``.

    The gradient flows from the loss through D into G's weights, so ``fake`` must *not* be detached
    here (see :func:`~aigc_lessons.gan.mistakes.mistake_detached_fake`). Only G's optimiser steps;
    D's gradients are discarded.
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
            MLP(2 * config.method_spec.pack, 1, config.width, config.depth))


def train_gan_2d(config: Gan2DConfig, device: torch.device | str | None = None, *,
                 checkpoint_path: str | Path | None = None, stop_after: int | None = None,
                 objective: GanLoss | None = None, progress: bool = True) -> Gan2DResult:
    """Train an MLP GAN on ``config.mixture`` and measure mode coverage on ``config.n_eval`` samples.

    Every random number (real samples, noise, gradient-penalty mixing) comes from one seeded
    generator whose state is saved in the checkpoint with the models and optimisers, so a run that
    is stopped once ``stop_after`` steps are done in all (the stand-in for an interruption) and
    started again with the same ``checkpoint_path`` takes exactly the steps the uninterrupted run
    would have taken; a checkpoint written for another configuration raises
    :class:`~aigc_lessons.checkpoint.CheckpointError`.
    ``objective`` replaces the loss named in the config (used to reproduce mistakes).
    """
    from tqdm.auto import tqdm

    dev = runtime.resolve_device(None if device is None else str(device))
    mixture = get_mixture(config.mixture)
    spec = config.method_spec
    objective = objective or get_loss(spec.loss)
    gen = runtime.seed_everything(config.seed)
    G, D = build_gan_2d(config)
    G, D = G.to(dev), D.to(dev)
    G_ema = averaged_copy(G) if spec.ema > 0 else None
    G_eval = G_ema if G_ema is not None else G  # the generator that is sampled and measured
    opt_g = torch.optim.Adam(G.parameters(), lr=spec.lr, betas=spec.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=spec.lr, betas=spec.betas)
    decay = lambda t: config.lr_final_ratio ** (t / max(config.steps, 1))  # noqa: E731
    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, decay)
    sched_d = torch.optim.lr_scheduler.LambdaLR(opt_d, decay)
    z_fixed = torch.randn(config.n_eval, config.z_dim, generator=torch.Generator().manual_seed(config.seed + 10_000))
    history: dict[str, list[float]] = {k: [] for k in ("d_loss", "g_loss", "d_real", "d_fake", "eval_step",
                                                       "modes_covered", "high_quality")}
    snapshots: dict[int, Tensor] = {}
    start_step, elapsed = 0, 0.0
    modules = {"generator": G, "discriminator": D, **({"generator_ema": G_ema} if G_ema is not None else {})}
    optimizers = {"opt_g": opt_g, "opt_d": opt_d, "sched_g": sched_g, "sched_d": sched_d}
    state = resume_training(checkpoint_path, kind="gan-2d", config=config, modules=modules,
                            optimizers=optimizers, generator=gen)
    if state is not None:
        history, snapshots = state["history"], state["extra"]["snapshots"]
        start_step, elapsed = state["step"], state["extra"]["train_seconds"]

    def evaluate(step: int) -> None:
        with torch.no_grad():
            samples = G_eval(z_fixed.to(dev)).cpu()
        cov = mode_coverage(samples, mixture.centers_tensor, mixture.sigma)
        history["eval_step"].append(step)
        history["modes_covered"].append(cov.modes_covered)
        history["high_quality"].append(cov.high_quality)
        snapshots[step] = samples[:1000].clone()

    def save(step: int, seconds: float) -> None:
        if checkpoint_path is not None:
            save_training(checkpoint_path, kind="gan-2d", config=config, step=step, modules=modules,
                          optimizers=optimizers, generator=gen, history=history, snapshots=snapshots,
                          train_seconds=seconds)

    stop = config.steps if stop_after is None else min(config.steps, stop_after)
    tic = time.perf_counter()
    with runtime.reproducible(dev, 1, config.deterministic):  # small MLPs: one thread is fastest
        if start_step == 0 and 0 not in snapshots:
            evaluate(0)
        bar = tqdm(range(start_step, stop), desc=f"{config.method} on {config.mixture} (seed {config.seed})",
                   disable=not progress, leave=False)
        for step in bar:
            n = config.batch_size
            for _ in range(spec.d_steps):
                real = mixture.sample(n, gen).to(dev)
                z = torch.randn(n, config.z_dim, generator=gen).to(dev)
                d_log = discriminator_step(G, D, objective, real, z, opt_d, pack=spec.pack,
                                           gp_weight=spec.gp_weight, r1_weight=spec.r1_weight, rng=gen)
            z = torch.randn(n, config.z_dim, generator=gen).to(dev)
            g_log = generator_step(G, D, objective, z, opt_g, pack=spec.pack)
            if G_ema is not None:
                ema_update(G_ema, G, spec.ema, step)
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
        final = G_eval(z_fixed.to(dev)).cpu()
    return Gan2DResult(config=config, generator=G_eval.eval(), discriminator=D.eval(), history=history,
                       snapshots=snapshots, coverage=mode_coverage(final, mixture.centers_tensor, mixture.sigma),
                       train_seconds=elapsed, resumed_from=start_step)
