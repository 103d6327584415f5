"""aigc_lessons.lm.bench: full mode's configurations start on a CPU (test-only caps)."""

import math

import torch

from aigc_lessons import lm


def test_full_mode_bench_starts_on_cpu():
    out = lm.bench_shakespeare("full", torch.device("cpu"), steps=1, batch_size=2)
    assert out["config"]["model"]["n_layer"] == 6 and math.isfinite(out["metrics"]["val_loss"])
    assert out["config"]["train"]["steps"] == 1 and out["config"]["train"]["batch_size"] == 2
    out = lm.bench_tang("quick", torch.device("cpu"), steps=2, batch_size=2, n_samples=3)
    assert set(out["metrics"]) >= {"val_loss", "format_rate", "format_rate_train"}
