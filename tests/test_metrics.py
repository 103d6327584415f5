"""Fréchet distance, mode coverage and the cached MNIST evaluation classifier."""

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch

from aigc_lessons import calibrate, metrics, runtime
from aigc_lessons.data import load_mnist


def stats(mu, sigma):
    return metrics.GaussianStats(np.asarray(mu, float), np.asarray(sigma, float), n=0)


def test_frechet_distance_of_identical_gaussians_is_zero():
    s = stats([1.0, -2.0], [[2.0, 0.3], [0.3, 1.0]])
    assert metrics.frechet_distance(s, s) == pytest.approx(0.0, abs=1e-10)


def test_frechet_distance_in_one_dimension():
    # W2^2 between N(m1, s1^2) and N(m2, s2^2) is (m1 - m2)^2 + (s1 - s2)^2
    a, b = stats([1.0], [[4.0]]), stats([-0.5], [[0.25]])
    assert metrics.frechet_distance(a, b) == pytest.approx(1.5 ** 2 + (2.0 - 0.5) ** 2, abs=1e-10)


def test_frechet_distance_with_non_commuting_covariances():
    theta = 0.7
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    s1 = np.diag([4.0, 1.0])
    s2 = rot @ np.diag([9.0, 0.5]) @ rot.T
    mu1, mu2 = np.array([0.0, 1.0]), np.array([2.0, -1.0])
    # independent route: scipy's general matrix square root of S1 S2
    exact = float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real))
    assert metrics.frechet_distance(stats(mu1, s1), stats(mu2, s2)) == pytest.approx(exact, abs=1e-9)
    assert metrics.frechet_distance(stats(mu2, s2), stats(mu1, s1)) == pytest.approx(exact, abs=1e-9)


def test_frechet_distance_from_samples_converges_to_the_closed_form():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50_000, 3, generator=g, dtype=torch.float64)
    y = torch.randn(50_000, 3, generator=g, dtype=torch.float64) * torch.tensor([1.0, 2.0, 0.5]) + 1.0
    exact = 3 * 1.0 + (0 + 1.0 + 0.25)  # |mu|^2 + sum (1 - s)^2
    assert metrics.frechet_distance_features(x, y) == pytest.approx(exact, rel=0.03)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError):
        metrics.gaussian_stats(torch.zeros(10))
    with pytest.raises(ValueError):
        metrics.frechet_distance(stats([0.0], [[1.0]]), stats([0.0, 0.0], np.eye(2)))
    with pytest.raises(ValueError):
        metrics.mode_coverage(torch.zeros(5, 3), torch.zeros(2, 2), 0.1)
    with pytest.raises(ValueError):
        metrics.mode_coverage(torch.zeros(5, 2), torch.zeros(2, 2), 0.0)


def test_mode_coverage_counts_a_mode_from_twenty_samples():
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    sigma = 0.1
    near0 = torch.full((20, 2), 0.2)  # distance 0.283 < 3 sigma = 0.3
    near1 = torch.tensor([[10.0, 0.0]]).repeat(19, 1)  # only 19: not covered
    far = torch.tensor([[5.0, 5.0]]).repeat(11, 1)  # low quality
    cov = metrics.mode_coverage(torch.cat([near0, near1, far]), centers, sigma)
    assert cov.counts == [20, 19, 0]
    assert cov.modes_covered == 1
    assert cov.high_quality == pytest.approx(39 / 50)


def test_real_samples_of_a_2d_gaussian_score_98_9_percent():
    # in 2-D, P(|x - c| < 3 sigma) = 1 - exp(-9/2) = 0.98889: the ceiling of "high quality"
    g = torch.Generator().manual_seed(1)
    x = 0.05 * torch.randn(200_000, 2, generator=g)
    cov = metrics.mode_coverage(x, torch.zeros(1, 2), 0.05)
    assert cov.high_quality == pytest.approx(1 - math.exp(-4.5), abs=2e-3)
    assert cov.spread == pytest.approx(1.0, abs=5e-3)  # the data's own width


