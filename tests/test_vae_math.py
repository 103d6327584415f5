"""Numerical checks of every derivation on the VAE chapter's math page (book/ch03_vae/math.md).

The linear-Gaussian model is fitted to real MNIST digits by probabilistic PCA, so the identities are
checked on the data the chapter uses, in float64, against independent computations
(``torch.distributions``, dense covariance matrices, Bayes' rule).
"""

from __future__ import annotations

import math

import pytest
import torch

from aigc_lessons import vae

D = torch.distributions


def rotation(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s], [s, c]], dtype=torch.float64)


@pytest.fixture(scope="module")
def mnist():
    x, _ = vae.mnist_flat("train")
    xt, _ = vae.mnist_flat("test")
    return x[:5000], xt[:20]


@pytest.fixture(scope="module")
def fit(mnist):
    """pPCA with a 2-D latent space, fitted to real digits."""
    x, _ = mnist
    return vae.fit_ppca(x, 2)


@pytest.fixture(scope="module")
def ppca(mnist):
    """The same fit with a rotated W, so that the exact posterior is correlated."""
    x, _ = mnist
    return vae.fit_ppca(x, 2, rotation=rotation(0.6))


# ------------------------------------------------------------------------------- densities, KL


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


# ----------------------------------------------------------------- the linear-Gaussian model


def test_ppca_marginal_matches_dense_gaussian(ppca, mnist):
    _, xt = mnist
    C = ppca.W @ ppca.W.T + ppca.sigma2 * torch.eye(784, dtype=torch.float64)
    ref = D.MultivariateNormal(ppca.b, C).log_prob(xt.double()[:5])
    torch.testing.assert_close(ppca.log_marginal(xt[:5]), ref, rtol=1e-9, atol=1e-6)


def test_ppca_is_the_maximum_likelihood_fit(fit, ppca, mnist):
    """The closed-form pPCA solution beats perturbed parameters on the data it was fitted to."""
    x, _ = mnist
    best = fit.log_marginal(x[:2000]).mean()
    g = torch.Generator().manual_seed(7)
    for W, s2 in [(fit.W * 1.1, fit.sigma2), (fit.W, fit.sigma2 * 1.2),
                  (fit.W + 0.05 * torch.randn(fit.W.shape, generator=g, dtype=torch.float64), fit.sigma2)]:
        assert vae.LinearGaussian(W, fit.b, s2).log_marginal(x[:2000]).mean() < best
    torch.testing.assert_close(ppca.log_marginal(x[:50]), fit.log_marginal(x[:50]))  # rotations keep p(x)


def test_posterior_is_bayes_rule(ppca, mnist):
    """log p(z|x) = log p(x, z) - log p(x) for any z: the closed-form posterior is the true one."""
    _, xt = mnist
    x = xt[:3].double()
    mean, cov = ppca.posterior(x)
    g = torch.Generator().manual_seed(8)
    z = mean + torch.randn(10, 3, 2, generator=g, dtype=torch.float64)
    lhs = D.MultivariateNormal(mean, cov).log_prob(z)
    rhs = ppca.log_joint(x, z) - ppca.log_marginal(x)
    torch.testing.assert_close(lhs, rhs, rtol=1e-8, atol=1e-6)
    assert abs(cov[0, 1]) > 1e-3 * cov.diagonal().min()  # the rotation makes it correlated


def test_log_evidence_equals_elbo_plus_kl_for_any_q(ppca, mnist):
    """The exact identity log p(x) = ELBO(q) + KL(q || p(z|x)), for random Gaussian q."""
    _, xt = mnist
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


def test_elbo_is_tight_at_the_posterior_and_mean_field_pays_a_gap(ppca, mnist):
    _, xt = mnist
    x = xt[:4].double()
    mean, cov = ppca.posterior(x)
    torch.testing.assert_close(ppca.elbo(x, mean, cov), ppca.log_marginal(x), rtol=1e-12, atol=1e-6)
    mf_mean, mf_cov = vae.mean_field_posterior(ppca, x)
    gap = ppca.log_marginal(x) - ppca.elbo(x, mf_mean, mf_cov)
    assert (gap > 1e-3).all()
    for scale in (0.8, 1.25):  # the mean-field variances are the best diagonal ones
        worse = ppca.log_marginal(x) - ppca.elbo(x, mf_mean, mf_cov * scale)
        assert (worse > gap).all()


def test_mean_field_is_exact_without_rotation(fit, mnist):
    """With W's columns orthogonal (no rotation), p(z|x) is diagonal and mean-field q has no gap."""
    _, xt = mnist
    model = fit
    m, S = vae.mean_field_posterior(model, xt[:4])
    torch.testing.assert_close(model.elbo(xt[:4], m, S), model.log_marginal(xt[:4]), rtol=1e-12, atol=1e-6)


