"""Fixtures shared by the VAE chapter's tests: real MNIST slices, pPCA fits, a tiny config, a trained model."""

from __future__ import annotations

import math

import pytest
import torch

from aigc_lessons import calibrate, vae


def rotation(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s], [s, c]], dtype=torch.float64)


@pytest.fixture(scope="session")
def mnist_raw():
    """5,000 training digits and 20 test digits, as grey-level intensities."""
    x, _ = vae.mnist_flat("train")
    xt, _ = vae.mnist_flat("test")
    return x[:5000], xt[:20]


@pytest.fixture(scope="session")
def mnist():
    """5,000 training digits (intensities) and 500 test digits binarized once."""
    x, _ = vae.mnist_flat("train")
    xt, _ = vae.mnist_flat("test")
    return x[:5000], vae.fixed_binarization(xt[:500])


@pytest.fixture(scope="session")
def fit(mnist_raw):
    """pPCA with a 2-D latent space, fitted to real digits."""
    x, _ = mnist_raw
    return vae.fit_ppca(x, 2)


@pytest.fixture(scope="session")
def ppca(mnist_raw):
    """The same fit with a rotated W, so that the exact posterior is correlated."""
    x, _ = mnist_raw
    return vae.fit_ppca(x, 2, rotation=rotation(0.6))


@pytest.fixture(scope="session")
def tiny():
    """A factory of small, fast VAE configs: ``tiny(**overrides)``."""
    def make(**overrides) -> vae.VAEConfig:
        base = dict(hidden=(128,), latent_dim=8, activation="elu", batch_size=100, steps=150, lr=3e-3,
                    eval_every=50, checkpoint_every=50, eval_subset=200)
        return vae.VAEConfig(**{**base, **overrides})
    return make


@pytest.fixture(scope="session")
def unit_tiny(mnist):
    """``tiny()`` trained for 150 steps on 5,000 real digits, with its IWAE curve on 200 test digits: the
    calibrated ``unit-vae-tiny`` run at seed 0, as ``(metrics, objects)``."""
    return calibrate.run_unit("unit-vae-tiny", 0, data=mnist)


@pytest.fixture(scope="session")
def trained(unit_tiny):
    """The tiny VAE trained for 150 steps on 5,000 real digits."""
    return unit_tiny[1]["result"]
