"""Training: configurations, exact resume from a checkpoint, clear errors, samples, benchmarks."""

import pytest
import torch

from aigc_lessons import bench, calibrate, diffusion, runtime
from aigc_lessons.checkpoint import CheckpointError
from aigc_lessons.gan import get_mixture

from .conftest import tiny_unet_config


def test_configs_put_quick_and_full_side_by_side():
    q, f = diffusion.Diffusion2DConfig.for_mode("quick"), diffusion.Diffusion2DConfig.for_mode("full")
    assert f.steps > q.steps and f.width >= q.width
    qm, fm = diffusion.DiffusionMnistConfig.for_mode("quick"), diffusion.DiffusionMnistConfig.for_mode("full")
    assert fm.n_eval == 10_000 and qm.n_eval < fm.n_eval and fm.steps > qm.steps
    assert diffusion.Diffusion2DConfig.for_mode("quick", mixture="grid", seed=3).seed == 3


def test_bad_configurations_give_clear_errors():
    with pytest.raises(ValueError, match="Unknown AIGC mode 'fast'"):
        diffusion.Diffusion2DConfig.for_mode("fast")
    with pytest.raises(ValueError, match="Unknown AIGC mode"):
        diffusion.DiffusionMnistConfig.for_mode("medium")
    with pytest.raises(KeyError, match="valid names are: linear, cosine"):
        diffusion.Diffusion2DConfig.for_mode("quick", schedule="sqrt")
    with pytest.raises(KeyError, match="valid names are: ring, grid"):
        diffusion.Diffusion2DConfig.for_mode("quick", mixture="spiral")
    with pytest.raises(TypeError):
        diffusion.DiffusionMnistConfig.for_mode("quick", not_a_field=1)


def test_trained_2d_model_beats_its_untrained_self(tiny_2d, unit_tiny_2d, linear):
    metrics, objects = unit_tiny_2d
    losses = tiny_2d.history["loss"]
    assert metrics["late_over_early_training_loss"] == pytest.approx((sum(losses[-50:]) / 50) / (sum(losses[:10]) / 10))
    # the untrained reference is the trained model's own initial weights (the training seed), whatever ran before
    fresh = objects["fresh"]
    import dataclasses

    untrained = diffusion.train_diffusion_2d(dataclasses.replace(tiny_2d.config, steps=0, n_eval=10), "cpu",
                                             progress=False)  # what the trainer starts from, not a rebuild
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), untrained.model.state_dict().values()))
    pts = get_mixture("ring").sample(2000, torch.Generator().manual_seed(5))
    gen = lambda: torch.Generator().manual_seed(6)  # noqa: E731
    with torch.no_grad():
        trained = diffusion.noise_prediction_loss(tiny_2d.model, linear, pts, generator=gen())
        untrained = diffusion.noise_prediction_loss(fresh, linear, pts, generator=gen())
    assert metrics["trained_over_untrained_loss"] == pytest.approx(float(trained) / float(untrained))
    # the late training loss is well below the early one, and the trained model's loss below its untrained self's
    calibrate.assert_checks("unit-diffusion-2d", metrics, "quick")
    assert tiny_2d.samples.shape == (500, 2) and bool(torch.isfinite(tiny_2d.samples).all())


def test_2d_resume_reproduces_the_uninterrupted_run(tmp_path):
    config = diffusion.Diffusion2DConfig.for_mode("quick", width=16, depth=1, steps=30, n_eval=100, sample_steps=5,
                                                  checkpoint_every=10)
    whole = diffusion.train_diffusion_2d(config, "cpu", progress=False)
    path = tmp_path / "d2.pt"
    first = diffusion.train_diffusion_2d(config, "cpu", checkpoint_path=path, stop_after=20, progress=False)
    assert len(first.history["loss"]) == 20
    again = diffusion.train_diffusion_2d(config, "cpu", checkpoint_path=path, progress=False)
    assert again.resumed_from == 20
    assert again.history["loss"] == whole.history["loss"]
    for a, b in zip(again.model.state_dict().values(), whole.model.state_dict().values()):
        assert torch.equal(a, b)
    assert torch.equal(again.samples, whole.samples)
    other = diffusion.Diffusion2DConfig.for_mode("quick", width=16, depth=1, steps=30, n_eval=100, sample_steps=5,
                                                 checkpoint_every=10, lr=1e-4)
    with pytest.raises(CheckpointError, match="lr"):
        diffusion.train_diffusion_2d(other, "cpu", checkpoint_path=path, progress=False)