def test_monte_carlo_elbo_matches_closed_form(ppca, mnist):
    _, xt = mnist
    x = xt[:2].double()
    m, S = vae.imperfect_posterior(ppca, x)
    log_w = ppca.log_weights(x, m, S, 50_000, torch.Generator().manual_seed(10))
    mc, se = log_w.mean(0), log_w.std(0) / math.sqrt(len(log_w))
    assert ((mc - ppca.elbo(x, m, S)).abs() < 5 * se).all()


def test_iwae_bound_tightens_with_k_towards_log_evidence(ppca, mnist):
    """E[L_1] <= E[L_4] <= ... <= log p(x); the gap shrinks as k grows."""
    _, xt = mnist
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


def test_iwae_weights_are_constant_under_the_true_posterior(ppca, mnist):
    """With q = p(z|x) every weight p(x,z)/q(z|x) equals p(x): the bound is exact for every k."""
    _, xt = mnist
    x = xt[:3].double()
    mean, cov = ppca.posterior(x)
    log_w = ppca.log_weights(x, mean, cov, 64, torch.Generator().manual_seed(12))
    torch.testing.assert_close(log_w, ppca.log_marginal(x).expand(64, -1), rtol=1e-10, atol=1e-5)


# --------------------------------------------------------------------------- gradient estimators


@pytest.fixture(scope="module")
def grad_setup(ppca, mnist):
    _, xt = mnist
    x = xt[0].double()
    m, S = vae.mean_field_posterior(ppca, x[None])
    return x, m[0] + 0.3, 0.5 * torch.log(S.diagonal()) + 0.2


@pytest.mark.parametrize("estimator", vae.ESTIMATORS)
def test_gradient_estimators_are_unbiased(ppca, grad_setup, estimator):
    x, m, log_std = grad_setup
    est = vae.gradient_estimates(ppca, x, m, log_std, estimator, 8, 20_000, torch.Generator().manual_seed(13))
    se = est.grads.std(0) / math.sqrt(len(est.grads))
    assert (est.bias.abs() <= 5 * se + 1e-9 * est.exact.abs()).all(), (est.bias, se)


def test_reparameterization_has_far_lower_variance_than_score_function(ppca, grad_setup):
    x, m, log_std = grad_setup
    curve = vae.gradient_variance_curve(ppca, x, m, log_std, [1, 16], n_draws=2000, seed=14)
    rep, sf, sfb = curve["reparameterization"], curve["score_function"], curve["score_function_baseline"]
    assert rep[0] * 100 < sf[0] and rep[1] * 100 < sf[1]
    assert sfb[1] < sf[1]  # a baseline helps REINFORCE but does not close the gap
    assert rep[1] * 5 < sfb[1]
    assert 16 / 2 < rep[0] / rep[1] < 16 * 2  # variance ~ 1/S for an average of S independent samples


# ----------------------------------------------------------------- decoders and the beta-VAE loss


def test_gaussian_decoder_is_scaled_squared_error():
    """-log N(x; mu, s^2 I) = ||x - mu||^2 / (2 s^2) + D/2 log(2 pi s^2)."""
    torch.manual_seed(0)
    model = vae.VAE(hidden=(32,), latent_dim=3, likelihood="gaussian", gaussian_sigma=0.2)
    x = torch.rand(5, 784)
    z = torch.randn(5, 3)
    mean = model.decode(z)
    expected = ((x - mean) ** 2).sum(-1) / (2 * 0.04) + 784 / 2 * math.log(2 * math.pi * 0.04)
    torch.testing.assert_close(-model.log_likelihood(x, z), expected, rtol=1e-5, atol=1e-3)


def test_bernoulli_decoder_is_summed_binary_cross_entropy():
    torch.manual_seed(0)
    model = vae.VAE(hidden=(32,), latent_dim=3)
    x = torch.bernoulli(torch.full((5, 784), 0.2))
    z = torch.randn(5, 3)
    bce = torch.nn.functional.binary_cross_entropy(model.decode(z), x, reduction="none").sum(-1)
    torch.testing.assert_close(-model.log_likelihood(x, z), bce, rtol=1e-4, atol=1e-3)


def test_beta_vae_loss_weights_only_the_kl():
    torch.manual_seed(0)
    model = vae.VAE(hidden=(32,), latent_dim=4)
    x = torch.bernoulli(torch.full((16, 784), 0.3))
    parts = {b: model.loss(x, "elbo", 1, b, torch.Generator().manual_seed(0)) for b in (0.0, 1.0, 4.0)}
    for b, p in parts.items():
        torch.testing.assert_close(p.loss, p.rec + b * p.kl)
        torch.testing.assert_close(p.neg_elbo, parts[1.0].loss)  # the monitored ELBO is beta-free
    with pytest.raises(ValueError):
        model.loss(x, "iwae", 4, 2.0)
