"""The VAE models: decoders, the beta-VAE loss, log importance weights computed independently with
``torch.distributions``, the per-dimension KL, and clear errors for bad inputs."""

from __future__ import annotations

import math

import pytest
import torch

from aigc_lessons import vae

D = torch.distributions


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


def test_vae_log_weights_match_torch_distributions(mnist, tiny):
    _, xt = mnist
    torch.manual_seed(0)
    model = vae.build_model(tiny())
    x = xt[:6]
    log_w = model.log_weights(x, 5, torch.Generator().manual_seed(1))
    mu, logvar = model.encode(x)
    eps = torch.randn((5, *mu.shape), generator=torch.Generator().manual_seed(1))
    z = mu + torch.exp(0.5 * logvar) * eps
    ref = (D.Bernoulli(logits=model.decoder(z)).log_prob(x).sum(-1) + D.Normal(0.0, 1.0).log_prob(z).sum(-1)
           - D.Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1))
    torch.testing.assert_close(log_w, ref, rtol=1e-5, atol=1e-3)


def test_two_layer_log_weights_match_torch_distributions(mnist):
    _, xt = mnist
    torch.manual_seed(0)
    model = vae.TwoLayerVAE(hidden=(64,), latent_dim=6, hidden2=(32,), latent_dim2=3, activation="elu")
    x = xt[:4]
    log_w = model.log_weights(x, 3, torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(2)
    mu1, lv1 = model.q1(x)
    z1 = mu1 + torch.exp(0.5 * lv1) * torch.randn((3, *mu1.shape), generator=g)
    mu2, lv2 = model.q2(z1)
    z2 = mu2 + torch.exp(0.5 * lv2) * torch.randn(mu2.shape, generator=g)
    mup, lvp = model.p1(z2)
    N = lambda m, lv: D.Normal(m, torch.exp(0.5 * lv))  # noqa: E731
    ref = (D.Bernoulli(logits=model.px(z1)).log_prob(x).sum(-1) + N(mup, lvp).log_prob(z1).sum(-1)
           + D.Normal(0.0, 1.0).log_prob(z2).sum(-1) - N(mu1, lv1).log_prob(z1).sum(-1)
           - N(mu2, lv2).log_prob(z2).sum(-1))
    torch.testing.assert_close(log_w, ref, rtol=1e-5, atol=1e-3)


def test_per_dimension_kl_adds_up_to_the_kl_term(mnist, tiny):
    _, xt = mnist
    torch.manual_seed(0)
    one = vae.build_model(tiny())
    parts = one.loss(xt[:50], generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(one.kl_per_dimension(xt[:50])[0].sum(), parts.kl)
    two = vae.TwoLayerVAE(hidden=(64,), latent_dim=6, hidden2=(32,), latent_dim2=3)
    with torch.no_grad():
        per = two.kl_per_dimension(xt[:20], torch.Generator().manual_seed(0), k=1000)
        mc = float(two.loss(xt[:20], "elbo", 1000, generator=torch.Generator().manual_seed(1)).kl)
    assert [p.shape[0] for p in per] == [6, 3]
    assert abs(float(sum(p.sum() for p in per)) - mc) < 0.03 * mc + 0.05, (per, mc)


def test_build_model_follows_the_config(tiny):
    one = vae.build_model(tiny())
    two = vae.build_model(tiny(stochastic_layers=2, latent_dim2=4, hidden2=(16,)))
    assert isinstance(one, vae.VAE) and one.latent_dims == [8]
    assert isinstance(two, vae.TwoLayerVAE) and two.latent_dims == [8, 4]


def test_bad_model_inputs_get_clear_errors(mnist, tiny):
    x, xt = mnist
    model = vae.build_model(tiny())
    with pytest.raises(ValueError, match=r"\(B, 784\)"):
        model.encode(torch.zeros(3, 1, 28, 28))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        vae.binarize(x[:4] * 2)
    with pytest.raises(ValueError, match="Unknown objective"):
        model.loss(xt[:4], "elbo2")
