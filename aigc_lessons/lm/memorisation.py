"""Memorisation, measured: how often generated text contains a long span of the training text.

:class:`NgramIndex` hashes every ``n``-character window of the training text for fast exact look-up;
:func:`memorisation` and :func:`memorisation_curve` compare model samples with held-out text, which
repeats the training text too (names, refrains), as a yardstick.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .corpora import TextSplits

__all__ = ["NgramIndex", "MemorisationResult", "memorisation", "memorisation_curve", "plot_memorisation"]


class NgramIndex:
    r"""All length-``n`` substrings of a text, hashed and sorted for look-up in :math:`O(\log N)`.

    The hash of the window starting at :math:`i` is :math:`h_i = \sum_{j<n} c_{i+j} B^j \bmod 2^{64}`.
    With prefix sums :math:`P_k = \sum_{t<k} c_t B^t` it is :math:`h_i = (P_{i+n} - P_i)\,B^{-i}`
    (:math:`B` odd, so invertible modulo :math:`2^{64}`): all :math:`N` windows in :math:`O(N)`
    vectorised operations. A hit is confirmed by searching the substring in the text itself, so the
    answer is exact: a hash collision cannot create a false "memorised" span.
    """

    _B = 1_000_003
    _B_INV = pow(_B, -1, 2**64)

    def __init__(self, text: str, n: int) -> None:
        if n < 1 or len(text) < n:
            raise ValueError(f"need 1 <= n <= len(text), got n={n}, len={len(text)}")
        self.text, self.n = text, n
        self.hashes = np.sort(self._window_hashes(text, n))  # duplicates are harmless for look-up

    @classmethod
    def _window_hashes(cls, text: str, n: int) -> np.ndarray:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        m = codes.shape[0] - n + 1
        if m <= 0:
            return np.zeros(0, dtype=np.uint64)
        with np.errstate(over="ignore"):
            powers = np.empty(codes.shape[0], dtype=np.uint64)
            powers[0] = 1
            powers[1:] = cls._B
            powers = np.cumprod(powers, dtype=np.uint64)           # B^t mod 2^64 (wrapping)
            inv = np.empty(m, dtype=np.uint64)
            inv[0] = 1
            inv[1:] = cls._B_INV
            inv = np.cumprod(inv, dtype=np.uint64)                  # B^-i mod 2^64
            prefix = np.zeros(codes.shape[0] + 1, dtype=np.uint64)
            prefix[1:] = np.cumsum(codes * powers, dtype=np.uint64)
            return (prefix[n: n + m] - prefix[:m]) * inv

    def spans_found(self, s: str) -> list[int]:
        """Start offsets ``i`` in ``s`` whose ``s[i:i+n]`` occurs in the indexed text."""
        if len(s) < self.n:
            return []
        h = self._window_hashes(s, self.n)
        pos = np.searchsorted(self.hashes, h)
        pos[pos == len(self.hashes)] = 0
        candidates = np.nonzero(self.hashes[pos] == h)[0]
        return [int(i) for i in candidates if s[i: i + self.n] in self.text]

    def contains_span(self, s: str) -> bool:
        return bool(self.spans_found(s))

    def longest_match(self, s: str) -> int:
        """Length of the longest substring of ``s`` found verbatim in the text (binary search on length)."""
        lo, hi = 0, len(s)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if any(s[i: i + mid] in self.text for i in range(len(s) - mid + 1)):
                lo = mid
            else:
                hi = mid - 1
        return lo


@dataclass
class MemorisationResult:
    """What :func:`memorisation` measured for one span length."""

    span: int
    sample_rate: float            # share of generated samples with a span found in the training text
    heldout_rate: float           # the same for windows of held-out text (a baseline: real text repeats too)
    n_samples: int
    examples: list                # (sample, first matching span) for a few hits


def memorisation(samples: Sequence[str], splits: TextSplits, span: int = 50, seed: int = 0,
                 index: NgramIndex | None = None) -> MemorisationResult:
    """How often model samples contain a ``span``-character substring of the training text verbatim,
    compared with held-out windows of the same lengths (Carlini et al. 2021 measure extraction
    of training data in the same spirit, at a much larger scale)."""
    if not len(samples):
        raise ValueError("memorisation needs at least one sample")
    index = index or NgramIndex(splits.train_text, span)
    hits, examples = 0, []
    for s in samples:
        found = index.spans_found(s)
        if found:
            hits += 1
            if len(examples) < 5:
                examples.append((s, s[found[0]: found[0] + span]))
    gen = torch.Generator().manual_seed(seed)
    held = 0
    for s in samples:
        L = min(len(s), len(splits.val_text))
        i = int(torch.randint(len(splits.val_text) - L + 1, (1,), generator=gen))
        held += index.contains_span(splits.val_text[i: i + L])
    return MemorisationResult(span, hits / len(samples), held / len(samples), len(samples), examples)


def memorisation_curve(samples: Sequence[str], splits: TextSplits, spans: Sequence[int] = (10, 20, 30, 40, 50),
                       seed: int = 0):
    """:func:`memorisation` for several span lengths: a DataFrame with ``span, sample_rate, heldout_rate``."""
    import pandas as pd

    rows = []
    for n in spans:
        r = memorisation(samples, splits, span=n, seed=seed)
        rows.append({"span": n, "sample_rate": r.sample_rate, "heldout_rate": r.heldout_rate})
    return pd.DataFrame(rows)


def plot_memorisation(df, ax=None, what: str = "model samples"):
    """Share of texts that contain a span of the training text verbatim, against the span length."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(6.5, 3.8))[1]
    ax.plot(df.span, df.sample_rate, "o-", label=what)
    ax.plot(df.span, df.heldout_rate, "s--", label="held-out text (same lengths)")
    ax.set_xlabel("span length n (characters)")
    ax.set_ylabel("share containing an n-character span\nof the training text (fraction)")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title("verbatim overlap with the training text")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax
