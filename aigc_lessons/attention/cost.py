"""What attention costs: time and peak memory of one causal attention call as the length grows.

The naive kernel of :mod:`~aigc_lessons.attention.core` stores the ``(n, n)`` logits and weights; PyTorch's fused kernel
does not. :func:`attention_cost` measures both on the CPU (profiler allocation records) or a GPU
(CUDA allocator statistics), and :func:`plot_attention_cost` draws the two log-log curves.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .. import runtime
from .core import Kernel, scaled_dot_product_attention

__all__ = ["attention_cost", "plot_attention_cost"]


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 (the profiler's C++ library prints start/stop lines there)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (some embedded interpreters): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _cpu_peak_bytes(fn) -> int:
    """Peak bytes allocated while ``fn()`` runs on the CPU, from the profiler's allocation records
    (operators' own allocations in time order, minus the frees it records)."""
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = [e for e in prof.events() if e.self_cpu_memory_usage != 0]
    events.sort(key=lambda e: e.time_range.start)
    current = peak = 0
    for e in events:
        current += e.self_cpu_memory_usage
        peak = max(peak, current)
    return int(peak)


def attention_cost(seq_lens: Sequence[int] = (128, 256, 512, 1024, 2048), *, batch: int = 1, n_heads: int = 4,
                   d_head: int = 32, repeats: int = 5, device: torch.device | str = "cpu",
                   kernels: Sequence[Kernel] = ("naive", "sdpa"), causal: bool = True,
                   threads: int | None = 1) -> "object":
    """Time and peak memory of one causal attention call as the sequence length ``n`` grows.

    The naive kernel materialises the ``(n, n)`` logits and weights (memory :math:`O(n^2)` per head);
    the fused kernel computes the same result block by block without storing them (FlashAttention,
    Dao et al. 2022), :math:`O(n)` extra memory. Both do :math:`O(n^2 d)` arithmetic. Time is the
    fastest of ``repeats`` calls after one warm-up (the least disturbed by other processes); memory is
    the peak allocated during one call (CUDA allocator statistics on a GPU, the profiler's allocation
    records on the CPU). On the CPU the calls run on ``threads`` threads (restored afterwards):
    on a shared machine, multi-threaded small kernels mostly measure the wait for the other threads.

    Returns a DataFrame with columns ``n, kernel, ms, peak_mib, device``.
    """
    dev = torch.device(device)
    with runtime.cpu_threads(threads if dev.type == "cpu" else None):
        return _attention_cost(seq_lens, batch, n_heads, d_head, repeats, dev, kernels, causal)


def _attention_cost(seq_lens, batch, n_heads, d_head, repeats, dev, kernels, causal):
    import pandas as pd

    rows = []
    for n in seq_lens:
        gen = torch.Generator().manual_seed(n)
        q, k, v = (torch.randn(batch, n_heads, n, d_head, generator=gen).to(dev) for _ in range(3))
        for kernel in kernels:
            if kernel == "naive":
                def call():
                    return scaled_dot_product_attention(q, k, v, is_causal=causal)
            elif kernel == "sdpa":
                def call():
                    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            else:
                raise ValueError(f"Unknown attention kernel {kernel!r}; valid: 'naive', 'sdpa'")
            with torch.no_grad():
                call()
                times = []
                for _ in range(repeats):
                    if dev.type == "cuda":
                        torch.cuda.synchronize(dev)
                    t0 = time.perf_counter()
                    call()
                    if dev.type == "cuda":
                        torch.cuda.synchronize(dev)
                    times.append(time.perf_counter() - t0)
                if dev.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(dev)
                    base = torch.cuda.memory_allocated(dev)
                    call()
                    torch.cuda.synchronize(dev)
                    peak = torch.cuda.max_memory_allocated(dev) - base
                else:
                    peak = _cpu_peak_bytes(call)
            rows.append({"n": int(n), "kernel": kernel, "ms": 1e3 * float(np.min(times)),
                         "peak_mib": peak / 2**20, "device": str(dev)})
    return pd.DataFrame(rows)


def plot_attention_cost(df, axes=None):
    """Two log-log panels: milliseconds and peak MiB per call against sequence length, one line per kernel."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for (kernel, dev), sub in df.groupby(["kernel", "device"]):
        label = f"{'naive (from the formula)' if kernel == 'naive' else 'fused (F.scaled_dot_product_attention)'}, {dev}"
        axes[0].plot(sub.n, sub.ms, "o-", label=label)
        axes[1].plot(sub.n, sub.peak_mib.clip(lower=1e-3), "o-", label=label)
    for ax, ylabel, title in ((axes[0], "time per call (ms)", "time"),
                              (axes[1], "peak memory allocated (MiB)", "memory")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length n (tokens)")
        ax.set_ylabel(ylabel)
        ax.set_title(f"causal attention {title} vs length")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    return axes
