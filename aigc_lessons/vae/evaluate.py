"""Measuring a trained VAE: the test likelihood, the ELBO, active units and pictures of the latent space.

:func:`estimate_nll` estimates the test negative log-likelihood with the importance-weighted bound
(:class:`NLLEstimate`); :func:`negative_elbo` and :func:`iwae_curve` show how the bound tightens
with ``k``; :func:`active_units` counts the latent units in use; :func:`latent_means`,
:func:`interpolate` and :func:`manifold_grid` draw the latent space.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
from tqdm.auto import tqdm

from .bounds import iwae_bound
from .models import VAE, LatentModel

__all__ = ["NLLEstimate", "estimate_nll", "negative_elbo", "iwae_curve", "active_units", "latent_means",
           "interpolate", "manifold_grid"]


@dataclass
class NLLEstimate:
    """Importance-weighted test NLL: the mean over ``n`` images of ``-L_k`` (nats), with its standard error."""

    nll: float
    stderr: float
    k: int
    n: int
    per_example: torch.Tensor = field(repr=False)


def _batched_log_weights(model: LatentModel, x: torch.Tensor, k: int, gen: torch.Generator,
                         max_rows: int) -> torch.Tensor:
    """``(k, B)`` log-weights computed in chunks of samples so at most ``max_rows`` decoder rows are live."""
    chunk = max(1, max_rows // len(x))
    parts = [model.log_weights(x, min(chunk, k - i), gen) for i in range(0, k, chunk)]
    return torch.cat(parts, 0)


@torch.no_grad()
def estimate_nll(model: LatentModel, x_bin: torch.Tensor, k: int, *, batch_size: int = 100, seed: int = 0,
                 max_rows: int = 100_000, progress: bool = False) -> NLLEstimate:
    r"""``-log p(x)`` estimated by :math:`-\mathcal L_k` per image of the binarized ``x_bin``, averaged.

    :math:`\mathcal L_k` is a lower bound on :math:`\log p(x)` that tightens as ``k`` grows, so the
    reported NLL is an *upper* bound in expectation (conservative). Runs in float32 without autocast.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if x_bin.numel() and not torch.all((x_bin == 0) | (x_bin == 1)):
        raise ValueError("estimate_nll expects binarized images (0/1); use fixed_binarization first")
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    gen = torch.Generator(device=dev).manual_seed(seed)
    out = []
    for i in tqdm(range(0, len(x_bin), batch_size), desc=f"NLL (k={k})", disable=not progress, leave=False):
        xb = x_bin[i: i + batch_size].to(dev)
        out.append(-iwae_bound(_batched_log_weights(model, xb, k, gen, max_rows)).cpu())
    model.train(was_training)
    per = torch.cat(out).double()
    return NLLEstimate(float(per.mean()), float(per.std() / math.sqrt(len(per))) if len(per) > 1 else float("nan"),
                       k, len(per), per.float())


@torch.no_grad()
def negative_elbo(model: LatentModel, x_bin: torch.Tensor, *, n_samples: int = 1, seed: int = 0,
                  batch_size: int = 1000) -> float:
    """Mean negative ELBO (nats) over ``x_bin``: ``-mean log w`` with ``n_samples`` draws per image."""
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    gen = torch.Generator(device=dev).manual_seed(seed)
    total = 0.0
    for i in range(0, len(x_bin), batch_size):
        xb = x_bin[i: i + batch_size].to(dev)
        total += float(-model.log_weights(xb, n_samples, gen).mean(0).sum())
    model.train(was_training)
    return total / len(x_bin)


def iwae_curve(model: LatentModel, x_bin: torch.Tensor, ks: Sequence[int], seed: int = 0) -> dict[int, NLLEstimate]:
    """:func:`estimate_nll` for each ``k`` (same images, independent draws): the bound tightening with k."""
    return {k: estimate_nll(model, x_bin, k, seed=seed + k) for k in ks}


@torch.no_grad()
def active_units(model: LatentModel, x: torch.Tensor, threshold: float = 1e-2) -> list[torch.Tensor]:
    r"""Per-layer activity :math:`A_u = \mathrm{Cov}_x\big(\mathbb E_{q(u|x)}[u]\big)` of each latent unit
    (the criterion of Burda et al.: a unit is active when :math:`A_u > 10^{-2}`). Returns the
    activities; count ``(a > threshold).sum()`` for the number of active units."""
    model.eval()
    return [m.var(0) for m in model.posterior_means(x)]


@torch.no_grad()
def latent_means(model: LatentModel, x: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    """Posterior means ``E[z|x]`` (first stochastic layer) for all rows of ``x``."""
    model.eval()
    dev = next(model.parameters()).device
    return torch.cat([model.encode(x[i: i + batch_size].to(dev))[0].cpu() for i in range(0, len(x), batch_size)])


@torch.no_grad()
def interpolate(model: LatentModel, x_a: torch.Tensor, x_b: torch.Tensor, steps: int = 10) -> torch.Tensor:
    r"""Decode :math:`(1-t)\mu(x_a) + t\mu(x_b)` for ``steps`` values of t in [0, 1]: ``(steps, 784)``."""
    if x_a.shape != x_b.shape or x_a.dim() != 1:
        raise ValueError(f"interpolate expects two flat images of the same shape, got {tuple(x_a.shape)}, "
                         f"{tuple(x_b.shape)}")
    model.eval()
    dev = next(model.parameters()).device
    mu = model.encode(torch.stack([x_a, x_b]).to(dev))[0]
    t = torch.linspace(0, 1, steps, device=dev).unsqueeze(1)
    return model.decode((1 - t) * mu[0] + t * mu[1]).cpu()


@torch.no_grad()
def manifold_grid(model: VAE, n: int = 15, quantile: float = 0.95) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode an ``n x n`` grid over a 2-D latent space, spaced by Gaussian quantiles in
    ``[1 - quantile, quantile]`` (equal prior mass between grid lines). Returns images ``(n*n, 784)``
    row by row (z2 decreasing down the rows, z1 increasing along them) and the 1-D grid values."""
    if model.latent_dims != [2]:
        raise ValueError(f"manifold_grid needs a model with one 2-D latent layer, got {model.latent_dims}")
    normal = torch.distributions.Normal(0.0, 1.0)
    values = normal.icdf(torch.linspace(1 - quantile, quantile, n))
    z1, z2 = torch.meshgrid(values, values.flip(0), indexing="xy")
    z = torch.stack([z1.reshape(-1), z2.reshape(-1)], 1)
    dev = next(model.parameters()).device
    model.eval()
    return model.decode(z.to(dev)).cpu(), values
