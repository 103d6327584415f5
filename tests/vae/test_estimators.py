"""Gradient estimators on the linear-Gaussian model: all unbiased, reparameterization far less noisy."""

from __future__ import annotations

import math

import pytest
import torch

from aigc_lessons import vae


@pytest.fixture(scope="module")
def grad_setup(ppca, mnist_raw):
    _, xt = mnist_raw
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


def test_unknown_estimator_is_refused(mnist_raw):
    x, xt = mnist_raw
    with pytest.raises(ValueError, match="Unknown estimator"):
        vae.gradient_estimates(vae.fit_ppca(x[:500], 2), xt[0], torch.zeros(2), torch.zeros(2), "pathwise", 2, 2)


def test_estimator_demo_config_for_both_modes():
    quick, full = vae.EstimatorDemoConfig.for_mode("quick"), vae.EstimatorDemoConfig.for_mode("full")
    assert quick.fit_images < full.fit_images and quick.iwae_reps < full.iwae_reps
    assert quick.iwae_ks == full.iwae_ks and quick.latent_dim == full.latent_dim == 2
    assert vae.EstimatorDemoConfig.for_mode("quick", grad_draws=10).grad_draws == 10
    R = quick.rotation()
    torch.testing.assert_close(R @ R.T, torch.eye(2, dtype=torch.float64))
    with pytest.raises(TypeError):
        vae.EstimatorDemoConfig.for_mode("quick", no_such_field=1)
    with pytest.raises(ValueError, match="Unknown AIGC mode"):
        vae.EstimatorDemoConfig.for_mode("fast")
