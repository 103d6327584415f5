"""aigc_lessons.lm.corpora: the two corpora, their splits and batches, and the quatrain format checks."""

import pytest
import torch

from aigc_lessons import lm

GOOD = "白日依山盡，黃河入海流。欲窮千里目，更上一層樓。"


def test_tokenizer_round_trip_and_unknown_characters(shakespeare):
    tok = shakespeare.tokenizer
    assert tok.vocab_size == 65
    s = "ROMEO:\nBut, soft! what light"
    assert tok.decode(tok.encode(s)) == s
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tok.encode("naïve")


def test_split_is_nanogpts_90_10(shakespeare):
    n = len(shakespeare.train_text) + len(shakespeare.val_text)
    assert n == 1_115_394
    assert len(shakespeare.train_text) == int(n * 0.9)


def test_batches_are_windows_with_targets_shifted_by_one(shakespeare):
    g = torch.Generator().manual_seed(0)
    x, y = lm.get_batch(shakespeare.train, 4, 16, g)
    assert x.shape == y.shape == (4, 16)
    assert torch.equal(x[:, 1:], y[:, :-1])
    with pytest.raises(ValueError, match="too short"):
        lm.get_batch(torch.arange(10), 2, 16, g)


def test_tang_windows_start_at_a_poem(tang, shakespeare):
    starts = tang.window_starts("train", 32)
    nl = tang.tokenizer.stoi["\n"]
    assert (tang.train[starts] == nl).all() and int(starts.max()) + 33 <= tang.train.numel()
    x, y = lm.get_batch(tang.train, 8, 32, torch.Generator().manual_seed(0), starts=starts)
    assert (x[:, 0] == nl).all() and torch.equal(x[:, 1:], y[:, :-1])
    assert shakespeare.window_starts("val", 32) is None
    with pytest.raises(ValueError, match="split"):
        tang.window_starts("test", 32)


def test_quatrain_format_rules():
    assert lm.quatrain_ok(GOOD)
    assert not lm.quatrain_ok(GOOD[:-1])                                   # missing final 。
    assert not lm.quatrain_ok(GOOD.replace("，", "。", 1))                 # wrong punctuation
    assert not lm.quatrain_ok("白日依山，黃河入海流。欲窮千里目，更上一層樓。")  # 4-character line
    assert not lm.quatrain_ok(GOOD + GOOD)                                 # eight lines
    assert lm.format_rate([GOOD, "abc"]) == 0.5


def test_format_failures_are_classified():
    counts = lm.format_failures([GOOD, GOOD[:12], GOOD[:-1] + "！", GOOD[:20]])
    assert counts == {"ok": 1, "two lines only": 1, "other length": 1, "wrong punctuation": 1}


def test_tang_training_set_and_its_own_format_rate(tang):
    poems = lm.tang_quatrains()
    assert len(poems) > 3500 and all(len(p) == 24 for p in poems)
    rate = lm.format_rate(poems)
    assert 0.95 < rate < 1.0  # a few end in ？ or ！: the ceiling for a model of this data
    assert not set(tang.val_text.split("\n")) - {""} & set(tang.train_text.split("\n"))
