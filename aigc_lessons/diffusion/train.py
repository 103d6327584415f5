"""Training the two noise predictors: the MLP on the 2-D mixtures and the U-Net on MNIST.

:class:`Diffusion2DConfig` and :class:`DiffusionMnistConfig` hold one run's settings, quick and full
values side by side in ``for_mode``. :func:`train_diffusion_2d` and :func:`train_diffusion_mnist`
minimise :func:`~aigc_lessons.diffusion.noise_prediction_loss`, keep an exponential moving average
of the weights (:func:`aigc_lessons.ema.ema_update`; the average is the model that samples), and
resume exactly from a checkpoint written by :func:`aigc_lessons.checkpoint.save_training`.
:func:`sample_2d` and :func:`generate_digits` draw
samples with the DDIM sampler.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from .. import runtime
from ..checkpoint import cache_path, resume_training, save_training
from ..ema import averaged_copy, ema_update
from ..metrics import CoveredModes, ModeCoverage
from ..gan.toy2d import get_mixture
from .loss import noise_prediction_loss
from .models import MLPDenoiser, UNet
from .sampling import classifier_free_guidance, ddim_sample, ddpm_sample
from .schedule import NoiseSchedule, get_schedule

Tensor = torch.Tensor

__all__ = ["Diffusion2DConfig", "Diffusion2DResult", "train_diffusion_2d", "sample_2d", "DiffusionMnistConfig",
           "DiffusionMnistResult", "train_diffusion_mnist", "generate_digits", "default_checkpoint_path"]


def _decay(step: int, total: int, lr_final_ratio: float) -> float:
    return lr_final_ratio ** (step / max(total, 1))


# ------------------------------------------------------------------------------------------ 2-D points


class _Run:
    """What both trainers share: the model's weight average, Adam with the geometric learning-rate decay
    (to ``lr * lr_final_ratio`` at ``config.steps``), the loss history and the training clock, all of them
    restored from ``checkpoint_path`` when it holds a run of the same ``kind`` and ``config`` (with the
    random-number generator ``gen``) and written back by :meth:`save`."""

    def __init__(self, model: nn.Module, config, kind: str, checkpoint_path: str | Path | None,
                 gen: torch.Generator):
        self.model, self.config, self.kind, self.path, self.gen = model, config, kind, checkpoint_path, gen
        self.ema = averaged_copy(model)
        self.opt = torch.optim.Adam(model.parameters(), lr=config.lr)
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda s: _decay(s, config.steps, config.lr_final_ratio))
        self.modules, self.optimizers = {"model": model, "ema": self.ema}, {"opt": self.opt, "sched": self.sched}
        self.history: dict[str, list[float]] = {"loss": []}
        self.start, self.elapsed = 0, 0.0
        state = resume_training(checkpoint_path, kind=kind, config=config, modules=self.modules,
                                optimizers=self.optimizers, generator=gen)
        if state is not None:
            self.history, self.start, self.elapsed = state["history"], state["step"], state["extra"]["train_seconds"]
        self.tic = time.perf_counter()

    def seconds(self) -> float:
        """Training seconds so far, those of the interrupted run included."""
        return self.elapsed + time.perf_counter() - self.tic

    def update(self, loss: Tensor, step: int) -> None:
        """One optimiser step on ``loss``, the learning-rate schedule and the weight average."""
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        ema_update(self.ema, self.model, self.config.ema_decay, step)
        self.history["loss"].append(float(loss.detach()))

    def save(self, step: int) -> None:
        if self.path is not None:
            save_training(self.path, kind=self.kind, config=self.config, step=step, modules=self.modules,
                          optimizers=self.optimizers, generator=self.gen, history=self.history,
                          train_seconds=self.seconds())


@dataclass(frozen=True)
class Diffusion2DConfig:
    """One MLP noise predictor trained on a 2-D mixture (``"ring"`` or ``"grid"`` of the GAN chapter).

    ``steps`` Adam updates on batches of ``batch_size`` fresh samples, the learning rate decaying
    geometrically to ``lr * lr_final_ratio``; ``ema_decay`` for the averaged weights;
    ``n_eval`` points sampled at the end with DDIM on ``sample_steps`` steps and scored with the
    GAN chapter's mode coverage. ``fourier`` sine/cosine features of the input point
    (:class:`~aigc_lessons.diffusion.MLPDenoiser`) let the MLP resolve the modes' small width
    (sigma = 0.02 on the ring): without them, in our quick runs, fewer than one sample in ten landed
    within three sigma of a centre.
    """

    mixture: str = "ring"
    schedule: str = "linear"
    T: int = 1000
    width: int = 128
    depth: int = 3
    emb_dim: int = 64
    fourier: int = 6
    fourier_scale: float = 1.0
    batch_size: int = 256
    steps: int = 2000
    lr: float = 2e-3
    lr_final_ratio: float = 0.05
    ema_decay: float = 0.995
    seed: int = 0
    n_eval: int = 2500
    sample_steps: int = 100
    checkpoint_every: int = 1000
    deterministic: bool = True  # torch's deterministic algorithms during training (quick mode)

    @classmethod
    def for_mode(cls, mode: str | None = None, *, mixture: str = "ring", **overrides) -> "Diffusion2DConfig":
        """Quick: seconds on one CPU core. Full: a longer run of a wider net."""
        return runtime.for_mode(cls, mode,
                                quick=dict(width=128, depth=3, steps=2000, ema_decay=0.995, sample_steps=100,
                                           deterministic=True),
                                full=dict(width=256, depth=4, steps=20_000, ema_decay=0.999, sample_steps=250,
                                          deterministic=False),
                                **{"mixture": mixture, **overrides})

    def __post_init__(self):
        get_mixture(self.mixture)
        get_schedule(self.schedule, 1)
        if self.steps < 0 or self.batch_size < 1 or not 0 <= self.ema_decay < 1:
            raise ValueError(f"steps >= 0, batch_size >= 1 and 0 <= ema_decay < 1 are needed: {self}")


@dataclass
class Diffusion2DResult(CoveredModes):
    """What :func:`train_diffusion_2d` returns: the averaged model, loss history, samples and coverage."""

    config: Diffusion2DConfig
    model: MLPDenoiser
    schedule: NoiseSchedule
    history: dict[str, list[float]]
    samples: Tensor
    coverage: ModeCoverage
    train_seconds: float
    resumed_from: int = 0


def sample_2d(model: nn.Module, schedule: NoiseSchedule, n: int, *, sampler: str = "ddim", steps: int | None = 100,
              seed: int = 0, device: torch.device | str = "cpu") -> Tensor:
    """``n`` points (n, 2) from ``model`` with ``"ddim"`` (eta = 0) or ``"ddpm"`` on ``steps`` steps, seeded."""
    gen = torch.Generator().manual_seed(seed)
    if sampler == "ddim":
        out = ddim_sample(model, schedule, (n, 2), steps=steps, generator=gen, device=device)
    elif sampler == "ddpm":
        out = ddpm_sample(model, schedule, (n, 2), steps=steps, generator=gen, device=device)
    else:
        raise KeyError(f"Unknown sampler {sampler!r}; valid names are: ddim, ddpm.")
    return out.cpu()


def train_diffusion_2d(config: Diffusion2DConfig, device: torch.device | str | None = None, *,
                       checkpoint_path: str | Path | None = None, stop_after: int | None = None,
                       progress: bool = True) -> Diffusion2DResult:
    """Train an :class:`~aigc_lessons.diffusion.MLPDenoiser` on ``config.mixture`` and score its samples.

    Data, time steps and noise all come from one seeded generator whose state the checkpoint keeps
    with the model, its average and the optimiser, so a run stopped once ``stop_after`` steps are
    done in all and started again with the same ``checkpoint_path`` takes exactly the steps of the
    uninterrupted run; a checkpoint of another configuration raises
    :class:`~aigc_lessons.checkpoint.CheckpointError`.
    """
    from tqdm.auto import tqdm

    dev = runtime.resolve_device(None if device is None else str(device))
    mixture = get_mixture(config.mixture)
    schedule = get_schedule(config.schedule, config.T)
    gen = runtime.seed_everything(config.seed)
    model = MLPDenoiser(2, config.width, config.depth, config.emb_dim, config.fourier, config.fourier_scale).to(dev)
    run = _Run(model, config, "diffusion-2d", checkpoint_path, gen)
    stop = config.steps if stop_after is None else min(config.steps, stop_after)
    with runtime.reproducible(dev, 1, config.deterministic):  # a small MLP: one thread is fastest
        for step in tqdm(range(run.start, stop), desc=f"diffusion on {config.mixture} (seed {config.seed})",
                         disable=not progress, leave=False):
            x0 = mixture.sample(config.batch_size, gen).to(dev)
            run.update(noise_prediction_loss(model, schedule, x0, generator=gen), step)
            done = step + 1
            if done % config.checkpoint_every == 0 or done == stop:
                run.save(done)
        elapsed = run.seconds()
        ema = run.ema.eval()
        samples = sample_2d(ema, schedule, config.n_eval, steps=config.sample_steps, seed=config.seed + 10_000,
                            device=dev)
    return Diffusion2DResult(config=config, model=ema, schedule=schedule, history=run.history, samples=samples,
                             coverage=mixture.coverage(samples), train_seconds=elapsed, resumed_from=run.start)


# ---------------------------------------------------------------------------------------------- MNIST


@dataclass(frozen=True)
class DiffusionMnistConfig:
    """The class-conditional U-Net on MNIST; quick (CPU minutes) and full (one GPU) values in :meth:`for_mode`.

    Each step trains on ``batch_size`` images in [-1, 1] whose labels are replaced by the null label
    with probability ``p_uncond`` (so one network learns both the conditional and the unconditional
    model of classifier-free guidance). Samples are drawn with DDIM on ``sample_steps`` steps,
    :math:`\\hat x_0` clipped to [-1, 1]; ``guidance`` is the default guidance scale.
    """

    channels: tuple[int, int, int] = (16, 32, 64)
    emb_dim: int = 128
    schedule: str = "linear"
    T: int = 1000
    batch_size: int = 64
    steps: int = 800
    lr: float = 3e-3
    lr_final_ratio: float = 0.1
    ema_decay: float = 0.99
    p_uncond: float = 0.1
    seed: int = 0
    sample_steps: int = 20
    guidance: float = 1.0
    n_eval: int = 500
    checkpoint_every: int = 250
    max_train_seconds: float | None = None  # a wall-clock cap on training (full mode: the ten minutes)
    cpu_threads: int | None = 2  # on a CPU: threads for training (None: unchanged)
    deterministic: bool = True  # torch's deterministic algorithms during training (quick mode)

    @classmethod
    def for_mode(cls, mode: str | None = None, **overrides) -> "DiffusionMnistConfig":
        """Quick: 2,000 steps of 16 images (about half an epoch; under two minutes on two CPU cores; in the
        same time, small batches and more steps beat 800 steps of 64 images).
        Full: 20 epochs of 128 images on one GPU (at most ten minutes of training), 10,000 samples."""
        return runtime.for_mode(
            cls, mode,
            quick=dict(channels=(16, 32, 64), batch_size=16, steps=2000, lr=3e-3, ema_decay=0.99, sample_steps=20,
                       n_eval=500, checkpoint_every=500, cpu_threads=2, deterministic=True),
            full=dict(channels=(32, 64, 128), batch_size=128, steps=20 * (60_000 // 128), lr=1e-3, ema_decay=0.999,
                      sample_steps=100, n_eval=10_000, checkpoint_every=60_000 // 128, max_train_seconds=600.0, cpu_threads=None,
                      deterministic=False),
            **overrides)

    def __post_init__(self):
        get_schedule(self.schedule, 1)
        if self.steps < 0 or self.batch_size < 1 or not 0 <= self.p_uncond <= 1 or not 0 <= self.ema_decay < 1:
            raise ValueError(f"steps >= 0, batch_size >= 1, 0 <= p_uncond <= 1, 0 <= ema_decay < 1: {self}")


@dataclass
class DiffusionMnistResult:
    """What :func:`train_diffusion_mnist` returns: the averaged U-Net, its schedule and the loss history."""

    config: DiffusionMnistConfig
    model: UNet
    schedule: NoiseSchedule
    history: dict[str, list[float]]
    train_seconds: float
    resumed_from: int = 0


def _mnist_training_set(images: Tensor | None, labels: Tensor | None) -> tuple[Tensor, Tensor]:
    from ..data import load_mnist

    if images is None:
        images, labels = load_mnist("train")
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"train_diffusion_mnist expects images (N, 1, 28, 28) in [0, 1], got {tuple(images.shape)}")
    if labels is None or len(labels) != len(images):
        raise ValueError("train_diffusion_mnist needs one label per image")
    if float(images.min()) < 0 or float(images.max()) > 1:
        raise ValueError("images must lie in [0, 1] (they are rescaled to [-1, 1] here)")
    return images, labels


def default_checkpoint_path(config: DiffusionMnistConfig, name: str = "diffusion-mnist") -> Path:
    """``<cache>/checkpoints/<name>-<key>.pt``, the key a hash of ``config`` and of the training code
    (:func:`~aigc_lessons.checkpoint.cache_path`), so an updated book trains afresh instead of refusing an old file."""
    return cache_path(name, config, sys.modules[__name__], sys.modules[noise_prediction_loss.__module__],
                      sys.modules[UNet.__module__], sys.modules[get_schedule.__module__])


def train_diffusion_mnist(config: DiffusionMnistConfig, device: torch.device | str | None = None, *,
                          images: Tensor | None = None, labels: Tensor | None = None,
                          checkpoint_path: str | Path | None = None, stop_after: int | None = None,
                          progress: bool = True) -> DiffusionMnistResult:
    """Train the class-conditional :class:`~aigc_lessons.diffusion.UNet` on MNIST (pixels rescaled to [-1, 1]).

    ``images`` (N, 1, 28, 28) in [0, 1] and ``labels`` (N,) replace the 60,000 training digits
    (tests use a slice). Each batch is drawn with replacement from one seeded generator, which also
    draws the dropped labels, time steps and noise; its state is checkpointed, so stopping at
    ``stop_after`` and calling again with the same ``checkpoint_path`` reproduces the uninterrupted run.
    """
    from tqdm.auto import tqdm

    dev = runtime.resolve_device(None if device is None else str(device))
    images, labels = _mnist_training_set(images, labels)
    data = images * 2 - 1
    schedule = get_schedule(config.schedule, config.T)
    gen = runtime.seed_everything(config.seed)
    model = UNet(config.channels, config.emb_dim).to(dev)
    run = _Run(model, config, "diffusion-mnist", checkpoint_path, gen)
    stop = config.steps if stop_after is None else min(config.steps, stop_after)
    with runtime.reproducible(dev, config.cpu_threads, config.deterministic):
        for step in tqdm(range(run.start, stop), desc="diffusion U-Net on MNIST", disable=not progress, leave=False):
            if runtime.training_progress(step, config.steps, run.seconds(), config.max_train_seconds) >= 1.0:
                if step > run.start:  # out of time: resumable from here
                    run.save(step)
                break
            idx = torch.randint(len(data), (config.batch_size,), generator=gen)
            x0, y = data[idx].to(dev), labels[idx].clone()
            drop = torch.rand(config.batch_size, generator=gen) < config.p_uncond
            y = torch.where(drop, torch.full_like(y, model.null_label), y).to(dev)
            run.update(noise_prediction_loss(model, schedule, x0, generator=gen, y=y), step)
            done = step + 1
            if done % config.checkpoint_every == 0 or done == stop:
                run.save(done)
    return DiffusionMnistResult(config=config, model=run.ema.eval(), schedule=schedule, history=run.history,
                                train_seconds=run.seconds(), resumed_from=run.start)


@torch.no_grad()
def generate_digits(model: UNet, schedule: NoiseSchedule, n: int, *, labels: Tensor | None = None,
                    guidance: float = 0.0, steps: int = 20, seed: int = 0, batch: int = 250) -> Tensor:
    """``n`` images (n, 1, 28, 28) in [0, 1] sampled with DDIM (eta = 0), seeded by ``seed``.

    ``labels`` None samples unconditionally (the null label); otherwise ``labels`` (n,) with
    classifier-free ``guidance`` :math:`w`.
    """
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(0, n, batch):
        m = min(batch, n - i)
        y = torch.full((m,), model.null_label) if labels is None else labels[i:i + m]
        eps = classifier_free_guidance(model, y, guidance if labels is not None else 0.0, model.null_label)
        x = ddim_sample(eps, schedule, (m, 1, 28, 28), steps=steps, clip=1.0, generator=gen, device=device)
        out.append(((x.float().cpu() + 1) / 2).clamp(0, 1))
    return torch.cat(out)
