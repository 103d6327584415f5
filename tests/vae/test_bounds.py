"""Densities, KL terms, the reparameterization trick and the IWAE bound (book/ch03_vae/math.md), checked
against independent computations (``torch.distributions``, sampling)."""

from __future__ import annotations

import math

import pytest
import torch

from aigc_lessons import vae

D = torch.distributions


def test_log_densities_match_torch_distributions():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(7, 5, generator=g)
    mu = torch.randn(7, 5, generator=g)
    logvar = torch.randn(7, 5, generator=g)
    ref = D.Normal(mu, torch.exp(0.5 * logvar)).log_prob(x).sum(-1)
    torch.testing.assert_close(vae.log_normal_diag(x, mu, logvar), ref)
    torch.testing.assert_close(vae.log_standard_normal(x), D.Normal(0.0, 1.0).log_prob(x).sum(-1))
    xb = torch.bernoulli(torch.full((7, 5), 0.3), generator=g)
    logits = 4 * torch.randn(7, 5, generator=g)
    torch.testing.assert_close(vae.log_bernoulli(xb, logits), D.Bernoulli(logits=logits).log_prob(xb).sum(-1))


def test_bernoulli_nll_of_binary_data_is_nonnegative():
    """For discrete data p(x|z) <= 1, so -log p(x|z) >= 0: a negative 'NLL' is always a bug."""
    g = torch.Generator().manual_seed(1)
    xb = torch.bernoulli(torch.full((100, 784), 0.5), generator=g)
    assert (-vae.log_bernoulli(xb, 20 * torch.randn(100, 784, generator=g)) >= 0).all()


def test_kl_closed_form_matches_monte_carlo():
    """KL(N(mu, s^2) || N(0, 1)) = 1/2 (mu^2 + s^2 - 1 - log s^2), against E_q[log q - log p] by sampling."""
    g = torch.Generator().manual_seed(2)
    mu = torch.tensor([0.0, 1.5, -2.0, 0.3, 0.0], dtype=torch.float64)
    logvar = torch.tensor([0.0, -1.0, 0.5, -3.0, 1.2], dtype=torch.float64)
    closed = vae.kl_standard_normal(mu, logvar)
    z = vae.reparameterize(mu, logvar, 200_000, g)
    per_sample = (-0.5 * (logvar + (z - mu) ** 2 / logvar.exp())) - (-0.5 * z ** 2)  # log q - log p, per dim
    mc, se = per_sample.mean(0), per_sample.std(0) / math.sqrt(len(z))
    assert torch.all((mc - closed).abs() <= 5 * se + 1e-12), (closed, mc, se)
    mc2, se2 = vae.kl_monte_carlo(mu, logvar, 200_000, g)  # the estimator the notebook plots
    assert torch.all((mc2 - closed).abs() <= 5 * se2 + 1e-12), (closed, mc2, se2)
    assert closed[0] == 0.0 and (closed[1:] > 0.05).all()


def test_kl_is_never_negative_and_zero_only_at_the_prior():
    g = torch.Generator().manual_seed(3)
    mu = 3 * torch.randn(10_000, 8, generator=g)
    logvar = 4 * torch.randn(10_000, 8, generator=g)
    kl = vae.kl_standard_normal(mu, logvar)
    assert kl.min() >= 0
    assert vae.kl_standard_normal(torch.zeros(3), torch.zeros(3)).abs().max() == 0
    near = vae.kl_standard_normal(torch.full((1,), 1e-3), torch.full((1,), 1e-3))
    assert 0 < near.item() < 1e-5


def test_kl_between_diagonal_and_full_gaussians_match_torch():
    g = torch.Generator().manual_seed(4)
    mq, lq, mp, lp = (torch.randn(6, 3, generator=g, dtype=torch.float64) for _ in range(4))
    ref = D.kl_divergence(D.Normal(mq, (0.5 * lq).exp()), D.Normal(mp, (0.5 * lp).exp()))
    torch.testing.assert_close(vae.kl_diag_gaussians(mq, lq, mp, lp), ref)
    torch.testing.assert_close(vae.kl_diag_gaussians(mq, lq, torch.zeros(()), torch.zeros(())),
                               vae.kl_standard_normal(mq, lq))
    A = torch.randn(3, 3, generator=g, dtype=torch.float64)
    B = torch.randn(3, 3, generator=g, dtype=torch.float64)
    Sq, Sp = A @ A.T + 0.1 * torch.eye(3, dtype=torch.float64), B @ B.T + 0.1 * torch.eye(3, dtype=torch.float64)
    ref_full = D.kl_divergence(D.MultivariateNormal(mq, Sq), D.MultivariateNormal(mp, Sp))
    torch.testing.assert_close(vae.kl_gaussians_full(mq, Sq, mp, Sp), ref_full)


def test_iwae_bound_is_a_stable_log_mean_exp():
    g = torch.Generator().manual_seed(5)
    log_w = torch.randn(50, 4, generator=g, dtype=torch.float64)
    torch.testing.assert_close(vae.iwae_bound(log_w), torch.log(log_w.exp().mean(0)))
    torch.testing.assert_close(vae.iwae_bound(log_w - 5000.0), vae.iwae_bound(log_w) - 5000.0)  # no underflow
    torch.testing.assert_close(vae.iwae_bound(log_w[:1]), log_w[0])
    assert (vae.iwae_bound(log_w) >= log_w.mean(0)).all()  # Jensen: log mean exp >= mean
    with pytest.raises(ValueError):
        vae.iwae_bound(torch.tensor(1.0))


def test_reparameterize_draws_from_the_right_gaussian_and_carries_gradients():
    g = torch.Generator().manual_seed(6)
    mu = torch.tensor([1.0, -2.0], requires_grad=True)
    logvar = torch.tensor([0.0, math.log(0.25)], requires_grad=True)
    z = vae.reparameterize(mu, logvar, 100_000, g)
    torch.testing.assert_close(z.mean(0), mu.detach(), atol=0.02, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([1.0, 0.5]), atol=0.02, rtol=0)
    z.sum().backward()
    assert mu.grad.abs().min() > 0 and logvar.grad.abs().min() > 0
