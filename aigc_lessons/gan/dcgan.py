"""DCGAN on MNIST: the two networks, the shape check, the training loop and sampling.

:class:`DCGenerator` and :class:`DCDiscriminator` follow Radford et al. (2016) at MNIST size;
:func:`check_shapes` fails early with a readable message; :func:`train_dcgan` trains and resumes
exactly from a checkpoint; :func:`generate_images` samples; :func:`bench_mnist` is the ``gan-mnist``
benchmark, scored by :mod:`aigc_lessons.metrics`.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from .. import runtime
from ..checkpoint import cache_path, resume_training, save_training
from ..ema import averaged_copy, ema_update
from .losses import get_loss, r1_penalty

Tensor = torch.Tensor

__all__ = ["ShapeMismatchError", "DCGenerator", "DCDiscriminator", "check_shapes", "to_unit", "DCGANConfig",
           "DCGANResult", "train_dcgan", "generate_images", "train_and_score", "bench_mnist"]


class ShapeMismatchError(ValueError):
    """Generator output and discriminator input disagree; the message says which layer to fix."""


def _init_dcgan_weights(module: nn.Module) -> None:
    """Convolution and linear weights ~ N(0, 0.02²), as in Radford et al. (2016); batch-norm scale ~ N(1, 0.02²)
    and shift 0, as common DCGAN implementations do (the paper states only the weights' distribution)."""
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
    and checks that its output is ``(batch, *image_shape)`` and that the discriminator maps it to one
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
    r"""DCGAN on MNIST; quick (CPU minutes) and full (one GPU) values side by side in :meth:`for_mode`.

    The levers beyond Radford et al.'s recipe, all off by default: ``lr_d`` gives the discriminator
    its own learning rate (two time scales, Heusel et al. 2017; ``None``: ``lr``); ``r1_weight`` =
    :math:`\gamma` adds :math:`\tfrac{\gamma}{2}\E\lVert\nabla_x D(x)\rVert^2` on real images
    (:func:`~aigc_lessons.gan.losses.r1_penalty`); ``ema`` > 0 samples from an exponential moving
    average of the generator's weights (:func:`aigc_lessons.ema.ema_update`; batch-norm statistics
    are copied from the trained generator). ``eval_every`` > 0 asks :func:`train_dcgan`'s ``monitor`` for metrics every that
    many steps.
    """

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
    lr_d: float | None = None
    r1_weight: float = 0.0
    max_train_seconds: float | None = None  # a wall-clock cap on training (full mode: five minutes)
    ema: float = 0.0
    eval_every: int = 0
    cpu_threads: int | None = 2  # on a CPU: threads for training (None: unchanged)
    deterministic: bool = True  # torch's deterministic algorithms during training

    @classmethod
    def for_mode(cls, mode: str | None = None, **overrides) -> "DCGANConfig":
        r"""Quick: CPU minutes, with R1 (:math:`\gamma = 1`). Full: 30 epochs of 128 images on one GPU, a
        snapshot every epoch, training stopped after at most five minutes (``max_train_seconds``; the steps
        done are in the history), with the averaged generator and R1. In the CPU study of the levers
        (``results/gan-mnist-levers-cpu.json``, the performance page) R1 was the lever that lowered the
        Fréchet distance at equal steps; the averaged generator, the hinge loss and two time scales did not,
        so quick mode samples the trained generator itself."""
        epoch = 60_000 // 128
        return runtime.for_mode(
            cls, mode,
            quick=dict(z_dim=64, g_channels=32, d_channels=32, batch_size=64, steps=1200, lr=5e-4, r1_weight=1.0,
                       snapshot_every=300, checkpoint_every=300, bf16=False, cpu_threads=2, deterministic=True),
            full=dict(z_dim=100, g_channels=128, d_channels=64, batch_size=128, steps=30 * epoch, lr=2e-4,
                      snapshot_every=epoch, checkpoint_every=epoch, bf16=True, ema=0.999, r1_weight=1.0, eval_every=3 * epoch,
                      max_train_seconds=300.0,
                      cpu_threads=None, deterministic=False),
            **overrides)

    def __post_init__(self):
        get_loss(self.loss)
        if not 0.0 <= self.ema < 1.0 or self.r1_weight < 0 or self.eval_every < 0:
            raise ValueError(f"ema must lie in [0, 1), r1_weight and eval_every be >= 0: {self}")


@dataclass
class DCGANResult:
    """What :func:`train_dcgan` returns: models, per-step history and fixed-noise grids.

    ``history``: ``d_loss``, ``g_loss``, ``d_x`` (mean D(x) on real images) and ``d_g_z`` (mean
    D(G(z)) on the batch the discriminator saw), one entry per step; with a ``monitor``, also
    ``eval_step`` and one list per metric it returns. ``grids`` maps a step to the generator's
    images (in [0, 1]) for the same fixed noise. ``generator`` is the one that is sampled: the
    moving average when ``config.ema`` > 0.
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


def default_checkpoint_path(config: DCGANConfig, name: str = "dcgan-mnist") -> Path:
    """``<cache>/checkpoints/<name>-<key>.pt``, the key a hash of ``config`` and of this module's code
    (:func:`~aigc_lessons.checkpoint.cache_path`): an updated book starts a new file instead of refusing an old one."""
    return cache_path(name, config, sys.modules[__name__], sys.modules[get_loss.__module__])  # and its losses


def train_dcgan(config: DCGANConfig, device: torch.device | str | None = None, *,
                checkpoint_path: str | Path | None = None, stop_after: int | None = None,
                images: Tensor | None = None, progress: bool = True,
                monitor: Callable[[nn.Module], dict[str, float]] | None = None) -> DCGANResult:
    """Train a DCGAN on the 60,000 MNIST training images (pixels rescaled to [-1, 1]).

    One step: a discriminator update on a real batch and a generated batch (detached, so D's loss
    does not move G), then a generator update through the updated D on the same generated batch
    (not detached: this is where G learns). :func:`check_shapes` runs first. With a CUDA device and ``config.bf16`` the
    forward passes run under bf16 autocast. ``stop_after`` stops once that many steps are done in all
    (an interruption); calling again with the same ``checkpoint_path`` resumes exactly, and a
    checkpoint of another configuration raises :class:`~aigc_lessons.checkpoint.CheckpointError`.
    ``images`` replaces the MNIST training
    set (N, 1, 28, 28) in [0, 1] (tests use a slice). ``monitor(generator)``, called with the generator
    that is sampled every ``config.eval_every`` steps (when above 0), after the last configured step, and
    where the time budget stops training, returns metrics (e.g. the Fréchet distance) recorded in
    ``history`` (not called when ``stop_after`` interrupts the run: the resumed run evaluates on).
    """
    from tqdm.auto import tqdm

    from ..data import load_mnist

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
    G_ema = averaged_copy(G) if config.ema > 0 else None
    G_out = G_ema if G_ema is not None else G  # the generator that is sampled
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=config.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr if config.lr_d is None else config.lr_d, betas=config.betas)
    z_fixed = torch.randn(config.n_fixed, config.z_dim, generator=torch.Generator().manual_seed(config.seed + 10_000))
    history: dict[str, list[float]] = {k: [] for k in ("d_loss", "g_loss", "d_x", "d_g_z")}
    grids: dict[int, Tensor] = {}
    start_step, elapsed = 0, 0.0
    modules = {"generator": G, "discriminator": D, **({"generator_ema": G_ema} if G_ema is not None else {})}
    optimizers = {"opt_g": opt_g, "opt_d": opt_d}
    state = resume_training(checkpoint_path, kind="dcgan-mnist", config=config, modules=modules,
                            optimizers=optimizers, generator=gen)
    if state is not None:
        history, grids = state["history"], state["extra"]["grids"]
        start_step, elapsed = state["step"], state["extra"]["train_seconds"]
    use_bf16 = config.bf16 and dev.type == "cuda"

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16) if use_bf16 else contextlib.nullcontext()

    def snapshot(step: int) -> None:
        G_out.eval()
        with torch.no_grad():
            grids[step] = to_unit(G_out(z_fixed.to(dev)).float()).cpu()
        G_out.train()

    def evaluate(step: int) -> None:
        values = monitor(G_out.eval())
        G_out.train()
        history.setdefault("eval_step", []).append(step)
        for k, v in values.items():
            history.setdefault(k, []).append(float(v))

    def prob(out: Tensor) -> float:
        return float(torch.sigmoid(out.detach().float()).mean()) if objective.output == "logit" else float(out.detach().float().mean())

    stop = config.steps if stop_after is None else min(config.steps, stop_after)
    tic = time.perf_counter()
    if start_step == 0:
        snapshot(0)
    bar = tqdm(range(start_step, stop), desc="DCGAN on MNIST", disable=not progress, leave=False)

    def save(at: int) -> None:
        if checkpoint_path is not None:
            save_training(checkpoint_path, kind="dcgan-mnist", config=config, step=at, modules=modules,
                          optimizers=optimizers, generator=gen, history=history, grids=grids,
                          train_seconds=elapsed + time.perf_counter() - tic)

    with runtime.reproducible(dev, config.cpu_threads, config.deterministic):
        for step in bar:
            if runtime.training_progress(step, config.steps, elapsed + time.perf_counter() - tic,
                                         config.max_train_seconds) >= 1.0:
                bar.close()  # out of time: keep what was trained, resumable from here
                if step > start_step:
                    if monitor is not None and config.eval_every and history.get("eval_step", [None])[-1] != step:
                        evaluate(step)  # the last point of the curve is where training stopped
                    save(step)
                break
            real = data[_batch_indices(step, config.batch_size, len(data), config.seed)].to(dev)
            z = torch.randn(config.batch_size, config.z_dim, generator=gen).to(dev)
            with autocast():
                fake = G(z)
                real_out, fake_out = D(real), D(fake.detach())
                d_loss = objective.discriminator(real_out.float(), fake_out.float())
            if config.r1_weight > 0:  # in float32: a squared gradient norm underflows easily in bf16
                d_loss = d_loss + 0.5 * config.r1_weight * r1_penalty(lambda v: D(v).float(), real)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            with autocast():  # the same fake batch, *not* detached: G's gradient flows through it
                g_loss = objective.generator(D(fake).float())
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            if G_ema is not None:
                ema_update(G_ema, G, config.ema, step)
            history["d_loss"].append(float(d_loss.detach()))
            history["g_loss"].append(float(g_loss.detach()))
            history["d_x"].append(prob(real_out))
            history["d_g_z"].append(prob(fake_out))
            done = step + 1
            if done % config.snapshot_every == 0 or done == config.steps:
                snapshot(done)
            if monitor is not None and config.eval_every and (done % config.eval_every == 0 or done == config.steps):
                evaluate(done)
            if done % config.checkpoint_every == 0 or done == stop:
                save(done)
    elapsed += time.perf_counter() - tic
    return DCGANResult(config=config, generator=G_out.eval(), discriminator=D.eval(), history=history, grids=grids,
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


def train_and_score(config: DCGANConfig, device: torch.device | str | None, evaluator, images: Tensor, *,
                    progress: bool = True) -> tuple[DCGANResult, object]:
    """Train with the Fréchet distance of 2,000 samples (noise seed 7) logged at every evaluation as
    ``history["frechet_2k"]`` (a cheap, noisier estimate), then score 10,000 samples (noise seed 123) with
    ``evaluator`` (:func:`~aigc_lessons.metrics.mnist_evaluator`). The one protocol of the ``gan-mnist``
    bench and of the lever study in ``.ci/dcgan_levers.py``; returns (result, the 10,000 samples' metrics)."""

    def monitor(generator: nn.Module) -> dict[str, float]:
        return {"frechet_2k": evaluator(generate_images(generator, 2000, seed=7)).frechet}

    result = train_dcgan(config, device, images=images, monitor=monitor, progress=progress)
    return result, evaluator(generate_images(result.generator, 10_000, seed=123))


def bench_mnist(mode: str, device: torch.device) -> dict[str, object]:
    """``python -m aigc_lessons.bench gan-mnist``: DCGAN on MNIST scored by the evaluation classifier.

    Metrics (CONVENTIONS.md): ``class_share_min``, ``class_share_max``, ``mean_confidence``,
    ``frechet``, ``frechet_real_floor``; plus the untrained generator's Fréchet distance and the
    classifier's test accuracy for context.
    """
    from ..data import load_mnist
    from ..metrics import mnist_evaluator

    data = (load_mnist("train"), load_mnist("test"))
    evaluator = mnist_evaluator(mode, device, data=data)
    config = DCGANConfig.for_mode(mode)
    result, trained = train_and_score(config, device, evaluator, data[0][0])
    torch.manual_seed(config.seed)
    untrained = evaluator(generate_images(DCGenerator(config.z_dim, config.g_channels).to(device), 10_000, seed=123))
    return {"config": {"dcgan": asdict(config), "classifier": asdict(evaluator.classifier.config)},
            "metrics": {"class_share_min": trained.class_share_min, "class_share_max": trained.class_share_max,
                        "mean_confidence": trained.mean_confidence, "frechet": trained.frechet,
                        "frechet_real_floor": evaluator.frechet_floor, "frechet_untrained": untrained.frechet,
                        "class_shares": trained.class_shares,
                        "classifier_test_accuracy": evaluator.classifier.test_accuracy,
                        "steps": len(result.history["d_loss"]),
                        "frechet_2k_over_training": {"step": result.history.get("eval_step", []),
                                                     "frechet": result.history.get("frechet_2k", [])}},
            "train_seconds": result.train_seconds}
