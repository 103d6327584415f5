"""Evaluating a trained VAE on real MNIST: the importance-weighted NLL, interpolation, the latent grid."""

from __future__ import annotations

import pytest
import torch

from aigc_lessons import vae


def test_importance_weighted_nll_tightens_with_k(trained, mnist):
    _, xt = mnist
    neg_elbo = vae.negative_elbo(trained.model, xt[:200], n_samples=20)
    curve = vae.iwae_curve(trained.model, xt[:200], [1, 10, 100])
    nll = [curve[k].nll for k in (1, 10, 100)]
    assert abs(nll[0] - neg_elbo) < 1.0, (nll, neg_elbo)  # k = 1 is the ELBO (same images, sampling noise only)
    assert nll[0] - nll[1] > 1.0 and nll[1] > nll[2] > 0, nll  # the bound tightens; binary data has NLL >= 0
    assert (curve[100].per_example <= curve[1].per_example + 25).all()


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
