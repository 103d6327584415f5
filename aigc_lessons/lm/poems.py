"""Tang quatrains from the small GPT: poems sampled one at a time, the floor of the format score, and
which characters the model writes.

A poem is generated from a newline (the separator between poems, playing the start token) until
the next newline; :func:`unigram_format_rate` is the exact format rate of a model that knows only
character frequencies; :func:`character_frequencies` and :func:`total_variation` compare the characters
of generated poems with those of the training poems (:func:`plot_character_frequencies` draws them, in
Chinese, with :func:`aigc_lessons.plots.use_cjk_font`). The format checks themselves are in
:mod:`aigc_lessons.lm.corpora`.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..plots import use_cjk_font

from ..text import CharTokenizer
from .corpora import _HAN, TextSplits
from .model import GPT
from .sampling import generate

__all__ = ["sample_poems", "unigram_format_rate", "character_frequencies", "total_variation",
           "plot_character_frequencies"]


def sample_poems(model: GPT, tokenizer: CharTokenizer, n: int, *, seed: int = 0, max_chars: int = 30,
                 **sampling) -> list[str]:
    """``n`` poems, each generated from a newline (the separator between poems) until the next one."""
    gen = torch.Generator().manual_seed(seed)
    nl = tokenizer.stoi["\n"]
    prompt = torch.full((n, 1), nl, dtype=torch.long)
    out = generate(model, prompt, max_chars, stop_id=nl, generator=gen, **sampling)
    poems = []
    for row in out[:, 1:].tolist():
        if nl in row:
            row = row[: row.index(nl)]
        poems.append(tokenizer.decode(row))
    return poems


def unigram_format_rate(splits: TextSplits) -> float:
    """Format rate of a model that knows only how often each character occurs (no context at all),
    computed exactly: a sample started after a newline is a well-formed quatrain when its next 25
    characters are 5 Chinese characters, ``，``, 5, ``。``, 5, ``，``, 5, ``。`` and the newline, so

    .. math::  P = p_{\\text{Han}}^{20}\\; p_{，}^{2}\\; p_{。}^{2}\\; p_{\\backslash n}

    with the character frequencies :math:`p` of the training text. A floor for the format score."""
    text = splits.train_text
    n = len(text)
    han = sum(1 for c in text if re.match(f"[{_HAN}]", c)) / n
    return han ** 20 * (text.count("，") / n) ** 2 * (text.count("。") / n) ** 2 * (text.count("\n") / n)


def character_frequencies(poems: Sequence[str]) -> dict[str, float]:
    """Share of each Chinese character among all Chinese characters of ``poems`` (punctuation left out),
    most frequent first. Empty input gives an empty dict."""
    counts = Counter(c for poem in poems for c in poem if re.match(f"[{_HAN}]", c))
    total = sum(counts.values())
    return {c: n / total for c, n in counts.most_common()} if total else {}


def total_variation(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Total variation distance :math:`\\tfrac12 \\sum_c |p(c) - q(c)|` between two character distributions:
    0 for the same frequencies, 1 for disjoint sets of characters."""
    return 0.5 * sum(abs(p.get(c, 0.0) - q.get(c, 0.0)) for c in set(p) | set(q))


def plot_character_frequencies(reference: Sequence[str], samples: Mapping[str, Sequence[str]], *, k: int = 20,
                               ax=None):
    """Bars of the ``k`` most frequent characters of ``reference`` (the training poems), with their share in
    each set of ``samples``; the legend gives each set's total variation distance to the reference."""
    use_cjk_font()
    ref = character_frequencies(reference)
    top = list(ref)[:k]
    groups = {"training poems": ref} | {name: character_frequencies(ps) for name, ps in samples.items()}
    ax = ax or plt.subplots(figsize=(9, 3.4))[1]
    width = 0.8 / len(groups)
    x = np.arange(len(top))
    for i, (name, freq) in enumerate(groups.items()):
        label = name if name == "training poems" else f"{name} (TV distance {total_variation(freq, ref):.2f})"
        ax.bar(x + (i - (len(groups) - 1) / 2) * width, [100 * freq.get(c, 0.0) for c in top], width, label=label)
    ax.set_xticks(x, top, fontsize=12)
    ax.set_xlabel(f"character (the {len(top)} most frequent in the training poems)")
    ax.set_ylabel("share of Chinese characters (%)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return ax
