"""The chapter's benchmark in both modes (full mode started on a CPU for a few steps)."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from aigc_lessons import bench, calibrate, vae


def test_bench_quick_mode_writes_the_conventional_metrics():
    # vae.bench_mnist("quick", cpu, stop_after=30, eval_images=50, seed=0) with a fresh checkpoint: unit-vae-bench
    metrics, objects = calibrate.run_unit("unit-vae-bench", 0)
    out = objects["out"]
    m = out["metrics"]
    assert set(["test_nll_nats", "k", "test_neg_elbo_nats"]) <= set(m)
    assert m["k"] == vae.VAEConfig.for_mode("quick").nll_k and m["steps"] == 30 and not m["finished"]
    assert m["n_test"] == 50 and m["resumed_from_step"] == 0 and out["config"]["seed"] == 0
    assert m["test_nll_nats"] > 0  # binary data
    # 30 steps take the test NLL far below an untrained model's (about 544 nats); the k = 500 bound sits
    # several nats below the one-sample negative ELBO (a bound computed with k = 1 would not)
    assert metrics["neg_elbo_minus_nll"] == pytest.approx(m["test_neg_elbo_nats"] - m["test_nll_nats"])
    calibrate.assert_checks("unit-vae-bench", metrics, "quick")
    json.dumps(bench._jsonable(out))
    assert bench.resolve("vae-mnist") is vae.bench_mnist


def test_full_mode_starts_on_cpu(tmp_path):
    """The GPU configuration (two stochastic layers, IWAE k = 16, k = 5,000 for the NLL) runs a few steps here."""
    out = vae.bench_mnist("full", torch.device("cpu"), stop_after=2, eval_images=4,
                          checkpoint_path=tmp_path / "f.pt", progress=False)
    m = out["metrics"]
    assert m["k"] == 5000 and m["n_test"] == 4 and m["steps"] == 2
    assert math.isfinite(m["test_nll_nats"]) and m["test_nll_nats"] > 0
    assert out["config"] == dataclasses.asdict(vae.VAEConfig.for_mode("full"))
    assert out["config"]["stochastic_layers"] == 2
