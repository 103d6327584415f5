"""2-D mixtures, the MLP GAN training loop, exact resume, and the comparison protocol."""

import json
import math

import pytest
import torch

from aigc_lessons import gan


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
    torch.testing.assert_close(gan._pack(x, 3), torch.tensor([[0.0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]))
    with pytest.raises(ValueError):
        gan._pack(x, 4)
    with pytest.raises(KeyError):
        gan.Gan2DConfig.for_mode("quick", method="unrolled")
    with pytest.raises(ValueError):
        gan.Gan2DConfig(pack=2, batch_size=255)
    cfg = gan.Gan2DConfig.for_mode("quick", method="wgan_gp")
    assert cfg.loss == "wasserstein" and cfg.gp_weight > 0 and cfg.d_steps == 5


def _params(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_training_moves_samples_onto_the_ring():
    cfg = gan.Gan2DConfig.for_mode("quick", steps=300, batch_size=128, width=64, snapshot_every=300)
    res = gan.train_gan_2d(cfg, "cpu", progress=False)

    def mean_gap(points):  # mean distance to the nearest centre
        return torch.cdist(points, gan.ring_mixture().centers_tensor).min(dim=1).values.mean().item()

    assert res.history["eval_step"] == [0, 300]
    assert mean_gap(res.snapshots[300]) < 0.5 * mean_gap(res.snapshots[0])
    assert len(res.history["d_loss"]) == 300


@pytest.mark.parametrize("method", ["wgan_gp", "pacgan"])
def test_resume_reproduces_the_uninterrupted_run(tmp_path, method):
    cfg = gan.Gan2DConfig.for_mode("quick", method=method, steps=12, batch_size=64, width=32,
                                   snapshot_every=4, checkpoint_every=3)
    straight = gan.train_gan_2d(cfg, "cpu", progress=False)
    path = tmp_path / "ckpt.pt"
    first = gan.train_gan_2d(cfg, "cpu", checkpoint_path=path, max_steps=7, progress=False)  # "interrupted"
    assert len(first.history["g_loss"]) == 7 and path.exists()
    resumed = gan.train_gan_2d(cfg, "cpu", checkpoint_path=path, progress=False)
    assert resumed.resumed_from == 7
    assert torch.equal(_params(resumed.generator), _params(straight.generator))
    assert torch.equal(_params(resumed.discriminator), _params(straight.discriminator))
    assert resumed.history["d_loss"] == straight.history["d_loss"]
    assert set(resumed.snapshots) == set(straight.snapshots)
    with pytest.raises(ValueError, match="another configuration"):
        gan.train_gan_2d(gan.Gan2DConfig(**{**cfg.__dict__, "seed": 1}), "cpu", checkpoint_path=path, progress=False)


def test_full_mode_configuration_starts_on_cpu():
    cfg = gan.Gan2DConfig.for_mode("full", method="pacgan", mixture="grid")
    assert cfg.steps > gan.Gan2DConfig.for_mode("quick", mixture="grid").steps
    res = gan.train_gan_2d(cfg, "cpu", max_steps=2, progress=False)
    assert len(res.history["g_loss"]) == 2


def test_comparison_protocol_picks_a_best_method_and_reuses_its_run():
    study = gan.Study2DConfig(methods=("saturating", "non_saturating"), mixtures=("ring",), seeds=(0, 1),
                              run_overrides={"steps": 20, "batch_size": 32, "width": 16})
    res = gan.compare_methods_2d(study, "quick", "cpu", progress=False)
    assert res.best in study.methods
    sel = res.selection[res.best]
    assert res.best == max(study.methods, key=lambda k: (res.selection[k].modes_covered, res.selection[k].high_quality))
    runs = res.seed_runs[("ring", res.best)]
    assert runs[0] is sel and [r.config.seed for r in runs] == [0, 1]
    assert list(res.table["role"]) == ["selection", "selection", "seeds"]
    summary = res.summary()
    assert summary["ring.modes_covered"] == pytest.approx(sum(r.modes_covered for r in runs) / 2)
    assert summary["per_seed"]["ring.high_quality"] == [r.high_quality for r in runs]
    json.dumps(summary, allow_nan=False)  # the bench writes it: strict JSON, no NaN


def test_parallel_workers_give_the_same_runs_as_one_process():
    cfgs = [gan.Gan2DConfig.for_mode("quick", method=m, steps=15, batch_size=32, width=16)
            for m in ("non_saturating", "pacgan")]
    one = gan.train_many_2d(cfgs, "cpu", workers=1, progress=False)
    two = gan.train_many_2d(cfgs, "cpu", workers=2, progress=False)
    for a, b in zip(one, two):
        assert a.config == b.config
        assert torch.equal(_params(a.generator), _params(b.generator))
        assert a.history["d_loss"] == b.history["d_loss"]
