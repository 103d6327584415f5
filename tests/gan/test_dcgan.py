"""DCGAN shapes, the shape check, exact resume on real MNIST images, and the full config on CPU."""

import pytest
import torch

from aigc_lessons import gan
from aigc_lessons.checkpoint import CheckpointError
from aigc_lessons.data import load_mnist
from aigc_lessons.gan.dcgan import _batch_indices


@pytest.fixture(scope="module")
def images():
    x, _ = load_mnist("train")
    return x[:512]


def test_shapes_end_to_end():
    g, d = gan.DCGenerator(16, 8), gan.DCDiscriminator(8)
    out = g(torch.randn(5, 16))
    assert out.shape == (5, 1, 28, 28) and out.min() >= -1 and out.max() <= 1
    assert d(out).shape == (5, 1)
    assert gan.check_shapes(g, d, 16) == (1, 28, 28)
    assert gan.to_unit(torch.tensor([-1.0, 0.0, 1.0])).tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(gan.ShapeMismatchError, match=r"\(N, 16\)"):
        g(torch.randn(5, 15))


def test_check_shapes_names_both_shapes_for_a_7x7_generator():
    bad, d = gan.DCGenerator(16, 8, n_upsample=0), gan.DCDiscriminator(8)
    assert bad(torch.randn(2, 16)).shape == (2, 1, 7, 7)
    with pytest.raises(gan.ShapeMismatchError) as err:
        gan.check_shapes(bad, d, 16)
    assert "(1, 7, 7)" in str(err.value) and "(1, 28, 28)" in str(err.value)
    assert gan.DCGenerator(16, 8, n_upsample=3)(torch.randn(2, 16)).shape == (2, 1, 56, 56)
    with pytest.raises(gan.ShapeMismatchError):
        gan.check_shapes(gan.DCGenerator(16, 8, n_upsample=3), d, 16)


TINY = gan.DCGANConfig(z_dim=8, g_channels=8, d_channels=8, batch_size=32, steps=8, lr=1e-3,
                       snapshot_every=4, checkpoint_every=2, n_fixed=4)


def _params(module):
    return torch.cat([p.detach().flatten() for p in module.state_dict().values() if p.is_floating_point()])


def test_dcgan_resume_reproduces_the_uninterrupted_run(tmp_path, images):
    straight = gan.train_dcgan(TINY, "cpu", images=images, progress=False)
    assert set(straight.history) == {"d_loss", "g_loss", "d_x", "d_g_z"} and len(straight.history["d_x"]) == 8
    assert sorted(straight.grids) == [0, 4, 8] and straight.grids[8].shape == (4, 1, 28, 28)
    path = tmp_path / "dcgan.pt"
    gan.train_dcgan(TINY, "cpu", images=images, checkpoint_path=path, stop_after=5, progress=False)
    resumed = gan.train_dcgan(TINY, "cpu", images=images, checkpoint_path=path, progress=False)
    assert resumed.resumed_from == 5
    assert torch.equal(_params(resumed.generator), _params(straight.generator))  # batch-norm buffers too
    assert torch.equal(_params(resumed.discriminator), _params(straight.discriminator))
    assert resumed.history == straight.history
    assert set(resumed.grids) == set(straight.grids)
    assert all(torch.equal(resumed.grids[k], straight.grids[k]) for k in straight.grids)
    with pytest.raises(CheckpointError, match="another configuration") as err:
        gan.train_dcgan(gan.DCGANConfig(**{**TINY.__dict__, "lr": 2e-3}), "cpu", images=images, checkpoint_path=path,
                        progress=False)
    assert "lr: 0.001 -> 0.002" in str(err.value)


def test_batches_are_recomputable_from_the_step():
    a = _batch_indices(17, 32, 512, seed=3)
    assert torch.equal(a, _batch_indices(17, 32, 512, seed=3))
    epoch = torch.cat([_batch_indices(s, 32, 512, seed=3) for s in range(16)])
    assert sorted(epoch.tolist()) == list(range(512))  # one epoch visits every image once


def test_bad_images_are_rejected(images):
    with pytest.raises(gan.ShapeMismatchError):
        gan.train_dcgan(TINY, "cpu", images=images[:, :, :14, :14], progress=False)
    with pytest.raises(ValueError):
        gan.train_dcgan(TINY, "cpu", images=images[:10], progress=False)


