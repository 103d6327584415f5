"""Run-time choices that every chapter shares: mode, device, seeds and the environment line.

Modes:

* ``quick``: CPU-sized runs (CI, a laptop, a workshop room): minutes, small models, still learning
  something visible.
* ``full``: GPU-sized runs that aim at the published-quality numbers quoted in the book.
* ``auto``: ``full`` when a CUDA GPU is present, ``quick`` otherwise (the default).

The mode comes from the ``AIGC_MODE`` environment variable unless passed explicitly; the device from
``AIGC_DEVICE`` (``cuda``, ``cuda:N``, ``mps``, ``cpu`` or ``auto``), else CUDA, then Apple's MPS,
then CPU.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import sys
from typing import Iterator, Literal

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


def for_mode(cls, mode: str | None, quick: dict, full: dict, **overrides):
    """Build config ``cls`` from its quick or full field values, then apply ``overrides``.

    The one style every ``Config.for_mode`` uses: the two sets of values sit side by side in the
    class, a reader compares them at a glance, and a keyword overrides any field (tests use tiny
    sizes). An override that names no field of ``cls`` is a ``TypeError``.
    """
    values = {**pick(mode, quick, full), **overrides}
    return cls(**values)


@contextlib.contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` intra-op CPU threads, then restore the previous number.

    ``None`` leaves the number unchanged. Small models (MLPs of a few thousand weights, a
    character-level GPT on a laptop) do too little work per operation to split it: on a busy
    two-core machine the threads mostly wait for each other, and one thread can run several times
    faster. Pinning the number also pins the order of floating-point sums, so a quick-mode result
    does not depend on how many cores the machine has.
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"cpu_threads takes a positive int or None, got {n!r}")
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def single_thread_if_cpu(device: torch.device | str) -> contextlib.AbstractContextManager:
    """One CPU thread for the block when ``device`` is the CPU; nothing changes on a GPU."""
    return cpu_threads(1 if torch.device(device).type == "cpu" else None)


@contextlib.contextmanager
def reproducible(device: torch.device | str, threads: int | None, deterministic: bool) -> Iterator[None]:
    """Run a training loop with ``threads`` CPU threads (on a CPU) and, if ``deterministic``, torch's
    deterministic algorithms; restore both afterwards.

    Every trainer's loop runs inside this block, with the two values from its config: quick mode pins
    the thread count (so the order of floating-point sums, and with it a chaotic run's result, does
    not depend on how many cores the machine has) and asks for deterministic kernels
    (``torch.use_deterministic_algorithms``), which matter on a GPU (scatter-adds, some convolution
    backward passes) and cost next to nothing on a CPU. Full mode passes ``None`` and ``False``: the
    fastest kernels and every core. Where torch has no deterministic kernel for an operation it warns
    instead of failing (``warn_only``), so a quick run on a GPU still completes.
    """
    if not isinstance(deterministic, bool):
        raise TypeError(f"deterministic must be a bool, got {deterministic!r}")
    dev = torch.device(device)
    was_on = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    with cpu_threads(threads if dev.type == "cpu" else None):
        if deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was_on, warn_only=was_warn_only)


def training_progress(step: int, steps: int, elapsed: float, max_seconds: float | None) -> float:
    """How far a training run is, in [0, 1]: ``step / steps``, or the share ``elapsed / max_seconds`` of
    its wall-clock budget when that is further along (``max_seconds=None``: steps only).

    Full-mode trainers that promise a result within a time (the VAE's 570 s, DCGAN's five minutes)
    stop when this reaches 1 and may drive their learning-rate schedule with it, so a slower machine
    ends on time with a fully decayed schedule instead of being cut off half-way.
    """
    done = step / max(steps, 1)
    if max_seconds is not None:
        done = max(done, elapsed / max_seconds) if max_seconds > 0 else 1.0
    return min(done, 1.0)


def process_map(func, items: list, workers: int = 1, *, progress: bool = True, desc: str = "runs") -> list:
    """``[func(x) for x in items]``, ``workers`` at a time in separate processes (1: in this process).

    For independent CPU training runs: each item carries its own seed, so the results do not depend
    on ``workers``. ``func`` must be a module-level function (it is pickled) and should return CPU
    tensors. Workers are started with multiprocessing's ``spawn`` method, which re-imports the calling
    script: a script (not a notebook) that asks for several workers needs the usual
    ``if __name__ == "__main__":`` guard around its top-level code.
    """
    from tqdm.auto import tqdm

    if workers <= 1 or len(items) <= 1:
        return [func(x) for x in items]
    import concurrent.futures as cf
    import multiprocessing as mp

    results: list = [None] * len(items)
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(func, x): i for i, x in enumerate(items)}
        for fut in tqdm(cf.as_completed(futures), total=len(futures), desc=f"{desc} ({workers} processes)",
                        disable=not progress, leave=False):
            results[futures[fut]] = fut.result()
    return results


def train_runs(train, configs: list, device: torch.device | str | None = None, *, workers: int = 1,
               progress: bool = True, desc: str = "runs") -> list:
    """``[train(c, device, progress=progress) for c in configs]`` for independent, seeded training runs; on a
    CPU with ``workers`` > 1, that many at a time in separate processes (:func:`process_map`), each run
    ``train(c, "cpu", progress=False)`` (one bar counts the runs). The results do not depend on ``workers``.
    On a GPU the runs go one after the other in this process. ``train`` must be a module-level function."""
    import functools

    dev = str(resolve_device(None if device is None else str(device)))
    if workers > 1 and len(configs) > 1 and dev == "cpu":
        return process_map(functools.partial(train, device="cpu", progress=False), configs, workers,
                           progress=progress, desc=desc)
    return [train(c, dev, progress=progress) for c in configs]


@contextlib.contextmanager
def distributed(device: torch.device | str | None = None) -> Iterator[tuple[int, int, torch.device]]:
    """The process group of a ``torchrun`` launch, as ``(rank, world_size, device)``.

    Under ``torchrun --nproc_per_node N`` (``WORLD_SIZE`` > 1 in the environment) it initialises
    the default process group (NCCL on CUDA, gloo on a CPU), gives each process the GPU of its
    ``LOCAL_RANK`` and destroys the group on exit. Started any other way it is one process:
    ``(0, 1, device)`` and nothing is initialised, so the same script runs both ways.
    """
    import torch.distributed as dist

    dev = resolve_device(None if device is None else str(device))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or (dist.is_available() and dist.is_initialized()):
        rank = dist.get_rank() if world > 1 else 0
        yield rank, world, dev
        return
    if dev.type == "cuda":
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    try:
        yield dist.get_rank(), dist.get_world_size(), dev
    finally:
        dist.destroy_process_group()
