"""aigc_lessons.lm.poems: sampled poems, and the exact format rate of a unigram model."""

import unicodedata
from collections import Counter

import pytest
import torch

from aigc_lessons import lm


def test_unigram_format_rate_is_the_product_of_frequencies(tang):
    """p_Han^20 p_，^2 p_。^2 p_newline, from character counts of the training text made here."""
    r = lm.unigram_format_rate(tang)
    assert 0 < r < 1e-6  # a model without context essentially never writes the form
    counts, n = Counter(tang.train_text), len(tang.train_text)
    marks = set("，。？！；、：\n")
    assert all(unicodedata.name(c).startswith("CJK") for c in counts if c not in marks)  # the rest is Han
    p_han = sum(v for c, v in counts.items() if c not in marks) / n
    expected = p_han ** 20 * (counts["，"] / n) ** 2 * (counts["。"] / n) ** 2 * (counts["\n"] / n)
    assert r == pytest.approx(expected, rel=1e-12)
    assert p_han == pytest.approx(20 / 25, abs=1e-4)  # 20 of the 25 characters of a poem and its newline


def test_sample_poems_cuts_at_the_newline(tang, tiny_cfg, monkeypatch):
    torch.manual_seed(0)
    m = lm.GPT(tiny_cfg(vocab=tang.tokenizer.vocab_size))
    poems = lm.sample_poems(m, tang.tokenizer, 5, seed=1, max_chars=30)
    assert len(poems) == 5 and all("\n" not in p and len(p) <= 30 for p in poems)
    assert poems == lm.sample_poems(m, tang.tokenizer, 5, seed=1, max_chars=30)  # seeded
    # an untrained model rarely writes a newline: give it rows that do, and check where they are cut
    tok = tang.tokenizer
    first, second = tang.train_text.split("\n")[:2]
    rows = [tok.encode("\n" + first + "\n" + second).tolist(), tok.encode("\n" + second).tolist()]
    monkeypatch.setattr(lm.poems, "generate", lambda model, prompt, *a, **k: torch.tensor(
        [r + [tok.stoi["\n"]] * (max(map(len, rows)) - len(r)) for r in rows]))
    assert lm.sample_poems(m, tok, 2, seed=1, max_chars=60) == [first, second]
