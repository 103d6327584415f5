"""Chapter 1 exercises (the landscape): the character bigram model of the first-look notebook. Count
probabilities with add-alpha smoothing, cross-entropy in bits and nats, perplexity, sampling the next
character with a seeded generator, and a held-out evaluation with two bugs, one hiding the other."""

from __future__ import annotations

import functools
import math
from collections import Counter

import torch
import torch.nn.functional as F

from ..bigram import count_bigrams, split_text
from ..bigram import perplexity as _package_perplexity
from ..text import CharTokenizer
from . import Exercise, ExerciseFailure, expect, expect_close, expect_shape

Tensor = torch.Tensor


@functools.lru_cache(maxsize=1)
def _shakespeare():
    """(tokenizer, training ids, held-out ids) of tiny-shakespeare, split as in the notebook."""
    from ..data import load_text

    text = load_text("tinyshakespeare")
    vocab = CharTokenizer.from_text(text)
    train_text, val_text = split_text(text, 0.1)
    return vocab, vocab.encode(train_text), vocab.encode(val_text)


@functools.lru_cache(maxsize=1)
def _shakespeare_log_probs() -> Tensor:
    """The add-one count table of the notebook, as log-probabilities (computed with the package)."""
    vocab, train_ids, _ = _shakespeare()
    counts = count_bigrams(train_ids, len(vocab)).double() + 1.0
    return torch.log(counts / counts.sum(dim=1, keepdim=True))


# ------------------------------------------------------------------------------------------ 1.1


def bigram_probabilities(ids: Tensor, vocab_size: int, alpha: float) -> Tensor:
    """Return the (vocab_size, vocab_size) table P with P[a, b] = p(b | a), estimated from the id
    sequence ``ids`` (1-D, int64) by counting with add-alpha smoothing: N[a, b] is the number of times
    b directly follows a; add ``alpha`` (> 0) to every entry of N, then make each row a probability
    distribution over the next character. Every row must sum to 1, also the row of a character that
    is never followed by anything."""
    raise NotImplementedError


def _counts_by_hand(ids: list[int], vocab_size: int) -> Tensor:
    """Bigram counts from a Python Counter over consecutive pairs (independent of the package)."""
    pairs = Counter(zip(ids[:-1], ids[1:]))
    n = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)
    for (a, b), c in pairs.items():
        n[a, b] = c
    return n


def _smoothed(n: Tensor, alpha: float) -> Tensor:
    n = n + alpha
    return n / n.sum(dim=1, keepdim=True)


def _check_bigram_probabilities(fn) -> None:
    # a tiny case you can count by hand: "abcab" with a fourth symbol that never occurs (id 3)
    small = [0, 1, 2, 0, 1]
    gen = torch.Generator().manual_seed(0)
    rand = torch.randint(0, 7, (400,), generator=gen).tolist() + [7]  # id 7 occurs once, at the very end
    vocab, train_ids, _ = _shakespeare()
    head = train_ids[:20_000]
    cases = [(small, 4, 1.0, "the sequence a b c a b (ids 0 1 2 0 1; id 3 never occurs), alpha = 1"),
             (rand, 8, 0.1, "400 random ids from 0-6 followed by a 7 that nothing follows, alpha = 0.1"),
             (head.tolist(), len(vocab), 0.01, "the first 20,000 characters of tiny-shakespeare, alpha = 0.01")]
    for seq, V, alpha, what in cases:
        ids = torch.tensor(seq, dtype=torch.long)
        P = expect_shape(fn(ids.clone(), V, alpha), (V, V), f"P on {what}")
        expect(P.is_floating_point(), f"P on {what} should hold probabilities (a float tensor); got {P.dtype}.")
        P = P.double()
        expect(bool(torch.isfinite(P).all()),
               f"on {what}: P contains NaN or infinity; a row whose counts are all zero gives 0/0. The smoothing "
               "(alpha added to every count, zeros included) is what keeps that row a distribution.")
        sums = P.sum(dim=1)
        expect(bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-5)),
               f"on {what}: the rows of P sum to {sums.min().item():.4g}...{sums.max().item():.4g}, not 1. Row a is "
               "the distribution of the next character after a: normalise each row by its own total "
               "(the smoothed counts of that row, alpha included).")
        expected = _smoothed(_counts_by_hand(seq, V), alpha)
        transposed = _smoothed(_counts_by_hand(seq, V).T, alpha)
        if not torch.allclose(expected, transposed) and torch.allclose(P, transposed, atol=1e-6):
            raise ExerciseFailure(f"on {what}: your P[a, b] counts how often a follows b. The row index is the "
                                  "current character and the column the next one: P[a, b] = p(next = b | current = a).")
        expect_close(P, expected, f"P on {what}", rtol=1e-5, atol=1e-7,
                     hint="Count each consecutive pair (ids[t], ids[t+1]) once, add alpha to every cell, then "
                          "divide each row by its sum.")
    # the package's own counts give the same table on real text
    package = _smoothed(count_bigrams(head, len(vocab)).double(), 0.01)
    expect_close(fn(head.clone(), len(vocab), 0.01), package, "P against the package's count_bigrams", rtol=1e-5,
                 atol=1e-7)


