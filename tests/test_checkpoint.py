import os

import pytest
import torch

from aigc_lessons import checkpoint


def test_roundtrip_and_kind(tmp_path):
    path = tmp_path / "run" / "ckpt.pt"
    checkpoint.save_checkpoint({"kind": "gan", "step": 3, "w": torch.arange(4)}, path)
    state = checkpoint.load_checkpoint(path, kind="gan")
    assert state["step"] == 3 and torch.equal(state["w"], torch.arange(4))
    with pytest.raises(checkpoint.CheckpointError, match="expected 'vae'"):
        checkpoint.load_checkpoint(path, kind="vae")
    assert checkpoint.load_checkpoint(tmp_path / "missing.pt") is None


def test_failed_write_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "ckpt.pt"
    checkpoint.save_checkpoint({"kind": "x", "step": 1}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom in the middle of the write")

    with pytest.raises(RuntimeError, match="boom"):
        checkpoint.save_checkpoint({"kind": "x", "step": 2, "bad": Unpicklable()}, path)
    assert checkpoint.load_checkpoint(path)["step"] == 1
    assert os.listdir(tmp_path) == ["ckpt.pt"], "no temporary file may be left behind"


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(checkpoint.CheckpointError, match="delete it"):
        checkpoint.load_checkpoint(path)


def test_rng_state_roundtrip():
    g = torch.Generator().manual_seed(5)
    state = checkpoint.rng_state(g)
    a = (torch.rand(3), torch.rand(3, generator=g))
    checkpoint.set_rng_state(state, g)
    b = (torch.rand(3), torch.rand(3, generator=g))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
