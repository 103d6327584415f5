"""Checkpoints that survive interruption: written atomically, resumed exactly.

A checkpoint is a dict saved with :func:`torch.save`. :func:`save_checkpoint` writes it to a temporary
file in the same folder, flushes it to disk and renames it over the target, so a crash in the middle
leaves the previous checkpoint intact. :func:`load_checkpoint` returns ``None`` when there is none and
raises a clear error when the file is not a checkpoint of the expected kind.

To resume *exactly* (the same next steps as an uninterrupted run), a training loop stores the model,
the optimizer, its step counter and the state of every random number generator it draws from; see
:func:`rng_state` / :func:`set_rng_state`.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["save_checkpoint", "load_checkpoint", "rng_state", "set_rng_state", "CheckpointError"]


class CheckpointError(RuntimeError):
    """The checkpoint file exists but cannot be used (corrupt, or from another model)."""


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Atomically write ``state`` to ``path`` (temporary file + fsync + rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def load_checkpoint(path: str | os.PathLike, *, kind: str | None = None,
                    map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """Load a checkpoint, or return ``None`` if ``path`` does not exist.

    When ``kind`` is given the checkpoint's ``"kind"`` entry must match, so a GAN checkpoint is never
    loaded into a VAE by mistake.
    """
    target = Path(path)
    if not target.exists():
        return None
    try:
        state = torch.load(target, map_location=map_location, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same thing here
        raise CheckpointError(f"Checkpoint {target} cannot be read ({exc}); delete it to start afresh.") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"Checkpoint {target} does not hold a dict; delete it to start afresh.")
    if kind is not None and state.get("kind") != kind:
        raise CheckpointError(
            f"Checkpoint {target} is of kind {state.get('kind')!r}, expected {kind!r}; "
            "use another checkpoint path or delete it."
        )
    return state


def rng_state(generator: torch.Generator | None = None) -> dict[str, Any]:
    """Capture Python, NumPy, torch (CPU and CUDA) RNG states and an optional explicit generator."""
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }
    if generator is not None:
        state["generator"] = generator.get_state()
    return state


def set_rng_state(state: dict[str, Any], generator: torch.Generator | None = None) -> None:
    """Restore what :func:`rng_state` captured."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if generator is not None and "generator" in state:
        generator.set_state(state["generator"])