# ------------------------------------------------------------------------------------------ 1.2


def cross_entropy(log_probs: Tensor, ids: Tensor, base: float = 2.0) -> float:
    """Return the cross-entropy of the bigram table on the sequence ``ids``: the mean, over the
    len(ids) - 1 transitions, of -log p(ids[t+1] | ids[t]), with the logarithm taken to ``base``
    (base 2: bits per character; base e: nats per character). ``log_probs[a, b]`` holds the
    *natural* logarithm of p(b | a)."""
    raise NotImplementedError


def _diagnose_base(got: float, nats: float, base: float, transitions: int, what: str) -> None:
    """Name the usual mistakes: the base ignored, multiplied instead of divided, a sum instead of a mean."""
    if base != math.e and math.isclose(got, nats, rel_tol=1e-5):
        raise ExerciseFailure(f"{what}: you return {got:.4f}, the value in nats; the base {base:g} is ignored. "
                              "`log_probs` holds natural logarithms: convert them to the requested base.")
    if base != math.e and math.isclose(got, nats * math.log(base), rel_tol=1e-5):
        raise ExerciseFailure(f"{what}: you multiply by ln({base:g}). A logarithm in base b is the natural "
                              "logarithm *divided* by ln(b) (one bit is ln 2 = 0.693 nats).")
    if transitions > 1 and math.isclose(got, transitions * nats / math.log(base), rel_tol=1e-5):
        raise ExerciseFailure(f"{what}: you return the sum over the {transitions} transitions; the cross-entropy "
                              "is their mean (per character).")


def _check_cross_entropy(fn) -> None:
    coin = torch.log(torch.full((2, 2), 0.5, dtype=torch.float64))
    flips = torch.tensor([0, 1, 1, 0, 1, 0, 0, 0, 1])
    got = fn(coin.clone(), flips.clone(), 2.0)
    expect_shape(got, (), "the cross-entropy (one number)")
    _diagnose_base(float(got), math.log(2), 2.0, len(flips) - 1, "on fair coin flips in bits")
    expect_close(got, 1.0, "the cross-entropy of a fair coin in bits", rtol=1e-6,
                 hint="a fair coin costs exactly one bit per toss.")
    lp = _shakespeare_log_probs()
    _, _, val_ids = _shakespeare()
    nats = F.cross_entropy(lp[val_ids[:-1]], val_ids[1:]).item()  # PyTorch's cross-entropy (the table is normalised)
    for base, unit in ((math.e, "nats"), (2.0, "bits"), (10.0, "digits (base 10)")):
        got = float(fn(lp.clone(), val_ids.clone(), base))
        what = f"the held-out cross-entropy of the add-one table in {unit}"
        _diagnose_base(got, nats, base, len(val_ids) - 1, what)
        expect_close(got, nats / math.log(base), what, rtol=1e-5,
                     hint="the transitions are (ids[t], ids[t+1]): row = current character, column = next one.")
    V = 65
    uniform = torch.full((V, V), -math.log(V), dtype=torch.float64)
    expect_close(fn(uniform, val_ids[:1000].clone(), 2.0), math.log2(V), "the uniform model's cross-entropy in bits",
                 rtol=1e-6, hint="a uniform guess over V characters costs log2(V) bits per character.")


# ------------------------------------------------------------------------------------------ 1.3


def perplexity(log_probs: Tensor, ids: Tensor) -> float:
    """Return the perplexity of the bigram table on ``ids``: the exponential of the mean negative
    log-likelihood, exp(-(1/T) sum_t log p(ids[t+1] | ids[t])), over the T = len(ids) - 1 transitions.
    ``log_probs[a, b]`` is the natural logarithm of p(b | a)."""
    raise NotImplementedError


