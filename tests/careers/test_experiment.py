"""Chapter 5 model comparison: metrics, the baselines, and the registered benchmark."""

import numpy as np
import pytest

from aigc_lessons import bench, calibrate, careers


def test_baselines_and_metrics():
    y = np.array([0, 0, 0, 1, 2, 2])
    m = careers.majority_baseline([0, 0, 1], y)
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["macro_f1"] == pytest.approx((2 * 3 / (2 * 3 + 3 + 0)) / 3)
    # 40 + 20 synthetic 5-d points (default_rng(0)) labelled by the sign of the first coordinate: the
    # calibrated unit-careers-logreg run at seed 0
    unit, objects = calibrate.run_unit("unit-careers-logreg", 0)
    metrics, pred, c, y_test = objects["metrics"], objects["predictions"], objects["c"], objects["y_test"]
    calibrate.assert_checks("unit-careers-logreg", unit, "quick")  # held-out accuracy > 0.7 (14 of 20 and more)
    assert c in (0.1, 1.0, 10.0, 100.0)
    assert metrics == careers.classification_metrics(y_test, pred)
    assert metrics["accuracy"] == pytest.approx((pred == y_test).mean())


def test_bench_is_registered():
    assert bench.resolve("careers-finetune") is careers.bench_finetune
