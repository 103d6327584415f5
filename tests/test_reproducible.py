"""Quick mode pins the CPU thread count and turns on torch's deterministic algorithms inside every
trainer's loop (``aigc_lessons.runtime.reproducible``); full mode leaves both to the machine."""

import pytest
import torch

from aigc_lessons import runtime
from aigc_lessons.attention.fusion import FusionConfig, train_fusion
from aigc_lessons.diffusion.train import (Diffusion2DConfig, DiffusionMnistConfig, train_diffusion_2d,
                                          train_diffusion_mnist)
from aigc_lessons.gan.dcgan import DCGANConfig, train_dcgan
from aigc_lessons.gan.toy2d import Gan2DConfig, train_gan_2d
from aigc_lessons.vae.train import VAEConfig, train_vae


def test_reproducible_pins_threads_turns_on_determinism_and_restores():
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    assert not torch.are_deterministic_algorithms_enabled()
    with runtime.reproducible("cpu", other, True):
        assert torch.get_num_threads() == other
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
    assert torch.get_num_threads() == before and not torch.are_deterministic_algorithms_enabled()
    with runtime.reproducible("cpu", None, False):
        assert torch.get_num_threads() == before and not torch.are_deterministic_algorithms_enabled()
    with pytest.raises(RuntimeError):  # restored even when the block fails
        with runtime.reproducible("cpu", other, True):
            raise RuntimeError("interrupted")
    assert torch.get_num_threads() == before and not torch.are_deterministic_algorithms_enabled()
    with pytest.raises(TypeError):
        with runtime.reproducible("cpu", 1, "yes"):
            pass
    with pytest.raises(ValueError):
        with runtime.reproducible("cpu", 0, True):
            pass


def _images(n):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 28, 28, generator=g), torch.arange(n) % 10


TRAINERS = {
    "vae": (lambda mode: VAEConfig.for_mode(mode, steps=2, batch_size=16, hidden=(8,), latent_dim=2, eval_every=10,
                                             checkpoint_every=10, max_train_seconds=None),
            lambda cfg: train_vae(cfg, torch.rand(32, 784), progress=False)),
    "dcgan": (lambda mode: DCGANConfig.for_mode(mode, steps=2, batch_size=8, g_channels=4, d_channels=4, z_dim=8,
                                                n_fixed=4, bf16=False, ema=0.0, eval_every=0),
              lambda cfg: train_dcgan(cfg, "cpu", images=_images(16)[0], progress=False)),
    "gan-2d": (lambda mode: Gan2DConfig.for_mode(mode, steps=2, n_eval=100),
               lambda cfg: train_gan_2d(cfg, "cpu", progress=False)),
    "diffusion-2d": (lambda mode: Diffusion2DConfig.for_mode(mode, steps=2, n_eval=100, sample_steps=2),
                     lambda cfg: train_diffusion_2d(cfg, "cpu", progress=False)),
    "diffusion-mnist": (lambda mode: DiffusionMnistConfig.for_mode(mode, steps=2, batch_size=4, channels=(8, 16, 16),
                                                                   emb_dim=8),
                        lambda cfg: train_diffusion_mnist(cfg, "cpu", images=_images(8)[0], labels=_images(8)[1],
                                                          progress=False)),
}


@pytest.mark.parametrize("name", sorted(TRAINERS))
def test_every_optimiser_step_of_quick_mode_runs_pinned_and_deterministic(name, optimizer_step_state):
    make, train = TRAINERS[name]
    quick, full = make("quick"), make("full")
    assert isinstance(getattr(quick, "cpu_threads", 1), int) and quick.deterministic
    assert getattr(full, "cpu_threads", None) is None and not full.deterministic
    threads = getattr(quick, "cpu_threads", 1)  # the 2-D MLPs always run on one thread
    before = torch.get_num_threads()
    with runtime.cpu_threads(3 if threads != 3 else 4):  # a machine with another number of cores
        train(quick)
    assert optimizer_step_state and set(optimizer_step_state) == {(threads, True)}
    assert torch.get_num_threads() == before and not torch.are_deterministic_algorithms_enabled()


def test_fusion_trains_pinned_and_deterministic_in_quick_mode(mirror, optimizer_step_state):
    cfg = FusionConfig.for_mode("quick", n_train=256, n_test=128, epochs=1)
    assert cfg.deterministic and not FusionConfig.for_mode("full").deterministic
    train_fusion(cfg, torch.nn.functional.normalize(torch.randn(10, 8), dim=-1))
    assert optimizer_step_state and set(optimizer_step_state) == {(1, True)}