def _check_perplexity(fn) -> None:
    P = torch.tensor([[1 / 4, 1 / 2, 1 / 4],
                      [3 / 8, 1 / 2, 1 / 8],
                      [1 / 3, 1 / 3, 1 / 3]], dtype=torch.float64)
    ids = torch.tensor([0, 1, 2])  # transitions with p = 1/2 and p = 1/8: perplexity sqrt(2 * 8) = 4
    got = fn(P.log(), ids.clone())
    expect_shape(got, (), "the perplexity (one number)")
    if math.isclose(float(got), 5.0, rel_tol=1e-6):
        raise ExerciseFailure("on the sequence 0 1 2, whose transitions have p = 1/2 and 1/8, you get 5 = (2 + 8) / 2: "
                              "the mean of the exponentials. Perplexity is the exponential of the *mean* negative "
                              "log-likelihood (a geometric mean of 1/p), not the mean of 1/p.")
    if math.isclose(float(got), 0.25, rel_tol=1e-6):
        raise ExerciseFailure("on the sequence 0 1 2 you get 1/4 = 1 / perplexity: the log-likelihood needs its minus "
                              "sign (a perplexity is at least 1).")
    expect_close(got, 4.0, "the perplexity of 0 1 2 when its transitions have p = 1/2 and p = 1/8", rtol=1e-6,
                 hint="the transitions are 0 -> 1 (row 0, column 1) and 1 -> 2 (row 1, column 2): the row is the "
                      "current character, the column the next one.")
    cycle = torch.log(torch.eye(4, dtype=torch.float64).roll(1, dims=1))  # a -> a+1 with certainty
    expect_close(fn(cycle, torch.tensor([0, 1, 2, 3, 0, 1, 2])), 1.0, "the perplexity of a model that is always right",
                 rtol=1e-6, hint="a model that gives every observed transition probability 1 has perplexity 1.")
    V = 65
    gen = torch.Generator().manual_seed(3)
    uniform = torch.full((V, V), -math.log(V), dtype=torch.float64)
    expect_close(fn(uniform, torch.randint(0, V, (500,), generator=gen)), float(V), "the uniform model's perplexity",
                 rtol=1e-6, hint="a uniform guess over V characters has perplexity exactly V.")
    lp = _shakespeare_log_probs()
    _, _, val_ids = _shakespeare()
    expected = _package_perplexity(lp, val_ids)
    got = float(fn(lp.clone(), val_ids.clone()))
    expect_close(got, expected, "the held-out perplexity of the add-one table on tiny-shakespeare", rtol=1e-5,
                 hint="pick log p(ids[t+1] | ids[t]): row = the current character, column = the next one; "
                      "average over the transitions rather than summing.")


# ------------------------------------------------------------------------------------------ 1.4


def sample_next(probs: Tensor, n: int, generator: torch.Generator) -> Tensor:
    """Return a 1-D int64 tensor of ``n`` next-character ids drawn independently from ``probs`` (one row
    P[a, :] of a bigram table: shape (V,), non-negative, summing to 1), with replacement. All randomness
    must come from ``generator``, so that a seeded generator gives the same draws every time; use
    ``torch.multinomial``."""
    raise NotImplementedError


def _chi_square(draws: Tensor, probs: Tensor) -> tuple[float, int]:
    """Pearson's statistic of ``draws`` against ``probs``, pooling the cells expected fewer than 5 times;
    returns (statistic, degrees of freedom)."""
    n = draws.numel()
    observed = torch.bincount(draws, minlength=probs.numel()).double()
    expected = n * probs.double()
    big = expected >= 5
    obs = torch.cat([observed[big], observed[~big].sum().reshape(1)])
    exp = torch.cat([expected[big], expected[~big].sum().reshape(1)])
    keep = exp > 0
    obs, exp = obs[keep], exp[keep]
    return float(((obs - exp) ** 2 / exp).sum()), int(keep.sum()) - 1