@pytest.mark.parametrize("dim", [1, 2, 5])
def test_real_spread_matches_sampling(dim):
    """The closed form of the RMS distance of within-3-sigma samples, against 400,000 Gaussian samples."""
    r = torch.randn(400_000, dim, generator=torch.Generator().manual_seed(dim), dtype=torch.float64).norm(dim=1)
    assert metrics.real_spread(dim) == pytest.approx(float((r[r < 3] ** 2).mean().sqrt()), rel=2e-3)
    assert metrics.real_spread(2) == pytest.approx(math.sqrt(2 - 9 * math.exp(-4.5) / (1 - math.exp(-4.5))))
    page = (Path(__file__).resolve().parent.parent / "book" / "ch02_gan" / "math.md").read_text(encoding="utf-8")
    assert f"\\approx {metrics.real_spread(2) ** 2:.3f}" in page and f"{metrics.real_spread(2):.3f}\\,\\sigma" in page


def test_spread_sees_modes_narrower_than_the_data():
    """A generator that puts its samples at 40% of the data's width scores *more* high-quality samples than the
    data (the ceiling is 98.9%) and is caught by the spread; a generator with nothing near a mode has none."""
    g = torch.Generator().manual_seed(3)
    centres = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    narrow = centres[torch.randint(2, (50_000,), generator=g)] + 0.4 * 0.05 * torch.randn(50_000, 2, generator=g)
    cov = metrics.mode_coverage(narrow, centres, 0.05)
    assert cov.high_quality == 1.0 and cov.spread == pytest.approx(0.4 / metrics.real_spread(2) * math.sqrt(2),
                                                                   rel=0.02)
    assert math.isnan(metrics.mode_coverage(torch.full((10, 2), 1.0), centres, 0.05).spread)


def test_spread_of_real_samples_is_one_at_any_threshold():
    """The spread divides by the real spread *at the same threshold*: samples of the data themselves score 1 for
    n_sigma = 2 as for 3 (a ruler fixed at 3 sigma would read 1.172 / 1.378 = 0.85 at 2 sigma)."""
    g = torch.Generator().manual_seed(4)
    centres = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    real = centres[torch.randint(2, (200_000,), generator=g)] + 0.05 * torch.randn(200_000, 2, generator=g)
    for n_sigma in (2.0, 3.0):
        assert metrics.mode_coverage(real, centres, 0.05, n_sigma=n_sigma).spread == pytest.approx(1.0, abs=0.01)


TINY = metrics.ClassifierConfig(c1=8, c2=16, feature_dim=32, epochs=2, batch_size=64, lr=5e-3, train_subset=4096,
                                seed=0)


@pytest.fixture(scope="module")
def mnist():
    return load_mnist("train"), load_mnist("test")


@pytest.fixture(scope="module")
def unit_classifier(mnist):
    """TINY trained once (the calibrated unit-mnist-classifier run at seed 0): ``(metrics, objects)``."""
    unit, objects = calibrate.run_unit("unit-mnist-classifier", TINY.seed, data=mnist)
    assert objects["config"] == TINY
    return unit, objects


def test_classifier_is_cached_atomically_and_reused(tmp_path, monkeypatch, mnist, unit_classifier):
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path))
    path = metrics.classifier_path(TINY)
    assert path.parent == tmp_path / "models"
    first = metrics.load_or_train_mnist_classifier(config=TINY, progress=False, data=mnist)
    assert not first.from_cache and path.exists()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
    unit, _ = unit_classifier
    assert first.test_accuracy == unit["test_accuracy"]  # the calibrated training: same seed, same threads
    calibrate.assert_checks("unit-mnist-classifier", unit, "quick", only=["test_accuracy"])  # 4,096 images, two epochs
    again = metrics.load_or_train_mnist_classifier(config=TINY, progress=False, data=mnist)
    assert again.from_cache and again.test_accuracy == first.test_accuracy
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)
    other = metrics.ClassifierConfig(**{**TINY.__dict__, "seed": 7})
    assert metrics.classifier_path(other) != path  # another configuration never loads these weights
    path.write_bytes(b"not a checkpoint")  # a corrupt cache file is retrained, not trusted
    assert not metrics.load_or_train_mnist_classifier(config=TINY, progress=False, data=mnist).from_cache


