"""Training a VAE: the run's configuration, the training loop with exact resume, and its result.

:class:`VAEConfig` holds everything that defines a run (quick and full values side by side in
:meth:`VAEConfig.for_mode`); :func:`train_vae` trains on dynamically binarized MNIST with a cosine
learning-rate schedule and atomic, exactly resumable checkpoints; :class:`TrainResult` is what it
returns. :func:`default_checkpoint_path` names a checkpoint after the config and the code.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from .. import checkpoint as ckpt
from .. import runtime
from ..files import code_hash
from . import bounds, models
from .evaluate import negative_elbo
from .models import _ACTIVATIONS, LatentModel, LossParts, binarize, build_model

__all__ = ["VAEConfig", "TrainResult", "train_vae", "default_checkpoint_path", "LossFn"]


@dataclass(frozen=True)
class VAEConfig:
    """Everything that defines a VAE training run; quick (CPU) and full (GPU) values side by side in
    :meth:`for_mode`. Sizes in the names: ``hidden`` are MLP widths from the data towards the latent."""

    stochastic_layers: int = 1
    hidden: tuple[int, ...] = (512, 256)
    latent_dim: int = 32
    hidden2: tuple[int, ...] = (256, 256)  # z1 <-> z2 networks (two stochastic layers only)
    latent_dim2: int = 0
    activation: str = "relu"
    likelihood: str = "bernoulli"
    gaussian_sigma: float = 0.1
    objective: str = "elbo"  # "elbo" or "iwae"
    k_train: int = 1  # samples per example in the training objective
    beta: float = 1.0
    batch_size: int = 128
    steps: int = 6000
    lr: float = 1e-3
    lr_final_ratio: float = 0.05  # cosine decay from lr to lr * ratio over ``steps``
    max_train_seconds: float | None = None  # a wall-clock cap on training (full mode), else None
    amp_bf16: bool = False  # bf16 autocast for the networks on CUDA (densities stay float32)
    eval_every: int = 500
    eval_subset: int = 1000  # test images in the periodic negative-ELBO curve
    checkpoint_every: int = 1000
    nll_k: int = 500  # importance samples for the test NLL
    nll_subset: int | None = 1000  # test images for the NLL (None: all 10,000)
    binarization_seed: int = 1234  # the test set's one fixed binarization
    seed: int = 0
    cpu_threads: int | None = 2  # on a CPU: threads for training (None: leave the number unchanged)
    deterministic: bool = True  # torch's deterministic algorithms during training

    def __post_init__(self) -> None:
        problems = []
        if self.stochastic_layers not in (1, 2):
            problems.append(f"stochastic_layers must be 1 or 2, got {self.stochastic_layers}")
        if self.stochastic_layers == 2 and (self.latent_dim2 < 1 or self.likelihood != "bernoulli" or self.beta != 1):
            problems.append("two stochastic layers need latent_dim2 >= 1, a Bernoulli likelihood and beta = 1")
        if self.objective not in ("elbo", "iwae"):
            problems.append(f"objective must be 'elbo' or 'iwae', got {self.objective!r}")
        if self.objective == "iwae" and self.beta != 1.0:
            problems.append("the IWAE objective needs beta = 1")
        if self.likelihood not in ("bernoulli", "gaussian"):
            problems.append(f"likelihood must be 'bernoulli' or 'gaussian', got {self.likelihood!r}")
        if self.activation not in _ACTIVATIONS:
            problems.append(f"activation must be one of {', '.join(_ACTIVATIONS)}, got {self.activation!r}")
        for name in ("latent_dim", "k_train", "batch_size", "steps", "eval_every", "checkpoint_every", "nll_k"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.hidden or min(self.hidden) < 1:
            problems.append(f"hidden must list positive widths, got {self.hidden}")
        if self.beta < 0 or self.lr <= 0 or not 0 < self.lr_final_ratio <= 1:
            problems.append("need beta >= 0, lr > 0 and 0 < lr_final_ratio <= 1")
        if problems:
            raise ValueError("invalid VAEConfig: " + "; ".join(problems))

    @classmethod
    def for_mode(cls, mode: str | None = None, **overrides) -> "VAEConfig":
        """The chapter's MNIST model.

        quick: one stochastic layer, 784-512-256-32 with ELU, ELBO, 3,000 steps of 128 (6.4 epochs), NLL
        with k = 500 on the first 1,000 test images. full: two stochastic layers (100 and 50 units),
        trained with the IWAE bound (k = 16), bf16 autocast, capped at 570 s of training so it fits the
        10-minute target on one H100; NLL with k = 5,000 on all 10,000 test images. Keywords override
        any field.
        """
        return runtime.for_mode(
            cls, mode,
            quick=dict(stochastic_layers=1, hidden=(512, 256), latent_dim=32, hidden2=(256, 256), latent_dim2=0,
                       activation="elu", objective="elbo", k_train=1, batch_size=128, steps=3000, lr=3e-3,
                       lr_final_ratio=0.05, max_train_seconds=None, amp_bf16=False, eval_every=250,
                       eval_subset=1000, checkpoint_every=500, nll_k=500, nll_subset=1000, cpu_threads=2,
                       deterministic=True),
            full=dict(stochastic_layers=2, hidden=(512, 512), latent_dim=100, hidden2=(256, 256), latent_dim2=50,
                      activation="elu", objective="iwae", k_train=16, batch_size=256, steps=120_000, lr=1e-3,
                      lr_final_ratio=0.02, max_train_seconds=570.0, amp_bf16=True, eval_every=5000,
                      eval_subset=2000, checkpoint_every=5000, nll_k=5000, nll_subset=None, cpu_threads=None,
                      deterministic=False),
            **overrides)

    @classmethod
    def latent2d(cls, mode: str | None = None, **overrides) -> "VAEConfig":
        """A two-dimensional latent space, to scatter the test set and decode a grid (short in quick mode).

        Keywords override any field.
        """
        return runtime.for_mode(
            cls, mode,
            quick=dict(hidden=(256, 128), latent_dim=2, activation="elu", batch_size=128, steps=1500, lr=3e-3,
                       eval_every=300, checkpoint_every=500, nll_k=100, nll_subset=500),
            full=dict(hidden=(512, 256), latent_dim=2, activation="elu", batch_size=128, steps=20_000, lr=1e-3,
                      eval_every=2000, checkpoint_every=5000, nll_k=1000, nll_subset=None, cpu_threads=None,
                      deterministic=False),
            **overrides)

    def key(self) -> str:
        """A short hash of the config and of the code that builds and trains the model, naming its
        checkpoint file: a change to that code makes an old checkpoint unreachable."""
        return ckpt.config_key(self, _code_key())


def _code_key() -> str:
    """:func:`~aigc_lessons.files.code_hash` of the modules that define the model and its training."""
    return code_hash(bounds, models, sys.modules[__name__])


# ==================================================================================== training


@dataclass
class TrainResult:
    """What :func:`train_vae` returns. ``history`` holds lists keyed by ``step``, ``train_loss`` (the
    objective as optimised), ``train_neg_elbo``, ``train_kl`` (running means since the previous entry)
    and ``test_neg_elbo`` (on the fixed binarized test subset), all in nats per image."""

    model: LatentModel
    config: VAEConfig
    history: dict[str, list[float]]
    steps: int
    train_seconds: float
    resumed_from: int = 0
    finished: bool = True  # all steps done, or the time budget spent (False after ``stop_after``)


def default_checkpoint_path(config: VAEConfig, name: str = "vae") -> Path:
    """``<cache>/checkpoints/<name>-<config key>.pt``: one file per distinct configuration and version of
    the training code (see :meth:`VAEConfig.key`)."""
    return ckpt.cache_path(name, config, _code_key())


def _progress(config: VAEConfig, step: int, elapsed: float) -> float:
    """How far training is, in [0, 1] (:func:`aigc_lessons.runtime.training_progress`)."""
    return runtime.training_progress(step, config.steps, elapsed, config.max_train_seconds)


def _lr_at(config: VAEConfig, progress: float) -> float:
    r"""Cosine decay :math:`\eta(u) = \eta_{min} + \tfrac12(\eta-\eta_{min})(1+\cos\pi u)` at progress ``u``."""
    lo = config.lr * config.lr_final_ratio
    return lo + 0.5 * (config.lr - lo) * (1 + math.cos(math.pi * progress))


LossFn = Callable[[LatentModel, torch.Tensor, torch.Generator], LossParts]


def _default_loss(config: VAEConfig) -> LossFn:
    def fn(model: LatentModel, x: torch.Tensor, gen: torch.Generator) -> LossParts:
        return model.loss(x, config.objective, config.k_train, config.beta, gen)
    return fn


def train_vae(config: VAEConfig, x_train: torch.Tensor, x_test: torch.Tensor | None = None, *,
              device: torch.device | str | None = None, checkpoint_path: str | Path | None = None,
              stop_after: int | None = None, loss_fn: LossFn | None = None,
              progress: bool = True) -> TrainResult:
    """Train the model ``config`` describes on intensities ``x_train`` ``(N, 784)``, binarized afresh
    for every batch; ``x_test`` (already binarized) gives the periodic test negative-ELBO curve.

    The learning rate follows a cosine decay over ``config.steps``; with a time budget
    (``config.max_train_seconds``, full mode) it follows whichever of steps and time is further along, and
    training stops when the budget is spent, so the schedule always completes (such a run is then not
    bit-for-bit repeatable, because it depends on the machine's speed).

    Checkpoints go atomically to ``checkpoint_path`` every ``config.checkpoint_every`` steps and at
    the end (:func:`aigc_lessons.checkpoint.save_training`); if the file exists the run resumes from it
    (:func:`aigc_lessons.checkpoint.resume_training`) and continues exactly as the uninterrupted run
    would have (model, optimiser, step, the data order, the running sums and the random generator are
    all saved). A checkpoint written for another configuration raises
    :class:`~aigc_lessons.checkpoint.CheckpointError` naming the fields that differ.
    ``stop_after`` (the stand-in for an interruption, for tests and demos) stops once the total step
    count, counted from the start of the run and not of this call, reaches it; calling again with the
    same checkpoint resumes. ``loss_fn`` replaces the objective (the common-mistakes functions use it).
    """
    if x_train.dim() != 2:
        raise ValueError(f"x_train must be flat images (N, D), got shape {tuple(x_train.shape)}")
    if x_train.numel() and (x_train.min() < 0 or x_train.max() > 1):
        raise ValueError("x_train must hold intensities in [0, 1] (they are binarized on the fly)")
    if len(x_train) < config.batch_size:
        raise ValueError(f"{len(x_train)} training images is fewer than one batch of {config.batch_size}")
    dev = runtime.resolve_device(None if device is None else str(device))
    runtime.seed_everything(config.seed)
    model = build_model(config, x_train.shape[1]).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, fused=dev.type == "cuda")
    gen = torch.Generator(device=dev).manual_seed(config.seed)
    x_train = x_train.to(dev)
    n = len(x_train)
    per_epoch = n // config.batch_size
    step, elapsed, perm = 0, 0.0, None
    history: dict[str, list[float]] = {"step": [], "train_loss": [], "train_neg_elbo": [], "train_kl": [],
                                       "test_neg_elbo": []}
    run_sums, run_count = torch.zeros(3, device=dev), 0  # running sums of (loss, neg_elbo, kl) since last log
    state = ckpt.resume_training(checkpoint_path, kind="vae", config=config, modules={"model": model},
                                 optimizers={"optimizer": opt}, generator=gen)
    resumed_from = 0
    if state is not None:
        step, history, extra = state["step"], state["history"], state["extra"]
        elapsed, run_count = extra["elapsed"], extra["run_count"]
        run_sums = extra["run_sums"].to(dev)
        perm = extra["perm"].to(dev) if extra["perm"] is not None else None
        resumed_from = step
    loss_fn = loss_fn or _default_loss(config)
    eval_x = x_test[: config.eval_subset].to(dev) if x_test is not None else None
    autocast = config.amp_bf16 and dev.type == "cuda"

    def save() -> None:
        if checkpoint_path is not None:
            ckpt.save_training(checkpoint_path, kind="vae", config=config, step=step, modules={"model": model},
                               optimizers={"optimizer": opt}, generator=gen, history=history, elapsed=elapsed,
                               run_sums=run_sums.cpu(), run_count=run_count,
                               perm=perm.cpu() if perm is not None else None)

    target = config.steps if stop_after is None else min(config.steps, stop_after)
    bar = tqdm(total=config.steps, initial=step, desc="VAE training", disable=not progress, leave=False)
    start = time.perf_counter() - elapsed
    model.train()
    out_of_time = False
    with runtime.reproducible(dev, config.cpu_threads, config.deterministic):
        while step < target:
            if config.max_train_seconds is not None and time.perf_counter() - start >= config.max_train_seconds:
                out_of_time = True
                break
            pos = step % per_epoch
            if pos == 0 or perm is None:
                perm = torch.randperm(n, generator=gen, device=dev)
            idx = perm[pos * config.batch_size: (pos + 1) * config.batch_size]
            xb = binarize(x_train[idx], gen)
            for group in opt.param_groups:
                group["lr"] = _lr_at(config, _progress(config, step, time.perf_counter() - start))
            with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=autocast):
                parts = loss_fn(model, xb, gen)
            opt.zero_grad(set_to_none=True)
            parts.loss.backward()
            opt.step()
            step += 1
            run_sums += torch.stack([parts.loss.detach(), parts.neg_elbo.detach(), parts.kl.detach()]).float()
            run_count += 1
            if step % config.eval_every == 0 or step == config.steps:
                means = (run_sums / run_count).tolist()
                history["step"].append(step)
                history["train_loss"].append(means[0])
                history["train_neg_elbo"].append(means[1])
                history["train_kl"].append(means[2])
                history["test_neg_elbo"].append(
                    negative_elbo(model, eval_x, seed=config.seed + 1) if eval_x is not None else float("nan"))
                model.train()
                run_sums.zero_()
                run_count = 0
                bar.set_postfix(neg_elbo=f"{means[1]:.1f}", kl=f"{means[2]:.1f}")
            bar.update(1)
            elapsed = time.perf_counter() - start
            if step % config.checkpoint_every == 0:
                save()
    bar.close()
    elapsed = time.perf_counter() - start
    save()
    model.eval()
    return TrainResult(model, config, history, step, elapsed, resumed_from,
                       finished=step >= config.steps or out_of_time)