def _check_sample_next(fn) -> None:
    one_hot = torch.zeros(5, dtype=torch.float64)
    one_hot[3] = 1.0
    draws = expect_shape(fn(one_hot.clone(), 50, torch.Generator().manual_seed(0)), (50,),
                         "50 draws from a row")
    expect(not draws.is_floating_point(), f"the draws should be integer ids; got {draws.dtype}.")
    expect(bool((draws == 3).all()), "a row with probability 1 on id 3 must give id 3 every time; it gave "
                                     f"{sorted(set(draws.tolist()))}.")
    expect_shape(fn(one_hot.clone(), 1, torch.Generator().manual_seed(0)), (1,), "a single draw (n = 1)")

    vocab, train_ids, _ = _shakespeare()
    row = _shakespeare_log_probs()[vocab.stoi[" "]].exp().float()  # what follows a space in the training text
    sparse = torch.tensor([0.0, 0.5, 0.0, 0.3, 0.2])
    for p, n, seed, what in ((row, 20_000, 1234, "the row after a space (add-one counts on tiny-shakespeare)"),
                             (sparse, 5_000, 99, "the row (0, 0.5, 0, 0.3, 0.2)")):
        d = expect_shape(fn(p.clone(), n, torch.Generator().manual_seed(seed)), (n,), f"{n} draws from {what}")
        d = d.long()
        expect(bool(((d >= 0) & (d < p.numel())).all()),
               f"draws from {what} fall outside 0..{p.numel() - 1}: they should be column indices of the row.")
        expect(bool((p[d] > 0).all()), f"from {what} you drew an id whose probability is 0.")
        stat, dof = _chi_square(d, p)
        limit = dof + 6 * math.sqrt(2 * dof)  # about 4 standard deviations of a chi-square above its mean
        expect(stat < limit,
               f"the frequencies of your {n} draws from {what} do not match the row: chi-square {stat:.0f} on {dof} "
               f"degrees of freedom (a fair sample stays below {limit:.0f}). Each draw should pick id b with "
               "probability probs[b], independently of the others (with replacement).")
    again = [fn(row.clone(), 1000, torch.Generator().manual_seed(7)) for _ in range(2)]
    expect(torch.equal(again[0], again[1]),
           "two calls with generators seeded alike gave different draws: pass `generator=` to torch.multinomial, "
           "so that the seed alone decides the sample.")
    other = fn(row.clone(), 1000, torch.Generator().manual_seed(8))
    expect(not torch.equal(again[0], other),
           "generators with different seeds gave the same draws: use the generator you are given, do not create "
           "or seed your own.")


# ------------------------------------------------------------------------------------------ 1.5


def heldout_perplexity(text: str, alpha: float = 1.0, val_fraction: float = 0.1) -> float:
    """The held-out perplexity of the count bigram model with add-alpha smoothing: count on the first
    (1 - val_fraction) of ``text``, measure on the rest. It should give what ``bigram.train_bigram``
    reports as ``val_ppl_counts`` (for ``alpha`` = ``BigramConfig.smoothing``) on any text. This version
    runs, but its number is too good. Find the bug and fix it; after that fix, make sure it also
    works on a text whose held-out tail has a character the training part lacks."""
    train_text, val_text = split_text(text, val_fraction)
    vocab = CharTokenizer.from_text(train_text)  # the characters the model is trained on
    train_ids = vocab.encode(train_text)
    counts = count_bigrams(train_ids, len(vocab)) + alpha
    log_probs = torch.log(counts / counts.sum(dim=1, keepdim=True))
    nll = -log_probs[train_ids[:-1], train_ids[1:]].mean()
    return float(torch.exp(nll))


def _reference_heldout(text: str, alpha: float, val_fraction: float) -> float:
    """What train_bigram computes for ``val_ppl_counts``, from the package's own functions."""
    vocab = CharTokenizer.from_text(text)
    train_text, val_text = split_text(text, val_fraction)
    counts = count_bigrams(vocab.encode(train_text), len(vocab)).double() + alpha
    return _package_perplexity(torch.log(counts / counts.sum(dim=1, keepdim=True)), vocab.encode(val_text))


def _train_perplexity(text: str, alpha: float, val_fraction: float) -> float:
    vocab = CharTokenizer.from_text(text)
    train_ids = vocab.encode(split_text(text, val_fraction)[0])
    counts = count_bigrams(train_ids, len(vocab)).double() + alpha
    return _package_perplexity(torch.log(counts / counts.sum(dim=1, keepdim=True)), train_ids)


