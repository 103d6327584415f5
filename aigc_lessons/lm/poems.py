"""Tang quatrains from the small GPT: poems sampled one at a time, and the floor of the format score.

A poem is generated from a newline (the separator between poems, playing the start token) until
the next newline; :func:`unigram_format_rate` is the exact format rate of a model that knows only
character frequencies. The format checks themselves are in :mod:`aigc_lessons.lm.corpora`.
"""

from __future__ import annotations

import re

import torch

from ..text import CharTokenizer
from .corpora import _HAN, TextSplits
from .model import GPT
from .sampling import generate

__all__ = ["sample_poems", "unigram_format_rate"]


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
