"""A latent-variable model whose posterior is known: the linear-Gaussian model (probabilistic PCA).

:class:`LinearGaussian` has a closed-form marginal, posterior and ELBO, so the identity
``log p(x) = ELBO(q) + KL(q || p(z|x))`` can be checked to machine precision. :func:`fit_ppca` fits
it to MNIST; :func:`mean_field_posterior` and :func:`imperfect_posterior` give approximate posteriors
``q``; :func:`linear_gaussian_iwae_curve` watches the importance-weighted bound close the gap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from .bounds import LOG_2PI, iwae_bound, kl_gaussians_full, log_standard_normal

__all__ = ["LinearGaussian", "fit_ppca", "mean_field_posterior", "imperfect_posterior",
           "linear_gaussian_iwae_curve"]


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
        r"""The expected log-likelihood under :math:`q(z|x) = N(m, S)`, in closed form:

        .. math::
            \mathbb E_{N(z;m,S)}[\log p(x|z)] = -\tfrac12\big[D\log 2\pi\sigma^2
            + (\|x-b-Wm\|^2 + \mathrm{tr}(W^\top W S))/\sigma^2\big].
        """
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