def _check_heldout(fn) -> None:
    from ..data import load_text

    shakespeare = load_text("tinyshakespeare")
    crafted = "to be or not to be, " * 50 + "that is the question?"  # the tail brings h, a, i, s, q, u, ?
    for text, alpha, frac, what in ((shakespeare, 1.0, 0.1, "tiny-shakespeare (alpha = 1, 10% held out)"),
                                    (shakespeare, 0.1, 0.2, "tiny-shakespeare (alpha = 0.1, 20% held out)"),
                                    (crafted, 1.0, 0.1, "a text whose held-out tail has characters the training "
                                                        "part lacks")):
        try:
            got = fn(text, alpha, frac)
        except ValueError as e:
            if "not in the vocabulary" not in str(e):
                raise
            raise ExerciseFailure(f"on {what}, your function stops: {e}. A tokenizer built from the training part "
                                  "cannot encode a character that first appears in the held-out part; the model "
                                  "needs a row and a column for it (smoothing then gives it a small probability).") \
                from None
        expected = _reference_heldout(text, alpha, frac)
        expect_shape(got, (), f"the held-out perplexity on {what}")
        got = float(got)
        if math.isclose(got, _train_perplexity(text, alpha, frac), rel_tol=1e-4):
            raise ExerciseFailure(f"on {what}, you report {got:.3f}, the perplexity on the *training* part (the "
                                  f"held-out value is {expected:.3f}). A model scored on the text it counted is "
                                  "scored on its own answers: measure it on the held-out tail.")
        if got < expected * (1 - 1e-4):
            raise ExerciseFailure(f"on {what}, your perplexity {got:.3f} is lower than the held-out value "
                                  f"{expected:.3f}. Either the held-out text reached the counts (count on the "
                                  "training part only), or some held-out transitions were left out of the score "
                                  "(every transition of the tail counts).")
        expect_close(got, expected, f"the held-out perplexity on {what}", rtol=1e-4,
                     hint="compare your steps with bigram.train_bigram: which text the vocabulary comes from, what "
                          "is counted, and what is measured.")


# plausible mistakes each check must catch (tests/test_exercises.py runs them)
def _probs_columns(ids, vocab_size, alpha):
    n = torch.zeros(vocab_size, vocab_size)
    n.index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1), accumulate=True)
    n = n + alpha
    return n / n.sum(dim=0, keepdim=True)


def _probs_transposed(ids, vocab_size, alpha):
    n = torch.zeros(vocab_size, vocab_size)
    n.index_put_((ids[1:], ids[:-1]), torch.ones(len(ids) - 1), accumulate=True)
    n = n + alpha
    return n / n.sum(dim=1, keepdim=True)


def _probs_alpha_once(ids, vocab_size, alpha):
    n = torch.zeros(vocab_size, vocab_size)
    n.index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1), accumulate=True)
    return (n + alpha) / (n.sum(dim=1, keepdim=True) + alpha)


def _probs_unsmoothed(ids, vocab_size, alpha):
    n = torch.zeros(vocab_size, vocab_size)
    n.index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1), accumulate=True)
    return n / n.sum(dim=1, keepdim=True)


def _ce_ignores_base(log_probs, ids, base=2.0):
    return float(-log_probs[ids[:-1], ids[1:]].mean())


def _ce_times_ln(log_probs, ids, base=2.0):
    return float(-log_probs[ids[:-1], ids[1:]].mean() * math.log(base))


def _ce_sum(log_probs, ids, base=2.0):
    return float(-log_probs[ids[:-1], ids[1:]].sum() / math.log(base))


def _ppl_mean_of_exps(log_probs, ids):
    return float(torch.exp(-log_probs[ids[:-1], ids[1:]]).mean())


def _ppl_swapped(log_probs, ids):
    return float(torch.exp(-log_probs[ids[1:], ids[:-1]].mean()))


def _ppl_no_minus(log_probs, ids):
    return float(torch.exp(log_probs[ids[:-1], ids[1:]].mean()))


def _sample_argmax(probs, n, generator):
    return probs.argmax().repeat(n)


def _sample_global_rng(probs, n, generator):
    return torch.multinomial(probs, n, replacement=True)


def _sample_uniform(probs, n, generator):
    return torch.randint(0, probs.numel(), (n,), generator=generator)


def _heldout_train_vocab(text, alpha=1.0, val_fraction=0.1):
    train_text, val_text = split_text(text, val_fraction)
    vocab = CharTokenizer.from_text(train_text)
    counts = count_bigrams(vocab.encode(train_text), len(vocab)) + alpha
    val_ids = vocab.encode(val_text)
    return float(torch.exp(-torch.log(counts / counts.sum(1, keepdim=True))[val_ids[:-1], val_ids[1:]].mean()))


def _heldout_drop_unseen(text, alpha=1.0, val_fraction=0.1):
    train_text, val_text = split_text(text, val_fraction)
    vocab = CharTokenizer.from_text(train_text)
    counts = count_bigrams(vocab.encode(train_text), len(vocab)) + alpha
    val_ids = vocab.encode("".join(c for c in val_text if c in vocab.stoi))
    return float(torch.exp(-torch.log(counts / counts.sum(1, keepdim=True))[val_ids[:-1], val_ids[1:]].mean()))


