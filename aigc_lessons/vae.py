"""Variational autoencoders: the evidence lower bound, its estimators, and a measured likelihood on MNIST.

The chapter's story in code, from the math to the model:

1. **Densities and the KL term** (:func:`log_normal_diag`, :func:`log_bernoulli`,
   :func:`kl_standard_normal`, :func:`kl_diag_gaussians`): the building blocks every bound below
   is made of, each summed over the last axis and returned in nats.
2. **A latent-variable model whose posterior is known** (:class:`LinearGaussian`, fitted to MNIST by
   probabilistic PCA in :func:`fit_ppca`): ``p(z) = N(0, I)``, ``p(x|z) = N(Wz + b, s2 I)``. Its
   marginal ``log p(x)``, its posterior ``p(z|x)`` and the ELBO of any Gaussian ``q`` have closed
   forms, so the identity ``log p(x) = ELBO(q) + KL(q || p(z|x))`` can be checked to machine
   precision, and the importance-weighted bound (:func:`iwae_bound`) can be watched closing the gap.
3. **Gradient estimators** (:func:`gradient_estimates`): the reparameterization ("pathwise") and the
   score-function (REINFORCE) estimators of the same gradient, so their variances can be measured.
4. **VAEs on dynamically binarized MNIST** (:class:`VAE`, :class:`TwoLayerVAE`, :func:`train_vae`):
   one code path for quick (CPU) and full (GPU) runs, configured by :class:`VAEConfig`, with atomic,
   exactly resumable checkpoints; evaluated by an importance-weighted estimate of the test-set
   negative log-likelihood (:func:`estimate_nll`).
5. **Common mistakes** (:func:`mistake_kl_sign`, :func:`mistake_mse_reconstruction`,
   :func:`mistake_no_reparameterization`): each reproduced, its symptom measured, the fix shown.

Conventions: tensors of data are flat, ``(N, 784)``; per-example quantities are in nats (natural
log), summed over pixels and latent dimensions; losses are averaged over the batch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import checkpoint as ckpt
from . import data as data_mod
from . import runtime

__all__ = [
    "log_normal_diag", "log_standard_normal", "log_bernoulli", "kl_standard_normal", "kl_diag_gaussians",
    "kl_gaussians_full", "reparameterize", "iwae_bound",
    "LinearGaussian", "fit_ppca", "mean_field_posterior", "imperfect_posterior", "kl_monte_carlo",
    "linear_gaussian_iwae_curve", "EstimatorDemoConfig",
    "ESTIMATORS", "GradientEstimates", "gradient_estimates", "gradient_variance_curve",
    "mnist_flat", "binarize", "fixed_binarization",
    "VAE", "TwoLayerVAE", "LossParts", "build_model",
    "VAEConfig", "TrainResult", "train_vae", "default_checkpoint_path",
    "NLLEstimate", "estimate_nll", "negative_elbo", "iwae_curve", "active_units", "interpolate",
    "manifold_grid", "latent_means",
    "MistakeReport", "mistake_data", "mistake_kl_sign", "mistake_mse_reconstruction",
    "mistake_no_reparameterization", "reconstruction_gradient_norms", "loss_kl_wrong_sign", "loss_mse_mean",
    "loss_no_reparameterization",
    "bench_mnist",
]

LOG_2PI = math.log(2.0 * math.pi)
CODE_VERSION = 1  # bump when a change to training makes old checkpoints meaningless


# ============================================================================ densities and the KL term


def _check_same_shape(**tensors: torch.Tensor) -> None:
    shapes = {name: tuple(t.shape) for name, t in tensors.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"shapes must match, got {shapes}")


def log_normal_diag(x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r"""Log density of a diagonal Gaussian, summed over the last axis:

    .. math:: \log N(x;\mu,\mathrm{diag}\,\sigma^2) = -\tfrac12\sum_j\big[\log 2\pi + \log\sigma_j^2
              + (x_j-\mu_j)^2/\sigma_j^2\big].

    ``mu`` and ``logvar`` broadcast against ``x``.
    """
    return -0.5 * (LOG_2PI + logvar + (x - mu) ** 2 * torch.exp(-logvar)).sum(-1)


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    r"""``log N(z; 0, I)`` summed over the last axis: :math:`-\tfrac12\sum_j(\log 2\pi + z_j^2)`."""
    return -0.5 * (LOG_2PI + z ** 2).sum(-1)


def log_bernoulli(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    r"""Bernoulli log-likelihood from logits, summed over the last axis:

    .. math:: \log p(x|\ell) = \sum_j x_j\log\sigma(\ell_j) + (1-x_j)\log(1-\sigma(\ell_j))
              = -\mathrm{BCEWithLogits}(\ell, x).

    Computed from logits (not probabilities) so that a confident decoder never takes ``log(0)``.
    """
    if x.shape[-1] != logits.shape[-1]:
        raise ValueError(f"x has {x.shape[-1]} pixels but the logits have {logits.shape[-1]}")
    x, logits = torch.broadcast_tensors(x, logits)
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r"""Per-dimension KL from ``N(mu, exp(logvar))`` to ``N(0, 1)`` (not summed):

    .. math:: \mathrm{KL}\big(N(\mu,\sigma^2)\,\|\,N(0,1)\big) = \tfrac12\big(\mu^2+\sigma^2-1-\log\sigma^2\big) \ge 0,

    zero exactly when :math:`\mu=0,\sigma=1` (since :math:`t - 1 - \log t \ge 0` with equality at
    :math:`t = 1`). Sum over the last axis for a diagonal Gaussian.
    """
    _check_same_shape(mu=mu, logvar=logvar)
    return 0.5 * (mu ** 2 + torch.exp(logvar) - 1.0 - logvar)


def kl_diag_gaussians(mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor,
                      logvar_p: torch.Tensor) -> torch.Tensor:
    r"""Per-dimension KL between two diagonal Gaussians (not summed):

    .. math:: \mathrm{KL}(q\|p) = \tfrac12\Big(\log\frac{\sigma_p^2}{\sigma_q^2}
              + \frac{\sigma_q^2 + (\mu_q-\mu_p)^2}{\sigma_p^2} - 1\Big).
    """
    mu_q, logvar_q, mu_p, logvar_p = torch.broadcast_tensors(mu_q, logvar_q, mu_p, logvar_p)
    return 0.5 * (logvar_p - logvar_q + (torch.exp(logvar_q) + (mu_q - mu_p) ** 2) * torch.exp(-logvar_p) - 1.0)


def kl_gaussians_full(m_q: torch.Tensor, S_q: torch.Tensor, m_p: torch.Tensor, S_p: torch.Tensor) -> torch.Tensor:
    r"""KL between full-covariance Gaussians ``N(m_q, S_q)`` and ``N(m_p, S_p)``:

    .. math:: \tfrac12\big[\mathrm{tr}(S_p^{-1}S_q) + (m_p-m_q)^\top S_p^{-1}(m_p-m_q) - d
              + \log|S_p| - \log|S_q|\big].

    ``m_*`` are ``(..., d)``; ``S_*`` are ``(d, d)`` or ``(..., d, d)``.
    """
    d = m_q.shape[-1]
    if S_q.shape[-2:] != (d, d) or S_p.shape[-2:] != (d, d) or m_p.shape[-1] != d:
        raise ValueError(f"incompatible shapes: m_q {tuple(m_q.shape)}, S_q {tuple(S_q.shape)}, "
                         f"m_p {tuple(m_p.shape)}, S_p {tuple(S_p.shape)}")
    L_p = torch.linalg.cholesky(S_p)
    L_q = torch.linalg.cholesky(S_q)
    diff = (m_p - m_q).unsqueeze(-1)
    sol = torch.cholesky_solve(diff, L_p)
    maha = (diff * sol).sum((-2, -1))
    trace = torch.cholesky_solve(S_q, L_p).diagonal(dim1=-2, dim2=-1).sum(-1)
    logdet_p = 2 * torch.log(L_p.diagonal(dim1=-2, dim2=-1)).sum(-1)
    logdet_q = 2 * torch.log(L_q.diagonal(dim1=-2, dim2=-1)).sum(-1)
    return 0.5 * (trace + maha - d + logdet_p - logdet_q)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, k: int | None = None,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Draw :math:`z = \mu + \sigma\odot\varepsilon`, :math:`\varepsilon\sim N(0,I)`: a sample of
    ``N(mu, exp(logvar))`` that is a differentiable function of ``mu`` and ``logvar``.

    With ``k`` the result has a leading axis of ``k`` independent samples, ``(k, *mu.shape)``.
    """
    _check_same_shape(mu=mu, logvar=logvar)
    shape = mu.shape if k is None else (k, *mu.shape)
    eps = torch.randn(shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def iwae_bound(log_w: torch.Tensor) -> torch.Tensor:
    r"""The importance-weighted bound from ``k`` log-weights along axis 0:

    .. math:: \mathcal L_k = \log\frac1k\sum_{i=1}^k w_i,\qquad
              w_i = \frac{p(x, z_i)}{q(z_i|x)},\ z_i\sim q(z|x).

    :math:`\mathbb E[\mathcal L_k] \le \mathbb E[\mathcal L_{k+1}] \le \log p(x)`; with ``k = 1`` it is a
    one-sample ELBO. Computed with ``logsumexp`` so large negative log-weights do not underflow.
    """
    if log_w.dim() < 1 or log_w.shape[0] < 1:
        raise ValueError(f"log_w needs a leading axis of k >= 1 samples, got shape {tuple(log_w.shape)}")
    return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])