def test_classifier_metrics_on_real_and_degenerate_images(mnist, unit_classifier):
    unit, objects = unit_classifier
    clf, reference, floor = objects["classifier"], objects["reference"], objects["floor"]
    again, floor_again = metrics.real_frechet_floor(clf, n=2000, data=mnist)
    assert floor_again == floor and np.array_equal(again.mu, reference.mu)
    (_, _), (xt, _) = mnist
    real = metrics.classifier_metrics(xt[2000:4000], clf, reference)
    assert real == objects["real"]
    # all ten digits among 2,000 real test images, every one with a share in (4%, 20%)
    calibrate.assert_checks("unit-mnist-classifier", unit, "quick",
                            only=["real_classes_present", "real_class_share_min", "real_class_share_max"])
    assert real.class_share_min <= real.class_share_max and sum(real.class_shares) == pytest.approx(1.0)
    blank = metrics.classifier_metrics(torch.zeros(500, 1, 28, 28), clf, reference)
    assert blank.class_share_max == 1.0  # one image repeated: one class
    assert unit["blank_frechet_over_real"] == blank.frechet / max(real.frechet, floor)
    calibrate.assert_checks("unit-mnist-classifier", unit, "quick", only=["blank_frechet_over_real"])  # > 10x
    with pytest.raises(ValueError):
        metrics.classifier_metrics(torch.zeros(5, 1, 7, 7), clf, reference)


def test_mnist_evaluator_bundles_the_classifier_its_reference_and_the_floor(tmp_path, monkeypatch, mnist):
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path))
    ev = metrics.mnist_evaluator("quick", progress=False, data=mnist)
    assert ev.classifier.config == metrics.ClassifierConfig.for_mode("quick")
    assert ev.reference.mu.shape == (ev.classifier.config.feature_dim,)
    # the reference is the 10,000 real test images; the floor, their distance to 10,000 other real digits
    # (training images drawn with seed 0), which is not 0
    (x, _), (xt, _) = mnist
    test_feats, _ = metrics.classifier_features(ev.classifier.model, xt[:10_000])
    others = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:10_000]]
    train_feats, _ = metrics.classifier_features(ev.classifier.model, others)
    np.testing.assert_allclose(ev.reference.mu, test_feats.double().mean(0).numpy(), rtol=1e-5, atol=1e-6)
    assert ev.frechet_floor == pytest.approx(metrics.frechet_distance_features(test_feats, train_feats), rel=1e-6)
    assert ev.frechet_floor > 0
    again = metrics.mnist_evaluator("quick", progress=False, data=mnist)
    assert again.classifier.from_cache and again.frechet_floor == pytest.approx(ev.frechet_floor)


def test_mode_coverage_details():
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    on_the_boundary = torch.tensor([[3.0, 0.0]])  # exactly 3 sigma away: not *below* 3 sigma
    cov = metrics.mode_coverage(on_the_boundary, centers, 1.0)
    assert cov.high_quality == 0.0 and cov.counts == [0, 0, 0] and cov.n_modes == 3
    empty = metrics.mode_coverage(torch.zeros(0, 2), centers, 1.0)
    assert empty.high_quality == 0.0 and empty.modes_covered == 0 and empty.n_modes == 3
    with pytest.raises(ValueError, match="mode_coverage expects samples"):
        metrics.mode_coverage(torch.zeros(5, 2, 1), torch.zeros(2, 2), 0.1)
    with pytest.raises(ValueError, match="mode_coverage expects samples"):
        metrics.mode_coverage(torch.zeros(5, 2), torch.zeros(2, 2, 1), 0.1)
    with pytest.raises(ValueError, match="sigma must be positive"):
        metrics.mode_coverage(torch.zeros(5, 2), torch.zeros(2, 2), -1.0)


