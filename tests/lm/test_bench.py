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


def test_speed_metrics():
    out = lm.bench_shakespeare("full", torch.device("cpu"), steps=2, batch_size=2)
    m = out["metrics"]
    assert m["mfu"] is None and m["processes"] == 1  # no bf16 peak is known for a CPU
    assert m["seconds_to_target"] is None and m["best_step"] in (0, 2) and "val_loss_final" in m
    history = {"seconds": [0.0, 5.0, 9.0, 12.0], "val_loss": [4.2, 1.5, 1.47, 1.40]}
    assert lm.seconds_to_target(history) == 9.0  # the first evaluation at or below 1.47
    assert lm.seconds_to_target(history, target=1.0) is None
    cfg = lm.GPTConfig(vocab_size=65, block_size=256, n_layer=6, n_head=6, n_embd=384)
    n = 10_000_000
    assert lm.flops_per_token(cfg, n) == 6 * n + 12 * 6 * 256 * 384
    assert lm.bf16_peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert lm.bf16_peak_flops("NVIDIA H100 PCIe") == 756e12
    assert lm.bf16_peak_flops("NVIDIA H200") == 989e12 and lm.bf16_peak_flops("cpu") is None