def _heldout_counts_everything(text, alpha=1.0, val_fraction=0.1):
    vocab = CharTokenizer.from_text(text)
    counts = count_bigrams(vocab.encode(text), len(vocab)) + alpha
    val_ids = vocab.encode(split_text(text, val_fraction)[1])
    return float(torch.exp(-torch.log(counts / counts.sum(1, keepdim=True))[val_ids[:-1], val_ids[1:]].mean()))


_SETUP_SHAKESPEARE = """from aigc_lessons.bigram import count_bigrams, split_text
from aigc_lessons.data import load_text
from aigc_lessons.text import CharTokenizer

text = load_text("tinyshakespeare")
vocab = CharTokenizer.from_text(text)
ids = vocab.encode(text)
print(f"{len(text):,} characters, vocabulary of {len(vocab)}")"""

EXERCISES = [
    Exercise("1.1", "Bigram probabilities from counts", "warm-up",
             "Estimate the bigram table $P[a, b] = p(b \\mid a)$ by counting, with add-$\\alpha$ smoothing: "
             "$P[a, b] = (N(a, b) + \\alpha) / \\sum_{b'} (N(a, b') + \\alpha)$. The check compares your table with "
             "counts taken pair by pair in plain Python and with the package's `count_bigrams`, on a sequence small "
             "enough to count by hand, on one with a character that nothing follows, and on tiny-shakespeare.",
             bigram_probabilities, _check_bigram_probabilities, setup=_SETUP_SHAKESPEARE,
             wrong=(_probs_columns, _probs_transposed, _probs_alpha_once, _probs_unsmoothed)),
    Exercise("1.2", "Cross-entropy in bits and in nats", "warm-up",
             "The cross-entropy of a model on a text is the mean of $-\\log p(x_{t+1} \\mid x_t)$; its unit is "
             "set by the base of the logarithm (base 2: bits per character, base $e$: nats). The table holds "
             "natural logarithms. The check uses a fair coin (exactly one bit), the uniform model ($\\log_2 V$ "
             "bits) and the add-one table on held-out Shakespeare against PyTorch's `F.cross_entropy`.",
             cross_entropy, _check_cross_entropy, setup="import math",
             wrong=(_ce_ignores_base, _ce_times_ln, _ce_sum)),
    Exercise("1.3", "Perplexity", "core",
             "Perplexity is $\\exp$ of the mean negative log-likelihood per transition: the effective number of "
             "equally likely next characters. It is the exponential of a mean, not the mean of exponentials. "
             "The check uses a two-step sequence you can work out on paper, a model that is always right "
             "(perplexity 1), the uniform model (perplexity exactly $V$) and the package's `bigram.perplexity` "
             "on held-out Shakespeare.",
             perplexity, _check_perplexity,
             wrong=(_ppl_mean_of_exps, _ppl_swapped, _ppl_no_minus)),
    Exercise("1.4", "Sampling the next character", "core",
             "Generation draws the next character from the row $P[a, :]$ of the current character $a$. Write the "
             "draw with `torch.multinomial` and the generator you are given. The check counts how often each id "
             "comes out in thousands of draws and compares the frequencies with the row by a chi-square statistic "
             "(fixed seeds, so the verdict is the same every run), and checks that the seed alone decides the "
             "sample.",
             sample_next, _check_sample_next, wrong=(_sample_argmax, _sample_global_rng, _sample_uniform)),
    Exercise("1.5", "Find the bug: a held-out perplexity that is too good", "stretch",
             "The function below runs on tiny-shakespeare and returns a perplexity below the held-out perplexity "
             "of the count model that the first-look notebook prints (`val_ppl_counts`). The gap is small here, "
             "because a 65 × 65 table has few parameters for a million characters, but the number measures the "
             "wrong thing; for a model with many parameters the same mistake can hide severe overfitting. "
             "Find the mistake and fix it. The first fix uncovers a second problem "
             "that tiny-shakespeare hides but another text exposes: the check also runs your function on a "
             "text whose held-out tail has characters the training part never shows.",
             heldout_perplexity, _check_heldout, setup=_SETUP_SHAKESPEARE,
             wrong=(_heldout_train_vocab, _heldout_drop_unseen, _heldout_counts_everything)),
]
