import random

import numpy as np
import pytest
import torch

from aigc_lessons import runtime


@pytest.mark.parametrize("value,expected", [("quick", "quick"), ("FULL", "full"), (" quick ", "quick")])
def test_explicit_modes(value, expected):
    assert runtime.resolve_mode(value) == expected


def test_auto_mode_follows_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert runtime.resolve_mode("auto") == "quick"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.resolve_mode("auto") == "full"


def test_mode_from_environment(monkeypatch):
    monkeypatch.setenv("AIGC_MODE", "full")
    assert runtime.resolve_mode() == "full"
    monkeypatch.setenv("AIGC_MODE", "turbo")
    with pytest.raises(ValueError, match="quick, full, auto"):
        runtime.resolve_mode()


def test_unknown_mode_names_valid_values():
    with pytest.raises(ValueError) as err:
        runtime.resolve_mode("fast")
    assert "'fast'" in str(err.value) and "quick" in str(err.value) and "auto" in str(err.value)


def test_device_choice(monkeypatch):
    assert runtime.resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(runtime, "_mps_available", lambda: False)
    assert runtime.resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(runtime, "_mps_available", lambda: True)
    assert runtime.resolve_device("auto") == torch.device("mps")


@pytest.mark.parametrize("bad", ["gpu", "tpu", "cpu:0", "cuda:x", ""])
def test_unknown_device_is_rejected(bad, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: bad.startswith("cuda"))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match="device"):
        runtime.resolve_device(bad)


def test_missing_accelerator_is_an_error_not_a_silent_fallback(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(runtime, "_mps_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        runtime.resolve_device("cuda")
    with pytest.raises(ValueError, match="MPS is not available"):
        runtime.resolve_device("mps")
    monkeypatch.setenv("AIGC_DEVICE", "cuda")
    with pytest.raises(ValueError):
        runtime.resolve_device()


def test_seed_everything_repeats_all_generators():
    def draw():
        g = runtime.seed_everything(7)
        return random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=g).item()

    assert draw() == draw()
    with pytest.raises(ValueError):
        runtime.seed_everything(-1)


def test_environment_summary_mentions_mode_device_versions():
    line = runtime.environment_summary("quick", "cpu")
    assert "mode=quick" in line and "device=cpu" in line and torch.__version__ in line
    assert "\n" not in line


def test_pick():
    assert runtime.pick("quick", 1, 2) == 1
    assert runtime.pick("full", 1, 2) == 2


def test_training_progress_follows_steps_or_time_whichever_is_further():
    from aigc_lessons.runtime import training_progress

    assert training_progress(0, 100, 0.0, None) == 0.0
    assert training_progress(50, 100, 1e9, None) == 0.5  # no time budget: steps only
    assert training_progress(50, 100, 30.0, 40.0) == 0.75  # time is further along
    assert training_progress(90, 100, 1.0, 40.0) == 0.9
    assert training_progress(10, 100, 80.0, 40.0) == 1.0  # capped at 1
    assert training_progress(0, 100, 0.0, 0.0) == 1.0  # a zero budget allows no step


def _square(x: int) -> int:
    return x * x


def test_process_map_returns_results_in_input_order_with_or_without_processes():
    from aigc_lessons.runtime import process_map

    items = [3, 1, 4, 1, 5]
    assert process_map(_square, items, 1, progress=False) == [9, 1, 16, 1, 25]
    assert process_map(_square, items, 2, progress=False) == [9, 1, 16, 1, 25]


def _fake_train(config: int, device: str | None = None, *, progress: bool = True) -> tuple:
    import os

    return config, str(device), progress, os.getpid()


def test_train_runs_uses_processes_on_a_cpu_only_and_keeps_the_order():
    import os

    from aigc_lessons.runtime import train_runs

    here = train_runs(_fake_train, [2, 7, 1], "cpu", workers=1, progress=False)
    assert [r[:3] for r in here] == [(2, "cpu", False), (7, "cpu", False), (1, "cpu", False)]
    assert {r[3] for r in here} == {os.getpid()}
    there = train_runs(_fake_train, [2, 7, 1], "cpu", workers=2)  # each worker: no bar of its own
    assert [r[:3] for r in there] == [(2, "cpu", False), (7, "cpu", False), (1, "cpu", False)]
    assert os.getpid() not in {r[3] for r in there}
    assert train_runs(_fake_train, [5], "cpu", workers=2, progress=True)[0][:3] == (5, "cpu", True)  # one run: here
