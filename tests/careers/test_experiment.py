"""Chapter 5 model comparison: metrics, the baselines, and the registered benchmark."""

import numpy as np
import pytest

from aigc_lessons import bench, careers


def test_baselines_and_metrics():
    y = np.array([0, 0, 0, 1, 2, 2])
    m = careers.majority_baseline([0, 0, 1], y)
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["macro_f1"] == pytest.approx((2 * 3 / (2 * 3 + 3 + 0)) / 3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5))
    yy = (x[:, 0] > 0).astype(int)
    metrics, pred, c = careers.frozen_logreg_baseline(x[:40], yy[:40], x[40:], yy[40:],
                                                      groups=np.arange(40) % 8)
    assert metrics["accuracy"] > 0.8 and c in (0.1, 1.0, 10.0, 100.0)
    assert metrics == careers.classification_metrics(yy[40:], pred)
    assert metrics["accuracy"] == pytest.approx((pred == yy[40:]).mean())


def test_bench_is_registered():
    assert bench.resolve("careers-finetune") is careers.bench_finetune
