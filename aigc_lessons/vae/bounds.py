"""Densities, KL divergences, the reparameterization trick and the importance-weighted bound.

The building blocks every bound in the chapter is made of: :func:`log_normal_diag`,
:func:`log_standard_normal` and :func:`log_bernoulli` (summed over the last axis, in nats), the KL
terms :func:`kl_standard_normal`, :func:`kl_diag_gaussians`, :func:`kl_gaussians_full` and their
Monte Carlo check :func:`kl_monte_carlo`, :func:`reparameterize` and :func:`iwae_bound`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["LOG_2PI", "log_normal_diag", "log_standard_normal", "log_bernoulli", "kl_standard_normal",
           "kl_diag_gaussians", "kl_gaussians_full", "reparameterize", "iwae_bound", "kl_monte_carlo"]

LOG_2PI = math.log(2.0 * math.pi)


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


def kl_monte_carlo(mu: torch.Tensor, logvar: torch.Tensor, n_samples: int,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Monte Carlo estimate of the per-dimension :math:`\mathrm{KL}(N(\mu,\sigma^2)\|N(0,1))
    = \mathbb E_q[\log q(z) - \log p(z)]` from ``n_samples`` draws, and its standard error."""
    z = reparameterize(mu, logvar, n_samples, generator)
    log_ratio = (-0.5 * (logvar + (z - mu) ** 2 * torch.exp(-logvar))) + 0.5 * z ** 2  # log 2pi cancels
    return log_ratio.mean(0), log_ratio.std(0) / math.sqrt(n_samples)
