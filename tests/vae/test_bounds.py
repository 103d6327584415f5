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


def test_log_densities_sum_the_last_axis_of_batched_and_unbatched_inputs():
    """(k, batch, d) samples against (batch, d) parameters, as in the IWAE bound, and a single (d,) vector."""
    g = torch.Generator().manual_seed(7)
    z = torch.randn(4, 3, 5, generator=g, dtype=torch.float64)
    mu, logvar = torch.randn(3, 5, generator=g, dtype=torch.float64), torch.randn(3, 5, generator=g, dtype=torch.float64)
    torch.testing.assert_close(vae.log_normal_diag(z, mu, logvar),
                               D.Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1))
    torch.testing.assert_close(vae.log_standard_normal(z), D.Normal(0.0, 1.0).log_prob(z).sum(-1))
    logits = 3 * torch.randn(4, 3, 5, generator=g, dtype=torch.float64)
    xb = torch.bernoulli(torch.full((3, 5), 0.4, dtype=torch.float64), generator=g)
    torch.testing.assert_close(vae.log_bernoulli(xb, logits), D.Bernoulli(logits=logits).log_prob(xb).sum(-1))
    xk = torch.bernoulli(torch.full((4, 3, 5), 0.4, dtype=torch.float64), generator=g)
    torch.testing.assert_close(vae.log_bernoulli(xk, logits), D.Bernoulli(logits=logits).log_prob(xk).sum(-1))
    torch.testing.assert_close(vae.log_bernoulli(xb[0], logits[0, 0]), D.Bernoulli(logits=logits[0, 0]).log_prob(xb[0]).sum())
    with pytest.raises(ValueError, match="x has 5 pixels but the logits have 4"):
        vae.log_bernoulli(xk, logits[..., :4])


def test_mismatched_mean_and_log_variance_are_rejected():
    """Shapes that would silently broadcast ((2, 1) with (2,)) are an error, not a (2, 2) result."""
    mu, logvar = torch.zeros(2, 1), torch.zeros(2)
    for f in (vae.kl_standard_normal, vae.reparameterize):
        with pytest.raises(ValueError, match="shapes must match"):
            f(mu, logvar)
        with pytest.raises(ValueError, match="shapes must match"):
            f(logvar, mu)


def test_full_covariance_kl_unbatched_and_batched_matches_torch():
    g = torch.Generator().manual_seed(8)

    def spd(*batch):
        a = torch.randn(*batch, 3, 3, generator=g, dtype=torch.float64)
        return a @ a.transpose(-2, -1) + 0.1 * torch.eye(3, dtype=torch.float64)

    mq, mp = torch.randn(3, generator=g, dtype=torch.float64), torch.randn(3, generator=g, dtype=torch.float64)
    Sq, Sp = spd(), spd()
    ref = D.kl_divergence(D.MultivariateNormal(mq, Sq), D.MultivariateNormal(mp, Sp))
    torch.testing.assert_close(vae.kl_gaussians_full(mq, Sq, mp, Sp), ref)
    mqb, mpb = torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(4, 3, generator=g, dtype=torch.float64)
    Sqb, Spb = spd(4), spd(4)  # (..., d, d): one covariance per batch entry
    refb = D.kl_divergence(D.MultivariateNormal(mqb, Sqb), D.MultivariateNormal(mpb, Spb))
    torch.testing.assert_close(vae.kl_gaussians_full(mqb, Sqb, mpb, Spb), refb)
    for args in ((mq, Sq[:2, :2], mp, Sp), (mq, Sq, mp, Sp[:2, :2]), (mq, Sq, mp[:2], Sp)):
        with pytest.raises(ValueError, match="incompatible shapes"):
            vae.kl_gaussians_full(*args)


def test_iwae_bound_of_a_single_vector_of_log_weights_and_an_empty_one():
    log_w = torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64)
    assert vae.iwae_bound(log_w).item() == pytest.approx(math.log(sum(math.exp(w) for w in log_w.tolist()) / 3))
    with pytest.raises(ValueError, match=r"leading axis of k >= 1 samples"):
        vae.iwae_bound(torch.empty(0, 3))
    with pytest.raises(ValueError, match=r"leading axis of k >= 1 samples"):
        vae.iwae_bound(torch.tensor(1.0))


def test_kl_monte_carlo_standard_error_and_reproducibility():
    """The returned standard error is std(log q - log p) / sqrt(n) per dimension, from an independent run."""
    mu = torch.tensor([0.0, 1.5, -2.0], dtype=torch.float64)
    logvar = torch.tensor([0.0, -1.0, 0.5], dtype=torch.float64)
    n = 100_000
    mc, se = vae.kl_monte_carlo(mu, logvar, n, torch.Generator().manual_seed(9))
    mc2, se2 = vae.kl_monte_carlo(mu, logvar, n, torch.Generator().manual_seed(9))
    assert torch.equal(mc, mc2) and torch.equal(se, se2)
    assert se.shape == mu.shape
    z = mu + (0.5 * logvar).exp() * torch.randn(n, 3, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
    log_ratio = D.Normal(mu, (0.5 * logvar).exp()).log_prob(z) - D.Normal(0.0, 1.0).log_prob(z)
    torch.testing.assert_close(se, log_ratio.std(0) / math.sqrt(n), rtol=0.05, atol=0)


def test_reparameterize_shape_reproducibility_dtype_and_device():
    mu, logvar = torch.tensor([1.0, -2.0]), torch.tensor([0.0, -1.0])
    assert vae.reparameterize(mu, logvar).shape == (2,)  # no k: one sample shaped like mu
    assert vae.reparameterize(mu, logvar, 3).shape == (3, 2)
    a = vae.reparameterize(mu, logvar, 5, torch.Generator().manual_seed(0))
    b = vae.reparameterize(mu, logvar, 5, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and not torch.equal(a, vae.reparameterize(mu, logvar, 5, torch.Generator().manual_seed(1)))
    half = vae.reparameterize(mu.bfloat16(), logvar.bfloat16(), 4)
    assert half.dtype == torch.bfloat16  # the noise follows mu's dtype (no silent float32 promotion)
    meta = torch.empty(2, device="meta")
    assert vae.reparameterize(meta, meta, 4).device.type == "meta"  # and its device