def test_classifier_metrics_recomputed_from_the_classifiers_outputs():
    """Shares, confidence, count and Fréchet distance from an (untrained, seeded) classifier's own outputs."""
    torch.manual_seed(0)
    clf = metrics.MnistClassifier(4, 8, 16).eval()
    g = torch.Generator().manual_seed(1)
    images = torch.rand(300, 1, 28, 28, generator=g)
    reference = metrics.gaussian_stats(torch.randn(500, 16, generator=g))
    m = metrics.classifier_metrics(images, clf, reference)
    with torch.no_grad():
        feats = clf.features(images)
        probs = clf.head(feats).softmax(dim=1)
    labels = probs.argmax(1)
    shares = [float((labels == c).sum()) / 300 for c in range(10)]
    assert len(m.class_shares) == 10 and m.class_shares == pytest.approx(shares)
    assert m.class_share_min == min(shares) and m.class_share_max == max(shares)
    assert m.classes_present == sum(s >= 0.01 for s in shares)
    assert m.mean_confidence == pytest.approx(probs.max(1).values.mean().item(), rel=1e-6)
    assert m.n == 300
    assert m.frechet == pytest.approx(metrics.frechet_distance(metrics.gaussian_stats(feats), reference), rel=1e-6)
    # "at least min_share": a class holding exactly that share counts
    top = max(shares)
    assert metrics.classifier_metrics(images, clf, reference, min_share=top).classes_present == shares.count(top)
    with pytest.raises(ValueError, match="classifier_metrics expects images"):
        metrics.classifier_metrics(torch.zeros(5, 1, 7, 7), clf, reference)


def test_classifier_config_for_mode():
    quick, full = metrics.ClassifierConfig.for_mode("quick"), metrics.ClassifierConfig.for_mode("full")
    assert (quick.c1, quick.c2, quick.feature_dim, quick.epochs) == (16, 32, 64, 2)
    assert (full.c1, full.c2, full.feature_dim, full.epochs) == (32, 64, 128, 6)
    assert quick.cpu_threads == full.cpu_threads == 2  # a measuring instrument: pinned in both modes


def test_classifier_trains_on_its_pinned_threads(mnist, optimizer_step_state):
    """Every optimiser step of the classifier's training sees the config's thread count; the caller's
    number is restored afterwards (so its weights, and the gan-mnist calibration, do not depend on the machine)."""
    config = metrics.ClassifierConfig(c1=4, c2=4, feature_dim=8, epochs=1, batch_size=64, train_subset=256)
    with runtime.cpu_threads(1):
        metrics.train_mnist_classifier(config, "cpu", progress=False, data=mnist)
        assert torch.get_num_threads() == 1
    assert optimizer_step_state and {threads for threads, _ in optimizer_step_state} == {2}
    assert metrics.ClassifierConfig.for_mode("full", epochs=1).epochs == 1


def test_gaussian_stats_from_tensors_arrays_and_lists_in_float64():
    """Sample mean and unbiased covariance, written out, whatever container and float width come in."""
    rows = [[1.0, 2.0, 0.5], [2.0, -1.0, 0.0], [4.0, 0.0, 1.5], [0.5, 1.0, -2.0]]
    x = np.array(rows)
    mean = x.mean(axis=0)
    cov = (x - mean).T @ (x - mean) / (len(x) - 1)
    layer = torch.nn.Linear(3, 3)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(3))
        layer.bias.zero_()
    for features in (torch.tensor(rows), layer(torch.tensor(rows)), x.astype(np.float32), rows):  # incl. a tensor with grad
        s = metrics.gaussian_stats(features)
        assert s.n == 4 and s.mu.dtype == s.sigma.dtype == np.float64
        np.testing.assert_allclose(s.mu, mean, rtol=1e-6)
        np.testing.assert_allclose(s.sigma, cov, rtol=1e-6)
    one_feature = metrics.gaussian_stats(np.array([[1.0], [2.0], [4.0]]))
    assert one_feature.sigma.shape == (1, 1) and one_feature.sigma[0, 0] == pytest.approx(7 / 3)
    two_rows = metrics.gaussian_stats(np.array([[0.0, 1.0], [2.0, 3.0]]))
    assert two_rows.n == 2 and two_rows.sigma == pytest.approx(np.full((2, 2), 2.0))
    with pytest.raises(ValueError, match=r"N >= 2"):
        metrics.gaussian_stats(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="feature dimensions differ"):
        metrics.frechet_distance(stats([0.0], [[1.0]]), stats([0.0, 0.0], np.eye(2)))


