"""Fixtures shared by the diffusion chapter's test files."""

import pytest
import torch

from aigc_lessons import calibrate, diffusion
from aigc_lessons.data import load_mnist


@pytest.fixture(scope="session")
def linear():
    return diffusion.get_schedule("linear", 1000)


@pytest.fixture(scope="session")
def unit_tiny_2d():
    """The calibrated ``unit-diffusion-2d`` run at seed 0: ``Diffusion2DConfig.for_mode("quick", width=64,
    depth=2, steps=400, n_eval=500, sample_steps=20)`` on the ring, as ``(metrics, objects)``."""
    return calibrate.run_unit("unit-diffusion-2d", 0)


@pytest.fixture(scope="session")
def tiny_2d(unit_tiny_2d):
    """A small MLP denoiser trained briefly on the ring (a few seconds): used where a real network is needed."""
    return unit_tiny_2d[1]["result"]


@pytest.fixture(scope="session")
def digits():
    """256 MNIST test digits in [0, 1] and their labels."""
    x, y = load_mnist("test")
    return x[:256], y[:256]


def tiny_unet_config(**overrides):
    return diffusion.DiffusionMnistConfig.for_mode("quick", **{"channels": (8, 8, 16), "emb_dim": 16,
                                                               "batch_size": 8, "steps": 6, "checkpoint_every": 3,
                                                               **overrides})


@pytest.fixture(scope="session")
def oracle_noise():
    """A 'model' that returns a fixed tensor: the true noise of a test, so the loss and bound have known values."""
    def make(noise: torch.Tensor):
        return lambda x, t, *rest: noise
    return make
