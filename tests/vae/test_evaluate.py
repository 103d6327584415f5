"""Evaluating a trained VAE on real MNIST: the importance-weighted NLL, interpolation, the latent grid."""

from __future__ import annotations

import pytest
import torch

from aigc_lessons import calibrate, vae


def test_importance_weighted_nll_tightens_with_k(unit_tiny):
    # vae.negative_elbo(model, xt[:200], n_samples=20) and vae.iwae_curve(model, xt[:200], [1, 10, 100]) of the
    # trained tiny VAE (the unit_tiny fixture computes them with its metrics)
    metrics, objects = unit_tiny
    neg_elbo, curve = objects["neg_elbo_20"], objects["iwae_curve"]
    nll = [curve[k].nll for k in (1, 10, 100)]
    assert sorted(curve) == [1, 10, 100] and all(curve[k].n == 200 for k in curve)
    assert metrics["nll_k1_minus_k10"] == nll[0] - nll[1] and metrics["nll_k100"] == nll[2]
    assert metrics["iwae_k1_minus_neg_elbo_abs"] == abs(nll[0] - neg_elbo)
    # k = 1 is the ELBO (same images, sampling noise only): within 1 nat of the 20-sample estimate
    calibrate.assert_checks("unit-vae-tiny", metrics, "quick", only=["iwae_k1_minus_neg_elbo_abs"])
    # the bound tightens with k; binary data has NLL >= 0
    calibrate.assert_checks("unit-vae-tiny", metrics, "quick",
                            only=["nll_k1_minus_k10", "nll_k10_minus_k100", "nll_k100"])
    # and image by image: k = 100 is below k = 1 for most images (independent single draws would split
    # about evenly; the sampling noise of k = 1 puts some images the other way)
    share = float((curve[100].per_example <= curve[1].per_example).float().mean())
    assert metrics["share_of_images_k100_below_k1"] == pytest.approx(share)
    calibrate.assert_checks("unit-vae-tiny", metrics, "quick", only=["share_of_images_k100_below_k1"])


def test_interpolation_and_grid(trained, mnist, tiny):
    _, xt = mnist
    frames = vae.interpolate(trained.model, xt[0], xt[1], steps=7)
    assert frames.shape == (7, 784) and 0 <= frames.min() and frames.max() <= 1
    torch.testing.assert_close(frames[0], trained.model.reconstruct(xt[:1])[0].detach())
    model2d = vae.build_model(tiny(latent_dim=2))
    images, values = vae.manifold_grid(model2d, n=5)
    assert images.shape == (25, 784) and torch.all(values[1:] > values[:-1])
    assert vae.latent_means(model2d, xt[:30]).shape == (30, 2)


def test_active_units_are_posterior_mean_variances(trained, mnist):
    _, xt = mnist
    acts = vae.active_units(trained.model, xt[:200])
    assert len(acts) == 1 and acts[0].shape == (8,)
    torch.testing.assert_close(acts[0], trained.model.encode(xt[:200])[0].detach().var(0))


def test_bad_evaluation_inputs_get_clear_errors(mnist, tiny):
    x, xt = mnist
    model = vae.build_model(tiny())
    with pytest.raises(ValueError, match="binarized"):
        vae.estimate_nll(model, x[:4], 5)
    with pytest.raises(ValueError, match="same shape"):
        vae.interpolate(model, xt[0], xt[:2])
    with pytest.raises(ValueError, match="2-D latent"):
        vae.manifold_grid(model)
