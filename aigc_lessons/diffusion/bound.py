r"""The variational bound of a diffusion model with Gaussian decoders, term by term.

The reverse chain :math:`p_\theta(x_{t-1} \mid x_t) = \mathcal N(\mu_\theta(x_t, t), \sigma_t^2 I)`
starts from :math:`p(x_T) = \mathcal N(0, I)`. Its negative log-likelihood is bounded by

.. math::

    -\log p_\theta(x_0) \le
    \underbrace{\KL\big(q(x_T \mid x_0) \,\Vert\, p(x_T)\big)}_{L_T}
    + \sum_{t=2}^{T} \underbrace{\E_q \KL\big(q(x_{t-1} \mid x_t, x_0) \,\Vert\,
      p_\theta(x_{t-1} \mid x_t)\big)}_{L_{t-1}}
    \underbrace{- \E_q \log p_\theta(x_0 \mid x_1)}_{L_0} .

With the mean written through a noise predictor,
:math:`\mu_\theta = \big(x_t - \tfrac{\beta_t}{\sqrt{1 - \bar\alpha_t}} \varepsilon_\theta\big) / \sqrt{\alpha_t}`,
each :math:`L_{t-1}` is a constant plus :math:`\lambda_t \lVert \varepsilon - \varepsilon_\theta \rVert^2`
(:func:`eps_mse_weight`, :func:`kl_offset`). Here the decoders are Gaussian densities on
continuous data (Ho et al. 2020 use a discretised decoder for 8-bit images instead), so the bound is in
nats of a density.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from .schedule import NoiseSchedule, q_posterior, q_sample

Tensor = torch.Tensor

__all__ = ["VARIANCES", "gaussian_kl", "gaussian_nll", "predict_x0", "eps_to_mean", "decoder_variance",
           "eps_mse_weight", "kl_offset", "prior_term", "bound_term", "BoundTerms", "variational_bound"]

#: the two fixed choices of the decoder variance :math:`\sigma_t^2` (Ho et al. 2020 found both work)
VARIANCES = ("posterior", "beta")


def gaussian_kl(mean_q: Tensor, var_q: Tensor, mean_p: Tensor, var_p: Tensor) -> Tensor:
    r"""Elementwise :math:`\KL(\mathcal N(m_q, v_q) \Vert \mathcal N(m_p, v_p))
    = \tfrac12\big[\log\tfrac{v_p}{v_q} + \tfrac{v_q + (m_q - m_p)^2}{v_p} - 1\big]` in nats."""
    var_q, var_p = torch.as_tensor(var_q, dtype=mean_q.dtype), torch.as_tensor(var_p, dtype=mean_q.dtype)
    return 0.5 * (torch.log(var_p / var_q) + (var_q + (mean_q - mean_p) ** 2) / var_p - 1.0)


def gaussian_nll(x: Tensor, mean: Tensor, var: Tensor) -> Tensor:
    r"""Elementwise :math:`-\log \mathcal N(x; m, v) = \tfrac12\big[\log(2\pi v) + (x - m)^2 / v\big]`."""
    var = torch.as_tensor(var, dtype=x.dtype)
    return 0.5 * (torch.log(2 * math.pi * var) + (x - mean) ** 2 / var)


def predict_x0(schedule: NoiseSchedule, xt: Tensor, t: Tensor | int, eps: Tensor) -> Tensor:
    r"""The clean data implied by a noise prediction: :math:`\hat x_0 = (x_t - \sqrt{1 - \bar\alpha_t}\,
    \hat\varepsilon) / \sqrt{\bar\alpha_t}` (:func:`~aigc_lessons.diffusion.q_sample` solved for :math:`x_0`)."""
    ab = schedule.at(schedule.alpha_bar, t, xt)
    return (xt - (1 - ab).sqrt() * eps) / ab.sqrt()


def eps_to_mean(schedule: NoiseSchedule, xt: Tensor, t: Tensor | int, eps: Tensor) -> Tensor:
    r""":math:`\mu = \big(x_t - \tfrac{\beta_t}{\sqrt{1 - \bar\alpha_t}}\, \varepsilon\big) / \sqrt{\alpha_t}`.

    With the true noise this is the posterior mean :math:`\tilde\mu_t(x_t, x_0)`; with a prediction
    it is the decoder mean :math:`\mu_\theta`.
    """
    beta, alpha = schedule.at(schedule.betas, t, xt), schedule.at(schedule.alphas, t, xt)
    ab = schedule.at(schedule.alpha_bar, t, xt)
    return (xt - beta / (1 - ab).sqrt() * eps) / alpha.sqrt()


def _check_variance(variance: str) -> None:
    if variance not in VARIANCES:
        raise KeyError(f"Unknown decoder variance {variance!r}; valid names are: {', '.join(VARIANCES)}.")


def decoder_variance(schedule: NoiseSchedule, t: Tensor | int, variance: str = "posterior") -> Tensor:
    r"""The decoder variance :math:`\sigma_t^2`: :math:`\tilde\beta_t` (``"posterior"``) or :math:`\beta_t` (``"beta"``).

    :math:`\tilde\beta_1 = 0`, so the last decoder :math:`p(x_0 \mid x_1)` uses :math:`\beta_1` in both cases.
    """
    _check_variance(variance)
    t = torch.as_tensor(t, dtype=torch.long)
    beta = schedule.betas[t]
    if variance == "beta":
        return beta
    tilde = (1 - schedule.alpha_bar[(t - 1).clamp(min=0)]) / (1 - schedule.alpha_bar[t]) * beta
    return torch.where(t <= 1, beta, tilde)


def eps_mse_weight(schedule: NoiseSchedule, t: Tensor | int, variance: str = "posterior") -> Tensor:
    r"""The weight :math:`\lambda_t` with :math:`L_{t-1} = \text{const}_t + \lambda_t \lVert \varepsilon - \varepsilon_\theta \rVert^2` (for :math:`t \ge 2`).

    The two means differ only through the noise,
    :math:`\tilde\mu_t - \mu_\theta = \tfrac{\beta_t}{\sqrt{\alpha_t (1 - \bar\alpha_t)}}(\varepsilon_\theta - \varepsilon)`,
    and the KL of two Gaussians with the same variance :math:`\sigma_t^2` in the mean part is the squared
    distance over :math:`2\sigma_t^2`, so

    .. math::

        \lambda_t = \frac{\beta_t^2}{2 \sigma_t^2\, \alpha_t\, (1 - \bar\alpha_t)} .
    """
    t = torch.as_tensor(t, dtype=torch.long)
    sigma2 = decoder_variance(schedule, t, variance)
    return schedule.betas[t] ** 2 / (2 * sigma2 * schedule.alphas[t] * (1 - schedule.alpha_bar[t]))


def kl_offset(schedule: NoiseSchedule, t: Tensor | int, variance: str = "posterior") -> Tensor:
    r"""The per-dimension constant of :math:`L_{t-1}`: the KL between variances :math:`\tilde\beta_t` and :math:`\sigma_t^2`,
    :math:`\tfrac12\big[\tilde\beta_t / \sigma_t^2 - 1 + \log(\sigma_t^2 / \tilde\beta_t)\big]`; zero when :math:`\sigma_t^2 = \tilde\beta_t`."""
    t = torch.as_tensor(t, dtype=torch.long)
    if bool((t < 2).any()):
        raise ValueError("kl_offset is defined for t >= 2 (t = 1 is the decoder term L_0)")
    sigma2 = decoder_variance(schedule, t, variance)
    tilde = decoder_variance(schedule, t, "posterior")
    return 0.5 * (tilde / sigma2 - 1 + torch.log(sigma2 / tilde))


def prior_term(schedule: NoiseSchedule, x0: Tensor) -> Tensor:
    r""":math:`L_T = \KL(q(x_T \mid x_0) \Vert \mathcal N(0, I))` per example (B,), in nats; no parameters,
    close to zero when :math:`\bar\alpha_T \approx 0`."""
    ab = schedule.at(schedule.alpha_bar, schedule.T, x0)
    kl = gaussian_kl(ab.sqrt() * x0, 1 - ab, torch.zeros_like(x0), torch.ones((), dtype=x0.dtype))
    return kl.reshape(x0.shape[0], -1).sum(dim=1)


def bound_term(model: Callable[[Tensor, Tensor], Tensor], schedule: NoiseSchedule, x0: Tensor, t: Tensor,
               noise: Tensor, variance: str = "posterior") -> Tensor:
    r"""One Monte Carlo draw of :math:`L_{t-1}` per example (B,), in nats, for a (B,) tensor ``t`` in 1..T.

    :math:`x_t` is :func:`~aigc_lessons.diffusion.q_sample` of ``x0`` with ``noise``. For
    :math:`t \ge 2` the term is the KL between the posterior
    :math:`\mathcal N(\tilde\mu_t, \tilde\beta_t)` and the decoder
    :math:`\mathcal N(\mu_\theta, \sigma_t^2)`; for :math:`t = 1` it is
    :math:`-\log \mathcal N(x_0; \mu_\theta(x_1, 1), \sigma_1^2)`.
    """
    t = torch.as_tensor(t, dtype=torch.long).to(x0.device)
    xt = q_sample(schedule, x0, t, noise)
    with torch.no_grad():
        eps = model(xt, t)
    mean_p = eps_to_mean(schedule, xt, t, eps)
    sigma2 = decoder_variance(schedule, t.cpu(), variance).to(x0).reshape(-1, *([1] * (x0.dim() - 1)))
    post = q_posterior(schedule, t.cpu().clamp(min=2), like=x0)
    kl = gaussian_kl(post.mean(x0, xt), post.variance, mean_p, sigma2)
    nll = gaussian_nll(x0, mean_p, sigma2)
    first = (t == 1).reshape(-1, *([1] * (x0.dim() - 1)))
    return torch.where(first, nll, kl).reshape(x0.shape[0], -1).sum(dim=1)


@dataclass
class BoundTerms:
    """What :func:`variational_bound` returns, per example, in nats.

    ``prior`` is :math:`L_T` (B,); ``terms[:, t-1]`` is :math:`L_{t-1}` for t = 1..T (B, T), so
    column 0 is the decoder term :math:`L_0`; ``total`` (B,) is their sum, the bound on
    :math:`-\\log p_\\theta(x_0)`.
    """

    prior: Tensor
    terms: Tensor
    total: Tensor

    def per_dim(self, dim: int) -> float:
        """The mean bound over examples divided by the data dimension ``dim`` (nats per dimension)."""
        return float(self.total.mean()) / dim


@torch.no_grad()
def variational_bound(model: Callable[[Tensor, Tensor], Tensor], schedule: NoiseSchedule, x0: Tensor, *,
                      generator: torch.Generator | None = None, variance: str = "posterior") -> BoundTerms:
    """Every term of the bound for a batch ``x0``: one noise draw per example and step, all T steps.

    ``T`` model calls on the whole batch: meant for small models and batches (the 2-D chapter).
    """
    _check_variance(variance)
    n = x0.shape[0]
    cols = []
    for step in range(1, schedule.T + 1):
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
        cols.append(bound_term(model, schedule, x0, torch.full((n,), step, dtype=torch.long), noise, variance))
    terms = torch.stack(cols, dim=1)
    prior = prior_term(schedule, x0)
    return BoundTerms(prior=prior, terms=terms, total=prior + terms.sum(dim=1))
