"""The linear-Gaussian model (pPCA fitted to real MNIST digits): every closed form on the chapter's math
page (book/ch03_vae/math.md), checked in float64 against dense covariance matrices and Bayes' rule."""

from __future__ import annotations

import math

import pytest
import torch

from aigc_lessons import vae

D = torch.distributions


def test_ppca_marginal_matches_dense_gaussian(ppca, mnist_raw):
    _, xt = mnist_raw
    C = ppca.W @ ppca.W.T + ppca.sigma2 * torch.eye(784, dtype=torch.float64)
    ref = D.MultivariateNormal(ppca.b, C).log_prob(xt.double()[:5])
    torch.testing.assert_close(ppca.log_marginal(xt[:5]), ref, rtol=1e-9, atol=1e-6)


def test_ppca_is_the_maximum_likelihood_fit(fit, ppca, mnist_raw):
    """The closed-form pPCA solution beats perturbed parameters on the data it was fitted to."""
    x, _ = mnist_raw
    best = fit.log_marginal(x[:2000]).mean()
    g = torch.Generator().manual_seed(7)
    for W, s2 in [(fit.W * 1.1, fit.sigma2), (fit.W, fit.sigma2 * 1.2),
                  (fit.W + 0.05 * torch.randn(fit.W.shape, generator=g, dtype=torch.float64), fit.sigma2)]:
        assert vae.LinearGaussian(W, fit.b, s2).log_marginal(x[:2000]).mean() < best
    torch.testing.assert_close(ppca.log_marginal(x[:50]), fit.log_marginal(x[:50]))  # rotations keep p(x)


def test_posterior_is_bayes_rule(ppca, mnist_raw):
    """log p(z|x) = log p(x, z) - log p(x) for any z: the closed-form posterior is the true one."""
    _, xt = mnist_raw
    x = xt[:3].double()
    mean, cov = ppca.posterior(x)
    g = torch.Generator().manual_seed(8)
    z = mean + torch.randn(10, 3, 2, generator=g, dtype=torch.float64)
    lhs = D.MultivariateNormal(mean, cov).log_prob(z)
    rhs = ppca.log_joint(x, z) - ppca.log_marginal(x)
    torch.testing.assert_close(lhs, rhs, rtol=1e-8, atol=1e-6)
    assert abs(cov[0, 1]) > 1e-3 * cov.diagonal().min()  # the rotation makes it correlated


def test_log_evidence_equals_elbo_plus_kl_for_any_q(ppca, mnist_raw):
    """The exact identity log p(x) = ELBO(q) + KL(q || p(z|x)), for random Gaussian q."""
    _, xt = mnist_raw
    x = xt[:4].double()
    log_px = ppca.log_marginal(x)
    g = torch.Generator().manual_seed(9)
    for _ in range(5):
        m = 2 * torch.randn(4, 2, generator=g, dtype=torch.float64)
        A = torch.randn(2, 2, generator=g, dtype=torch.float64)
        S = A @ A.T + 1e-2 * torch.eye(2, dtype=torch.float64)
        elbo, gap = ppca.elbo(x, m, S), ppca.kl_to_posterior(x, m, S)
        torch.testing.assert_close(elbo + gap, log_px, rtol=1e-10, atol=1e-6)
        assert (elbo < log_px).all()  # Jensen: a strict bound when q is not the posterior


def test_elbo_is_tight_at_the_posterior_and_mean_field_pays_a_gap(ppca, mnist_raw):
    _, xt = mnist_raw
    x = xt[:4].double()
    mean, cov = ppca.posterior(x)
    torch.testing.assert_close(ppca.elbo(x, mean, cov), ppca.log_marginal(x), rtol=1e-12, atol=1e-6)
    mf_mean, mf_cov = vae.mean_field_posterior(ppca, x)
    gap = ppca.log_marginal(x) - ppca.elbo(x, mf_mean, mf_cov)
    assert (gap > 1e-3).all()
    for scale in (0.8, 1.25):  # the mean-field variances are the best diagonal ones
        worse = ppca.log_marginal(x) - ppca.elbo(x, mf_mean, mf_cov * scale)
        assert (worse > gap).all()


def test_mean_field_is_exact_without_rotation(fit, mnist_raw):
    """With W's columns orthogonal (no rotation), p(z|x) is diagonal and mean-field q has no gap."""
    _, xt = mnist_raw
    model = fit
    m, S = vae.mean_field_posterior(model, xt[:4])
    torch.testing.assert_close(model.elbo(xt[:4], m, S), model.log_marginal(xt[:4]), rtol=1e-12, atol=1e-6)


def test_monte_carlo_elbo_matches_closed_form(ppca, mnist_raw):
    _, xt = mnist_raw
    x = xt[:2].double()
    m, S = vae.imperfect_posterior(ppca, x)
    log_w = ppca.log_weights(x, m, S, 50_000, torch.Generator().manual_seed(10))
    mc, se = log_w.mean(0), log_w.std(0) / math.sqrt(len(log_w))
    assert ((mc - ppca.elbo(x, m, S)).abs() < 5 * se).all()


def test_iwae_bound_tightens_with_k_towards_log_evidence(ppca, mnist_raw):
    """E[L_1] <= E[L_4] <= ... <= log p(x); the gap shrinks as k grows."""
    _, xt = mnist_raw
    x = xt[:1].double()
    m, S = vae.imperfect_posterior(ppca, x)
    curve = vae.linear_gaussian_iwae_curve(ppca, x[0], m[0], S, (1, 4, 16, 64, 256), reps=2000, seed=11)
    log_px = float(ppca.log_marginal(x))
    assert curve["log_px"] == pytest.approx(log_px)
    gaps = [log_px - b for b in curve["bound_mean"]]
    exact_gap = float(ppca.kl_to_posterior(x, m, S))
    assert exact_gap > 0.5
    assert abs(gaps[0] - exact_gap) < 0.1 * exact_gap  # k = 1 is the ELBO
    assert all(a > b for a, b in zip(gaps[:4], gaps[1:4])), gaps
    assert -0.01 < gaps[-1] < 0.05 * gaps[0], gaps  # close to log p(x), never above it by more than noise


def test_iwae_weights_are_constant_under_the_true_posterior(ppca, mnist_raw):
    """With q = p(z|x) every weight p(x,z)/q(z|x) equals p(x): the bound is exact for every k."""
    _, xt = mnist_raw
    x = xt[:3].double()
    mean, cov = ppca.posterior(x)
    log_w = ppca.log_weights(x, mean, cov, 64, torch.Generator().manual_seed(12))
    torch.testing.assert_close(log_w, ppca.log_marginal(x).expand(64, -1), rtol=1e-10, atol=1e-5)