# ============================================================ a model with a closed-form posterior


@dataclass
class LinearGaussian:
    r"""The linear-Gaussian latent-variable model (probabilistic PCA).

    .. math:: p(z) = N(0, I_d),\qquad p(x|z) = N(Wz + b,\ \sigma^2 I_D).

    Everything is Gaussian, so the marginal, the posterior and the ELBO are closed-form:

    * marginal :math:`p(x) = N(b,\ C)`, :math:`C = WW^\top + \sigma^2 I`;
    * posterior :math:`p(z|x) = N\big(M^{-1}W^\top(x-b),\ \sigma^2M^{-1}\big)`, :math:`M = W^\top W + \sigma^2 I`.

    ``W`` is ``(D, d)``, ``b`` is ``(D,)``, ``sigma2`` a positive float. Use float64 for checks.
    """

    W: torch.Tensor
    b: torch.Tensor
    sigma2: float

    def __post_init__(self) -> None:
        if self.W.dim() != 2 or self.b.shape != (self.W.shape[0],):
            raise ValueError(f"W must be (D, d) and b (D,), got {tuple(self.W.shape)} and {tuple(self.b.shape)}")
        if not self.sigma2 > 0:
            raise ValueError(f"sigma2 must be positive, got {self.sigma2}")

    @property
    def data_dim(self) -> int:
        return self.W.shape[0]

    @property
    def latent_dim(self) -> int:
        return self.W.shape[1]

    def _check_x(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.data_dim:
            raise ValueError(f"x must have {self.data_dim} features, got shape {tuple(x.shape)}")
        return x.to(self.W.dtype)

    def _M(self) -> torch.Tensor:
        return self.W.T @ self.W + self.sigma2 * torch.eye(self.latent_dim, dtype=self.W.dtype, device=self.W.device)

    def log_marginal(self, x: torch.Tensor) -> torch.Tensor:
        r"""``log p(x)`` per row of ``x``, by the matrix-determinant lemma and Woodbury's identity:

        :math:`\log|C| = (D-d)\log\sigma^2 + \log|M|`,
        :math:`C^{-1} = \sigma^{-2}\big(I - W M^{-1} W^\top\big)`.
        """
        x = self._check_x(x)
        D, d = self.data_dim, self.latent_dim
        r = x - self.b
        M = self._M()
        L = torch.linalg.cholesky(M)
        Wr = r @ self.W  # (N, d)
        quad = ((r ** 2).sum(-1) - (Wr * torch.cholesky_solve(Wr.T, L).T).sum(-1)) / self.sigma2
        logdet = (D - d) * math.log(self.sigma2) + 2 * torch.log(L.diagonal()).sum()
        return -0.5 * (D * LOG_2PI + logdet + quad)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean ``(N, d)`` and covariance ``(d, d)`` of ``p(z|x)`` (the covariance does not depend on x)."""
        x = self._check_x(x)
        M = self._M()
        mean = torch.linalg.solve(M, self.W.T @ (x - self.b).T).T
        cov = self.sigma2 * torch.linalg.inv(M)
        return mean, 0.5 * (cov + cov.T)

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        r"""``log p(x|z)`` (broadcasting ``z`` of shape ``(..., N, d)`` against ``x`` of ``(N, D)``)."""
        x = self._check_x(x)
        r = x - self.b
        # ||r - Wz||^2 = ||r||^2 - 2 (W^T r).z + z^T (W^T W) z: only d-dimensional work per sample.
        sq = (r ** 2).sum(-1) - 2 * (z * (r @ self.W)).sum(-1) + (z * (z @ (self.W.T @ self.W))).sum(-1)
        return -0.5 * (self.data_dim * (LOG_2PI + math.log(self.sigma2)) + sq / self.sigma2)

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``log p(x, z) = log p(x|z) + log p(z)``."""
        return self.log_likelihood(x, z) + log_standard_normal(z)

    def expected_log_likelihood(self, x: torch.Tensor, m: torch.Tensor, S: torch.Tensor) -> torch.Tensor:
        r""":math:`\mathbb E_{N(z;m,S)}[\log p(x|z)] = -\tfrac12\big[D\log 2\pi\sigma^2
        + (\|x-b-Wm\|^2 + \mathrm{tr}(W^\top W S))/\sigma^2\big]`."""
        x = self._check_x(x)
        resid = ((x - self.b - m @ self.W.T) ** 2).sum(-1)
        trace = (self.W.T @ self.W * S).sum((-2, -1))
        return -0.5 * (self.data_dim * (LOG_2PI + math.log(self.sigma2)) + (resid + trace) / self.sigma2)

    def elbo(self, x: torch.Tensor, m: torch.Tensor, S: torch.Tensor) -> torch.Tensor:
        r"""Closed-form ELBO of ``q(z|x) = N(m, S)``:
        :math:`\mathbb E_q[\log p(x|z)] - \mathrm{KL}(q\,\|\,N(0,I))`."""
        d = self.latent_dim
        eye = torch.eye(d, dtype=m.dtype, device=m.device)
        kl = kl_gaussians_full(m, S, torch.zeros_like(m), eye)
        return self.expected_log_likelihood(x, m, S) - kl

    def kl_to_posterior(self, x: torch.Tensor, m: torch.Tensor, S: torch.Tensor) -> torch.Tensor:
        """``KL(q(z|x) || p(z|x))`` for ``q = N(m, S)``: the gap between ``log p(x)`` and the ELBO."""
        post_mean, post_cov = self.posterior(x)
        return kl_gaussians_full(m, S, post_mean, post_cov)

    def log_weights(self, x: torch.Tensor, m: torch.Tensor, S: torch.Tensor, k: int,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """``k`` importance log-weights ``log p(x, z_i) - log q(z_i|x)``, ``z_i ~ q = N(m, S)``: ``(k, N)``."""
        L = torch.linalg.cholesky(S)
        eps = torch.randn((k, *m.shape), generator=generator, dtype=m.dtype, device=m.device)
        z = m + eps @ L.transpose(-1, -2)
        q = torch.distributions.MultivariateNormal(m, scale_tril=L)
        return self.log_joint(x, z) - q.log_prob(z)


def fit_ppca(x: torch.Tensor, latent_dim: int, rotation: torch.Tensor | None = None) -> LinearGaussian:
    r"""Maximum-likelihood probabilistic PCA (Tipping and Bishop, 1999) of rows ``x`` ``(N, D)``, in float64:

    :math:`b = \bar x`, :math:`\sigma^2` = mean of the :math:`D-d` smallest eigenvalues of the sample
    covariance, :math:`W = U_d(\Lambda_d - \sigma^2 I)^{1/2}R`. Any orthogonal ``rotation`` ``R`` gives
    the same likelihood; a non-identity one makes the posterior correlated.
    """
    if x.dim() != 2:
        raise ValueError(f"fit_ppca expects a matrix (N, D), got shape {tuple(x.shape)}")
    N, D = x.shape
    if not 1 <= latent_dim < D:
        raise ValueError(f"latent_dim must be in 1..{D - 1}, got {latent_dim}")
    xd = x.to(torch.float64)
    b = xd.mean(0)
    xc = xd - b
    cov = xc.T @ xc / N
    evals, evecs = torch.linalg.eigh(cov)  # ascending
    evals, evecs = evals.flip(0), evecs.flip(1)
    sigma2 = float(evals[latent_dim:].mean())
    W = evecs[:, :latent_dim] * torch.sqrt(torch.clamp(evals[:latent_dim] - sigma2, min=0.0))
    if rotation is not None:
        R = rotation.to(torch.float64)
        eye = torch.eye(latent_dim, dtype=R.dtype)
        if R.shape != (latent_dim, latent_dim) or not torch.allclose(R @ R.T, eye, atol=1e-8):
            raise ValueError("rotation must be an orthogonal (latent_dim, latent_dim) matrix")
        W = W @ R
    return LinearGaussian(W=W, b=b, sigma2=sigma2)


def mean_field_posterior(model: LinearGaussian, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The best diagonal ``q`` for a Gaussian posterior in the ELBO's sense (minimum ``KL(q||p)``):
    same mean, variances :math:`1/\Lambda_{jj}` where :math:`\Lambda` is the posterior precision.

    Returns ``(mean (N, d), covariance (d, d))``, the covariance diagonal.
    """
    mean, cov = model.posterior(x)
    precision = torch.linalg.inv(cov)
    return mean, torch.diag(1.0 / precision.diagonal())


def imperfect_posterior(model: LinearGaussian, x: torch.Tensor, shift_sd: float = 1.0,
                        var_scale: float = 2.0) -> tuple[torch.Tensor, torch.Tensor]:
    """A stand-in for an imperfect encoder: the mean-field ``q`` with its mean moved by ``shift_sd``
    standard deviations along every axis and its variances multiplied by ``var_scale``."""
    m, S = mean_field_posterior(model, x)
    return m + shift_sd * S.diagonal().sqrt(), var_scale * S


def kl_monte_carlo(mu: torch.Tensor, logvar: torch.Tensor, n_samples: int,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Monte Carlo estimate of the per-dimension :math:`\mathrm{KL}(N(\mu,\sigma^2)\|N(0,1))
    = \mathbb E_q[\log q(z) - \log p(z)]` from ``n_samples`` draws, and its standard error."""
    z = reparameterize(mu, logvar, n_samples, generator)
    log_ratio = (-0.5 * (logvar + (z - mu) ** 2 * torch.exp(-logvar))) + 0.5 * z ** 2  # log 2pi cancels
    return log_ratio.mean(0), log_ratio.std(0) / math.sqrt(n_samples)


def linear_gaussian_iwae_curve(model: LinearGaussian, x: torch.Tensor, m: torch.Tensor, S: torch.Tensor,
                               ks: Sequence[int], reps: int, seed: int = 0) -> dict[str, list[float]]:
    """For one data point ``x`` ``(D,)`` and a Gaussian ``q = N(m, S)``: the mean of ``reps`` independent
    draws of the IWAE bound for each ``k``, its standard error, and the exact ``log p(x)`` and ELBO."""
    if x.dim() != 1:
        raise ValueError(f"expected one flat data point, got shape {tuple(x.shape)}")
    g = torch.Generator().manual_seed(seed)
    xs, ms = x[None].expand(reps, -1), m.reshape(1, -1).expand(reps, -1)
    mean, se = [], []
    for k in ks:
        bounds = iwae_bound(model.log_weights(xs, ms, S, k, g))
        mean.append(float(bounds.mean()))
        se.append(float(bounds.std() / math.sqrt(reps)))
    return {"k": list(ks), "bound_mean": mean, "bound_se": se,
            "log_px": float(model.log_marginal(x[None])[0]), "elbo": float(model.elbo(x[None], m.reshape(1, -1), S)[0])}


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
    def for_mode(cls, mode: str | None = None) -> "EstimatorDemoConfig":
        return runtime.pick(runtime.resolve_mode(mode), quick=cls(),
                            full=cls(fit_images=60_000, kl_mc_samples=200_000, grad_draws=4000, iwae_reps=3000))

    def rotation(self) -> torch.Tensor:
        """A rotation of the latent space; only defined for two latent dimensions."""
        if self.latent_dim != 2:
            raise ValueError("rotation() is defined for latent_dim = 2")
        c, s = math.cos(self.rotation_angle), math.sin(self.rotation_angle)
        return torch.tensor([[c, -s], [s, c]], dtype=torch.float64)


# ======================================================================== gradient estimators


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
        """Total variance: the trace of the estimator's covariance, summed over parameters."""
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

    ``exact`` is the gradient of the closed form :meth:`LinearGaussian.expected_log_likelihood`.
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


# ================================================================================== MNIST data


def mnist_flat(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST ``split`` as flat float rows ``(N, 784)`` in [0, 1] and int64 labels (see ``data.load_mnist``)."""
    x, y = data_mod.load_mnist(split)
    return x.reshape(len(x), -1), y


def binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Dynamic binarization: each pixel becomes 1 with probability equal to its intensity.

    Drawn afresh every time a training batch is used, so the model sees a new binary image each
    epoch (a regulariser) and the data are the stochastically binarized MNIST used in the literature.
    """
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError("binarize expects intensities in [0, 1]")
    return torch.bernoulli(x, generator=generator)


def fixed_binarization(x: torch.Tensor, seed: int = 1234) -> torch.Tensor:
    """One binarization of ``x`` drawn with a fixed seed (the test set is scored on this one)."""
    return binarize(x.cpu(), torch.Generator().manual_seed(seed)).to(x.device)


# ====================================================================================== models

Activation = Literal["relu", "tanh", "elu", "gelu", "softplus"]
_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "gelu": nn.GELU,
                                            "softplus": nn.Softplus}


def _mlp(sizes: Sequence[int], activation: str, final_activation: bool) -> nn.Sequential:
    """Linear layers through ``sizes``, with the activation between them (and after the last if asked)."""
    act = _ACTIVATIONS[activation]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if final_activation or i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


class GaussianHead(nn.Module):
    r"""An MLP that maps its input to the mean and log-variance of a diagonal Gaussian,
    :math:`(\mu, \log\sigma^2) = \mathrm{MLP}(h)`; both are returned in float32 (so densities are
    computed in full precision under bf16 autocast)."""

    def __init__(self, in_dim: int, hidden: Sequence[int], out_dim: int, activation: str):
        super().__init__()
        self.body = _mlp([in_dim, *hidden], activation, final_activation=True)
        self.out = nn.Linear(hidden[-1] if hidden else in_dim, 2 * out_dim)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.out(self.body(h)).float().chunk(2, dim=-1)
        return mu, logvar


@dataclass
class LossParts:
    """A training loss and its monitored pieces (all nats per example, averaged over the batch)."""

    loss: torch.Tensor  # what is minimised
    neg_elbo: torch.Tensor  # the one-sample-per-term negative ELBO (beta = 1), for monitoring
    rec: torch.Tensor  # E_q[-log p(x|z)]
    kl: torch.Tensor  # KL(q(z|x) || p(z)) (or its Monte Carlo estimate)


Objective = Literal["elbo", "iwae"]


class VAE(nn.Module):
    r"""A VAE with one stochastic layer of ``latent_dim`` units and MLP encoder and decoder.

    * prior :math:`p(z) = N(0, I)`;
    * encoder :math:`q_\phi(z|x) = N(\mu_\phi(x), \mathrm{diag}\,\sigma^2_\phi(x))`;
    * decoder ``bernoulli``: :math:`p_\theta(x|z) = \prod_j \mathrm{Bern}(x_j;\sigma(\ell_\theta(z)_j))`;
      ``gaussian``: :math:`p_\theta(x|z) = N(x; \mathrm{sigmoid}(\ell_\theta(z)), s^2 I)` with a fixed ``s``.

    ``hidden`` lists the encoder's widths (the decoder mirrors them).
    """

    def __init__(self, data_dim: int = 784, hidden: Sequence[int] = (512, 256), latent_dim: int = 32,
                 activation: str = "relu", likelihood: str = "bernoulli", gaussian_sigma: float = 0.1):
        super().__init__()
        if likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"Unknown activation {activation!r}; valid: {', '.join(_ACTIVATIONS)}")
        self.data_dim, self.latent_dim = data_dim, latent_dim
        self.likelihood, self.gaussian_sigma = likelihood, gaussian_sigma
        self.encoder = GaussianHead(data_dim, hidden, latent_dim, activation)
        self.decoder = _mlp([latent_dim, *reversed(hidden), data_dim], activation, final_activation=False)

    @property
    def latent_dims(self) -> list[int]:
        return [self.latent_dim]

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 2 or x.shape[1] != self.data_dim:
            raise ValueError(f"expected a batch of flat images (B, {self.data_dim}), got {tuple(x.shape)}")

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` of ``q(z|x)``, each ``(B, latent_dim)``."""
        self._check(x)
        return self.encoder(x)

    def decoder_output(self, z: torch.Tensor) -> torch.Tensor:
        """Logits (Bernoulli) or pre-sigmoid means (Gaussian) of ``p(x|z)``, in float32."""
        return self.decoder(z).float()

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``log p(x|z)`` in nats, broadcasting a leading sample axis of ``z``."""
        out = self.decoder_output(z)
        if self.likelihood == "bernoulli":
            return log_bernoulli(x, out)
        logvar = torch.full_like(out, 2 * math.log(self.gaussian_sigma))
        return log_normal_diag(x, torch.sigmoid(out), logvar)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's mean image: Bernoulli probabilities, or Gaussian means, in [0, 1]."""
        return torch.sigmoid(self.decoder_output(z))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior mean of each image."""
        return self.decode(self.encode(x)[0])

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images decoded from ``z ~ p(z)`` (mean images, not binary draws)."""
        dev = next(self.parameters()).device
        z = torch.randn((n, self.latent_dim), generator=generator, device=dev)
        return self.decode(z)

    def log_weights(self, x: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
        r"""``(k, B)`` log importance weights :math:`\log p(x|z_i) + \log p(z_i) - \log q(z_i|x)`."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, k, generator)
        return self.log_likelihood(x, z) + log_standard_normal(z) - log_normal_diag(z, mu, logvar)

    def loss(self, x: torch.Tensor, objective: Objective = "elbo", k: int = 1, beta: float = 1.0,
             generator: torch.Generator | None = None) -> LossParts:
        r"""``elbo``: :math:`-\big(\frac1k\sum_i\log p(x|z_i) - \beta\,\mathrm{KL}(q\|p)\big)`, the KL in
        closed form (beta-VAE for :math:`\beta\ne1`); ``iwae``: :math:`-\mathcal L_k` (needs beta = 1)."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, k, generator)
        log_px = self.log_likelihood(x, z)  # (k, B)
        kl = kl_standard_normal(mu, logvar).sum(-1)  # (B,)
        rec = -log_px.mean(0)
        neg_elbo = rec + kl
        if objective == "elbo":
            loss = (rec + beta * kl).mean()
        elif objective == "iwae":
            if beta != 1.0:
                raise ValueError("the IWAE objective is a bound on log p(x) only with beta = 1")
            log_w = log_px + log_standard_normal(z) - log_normal_diag(z, mu, logvar)
            loss = -iwae_bound(log_w).mean()
        else:
            raise ValueError(f"Unknown objective {objective!r}; valid: elbo, iwae")
        return LossParts(loss, neg_elbo.mean(), rec.mean(), kl.mean())

    def kl_per_dimension(self, x: torch.Tensor, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """Average over ``x`` of the closed-form KL of each latent dimension, ``[ (latent_dim,) ]``."""
        mu, logvar = self.encode(x)
        return [kl_standard_normal(mu, logvar).mean(0)]

    def posterior_means(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``E_q[z]`` for each stochastic layer (one here)."""
        return [self.encode(x)[0]]


class TwoLayerVAE(nn.Module):
    r"""A VAE with two stochastic layers, as in the IWAE paper's larger MNIST models:

    .. math:: p(z_2)=N(0,I),\quad p(z_1|z_2)=N(\mu_p(z_2),\sigma^2_p(z_2)),\quad
              p(x|z_1)=\mathrm{Bern}(\sigma(\ell(z_1))),

    .. math:: q(z_1|x)=N(\mu_1(x),\sigma_1^2(x)),\quad q(z_2|z_1)=N(\mu_2(z_1),\sigma_2^2(z_1)).

    The log weight of a sample :math:`(z_1, z_2)\sim q` is
    :math:`\log p(x|z_1)+\log p(z_1|z_2)+\log p(z_2)-\log q(z_1|x)-\log q(z_2|z_1)`; the KL terms are
    estimated by Monte Carlo (``p(z_1|z_2)`` is not a fixed Gaussian). Bernoulli decoder only.
    """

    likelihood = "bernoulli"

    def __init__(self, data_dim: int = 784, hidden: Sequence[int] = (512, 512), latent_dim: int = 100,
                 hidden2: Sequence[int] = (256, 256), latent_dim2: int = 50, activation: str = "tanh"):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"Unknown activation {activation!r}; valid: {', '.join(_ACTIVATIONS)}")
        self.data_dim, self.latent_dim, self.latent_dim2 = data_dim, latent_dim, latent_dim2
        self.q1 = GaussianHead(data_dim, hidden, latent_dim, activation)
        self.q2 = GaussianHead(latent_dim, hidden2, latent_dim2, activation)
        self.p1 = GaussianHead(latent_dim2, list(reversed(hidden2)), latent_dim, activation)
        self.px = _mlp([latent_dim, *reversed(hidden), data_dim], activation, final_activation=False)

    @property
    def latent_dims(self) -> list[int]:
        return [self.latent_dim, self.latent_dim2]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` of ``q(z_1|x)``, the layer next to the data."""
        if x.dim() != 2 or x.shape[1] != self.data_dim:
            raise ValueError(f"expected a batch of flat images (B, {self.data_dim}), got {tuple(x.shape)}")
        return self.q1(x)

    def decode(self, z1: torch.Tensor) -> torch.Tensor:
        """Bernoulli probabilities of ``p(x|z_1)``."""
        return torch.sigmoid(self.px(z1).float())

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)[0])

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Ancestral samples: ``z_2 ~ p(z_2)``, ``z_1 ~ p(z_1|z_2)``, then the mean image of ``p(x|z_1)``."""
        dev = next(self.parameters()).device
        z2 = torch.randn((n, self.latent_dim2), generator=generator, device=dev)
        mu, logvar = self.p1(z2)
        return self.decode(reparameterize(mu, logvar, generator=generator))

    def _terms(self, x: torch.Tensor, k: int, generator: torch.Generator | None):
        mu1, lv1 = self.encode(x)
        z1 = reparameterize(mu1, lv1, k, generator)  # (k, B, d1)
        mu2, lv2 = self.q2(z1)
        z2 = reparameterize(mu2, lv2, generator=generator)  # (k, B, d2)
        mup, lvp = self.p1(z2)
        log_px = log_bernoulli(x, self.px(z1).float())
        return dict(z1=z1, z2=z2, mu1=mu1, lv1=lv1, mu2=mu2, lv2=lv2, mup=mup, lvp=lvp, log_px=log_px)

    def log_weights(self, x: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
        t = self._terms(x, k, generator)
        log_prior = log_normal_diag(t["z1"], t["mup"], t["lvp"]) + log_standard_normal(t["z2"])
        log_q = log_normal_diag(t["z1"], t["mu1"], t["lv1"]) + log_normal_diag(t["z2"], t["mu2"], t["lv2"])
        return t["log_px"] + log_prior - log_q

    def loss(self, x: torch.Tensor, objective: Objective = "elbo", k: int = 1, beta: float = 1.0,
             generator: torch.Generator | None = None) -> LossParts:
        if beta != 1.0:
            raise ValueError("TwoLayerVAE supports beta = 1 only")
        t = self._terms(x, k, generator)
        kl = (log_normal_diag(t["z1"], t["mu1"], t["lv1"]) + log_normal_diag(t["z2"], t["mu2"], t["lv2"])
              - log_normal_diag(t["z1"], t["mup"], t["lvp"]) - log_standard_normal(t["z2"]))  # (k, B)
        log_w = t["log_px"] - kl
        if objective == "elbo":
            loss = -log_w.mean()
        elif objective == "iwae":
            loss = -iwae_bound(log_w).mean()
        else:
            raise ValueError(f"Unknown objective {objective!r}; valid: elbo, iwae")
        return LossParts(loss, -log_w.mean(), -t["log_px"].mean(), kl.mean())

    def kl_per_dimension(self, x: torch.Tensor, generator: torch.Generator | None = None,
                         k: int = 16) -> list[torch.Tensor]:
        r"""Monte Carlo per-dimension KL of each layer, averaged over ``x``:
        :math:`\mathbb E_q[\log q(z_{1j}|x)-\log p(z_{1j}|z_2)]` and
        :math:`\mathbb E_{q(z_1|x)}\mathrm{KL}(q(z_{2j}|z_1)\|N(0,1))`; they sum to the ELBO's KL term."""
        t = self._terms(x, k, generator)
        layer1 = (-0.5 * (t["lv1"] + (t["z1"] - t["mu1"]) ** 2 * torch.exp(-t["lv1"]))
                  + 0.5 * (t["lvp"] + (t["z1"] - t["mup"]) ** 2 * torch.exp(-t["lvp"])))
        layer2 = kl_standard_normal(t["mu2"], t["lv2"])
        return [layer1.mean((0, 1)), layer2.mean((0, 1))]

    def posterior_means(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``E[z_1|x]`` and ``E[z_2|z_1 = E[z_1|x]]`` (a cheap stand-in for ``E_q[z_2]``)."""
        mu1, _ = self.encode(x)
        return [mu1, self.q2(mu1)[0]]


LatentModel = VAE | TwoLayerVAE


# ====================================================================================== config


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
    def for_mode(cls, mode: str | None = None) -> "VAEConfig":
        """The chapter's MNIST model.

        quick: one stochastic layer, 784-512-256-32 with ELU, ELBO, 3,000 steps of 128 (6.4 epochs), NLL
        with k = 500 on the first 1,000 test images. full: two stochastic layers (100 and 50 units),
        trained with the IWAE bound (k = 16), bf16 autocast, capped at 570 s of training so it fits the
        10-minute target on one H100; NLL with k = 5,000 on all 10,000 test images.
        """
        return runtime.pick(
            runtime.resolve_mode(mode),
            quick=cls(hidden=(512, 256), latent_dim=32, activation="elu", batch_size=128, steps=3000,
                      lr=3e-3, eval_every=250, checkpoint_every=500, nll_k=500, nll_subset=1000),
            full=cls(stochastic_layers=2, hidden=(512, 512), latent_dim=100, hidden2=(256, 256), latent_dim2=50,
                     activation="elu", objective="iwae", k_train=16, batch_size=256, steps=120_000, lr=1e-3,
                     lr_final_ratio=0.02, max_train_seconds=570.0, amp_bf16=True, eval_every=5000,
                     eval_subset=2000, checkpoint_every=5000, nll_k=5000, nll_subset=None),
        )

    @classmethod
    def latent2d(cls, mode: str | None = None) -> "VAEConfig":
        """A two-dimensional latent space, to scatter the test set and decode a grid (short in quick mode)."""
        return runtime.pick(
            runtime.resolve_mode(mode),
            quick=cls(hidden=(256, 128), latent_dim=2, activation="elu", batch_size=128, steps=1500, lr=3e-3,
                      eval_every=300, checkpoint_every=500, nll_k=100, nll_subset=500),
            full=cls(hidden=(512, 256), latent_dim=2, activation="elu", batch_size=128, steps=20_000, lr=1e-3,
                     eval_every=2000, checkpoint_every=5000, nll_k=1000, nll_subset=None),
        )

    def key(self) -> str:
        """A short hash of the config and the code version, naming its checkpoint file."""
        blob = json.dumps({"v": CODE_VERSION, **dataclasses.asdict(self)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def build_model(config: VAEConfig, data_dim: int = 784) -> LatentModel:
    """The model ``config`` describes (weights initialised from the global torch RNG; seed first)."""
    if config.stochastic_layers == 1:
        return VAE(data_dim, config.hidden, config.latent_dim, config.activation, config.likelihood,
                   config.gaussian_sigma)
    return TwoLayerVAE(data_dim, config.hidden, config.latent_dim, config.hidden2, config.latent_dim2,
                       config.activation)


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
    """``<cache>/checkpoints/<name>-<config key>.pt``: one file per distinct configuration."""
    return data_mod.cache_dir() / "checkpoints" / f"{name}-{config.key()}.pt"


def _progress(config: VAEConfig, step: int, elapsed: float) -> float:
    """How far training is, in [0, 1]: the step count, or the share of the time budget when that is further."""
    done = step / config.steps
    if config.max_train_seconds is not None:
        done = max(done, elapsed / config.max_train_seconds)
    return min(done, 1.0)


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
    the end; if the file exists the run resumes from it and continues exactly as the uninterrupted
    run would have (model, optimiser, step, the data order and the random generator are all saved).
    ``stop_after`` (for tests and demos) stops after that many total steps, as if interrupted.
    ``loss_fn`` replaces the objective (the common-mistakes functions use it).
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
    path = Path(checkpoint_path) if checkpoint_path is not None else None
    state = ckpt.load_checkpoint(path, kind="vae") if path is not None else None
    resumed_from = 0
    if state is not None:
        if state["config"] != dataclasses.asdict(config):
            raise ckpt.CheckpointError(f"Checkpoint {path} was written for another config; delete it or use "
                                       "another path.")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        step, elapsed, history = state["step"], state["elapsed"], state["history"]
        run_sums, run_count = state["run_sums"].to(dev), state["run_count"]
        perm = state["perm"].to(dev) if state["perm"] is not None else None
        resumed_from = step
    loss_fn = loss_fn or _default_loss(config)
    eval_x = x_test[: config.eval_subset].to(dev) if x_test is not None else None
    autocast = config.amp_bf16 and dev.type == "cuda"

    def save() -> None:
        if path is not None:
            ckpt.save_checkpoint({"kind": "vae", "config": dataclasses.asdict(config), "model": model.state_dict(),
                                  "optimizer": opt.state_dict(), "generator": gen.get_state(), "step": step,
                                  "elapsed": elapsed, "history": history, "run_sums": run_sums.cpu(),
                                  "run_count": run_count,
                                  "perm": perm.cpu() if perm is not None else None}, path)

    target = config.steps if stop_after is None else min(config.steps, stop_after)
    bar = tqdm(total=config.steps, initial=step, desc="VAE training", disable=not progress, leave=False)
    start = time.perf_counter() - elapsed
    model.train()
    out_of_time = False
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


# ================================================================================== evaluation


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


# ============================================================================= common mistakes


@dataclass
class MistakeReport:
    """The measured symptom of a mistake next to the same measurement with the fix."""

    name: str
    wrong: dict[str, float]
    fixed: dict[str, float]
    description: str = ""


def _mistake_config(steps: int, seed: int) -> VAEConfig:
    return VAEConfig(hidden=(256, 128), latent_dim=16, batch_size=100, steps=steps, lr=1e-3, lr_final_ratio=1.0,
                     eval_every=steps, checkpoint_every=steps, seed=seed)


def _summary(result: TrainResult, x_eval_bin: torch.Tensor) -> dict[str, float]:
    """Numbers shared by the mistake reports, measured on binarized evaluation images."""
    model = result.model
    x_eval_bin = x_eval_bin.to(next(model.parameters()).device)
    with torch.no_grad():
        mu, logvar = model.encode(x_eval_bin)
        kl = kl_standard_normal(mu, logvar).sum(-1).mean()
        rec_probs = model.decode(mu)
        bce = -log_bernoulli(x_eval_bin, model.decoder_output(mu)).mean()
        spread = (rec_probs - rec_probs.mean(0)).pow(2).sum(-1).mean()  # how different the reconstructions are
    acts = active_units(model, x_eval_bin)[0]
    return {"kl_nats": float(kl), "active_units": float((acts > 1e-2).sum()),
            "reconstruction_nats": float(bce), "reconstruction_spread": float(spread),
            "mean_abs_mu": float(mu.abs().mean()), "mean_posterior_std": float(torch.exp(0.5 * logvar).mean()),
            "final_train_loss": float(result.history["train_loss"][-1]),
            "final_train_neg_elbo": float(result.history["train_neg_elbo"][-1])}


MistakeData = tuple[torch.Tensor, torch.Tensor]


def mistake_data(n_train: int = 10_000, n_eval: int = 1000) -> MistakeData:
    """The real data the mistake demos train and measure on: the first ``n_train`` training images
    (intensities, binarized on the fly) and the first ``n_eval`` test images, binarized once."""
    x, _ = mnist_flat("train")
    xt, _ = mnist_flat("test")
    return x[:n_train], fixed_binarization(xt[:n_eval])


def loss_kl_wrong_sign(model: VAE, x: torch.Tensor, gen: torch.Generator) -> LossParts:
    """MISTAKE: ``loss = reconstruction - KL`` (the KL subtracted): the optimiser now *rewards*
    divergence from the prior."""
    parts = model.loss(x, "elbo", 1, 1.0, gen)
    return LossParts(parts.rec - parts.kl, parts.neg_elbo, parts.rec, parts.kl)


def mistake_kl_sign(steps: int = 300, data: MistakeData | None = None, seed: int = 0,
                    progress: bool = False) -> MistakeReport:
    """Train the same small VAE on real MNIST with ``rec - KL`` (wrong) and ``rec + KL`` (right).

    Symptom: the "loss" turns negative (impossible for a negative log-likelihood of binary data,
    which is at least 0) and keeps falling; the KL term grows without bound, as posterior means run
    away from the prior and posterior standard deviations blow up (or collapse) instead of staying
    near 1; reconstructions get worse, because codes of that size carry noise, not digits.
    ``data`` defaults to :func:`mistake_data`.
    """
    x, x_eval = data if data is not None else mistake_data()
    cfg = _mistake_config(steps, seed)
    wrong = train_vae(cfg, x, loss_fn=loss_kl_wrong_sign, progress=progress)
    fixed = train_vae(cfg, x, progress=progress)
    return MistakeReport("KL added with the wrong sign", _summary(wrong, x_eval), _summary(fixed, x_eval),
                         "loss = rec - KL rewards posteriors far from the prior")


def loss_mse_mean(model: VAE, x: torch.Tensor, gen: torch.Generator) -> LossParts:
    """MISTAKE: ``F.mse_loss(mean_image, x)`` (averaged over the 784 pixels) + KL (summed over latents).

    This equals a Gaussian likelihood with variance ``s^2 = 784 / 2`` (up to a constant): a decoder so
    noisy that the latent code is not worth its KL cost, so the encoder is ignored.
    """
    mu, logvar = model.encode(x)
    z = reparameterize(mu, logvar, generator=gen)
    recon = torch.sigmoid(model.decoder_output(z))
    kl = kl_standard_normal(mu, logvar).sum(-1).mean()
    mse = F.mse_loss(recon, x)
    rec_nats = -log_bernoulli(x, model.decoder_output(z)).mean()  # monitored in nats for comparison
    return LossParts(mse + kl, (rec_nats + kl).detach(), rec_nats.detach(), kl)


def mistake_mse_reconstruction(steps: int = 600, data: MistakeData | None = None, seed: int = 0,
                               progress: bool = False) -> MistakeReport:
    """Train with per-pixel-averaged MSE + KL (wrong) and with the Bernoulli log-likelihood (right).

    Symptom: posterior collapse. The KL falls to ~0 nats, no latent unit is active, every
    reconstruction is the same average blob (their spread across images is ~0).
    ``data`` defaults to :func:`mistake_data`.
    """
    x, x_eval = data if data is not None else mistake_data()
    cfg = _mistake_config(steps, seed)
    wrong = train_vae(cfg, x, loss_fn=loss_mse_mean, progress=progress)
    fixed = train_vae(cfg, x, progress=progress)
    return MistakeReport("Gaussian MSE with an arbitrary weight instead of the Bernoulli likelihood",
                         _summary(wrong, x_eval), _summary(fixed, x_eval),
                         "mean-reduced MSE is a Gaussian decoder with variance 392: the code is not worth its KL")


def loss_no_reparameterization(model: VAE, x: torch.Tensor, gen: torch.Generator) -> LossParts:
    """MISTAKE: ``z = torch.normal(mu, std)``. The sample carries no gradient to ``mu`` or ``std``
    (PyTorch returns zeros for both, silently), so the reconstruction term never trains the encoder."""
    mu, logvar = model.encode(x)
    z = torch.normal(mu, torch.exp(0.5 * logvar), generator=gen)
    rec = -model.log_likelihood(x, z)
    kl = kl_standard_normal(mu, logvar).sum(-1)
    return LossParts((rec + kl).mean(), (rec + kl).mean(), rec.mean(), kl.mean())


def reconstruction_gradient_norms(model: VAE, x: torch.Tensor, loss_fn: LossFn, seed: int = 0) -> dict[str, float]:
    """Norm of the gradient of the *reconstruction* term alone w.r.t. the encoder's output layer, split
    into the rows that produce the means and those that produce the log-variances."""
    model.zero_grad(set_to_none=True)
    gen = torch.Generator(device=x.device).manual_seed(seed)
    parts = loss_fn(model, x, gen)
    parts.rec.backward()
    grad = model.encoder.out.weight.grad
    d = model.latent_dim
    zero = torch.zeros(())
    g_mu = grad[:d].norm() if grad is not None else zero
    g_lv = grad[d:].norm() if grad is not None else zero
    model.zero_grad(set_to_none=True)
    return {"grad_norm_mu": float(g_mu), "grad_norm_logvar": float(g_lv)}


def mistake_no_reparameterization(steps: int = 300, data: MistakeData | None = None, seed: int = 0,
                                  progress: bool = False) -> MistakeReport:
    """``torch.normal(mu, std)`` (wrong) vs ``mu + std * eps`` (right).

    Symptom 1, at initialisation: the gradient of the reconstruction term reaching the encoder's mean and
    variance outputs is exactly 0. Symptom 2, after training: only the KL term trained the encoder, so
    it collapsed onto the prior (KL ~ 0, no active units) and reconstructions are poor.
    ``data`` defaults to :func:`mistake_data`.
    """
    x, x_eval = data if data is not None else mistake_data()
    cfg = _mistake_config(steps, seed)
    runtime.seed_everything(seed)
    probe = build_model(cfg)
    xb = x_eval[:100]
    right_loss = _default_loss(cfg)
    g_wrong = reconstruction_gradient_norms(probe, xb, loss_no_reparameterization, seed)
    g_right = reconstruction_gradient_norms(probe, xb, right_loss, seed)
    wrong = train_vae(cfg, x, loss_fn=loss_no_reparameterization, progress=progress)
    fixed = train_vae(cfg, x, progress=progress)
    return MistakeReport("Sampling z without the reparameterization trick", {**_summary(wrong, x_eval), **g_wrong},
                         {**_summary(fixed, x_eval), **g_right},
                         "torch.normal(mu, std) returns zero gradients for mu and std")


# ===================================================================================== bench


def bench_mnist(mode: str, device: torch.device, *, stop_after: int | None = None,
                eval_images: int | None = None, checkpoint_path: str | Path | None = None,
                progress: bool = True) -> dict:
    """Train the chapter's MNIST VAE for ``mode`` and measure, in nats, the test NLL (importance-weighted
    bound with ``config.nll_k`` samples on ``config.nll_subset`` test images) and the test negative ELBO.

    ``stop_after`` caps the training steps and ``eval_images`` the test images (both for tests only, so
    full mode can be started on a CPU); the checkpoint defaults to :func:`default_checkpoint_path`.
    """
    cfg = VAEConfig.for_mode(mode)
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
