"""2-D mixtures, the methods held by the run configuration, the MLP GAN training loop and exact resume."""

import math

import pytest
import torch

from aigc_lessons import calibrate, gan
from aigc_lessons.checkpoint import CheckpointError
from aigc_lessons.gan.toy2d import _pack


def test_ring_and_grid_geometry():
    ring = gan.ring_mixture()
    c = ring.centers_tensor
    assert ring.n_modes == 8 and ring.sigma == 0.02
    torch.testing.assert_close(c.norm(dim=1), torch.full((8,), 2.0))
    gaps = torch.cdist(c, c) + 10 * torch.eye(8)
    assert gaps.min().item() == pytest.approx(2 * 2.0 * math.sin(math.pi / 8), abs=1e-5)  # neighbours on the ring
    grid = gan.grid_mixture()
    assert grid.n_modes == 25 and grid.sigma == 0.05
    assert sorted(set(grid.centers_tensor[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    with pytest.raises(KeyError, match="valid names"):
        gan.get_mixture("spiral")


@pytest.mark.parametrize("name", ["ring", "grid"])
def test_real_samples_cover_every_mode_at_the_ceiling_share(name):
    mixture = gan.get_mixture(name)
    x = mixture.sample(2500, torch.Generator().manual_seed(0))
    cov = mixture.coverage(x)
    assert cov.modes_covered == mixture.n_modes
    assert cov.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.01)  # 98.9 %: the best any model can score


def test_pack_and_config_validation():
    x = torch.arange(12.0).reshape(6, 2)
    torch.testing.assert_close(_pack(x, 3), torch.tensor([[0.0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]))
    with pytest.raises(ValueError):
        _pack(x, 4)
    with pytest.raises(KeyError):
        gan.Gan2DConfig.for_mode("quick", method="unrolled")
    with pytest.raises(KeyError):
        gan.Gan2DConfig(method="unrolled")
    with pytest.raises(ValueError):
        gan.Gan2DConfig(method="pacgan", batch_size=255)  # pack 2
    with pytest.raises(ValueError):
        gan.Method2D("non_saturating", pack=0)
    with pytest.raises(KeyError):
        gan.Method2D("minimax")
    cfg = gan.Gan2DConfig.for_mode("quick", method="wgan_gp")
    spec = cfg.method_spec
    assert spec.loss == "wasserstein" and spec.gp_weight > 0 and spec.d_steps == 5


def test_the_config_holds_its_method():
    for name, spec in gan.METHODS_2D.items():
        assert gan.Gan2DConfig(method=name).method_spec == spec  # filled in from the name
        quick, full = gan.Gan2DConfig.for_mode("quick", method=name), gan.Gan2DConfig.for_mode("full", method=name)
        assert quick.method == full.method == name and quick.method_spec == full.method_spec == spec
        # quick mode: the same number of discriminator updates for every method; five snapshots a run
        assert quick.steps * spec.d_steps == 4000 and full.steps == (spec.full_steps or 20_000) and quick.width == 64
        assert (quick.snapshot_every, quick.checkpoint_every) == (quick.steps // 5, 1000)
        assert (full.snapshot_every, full.checkpoint_every) == (full.steps // 5, 2000)
    assert gan.Gan2DConfig.for_mode("full", method="r1_ema").steps == 40_000  # the one method trained longer
    longer = gan.Method2D("non_saturating", full_steps=30_000)
    assert gan.Gan2DConfig.for_mode("full", method="non_saturating", method_spec=longer).steps == 30_000
    with pytest.raises(ValueError, match="full_steps"):
        gan.Method2D("non_saturating", full_steps=0)
    assert gan.Gan2DConfig().method_spec == gan.METHODS_2D["non_saturating"]
    custom = gan.Method2D("hinge", lr=2e-4)
    cfg = gan.Gan2DConfig.for_mode("quick", method="non_saturating", method_spec=custom, steps=10)
    assert cfg.method_spec is custom and cfg.snapshot_every == 2
    assert len({cfg, gan.Gan2DConfig(**cfg.__dict__)}) == 1  # hashable and equal field by field


def _params(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_training_moves_samples_onto_the_ring():
    # Gan2DConfig.for_mode("quick", steps=300, batch_size=128, width=64, snapshot_every=300), seed 0
    metrics, objects = calibrate.run_unit("unit-gan-ring-300", 0)
    res = objects["result"]

    def mean_gap(points):  # mean distance to the nearest centre
        return torch.cdist(points, gan.ring_mixture().centers_tensor).min(dim=1).values.mean().item()

    assert res.history["eval_step"] == [0, 300]
    assert metrics["ring_gap_ratio"] == pytest.approx(mean_gap(res.snapshots[300]) / mean_gap(res.snapshots[0]))
    calibrate.assert_checks("unit-gan-ring-300", metrics, "quick")  # the gap shrinks by a third and more
    assert len(res.history["d_loss"]) == 300


@pytest.mark.parametrize("method", ["wgan_gp", "pacgan"])
def test_resume_reproduces_the_uninterrupted_run(tmp_path, method):
    cfg = gan.Gan2DConfig.for_mode("quick", method=method, steps=12, batch_size=64, width=32,
                                   snapshot_every=4, checkpoint_every=3)
    straight = gan.train_gan_2d(cfg, "cpu", progress=False)
    path = tmp_path / "ckpt.pt"
    first = gan.train_gan_2d(cfg, "cpu", checkpoint_path=path, stop_after=7, progress=False)  # "interrupted"
    assert len(first.history["g_loss"]) == 7 and path.exists()
    resumed = gan.train_gan_2d(cfg, "cpu", checkpoint_path=path, progress=False)
    assert resumed.resumed_from == 7
    assert torch.equal(_params(resumed.generator), _params(straight.generator))
    assert torch.equal(_params(resumed.discriminator), _params(straight.discriminator))
    assert resumed.history["d_loss"] == straight.history["d_loss"]
    assert set(resumed.snapshots) == set(straight.snapshots)
    with pytest.raises(CheckpointError, match="another configuration") as err:
        gan.train_gan_2d(gan.Gan2DConfig(**{**cfg.__dict__, "seed": 1}), "cpu", checkpoint_path=path, progress=False)
    assert "seed: 0 -> 1" in str(err.value)
    other_method = gan.Gan2DConfig(**{**cfg.__dict__, "method_spec": gan.Method2D(cfg.method_spec.loss, lr=0.5)})
    with pytest.raises(CheckpointError, match="method_spec"):
        gan.train_gan_2d(other_method, "cpu", checkpoint_path=path, progress=False)


def test_full_mode_configuration_starts_on_cpu():
    cfg = gan.Gan2DConfig.for_mode("full", method="pacgan", mixture="grid")
    assert cfg.steps > gan.Gan2DConfig.for_mode("quick", mixture="grid").steps
    res = gan.train_gan_2d(cfg, "cpu", stop_after=2, progress=False)
    assert len(res.history["g_loss"]) == 2


def _players(seed=0):
    torch.manual_seed(seed)
    cfg = gan.Gan2DConfig.for_mode("quick", width=16, depth=2)
    G, D = gan.build_gan_2d(cfg)
    return cfg, G, D


@pytest.fixture(scope="module")
def unit_steps():
    """20 plain SGD steps (lr 0.05) of each player on one fixed batch, width-16 players seeded 0: the
    calibrated ``unit-gan-steps`` run."""
    return calibrate.run_unit("unit-gan-steps", 0)


def test_discriminator_step_moves_only_d_and_lowers_its_loss(unit_steps):
    metrics, objects = unit_steps
    G, D, before, logs = (objects["discriminator"][k] for k in ("G", "D", "before", "logs"))
    assert len(logs) == 20
    assert all(torch.equal(a, b) for a, b in zip(before["G"], G.parameters())), "a D step must not move G"
    assert any(not torch.equal(a, b) for a, b in zip(before["D"], D.parameters()))
    assert metrics["discriminator_last_over_first_loss"] == pytest.approx(logs[-1] / logs[0])
    calibrate.assert_checks("unit-gan-steps", metrics, "quick", only=["discriminator_last_over_first_loss"])


def test_generator_step_moves_only_g_and_lowers_its_loss(unit_steps):
    """``gan.generator_step`` (20 steps in the calibrated run ``unit-gan-steps``) moves only G and lowers its loss."""
    metrics, objects = unit_steps
    G, D, before, logs = (objects["generator"][k] for k in ("G", "D", "before", "logs"))
    assert len(logs) == 20
    assert all(torch.equal(a, b) for a, b in zip(before["D"], D.parameters())), "a G step must not move D"
    assert any(not torch.equal(a, b) for a, b in zip(before["G"], G.parameters()))
    # against a random D, G's loss falls by well under 1% in 20 steps: the check counts the steps that
    # lowered it (a step of the wrong sign, or one that does nothing, lowers none)
    assert metrics["generator_steps_lowering_loss"] == sum(b < a for a, b in zip(logs, logs[1:]))
    calibrate.assert_checks("unit-gan-steps", metrics, "quick", only=["generator_steps_lowering_loss"])


def test_r1_penalty_is_the_squared_input_gradient_on_real_data():
    w = torch.tensor([3.0, -4.0], dtype=torch.float64)
    real = torch.randn(7, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert gan.r1_penalty(lambda x: x @ w, real).item() == pytest.approx(25.0)  # grad = w everywhere
    # D(x) = |x|^2 has gradient 2x: the penalty is the mean of 4 |x|^2 over the real batch
    expected = (4 * real.pow(2).sum(dim=1)).mean().item()
    assert gan.r1_penalty(lambda x: x.pow(2).sum(dim=1), real).item() == pytest.approx(expected)
    penalty = gan.r1_penalty(lambda x: (x ** 3).sum(dim=1), real)
    assert penalty.requires_grad  # the graph is kept, so the discriminator can minimise it
    assert not real.requires_grad


def test_method_validation_of_the_remedies():
    for bad in (dict(ema=1.0), dict(ema=-0.1), dict(r1_weight=-1.0), dict(z_dim=0), dict(gp_weight=-1.0)):
        with pytest.raises(ValueError):
            gan.Method2D("non_saturating", **bad)
    spec = gan.Method2D("non_saturating", z_dim=8)
    assert gan.Gan2DConfig(method_spec=spec).z_dim == 8  # the latent size comes with the method
    assert gan.Gan2DConfig(method_spec=spec, z_dim=3).z_dim == 3  # unless the config says otherwise
    assert gan.Gan2DConfig(method_spec=gan.Method2D("hinge", batch_size=64)).batch_size == 64
    assert gan.Gan2DConfig(method_spec=spec).batch_size == 256 and gan.Gan2DConfig(method="r1_ema").batch_size == 512
    with pytest.raises(ValueError):
        gan.Method2D("non_saturating", batch_size=0)


def test_r1_step_adds_half_gamma_times_the_penalty():
    cfg, G, D = _players()
    real, z = torch.randn(32, 2), torch.randn(32, 2)
    opt = torch.optim.SGD(D.parameters(), lr=0.0)  # measure the loss only
    plain = gan.discriminator_step(G, D, gan.get_loss("non_saturating"), real, z, opt)["d_loss"]
    with_r1 = gan.discriminator_step(G, D, gan.get_loss("non_saturating"), real, z, opt, r1_weight=4.0)["d_loss"]
    assert with_r1 == pytest.approx(plain + 0.5 * 4.0 * gan.r1_penalty(D, real).item(), rel=1e-5)


def test_the_ema_generator_is_the_running_average_and_is_what_is_measured(tmp_path):
    spec = gan.Method2D("non_saturating", ema=0.75)
    cfg = gan.Gan2DConfig.for_mode("quick", method_spec=spec, steps=2, batch_size=32, width=16, depth=2,
                                   snapshot_every=2, checkpoint_every=2)
    torch.manual_seed(123)
    res = gan.train_gan_2d(cfg, "cpu", checkpoint_path=tmp_path / "c.pt", progress=False)
    from aigc_lessons.checkpoint import load_checkpoint
    from aigc_lessons.runtime import seed_everything

    saved = load_checkpoint(tmp_path / "c.pt")["modules"]
    seed_everything(cfg.seed)
    g0 = gan.build_gan_2d(cfg)[0].state_dict()  # the initial weights, from the same seed
    raw, ema = saved["generator"], saved["generator_ema"]
    # two updates of the average: the first step's weights are unknown here, so check the one
    # consequence that needs none: the average differs from both the start and the raw generator
    for k in g0:
        assert not torch.equal(ema[k], raw[k]) and not torch.equal(ema[k], g0[k])
    for k, v in res.generator.state_dict().items():
        assert torch.equal(v, ema[k])  # the result's generator is the averaged one
    one = gan.Gan2DConfig(**{**cfg.__dict__, "steps": 1, "snapshot_every": 1, "checkpoint_every": 1})
    gan.train_gan_2d(one, "cpu", checkpoint_path=tmp_path / "one.pt", progress=False)
    saved = load_checkpoint(tmp_path / "one.pt")["modules"]
    for k in g0:  # after one step (decay warmed up to 0.1) the average is 0.1 start + 0.9 trained
        torch.testing.assert_close(saved["generator_ema"][k], 0.1 * g0[k] + 0.9 * saved["generator"][k])
