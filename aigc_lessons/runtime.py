"""Run-time choices that every chapter shares: mode, device, seeds and the environment line.

Modes
-----
``quick``  CPU-sized runs (CI, a laptop, a workshop room): minutes, small models, still learning
           something visible.
``full``   GPU-sized runs that aim at the published-quality numbers quoted in the book.
``auto``   ``full`` when a CUDA GPU is present, ``quick`` otherwise (the default).

The mode comes from the ``AIGC_MODE`` environment variable unless passed explicitly; the device from
``AIGC_DEVICE`` (``cuda``, ``cuda:N``, ``mps``, ``cpu`` or ``auto``), else CUDA, then Apple's MPS,
then CPU.
"""

from __future__ import annotations

import os
import platform
import random
import sys
from typing import Literal

import numpy as np
import torch

Mode = Literal["quick", "full"]
VALID_MODES = ("quick", "full", "auto")
VALID_DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_mode(mode: str | None = None) -> Mode:
    """Return ``"quick"`` or ``"full"`` from ``mode`` or ``$AIGC_MODE`` (default ``auto``).

    Raises ``ValueError`` naming the valid values for anything else.
    """
    raw = mode if mode is not None else os.environ.get("AIGC_MODE", "auto")
    value = str(raw).strip().lower()
    if value not in VALID_MODES:
        raise ValueError(
            f"Unknown AIGC mode {raw!r}: valid values are {', '.join(VALID_MODES)} "
            "(set AIGC_MODE or pass mode=...)."
        )
    if value == "auto":
        return "full" if torch.cuda.is_available() else "quick"
    return value  # type: ignore[return-value]


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(device: str | None = None) -> torch.device:
    """Pick the device: explicit argument, else ``$AIGC_DEVICE``, else CUDA → MPS → CPU.

    A device that is named but not present is an error, not a silent fallback, so a reader who
    asked for a GPU learns that they do not have one.
    """
    raw = device if device is not None else os.environ.get("AIGC_DEVICE", "auto")
    value = str(raw).strip().lower()
    kind = value.split(":", 1)[0]
    if kind not in VALID_DEVICES or (":" in value and kind != "cuda"):
        raise ValueError(
            f"Unknown device {raw!r}: valid values are auto, cpu, cuda, cuda:N, mps "
            "(set AIGC_DEVICE or pass device=...)."
        )
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"Device {raw!r} was requested but CUDA is not available here; use cpu or auto.")
        if ":" in value:
            index = value.split(":", 1)[1]
            if not index.isdigit() or int(index) >= torch.cuda.device_count():
                raise ValueError(f"Device {raw!r}: there are {torch.cuda.device_count()} CUDA devices.")
        return torch.device(value)
    if kind == "mps" and not _mps_available():
        raise ValueError(f"Device {raw!r} was requested but Apple MPS is not available here; use cpu or auto.")
    return torch.device(kind)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (all devices) and return a CPU generator seeded the same.

    Returning a generator lets code draw random numbers without relying on global state.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)


def environment_summary(mode: str | None = None, device: str | None = None) -> str:
    """One line with versions, device and mode; every notebook prints it in its first cell."""
    m = resolve_mode(mode)
    d = resolve_device(device)
    name = str(d)
    if d.type == "cuda":
        name += f" ({torch.cuda.get_device_name(d)})"
    return (
        f"aigc_lessons mode={m} device={name} torch={torch.__version__} "
        f"python={platform.python_version()} numpy={np.__version__} "
        f"threads={torch.get_num_threads()} platform={sys.platform}"
    )


def pick(mode: Mode, quick, full):
    """Return ``quick`` or ``full`` by mode: the one place where a config branches on mode."""
    return full if resolve_mode(mode) == "full" else quick
