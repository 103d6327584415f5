"""The networks: shapes, sizes and clear errors for wrong inputs."""

import pytest
import torch

from aigc_lessons import diffusion


def test_timestep_embedding_is_cos_and_sin_of_the_step():
    e = diffusion.timestep_embedding(torch.tensor([0, 7]), 8)
    assert e.shape == (2, 8)
    assert torch.allclose(e[0], torch.tensor([1.0] * 4 + [0.0] * 4))
    assert torch.isclose(e[1, 0], torch.cos(torch.tensor(7.0))) and torch.isclose(e[1, 4], torch.sin(torch.tensor(7.0)))
    with pytest.raises(ValueError, match="even"):
        diffusion.timestep_embedding(torch.tensor([1]), 7)


def test_mlp_denoiser_shapes_and_fourier_features():
    model = diffusion.MLPDenoiser(2, 32, 2, 16, fourier=3)
    x = torch.randn(5, 2)
    assert model(x, torch.randint(1, 1000, (5,))).shape == (5, 2)
    feats = model.features(x)
    assert feats.shape == (5, 2 * 7)
    sines, cosines = feats[:, 2:8].reshape(5, 2, 3), feats[:, 8:14].reshape(5, 2, 3)
    for k, w in enumerate((1.0, 2.0, 4.0)):
        assert torch.allclose(sines[:, :, k], torch.sin(w * x)) and torch.allclose(cosines[:, :, k], torch.cos(w * x))
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        model(torch.randn(5, 3), torch.ones(5, dtype=torch.long))


def test_unet_is_small_and_keeps_the_image_shape():
    model = diffusion.UNet()
    n = sum(p.numel() for p in model.parameters())
    assert 100_000 < n < 600_000, f"the quick-mode U-Net should have a few hundred thousand weights, has {n}"
    x = torch.randn(3, 1, 28, 28)
    t = torch.tensor([1, 500, 1000])
    assert model(x, t, torch.tensor([0, 5, model.null_label])).shape == x.shape
    assert torch.equal(model(x, t), model(x, t, torch.full((3,), 10))), "no label means the null label"
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        model(torch.randn(3, 1, 32, 32), t)
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        model(torch.randn(3, 784), t)


def test_mixture_denoiser_checks_the_data_size(linear):
    model = diffusion.GaussianMixtureDenoiser(torch.zeros(4, 2), 0.1, linear)
    with pytest.raises(ValueError, match="size 3 per example"):
        model(torch.randn(2, 3), torch.ones(2, dtype=torch.long))
    with pytest.raises(ValueError, match="sigma"):
        diffusion.GaussianMixtureDenoiser(torch.zeros(4, 2), -1.0, linear)