def test_coverage_over_seeds_gives_means_sample_spreads_and_per_seed_values():
    import math

    from aigc_lessons.metrics import coverage_over_seeds

    row = coverage_over_seeds([8, 6, 7], [0.9, 0.8, 0.85123])
    assert row["modes_mean"] == 7.0 and row["modes_std"] == pytest.approx(1.0)  # sample sd of 8, 6, 7
    assert row["hq_mean"] == pytest.approx(0.85041, abs=1e-5) and row["hq_std"] == pytest.approx(0.0500, abs=1e-3)
    assert row["per_seed_modes"] == [8, 6, 7] and row["per_seed_hq"] == [0.9, 0.8, 0.8512]
    one = coverage_over_seeds([5], [0.5])
    assert math.isnan(one["modes_std"]) and math.isnan(one["hq_std"]) and one["modes_mean"] == 5.0
    with pytest.raises(ValueError, match="one high-quality share per run"):
        coverage_over_seeds([1, 2], [0.5])


def test_mixture_bench_metrics_names_means_and_per_seed_lists_by_mixture():
    from types import SimpleNamespace

    runs = [SimpleNamespace(modes_covered=m, high_quality=q, coverage=SimpleNamespace(spread=w))
            for m, q, w in [(8, 0.99, 0.8), (6, 0.97, float("nan"))]]
    means, per_seed = metrics.mixture_bench_metrics("ring", runs)
    assert means == {"ring.modes_covered": 7.0, "ring.high_quality": pytest.approx(0.98), "ring.spread": None}
    assert per_seed == {"ring.modes_covered": [8, 6], "ring.high_quality": [0.99, 0.97], "ring.spread": [0.8, None]}
    means, _ = metrics.mixture_bench_metrics("grid", runs[:1])
    assert means["grid.spread"] == pytest.approx(0.8) and set(means) == {"grid.modes_covered",
                                                                        "grid.high_quality", "grid.spread"}


def test_frechet_ruler_orders_known_damage_to_real_digits(mnist, unit_classifier):
    """Undamaged real digits sit near the floor (ratio near 1); every kind of damage moves them away, and more
    pixel noise moves them farther. An evaluator that ignored its input, or a ruler that forgot to divide by
    the floor, fails here."""
    _, objects = unit_classifier
    reference, floor = metrics.real_frechet_floor(objects["classifier"], n=10_000, data=mnist)
    ev = metrics.MnistEvaluator(classifier=metrics.ClassifierResult(objects["classifier"], TINY, 0.0, 0.0),
                                reference=reference, frechet_floor=floor)
    (x, _), _ = mnist
    ruler = metrics.frechet_ruler(ev, x[20_000:30_000])
    names = list(ruler)
    assert names[0] == "untouched" and len(names) == 4 + len(metrics.RULER_NOISE)
    assert 0.5 < ruler["untouched"] < 2.0
    assert all(ruler[k] > 1.5 * ruler["untouched"] for k in names[1:])  # measured: 2.5x and more
    noise = [ruler[f"pixel noise, sigma {s:g}"] for s in metrics.RULER_NOISE]
    assert noise == sorted(noise) and noise[-1] > 3 * noise[0]
    with pytest.raises(ValueError, match="shape"):
        metrics.frechet_ruler(ev, x[:10].view(10, 784))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.frechet_ruler(ev, x[:10] * 2 - 1)
