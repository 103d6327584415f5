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