def test_mnist_resume_reproduces_the_uninterrupted_run(tmp_path, digits):
    images, labels = digits
    config = tiny_unet_config()
    whole = diffusion.train_diffusion_mnist(config, "cpu", images=images, labels=labels, progress=False)
    path = tmp_path / "mnist.pt"
    diffusion.train_diffusion_mnist(config, "cpu", images=images, labels=labels, checkpoint_path=path, stop_after=3,
                                    progress=False)
    again = diffusion.train_diffusion_mnist(config, "cpu", images=images, labels=labels, checkpoint_path=path,
                                            progress=False)
    assert again.resumed_from == 3 and again.history["loss"] == whole.history["loss"]
    for a, b in zip(again.model.state_dict().values(), whole.model.state_dict().values()):
        assert torch.equal(a, b)


def test_mnist_training_refuses_bad_images(digits):
    images, labels = digits
    config = tiny_unet_config(steps=1)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        diffusion.train_diffusion_mnist(config, "cpu", images=images.reshape(-1, 784), labels=labels, progress=False)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        diffusion.train_diffusion_mnist(config, "cpu", images=images * 2 - 1, labels=labels, progress=False)
    with pytest.raises(ValueError, match="one label per image"):
        diffusion.train_diffusion_mnist(config, "cpu", images=images, labels=labels[:10], progress=False)


def test_generated_digits_are_images_in_the_unit_range(digits):
    torch.manual_seed(0)
    model = diffusion.UNet((8, 8, 16), 16)
    sched = diffusion.get_schedule("linear")
    a = diffusion.generate_digits(model, sched, 6, steps=3, seed=1, batch=4)
    assert a.shape == (6, 1, 28, 28) and float(a.min()) >= 0 and float(a.max()) <= 1
    assert torch.equal(a, diffusion.generate_digits(model, sched, 6, steps=3, seed=1, batch=4))
    guided = diffusion.generate_digits(model, sched, 6, labels=torch.arange(6), guidance=2.0, steps=3, seed=1)
    assert guided.shape == a.shape and not torch.equal(guided, a)


def test_sample_2d_names_its_samplers(tiny_2d):
    with pytest.raises(KeyError, match="ddim, ddpm"):
        diffusion.sample_2d(tiny_2d.model, tiny_2d.schedule, 10, sampler="euler")
    assert diffusion.sample_2d(tiny_2d.model, tiny_2d.schedule, 10, sampler="ddpm", steps=5).shape == (10, 2)


def test_benchmarks_are_registered_and_report_the_gan_metric_names(tiny_2d):
    assert bench.resolve("diffusion-2d") is diffusion.bench_2d
    assert bench.resolve("diffusion-mnist") is diffusion.bench_mnist
    summary = diffusion.summary_2d({"ring": [tiny_2d, tiny_2d]})
    assert summary["ring.modes_covered"] == tiny_2d.modes_covered
    assert summary["per_seed"]["ring.high_quality"] == [tiny_2d.high_quality] * 2
    table = diffusion.table_2d({"ring": [tiny_2d, tiny_2d]})
    assert list(table["n_modes"]) == [8] and table["modes_std"][0] == 0


def test_mnist_training_stops_at_its_time_budget(digits):
    import dataclasses

    images, labels = digits
    assert diffusion.DiffusionMnistConfig.for_mode("full").max_train_seconds == 600.0
    config = dataclasses.replace(tiny_unet_config(), max_train_seconds=0.0)
    result = diffusion.train_diffusion_mnist(config, "cpu", images=images, labels=labels, progress=False)
    assert result.history["loss"] == []