def test_full_mode_configuration_starts_on_cpu(images):
    cfg = gan.DCGANConfig.for_mode("full")
    assert cfg.bf16 and cfg.g_channels > gan.DCGANConfig.for_mode("quick").g_channels
    assert cfg.steps == 30 * (60_000 // 128) and cfg.snapshot_every == cfg.checkpoint_every == 60_000 // 128
    assert gan.DCGANConfig.for_mode("quick", steps=7).steps == 7
    res = gan.train_dcgan(cfg, "cpu", images=images[:256], stop_after=1, progress=False)
    assert len(res.history["g_loss"]) == 1


def test_dcgan_levers_ema_r1_two_time_scales_and_the_monitor(tmp_path, images):
    from aigc_lessons.checkpoint import load_checkpoint

    cfg = gan.DCGANConfig(**{**TINY.__dict__, "steps": 1, "ema": 0.9, "r1_weight": 5.0, "lr_d": 3e-3,
                             "eval_every": 1, "checkpoint_every": 1})
    calls = []

    def monitor(g):
        calls.append(g.training)
        return {"score": 1.5}

    torch.manual_seed(0)
    res = gan.train_dcgan(cfg, "cpu", images=images, checkpoint_path=tmp_path / "c.pt", progress=False, monitor=monitor)
    state = load_checkpoint(tmp_path / "c.pt")
    raw, ema = state["modules"]["generator"], state["modules"]["generator_ema"]
    torch.manual_seed(cfg.seed)  # the initial weights come from the seed
    from aigc_lessons.runtime import seed_everything

    seed_everything(cfg.seed)
    g0 = gan.DCGenerator(cfg.z_dim, cfg.g_channels).state_dict()
    for k, v in g0.items():
        if k.endswith(("running_mean", "running_var", "num_batches_tracked")):
            assert torch.equal(ema[k], raw[k]), k  # batch-norm statistics are copied
        else:
            torch.testing.assert_close(ema[k], 0.1 * v + 0.9 * raw[k])  # one update, decay warmed up to 0.1
    assert all(torch.equal(p, ema[k]) for k, p in res.generator.state_dict().items())  # the sampled generator
    assert res.history["eval_step"] == [1] and res.history["score"] == [1.5] and calls == [False]
    assert state["optimizers"]["opt_d"]["param_groups"][0]["lr"] == 3e-3
    assert state["optimizers"]["opt_g"]["param_groups"][0]["lr"] == 1e-3
    for bad in (dict(ema=1.0), dict(r1_weight=-1.0), dict(eval_every=-1)):
        with pytest.raises(ValueError):
            gan.DCGANConfig(**{**TINY.__dict__, **bad})
    full = gan.DCGANConfig.for_mode("full")
    assert full.ema > 0 and full.eval_every > 0 and full.r1_weight == 1.0  # the CPU study's lever (test_records)
    assert gan.DCGANConfig.for_mode("quick").ema == 0.0 and gan.DCGANConfig.for_mode("quick").r1_weight == 1.0


def test_dcgan_r1_adds_a_positive_penalty_to_the_first_discriminator_loss(images):
    one = dict(TINY.__dict__, steps=1)
    plain = gan.train_dcgan(gan.DCGANConfig(**one), "cpu", images=images, progress=False)
    with_r1 = gan.train_dcgan(gan.DCGANConfig(**{**one, "r1_weight": 10.0}), "cpu", images=images, progress=False)
    # same seed, same first batch and weights: the only difference is the penalty (gamma/2 E|grad D|^2 > 0)
    assert with_r1.history["d_loss"][0] > plain.history["d_loss"][0] + 1e-6
    assert with_r1.history["d_x"][0] == plain.history["d_x"][0]


def test_dcgan_stops_at_its_time_budget_and_resumes_from_there(tmp_path, images, monkeypatch):
    """``max_train_seconds`` ends training early (the full mode's five minutes); the run is saved where it
    stopped, and resuming it gives the uninterrupted run."""
    import dataclasses

    from aigc_lessons import runtime

    assert gan.DCGANConfig.for_mode("full").max_train_seconds == 300.0
    assert gan.DCGANConfig.for_mode("quick").max_train_seconds is None
    none = gan.train_dcgan(dataclasses.replace(TINY, max_train_seconds=0.0), "cpu", images=images, progress=False)
    assert none.history["d_loss"] == []
    straight = gan.train_dcgan(TINY, "cpu", images=images, progress=False)
    real = runtime.training_progress
    monkeypatch.setattr(runtime, "training_progress", lambda step, *a: 1.0 if step >= 3 else real(step, *a))
    path = tmp_path / "capped.pt"
    cut = gan.train_dcgan(TINY, "cpu", images=images, checkpoint_path=path, progress=False)  # "out of time" at 3
    assert len(cut.history["d_loss"]) == 3
    monkeypatch.setattr(runtime, "training_progress", real)
    again = gan.train_dcgan(TINY, "cpu", images=images, checkpoint_path=path, progress=False)
    assert again.resumed_from == 3 and again.history == straight.history
    assert torch.equal(_params(again.generator), _params(straight.generator))
    # a monitored run stopped by its budget is evaluated where it stopped, so the curve ends at the last step
    monkeypatch.setattr(runtime, "training_progress", lambda step, *a: 1.0 if step >= 3 else real(step, *a))
    monitored = gan.train_dcgan(dataclasses.replace(TINY, eval_every=2), "cpu", images=images, progress=False,
                                monitor=lambda g: {"score": 1.0})
    assert monitored.history["eval_step"] == [2, 3]


def test_train_and_score_logs_the_2k_monitor_and_scores_10k_seeded_samples(images):
    """The protocol the gan-mnist bench and the lever study share: 2,000 samples at each evaluation, then
    10,000 samples from noise seed 123 of the returned (EMA) generator."""
    seen = []

    def evaluator(x):
        seen.append((x.shape[0], float(x.sum())))
        return type("Score", (), {"frechet": float(len(seen))})()

    cfg = gan.DCGANConfig(**{**TINY.__dict__, "steps": 2, "eval_every": 1})
    res, score = gan.train_and_score(cfg, "cpu", evaluator, images, progress=False)
    assert [n for n, _ in seen] == [2000, 2000, 10_000]
    assert res.history["eval_step"] == [1, 2] and res.history["frechet_2k"] == [1.0, 2.0] and score.frechet == 3.0
    again = gan.generate_images(res.generator, 10_000, seed=123)
    assert float(again.sum()) == pytest.approx(seen[-1][1])  # the samples scored are the seed-123 ones
