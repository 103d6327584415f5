"""Gradient estimators of the ELBO and their variances, on the linear-Gaussian model.

:func:`gradient_estimates` draws the reparameterization ("pathwise") and the score-function
(REINFORCE, with and without a baseline) estimates of the same gradient, whose exact value is known;
:func:`gradient_variance_curve` measures how their variances fall with the number of samples.
:class:`EstimatorDemoConfig` holds the sizes the estimator notebook (04) uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from .. import runtime
from .bounds import log_normal_diag
from .linear_gaussian import LinearGaussian

__all__ = ["EstimatorDemoConfig", "ESTIMATORS", "GradientEstimates", "gradient_estimates",
           "gradient_variance_curve"]


@dataclass(frozen=True)
class EstimatorDemoConfig:
    """Sizes for the estimator notebook (04): quick and full values side by side."""

    fit_images: int = 20_000  # training digits for the pPCA fit
    latent_dim: int = 2
    rotation_angle: float = 0.6  # radians; a rotated W gives a correlated posterior
    kl_mc_samples: int = 50_000
    grad_sample_sizes: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    grad_draws: int = 1000
    iwae_ks: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
    iwae_reps: int = 500
    seed: int = 0

    @classmethod
    def for_mode(cls, mode: str | None = None, **overrides) -> "EstimatorDemoConfig":
        """The notebook's sizes for ``mode``; keywords override any field."""
        return runtime.for_mode(
            cls, mode,
            quick=dict(fit_images=20_000, kl_mc_samples=50_000, grad_draws=1000, iwae_reps=500),
            full=dict(fit_images=60_000, kl_mc_samples=200_000, grad_draws=4000, iwae_reps=3000),
            **overrides)

    def rotation(self) -> torch.Tensor:
        """A rotation of the latent space; only defined for two latent dimensions."""
        if self.latent_dim != 2:
            raise ValueError("rotation() is defined for latent_dim = 2")
        c, s = math.cos(self.rotation_angle), math.sin(self.rotation_angle)
        return torch.tensor([[c, -s], [s, c]], dtype=torch.float64)


@dataclass
class GradientEstimates:
    """Draws of a gradient estimator: ``grads`` is ``(n_draws, n_params)``; ``exact`` is ``(n_params,)``."""

    estimator: str
    n_samples: int
    grads: torch.Tensor
    exact: torch.Tensor

    @property
    def bias(self) -> torch.Tensor:
        return self.grads.mean(0) - self.exact

    @property
    def variance(self) -> float:
        """The total variance, the trace of the estimator's covariance (summed over parameters)."""
        return float(self.grads.var(0, unbiased=True).sum())


ESTIMATORS = ("reparameterization", "score_function", "score_function_baseline")


def gradient_estimates(model: LinearGaussian, x: torch.Tensor, m: torch.Tensor, log_std: torch.Tensor,
                       estimator: str, n_samples: int, n_draws: int,
                       generator: torch.Generator | None = None) -> GradientEstimates:
    r"""Draw ``n_draws`` independent estimates of :math:`\nabla_\phi\,\mathbb E_{q_\phi}[\log p(x|z)]`,
    :math:`q_\phi = N(m, \mathrm{diag}\,e^{2\log s})`, :math:`\phi = (m, \log s)`, each from
    ``n_samples`` samples, for one data point ``x`` ``(D,)`` of the linear-Gaussian ``model``.

    * ``reparameterization``: :math:`\frac1S\sum_i\nabla_\phi f(m + s\odot\varepsilon_i)`;
    * ``score_function`` (REINFORCE): :math:`\frac1S\sum_i f(z_i)\nabla_\phi\log q_\phi(z_i)`;
    * ``score_function_baseline``: the same with :math:`f(z_i) - \bar f_{-i}` (leave-one-out mean of the
      other samples, so it stays unbiased); needs ``n_samples >= 2``.

    ``exact`` is the gradient of the closed form
    :meth:`~aigc_lessons.vae.linear_gaussian.LinearGaussian.expected_log_likelihood`.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"Unknown estimator {estimator!r}; valid: {', '.join(ESTIMATORS)}")
    if n_samples < 1 or n_draws < 2:
        raise ValueError("need n_samples >= 1 and n_draws >= 2")
    if estimator == "score_function_baseline" and n_samples < 2:
        raise ValueError("the leave-one-out baseline needs n_samples >= 2")
    d = model.latent_dim
    if m.shape != (d,) or log_std.shape != (d,) or x.shape != (model.data_dim,):
        raise ValueError(f"expected m, log_std of shape ({d},) and x of ({model.data_dim},)")
    dtype = model.W.dtype
    # One copy of the parameters per draw, so autograd returns every draw's gradient at once.
    m_rep = m.to(dtype).detach().expand(n_draws, d).clone().requires_grad_(True)
    ls_rep = log_std.to(dtype).detach().expand(n_draws, d).clone().requires_grad_(True)
    eps = torch.randn((n_samples, n_draws, d), generator=generator, dtype=dtype)
    std = torch.exp(ls_rep)
    if estimator == "reparameterization":
        z = m_rep + std * eps
        objective = model.log_likelihood(x, z).mean(0)  # (n_draws,)
    else:
        z = (m_rep + std * eps).detach()
        f = model.log_likelihood(x, z)  # (S, n_draws)
        if estimator == "score_function_baseline":
            f = f - (f.sum(0, keepdim=True) - f) / (n_samples - 1)
        log_q = log_normal_diag(z, m_rep, 2 * ls_rep)
        objective = (f.detach() * log_q).mean(0)
    g_m, g_ls = torch.autograd.grad(objective.sum(), (m_rep, ls_rep))
    m0 = m.to(dtype).detach().clone().requires_grad_(True)
    ls0 = log_std.to(dtype).detach().clone().requires_grad_(True)
    exact_obj = model.expected_log_likelihood(x, m0, torch.diag(torch.exp(2 * ls0)))
    e_m, e_ls = torch.autograd.grad(exact_obj, (m0, ls0))
    return GradientEstimates(estimator, n_samples, torch.cat([g_m, g_ls], -1).detach(),
                             torch.cat([e_m, e_ls]).detach())


def gradient_variance_curve(model: LinearGaussian, x: torch.Tensor, m: torch.Tensor, log_std: torch.Tensor,
                            sample_sizes: Sequence[int], n_draws: int = 200,
                            seed: int = 0) -> dict[str, list[float]]:
    """Total variance of each estimator for each number of samples ``S``: ``{estimator: [var per S]}``."""
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, list[float]] = {name: [] for name in ESTIMATORS}
    for S in sample_sizes:
        for name in ESTIMATORS:
            if name == "score_function_baseline" and S < 2:
                out[name].append(float("nan"))
                continue
            out[name].append(gradient_estimates(model, x, m, log_std, name, S, n_draws, gen).variance)
    return out
