"""The chapter's benchmark: train the MNIST VAE of a mode and measure its test likelihood in nats.

:func:`bench_mnist` is registered in :mod:`aigc_lessons.bench` as ``vae-mnist``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from .evaluate import active_units, estimate_nll, negative_elbo
from .models import fixed_binarization, mnist_flat
from .train import VAEConfig, default_checkpoint_path, train_vae

__all__ = ["bench_mnist"]


def bench_mnist(mode: str, device: torch.device, *, stop_after: int | None = None,
                eval_images: int | None = None, checkpoint_path: str | Path | None = None,
                progress: bool = True, seed: int | None = None) -> dict:
    """Train the chapter's MNIST VAE for ``mode`` and measure, in nats, the test NLL (importance-weighted
    bound with ``config.nll_k`` samples on ``config.nll_subset`` test images) and the test negative ELBO.

    ``stop_after`` stops training once the total step count reaches it (as in
    :func:`~aigc_lessons.vae.train.train_vae`) and ``eval_images`` caps the test images (both for tests
    only, so full mode can be started on a CPU). The checkpoint defaults to
    :func:`~aigc_lessons.vae.train.default_checkpoint_path`, whose name changes with the config and with
    the code that builds and trains the model, so a stale checkpoint is never resumed. ``seed`` replaces the
    config's seed (the unit test's calibration runs several).
    """
    cfg = VAEConfig.for_mode(mode, **({} if seed is None else {"seed": seed}))
    x_train, _ = mnist_flat("train")
    x_test, _ = mnist_flat("test")
    x_test_bin = fixed_binarization(x_test, cfg.binarization_seed)
    if eval_images is not None:
        x_test_bin = x_test_bin[:eval_images]
    path = checkpoint_path if checkpoint_path is not None else default_checkpoint_path(cfg, "vae-mnist")
    result = train_vae(cfg, x_train, x_test_bin, device=device, checkpoint_path=path, stop_after=stop_after,
                       progress=progress)
    subset = x_test_bin if cfg.nll_subset is None else x_test_bin[: cfg.nll_subset]
    nll = estimate_nll(result.model, subset, cfg.nll_k, seed=cfg.seed, progress=progress)
    neg_elbo = negative_elbo(result.model, x_test_bin, seed=cfg.seed)
    acts = active_units(result.model, x_test_bin.to(next(result.model.parameters()).device))
    return {
        "config": dataclasses.asdict(cfg),
        "metrics": {"test_nll_nats": round(nll.nll, 3), "k": nll.k, "n_test": nll.n,
                    "test_nll_stderr": round(nll.stderr, 3), "test_neg_elbo_nats": round(neg_elbo, 3),
                    "n_test_elbo": len(x_test_bin),
                    "active_units": [int((a > 1e-2).sum()) for a in acts], "steps": result.steps,
                    "finished": result.finished, "resumed_from_step": result.resumed_from},
        "train_seconds": result.train_seconds,
    }