def test_2d_runs_in_worker_processes_equal_the_runs_in_this_process():
    kw = dict(seeds=(0, 1), mixtures=("ring",), steps=20, width=16, depth=2, n_eval=200, sample_steps=5,
              progress=False)
    here = diffusion.seed_runs_2d("quick", device="cpu", workers=1, **kw)
    there = diffusion.seed_runs_2d("quick", device="cpu", workers=2, **kw)
    for a, b in zip(here["ring"], there["ring"]):
        assert a.history["loss"] == b.history["loss"] and torch.equal(a.samples, b.samples)


def test_full_mode_bench_records_both_sweeps(monkeypatch):
    """The full-mode record's extra curves (steps and guidance sweeps), with a tiny U-Net and a stand-in scorer."""
    import dataclasses
    from types import SimpleNamespace

    from aigc_lessons import metrics

    @dataclasses.dataclass
    class ClassifierConfig:
        width: int = 1

    calls = []

    def scorer(images):
        calls.append(len(images))
        assert images.shape[1:] == (1, 28, 28) and 0 <= float(images.min()) and float(images.max()) <= 1
        return SimpleNamespace(class_share_min=0.05, class_share_max=0.2, classes_present=10, mean_confidence=0.9,
                               frechet=float(len(calls)))

    class Evaluator:
        frechet_floor = 1.0
        classifier = SimpleNamespace(config=ClassifierConfig(), test_accuracy=0.99)

        def __call__(self, images):
            return scorer(images)

    evaluator = Evaluator()
    monkeypatch.setattr(metrics, "mnist_evaluator", lambda *a, **k: evaluator)
    tiny = tiny_unet_config(n_eval=20, sample_steps=2, steps=2)
    monkeypatch.setattr(diffusion.bench.DiffusionMnistConfig, "for_mode", classmethod(lambda cls, mode: tiny))
    out = diffusion.bench_mnist("full", torch.device("cpu"))["metrics"]
    # scored in this order: the trained U-Net, the untrained one (diffusion.score_vs_untrained), the guided samples
    assert out["steps"] == 2 and out["n_samples"] == 20 and out["frechet"] == 1.0 and out["frechet_untrained"] == 2.0
    assert out["guided"]["frechet"] == 3.0
    assert [r["sampling_steps"] for r in out["steps_sweep"]] == list(diffusion.bench.SWEEP_STEPS)
    assert [r["guidance"] for r in out["guidance_sweep"]] == list(diffusion.bench.SWEEP_GUIDANCE)
    assert calls == [20] * (3 + len(diffusion.bench.SWEEP_STEPS) + len(diffusion.bench.SWEEP_GUIDANCE))
    assert "steps_sweep" not in diffusion.bench_mnist("quick", torch.device("cpu"))["metrics"]


def test_the_untrained_reference_is_the_runs_own_initialisation(digits):
    """score_vs_untrained compares with a fresh U-Net from the run's seed: for a run of 0 steps the two coincide."""
    images, labels = digits
    result = diffusion.train_diffusion_mnist(tiny_unet_config(steps=0), "cpu", images=images, labels=labels,
                                             progress=False)
    seen = []

    def evaluator(x):
        seen.append(x.clone())
        return float(x.mean())

    trained, untrained, samples = diffusion.score_vs_untrained(evaluator, result, 6, 2)
    assert samples.shape == (6, 1, 28, 28) and torch.equal(seen[0], samples)
    assert torch.equal(seen[0], seen[1]) and trained == untrained
    with torch.no_grad():  # a changed model no longer matches its initialisation: the scores then differ
        next(result.model.parameters()).add_(1.0)
    trained, untrained, _ = diffusion.score_vs_untrained(evaluator, result, 6, 2)
    assert trained != untrained


def test_notebook_12s_gan_is_the_gan_chapters_r1_ema_with_its_own_length_in_both_modes():
    from aigc_lessons import gan
    from aigc_lessons.diffusion.bench import Study2DConfig

    for mode in ("quick", "full"):
        study = Study2DConfig.for_mode(mode)
        assert study.gan_method == "r1_ema"
        assert study.gan_steps == gan.Gan2DConfig.for_mode(mode, method=study.gan_method).steps
