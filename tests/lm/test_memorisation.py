"""aigc_lessons.lm.memorisation: the exact n-gram index and the memorisation rates."""

from aigc_lessons import lm


def test_ngram_index_finds_exactly_the_spans_that_occur():
    text = "to be or not to be, that is the question"
    idx = lm.NgramIndex(text, 6)
    s = "xx not to bqq that isyy"
    brute = [i for i in range(len(s) - 5) if s[i: i + 6] in text]
    assert idx.spans_found(s) == brute and brute
    assert idx.spans_found("zzzzzzzzzz") == [] and not idx.contains_span("abc")
    assert idx.longest_match("xx not to bqq") == len(" not to b")


def test_memorisation_counts_copied_samples(shakespeare):
    copied = shakespeare.train_text[5000:5100]
    invented = "Zq" * 50
    r = lm.memorisation([copied, invented], shakespeare, span=50)
    assert r.sample_rate == 0.5 and r.examples[0][1] == copied[:50]


def _splits(train: str, val: str) -> lm.TextSplits:
    tok = lm.CharTokenizer.from_text(train + val)
    return lm.TextSplits("toy", tok, train, val, tok.encode(train), tok.encode(val))


def test_the_heldout_baseline_is_measured_on_the_heldout_text(shakespeare):
    """Held-out windows of the samples' lengths: all inside the training text when the held-out text is
    a copy of part of it, none when it shares no span with it."""
    train = shakespeare.train_text[:20_000]
    samples = [train[i: i + 80] for i in range(0, 2000, 200)] + ["Zq" * 40] * 10
    copied = lm.memorisation(samples, _splits(train, train[3000:9000]), span=30)
    unrelated = lm.memorisation(samples, _splits(train, "Zq" * 3000), span=30)
    assert copied.sample_rate == unrelated.sample_rate == 0.5 and copied.n_samples == 20
    assert copied.heldout_rate == 1.0 and unrelated.heldout_rate == 0.0


def test_memorisation_curve_has_one_row_per_span(shakespeare):
    samples = [shakespeare.train_text[7000:7025], "Zq" * 40]
    df = lm.memorisation_curve(samples, shakespeare, spans=(10, 30))
    assert list(df.span) == [10, 30] and list(df.sample_rate) == [0.5, 0.0]  # 25 characters copied: no 30-span
