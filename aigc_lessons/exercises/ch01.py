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
    cases = [(small, 4, 1.0, "the sequence a b c a b (ids 0 1 2 0 1; id 3 never occurs), alpha = 1",
              "序列 a b c a b（id 为 0 1 2 0 1，id 3 从未出现；alpha = 1）"),
             (rand, 8, 0.1, "400 random ids from 0-6 followed by a 7 that nothing follows, alpha = 0.1",
              "由 400 个 0-6 之间的随机 id 和末尾一个 7 组成、7 之后再无字符的序列（alpha = 0.1）"),
             (head.tolist(), len(vocab), 0.01, "the first 20,000 characters of tiny-shakespeare, alpha = 0.01",
              "tiny-shakespeare 的前 20,000 个字符（alpha = 0.01）")]
    for seq, V, alpha, what, what_zh in cases:
        ids = torch.tensor(seq, dtype=torch.long)
        P = expect_shape(fn(ids.clone(), V, alpha), (V, V), f"P on {what}", f"{what_zh}上的 P")
        expect(P.is_floating_point(), f"P on {what} should hold probabilities (a float tensor); got {P.dtype}.",
               f"{what_zh}上的 P 应当存放概率（浮点张量）；实际是 {P.dtype}。")
        P = P.double()
        expect(bool(torch.isfinite(P).all()),
               f"on {what}: P contains NaN or infinity; a row whose counts are all zero gives 0/0. The smoothing "
               "(alpha added to every count, zeros included) is what keeps that row a distribution.",
               f"{what_zh}：P 含有 NaN 或无穷大；计数全为零的行会得到 0/0。正是平滑（给每个计数都加上 alpha，"
               "零也不例外）让这一行仍是一个概率分布。")
        sums = P.sum(dim=1)
        expect(bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-5)),
               f"on {what}: the rows of P sum to {sums.min().item():.4g}...{sums.max().item():.4g}, not 1. Row a is "
               "the distribution of the next character after a: normalise each row by its own total "
               "(the smoothed counts of that row, alpha included).",
               f"{what_zh}：P 各行之和在 {sums.min().item():.4g}...{sums.max().item():.4g} 之间，而不是 1。"
               "第 a 行是 a 之后下一个字符的分布：用每一行自身的总和（该行平滑后的计数之和，包括 alpha）"
               "对该行归一化。")
        expected = _smoothed(_counts_by_hand(seq, V), alpha)
        transposed = _smoothed(_counts_by_hand(seq, V).T, alpha)
        if not torch.allclose(expected, transposed) and torch.allclose(P, transposed, atol=1e-6):
            raise ExerciseFailure(f"on {what}: your P[a, b] counts how often a follows b. The row index is the "
                                  "current character and the column the next one: P[a, b] = p(next = b | current = a).",
                                  f"{what_zh}：你的 P[a, b] 统计的是 a 跟在 b 后面的次数。行下标是当前字符，"
                                  "列下标是下一个字符：P[a, b] = p(next = b | current = a)。")
        expect_close(P, expected, f"P on {what}", rtol=1e-5, atol=1e-7,
                     hint="Count each consecutive pair (ids[t], ids[t+1]) once, add alpha to every cell, then "
                          "divide each row by its sum.",
                     what_zh=f"{what_zh}上的 P",
                     hint_zh="每个相邻的字符对 (ids[t], ids[t+1]) 计数一次，给每个单元格加上 alpha，"
                             "再把每一行除以它的和。")
    # the package's own counts give the same table on real text
    package = _smoothed(count_bigrams(head, len(vocab)).double(), 0.01)
    expect_close(fn(head.clone(), len(vocab), 0.01), package, "P against the package's count_bigrams", rtol=1e-5,
                 atol=1e-7, what_zh="与本软件包的 count_bigrams 对照的 P")


# ------------------------------------------------------------------------------------------ 1.2


def cross_entropy(log_probs: Tensor, ids: Tensor, base: float = 2.0) -> float:
    """Return the cross-entropy of the bigram table on the sequence ``ids``: the mean, over the
    len(ids) - 1 transitions, of -log p(ids[t+1] | ids[t]), with the logarithm taken to ``base``
    (base 2: bits per character; base e: nats per character). ``log_probs[a, b]`` holds the
    *natural* logarithm of p(b | a)."""
    raise NotImplementedError


def _diagnose_base(got: float, nats: float, base: float, transitions: int, what: str, what_zh: str) -> None:
    """Name the usual mistakes: the base ignored, multiplied instead of divided, a sum instead of a mean."""
    if base != math.e and math.isclose(got, nats, rel_tol=1e-5):
        raise ExerciseFailure(f"{what}: you return {got:.4f}, the value in nats; the base {base:g} is ignored. "
                              "`log_probs` holds natural logarithms: convert them to the requested base.",
                              f"{what_zh}：你返回的是 {got:.4f}，即以奈特计的值；底数 {base:g} 被忽略了。"
                              "`log_probs` 存放的是自然对数：请把它们换算到所要求的底。")
    if base != math.e and math.isclose(got, nats * math.log(base), rel_tol=1e-5):
        raise ExerciseFailure(f"{what}: you multiply by ln({base:g}). A logarithm in base b is the natural "
                              "logarithm *divided* by ln(b) (one bit is ln 2 = 0.693 nats).",
                              f"{what_zh}：你乘上了 ln({base:g})。以 b 为底的对数等于自然对数*除以* ln(b)"
                              "（1 比特等于 ln 2 = 0.693 奈特）。")
    if transitions > 1 and math.isclose(got, transitions * nats / math.log(base), rel_tol=1e-5):
        raise ExerciseFailure(f"{what}: you return the sum over the {transitions} transitions; the cross-entropy "
                              "is their mean (per character).",
                              f"{what_zh}：你返回的是 {transitions} 次转移的总和；交叉熵是它们的均值（按每个字符计）。")


def _check_cross_entropy(fn) -> None:
    coin = torch.log(torch.full((2, 2), 0.5, dtype=torch.float64))
    flips = torch.tensor([0, 1, 1, 0, 1, 0, 0, 0, 1])
    got = fn(coin.clone(), flips.clone(), 2.0)
    expect_shape(got, (), "the cross-entropy (one number)", "交叉熵（一个数）")
    _diagnose_base(float(got), math.log(2), 2.0, len(flips) - 1, "on fair coin flips in bits",
                   "在公平硬币的抛掷序列上（以比特计）")
    expect_close(got, 1.0, "the cross-entropy of a fair coin in bits", rtol=1e-6,
                 hint="a fair coin costs exactly one bit per toss.",
                 what_zh="公平硬币以比特计的交叉熵", hint_zh="公平硬币每抛一次恰好花费 1 比特。")
    # by hand: 0 -> 1 (p = 1/2: 1 bit), 1 -> 2 (p = 1/8: 3 bits), 2 -> 0 (p = 1/3: log2 3 bits); every transition
    # costs a different amount, so dropping the first or the last one shows
    P = torch.tensor([[1 / 4, 1 / 2, 1 / 4], [3 / 8, 1 / 2, 1 / 8], [1 / 3, 1 / 3, 1 / 3]], dtype=torch.float64)
    expect_close(fn(P.log(), torch.tensor([0, 1, 2, 0]), 2.0), (1 + 3 + math.log2(3)) / 3,
                 "the cross-entropy in bits of the sequence 0 1 2 0, whose transitions have p = 1/2, 1/8 and 1/3",
                 rtol=1e-6, hint="all len(ids) - 1 = 3 transitions count: 0 -> 1, 1 -> 2 and 2 -> 0 cost 1, 3 and "
                                 "log2(3) bits, so the mean is (4 + log2 3) / 3 = 1.8617 bits.",
                 what_zh="序列 0 1 2 0（其转移概率为 p = 1/2、1/8 和 1/3）以比特计的交叉熵",
                 hint_zh="全部 len(ids) - 1 = 3 次转移都要计入：0 -> 1、1 -> 2 和 2 -> 0 分别花费 1、3 和 log2(3) "
                         "比特，所以均值是 (4 + log2 3) / 3 = 1.8617 比特。")
    lp = _shakespeare_log_probs()
    _, _, val_ids = _shakespeare()
    nats = F.cross_entropy(lp[val_ids[:-1]], val_ids[1:]).item()  # PyTorch's cross-entropy (the table is normalised)
    for base, unit, unit_zh in ((math.e, "nats", "奈特"), (2.0, "bits", "比特"),
                                (10.0, "digits (base 10)", "十进制位（底数 10）")):
        got = float(fn(lp.clone(), val_ids.clone(), base))
        what = f"the held-out cross-entropy of the add-one table in {unit}"
        what_zh = f"加一平滑表在留出集上以{unit_zh}计的交叉熵"
        _diagnose_base(got, nats, base, len(val_ids) - 1, what, what_zh)
        expect_close(got, nats / math.log(base), what, rtol=1e-5,
                     hint="the transitions are (ids[t], ids[t+1]): row = current character, column = next one.",
                     what_zh=what_zh, hint_zh="转移是 (ids[t], ids[t+1])：行 = 当前字符，列 = 下一个字符。")
    V = 65
    uniform = torch.full((V, V), -math.log(V), dtype=torch.float64)
    expect_close(fn(uniform, val_ids[:1000].clone(), 2.0), math.log2(V), "the uniform model's cross-entropy in bits",
                 rtol=1e-6, hint="a uniform guess over V characters costs log2(V) bits per character.",
                 what_zh="均匀模型以比特计的交叉熵", hint_zh="在 V 个字符上均匀地猜，每个字符花费 log2(V) 比特。")


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
    expect_shape(got, (), "the perplexity (one number)", "困惑度（一个数）")
    if math.isclose(float(got), 5.0, rel_tol=1e-6):
        raise ExerciseFailure("on the sequence 0 1 2, whose transitions have p = 1/2 and 1/8, you get 5 = (2 + 8) / 2: "
                              "the mean of the exponentials. Perplexity is the exponential of the *mean* negative "
                              "log-likelihood (a geometric mean of 1/p), not the mean of 1/p.",
                              "在序列 0 1 2 上（其两次转移的概率为 p = 1/2 和 1/8），你得到 5 = (2 + 8) / 2："
                              "这是指数的均值。困惑度是*平均*负对数似然的指数（1/p 的几何平均），而不是 1/p 的均值。")
    if math.isclose(float(got), 0.25, rel_tol=1e-6):
        raise ExerciseFailure("on the sequence 0 1 2 you get 1/4 = 1 / perplexity: the log-likelihood needs its minus "
                              "sign (a perplexity is at least 1).",
                              "在序列 0 1 2 上你得到 1/4 = 1 / 困惑度：对数似然需要带上负号（困惑度至少为 1）。")
    expect_close(got, 4.0, "the perplexity of 0 1 2 when its transitions have p = 1/2 and p = 1/8", rtol=1e-6,
                 hint="the transitions are 0 -> 1 (row 0, column 1) and 1 -> 2 (row 1, column 2): the row is the "
                      "current character, the column the next one.",
                 what_zh="转移概率为 p = 1/2 和 p = 1/8 时 0 1 2 的困惑度",
                 hint_zh="转移是 0 -> 1（第 0 行第 1 列）和 1 -> 2（第 1 行第 2 列）：行是当前字符，列是下一个字符。")
    cycle = torch.log(torch.eye(4, dtype=torch.float64).roll(1, dims=1))  # a -> a+1 with certainty
    expect_close(fn(cycle, torch.tensor([0, 1, 2, 3, 0, 1, 2])), 1.0, "the perplexity of a model that is always right",
                 rtol=1e-6, hint="a model that gives every observed transition probability 1 has perplexity 1.",
                 what_zh="总是预测正确的模型的困惑度", hint_zh="给每个观测到的转移都赋予概率 1 的模型，困惑度为 1。")
    V = 65
    gen = torch.Generator().manual_seed(3)
    uniform = torch.full((V, V), -math.log(V), dtype=torch.float64)
    expect_close(fn(uniform, torch.randint(0, V, (500,), generator=gen)), float(V), "the uniform model's perplexity",
                 rtol=1e-6, hint="a uniform guess over V characters has perplexity exactly V.",
                 what_zh="均匀模型的困惑度", hint_zh="在 V 个字符上均匀地猜，困惑度恰好为 V。")
    lp = _shakespeare_log_probs()
    _, _, val_ids = _shakespeare()
    expected = _package_perplexity(lp, val_ids)
    got = float(fn(lp.clone(), val_ids.clone()))
    expect_close(got, expected, "the held-out perplexity of the add-one table on tiny-shakespeare", rtol=1e-5,
                 hint="pick log p(ids[t+1] | ids[t]): row = the current character, column = the next one; "
                      "average over the transitions rather than summing.",
                 what_zh="加一平滑表在 tiny-shakespeare 留出集上的困惑度",
                 hint_zh="取 log p(ids[t+1] | ids[t])：行 = 当前字符，列 = 下一个字符；对所有转移求平均，而不是求和。")


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
                         "50 draws from a row", "从一行中抽取的 50 个结果")
    expect(not draws.is_floating_point(), f"the draws should be integer ids; got {draws.dtype}.",
           f"抽取结果应当是整数 id；实际是 {draws.dtype}。")
    expect(bool((draws == 3).all()), "a row with probability 1 on id 3 must give id 3 every time; it gave "
                                     f"{sorted(set(draws.tolist()))}.",
           f"在 id 3 上概率为 1 的一行每次都必须给出 id 3；它给出的是 {sorted(set(draws.tolist()))}。")
    expect_shape(fn(one_hot.clone(), 1, torch.Generator().manual_seed(0)), (1,), "a single draw (n = 1)",
                 "单次抽取（n = 1）")

    vocab, train_ids, _ = _shakespeare()
    row = _shakespeare_log_probs()[vocab.stoi[" "]].exp().float()  # what follows a space in the training text
    sparse = torch.tensor([0.0, 0.5, 0.0, 0.3, 0.2])
    for p, n, seed, what, what_zh in ((row, 20_000, 1234, "the row after a space (add-one counts on tiny-shakespeare)",
                                       "空格之后的那一行（tiny-shakespeare 上的加一平滑计数）"),
                                      (sparse, 5_000, 99, "the row (0, 0.5, 0, 0.3, 0.2)",
                                       "概率为 (0, 0.5, 0, 0.3, 0.2) 的那一行")):
        d = expect_shape(fn(p.clone(), n, torch.Generator().manual_seed(seed)), (n,), f"{n} draws from {what}",
                         f"从{what_zh}中抽取的 {n} 个结果")
        d = d.long()
        expect(bool(((d >= 0) & (d < p.numel())).all()),
               f"draws from {what} fall outside 0..{p.numel() - 1}: they should be column indices of the row.",
               f"从{what_zh}中抽取的结果落在 0..{p.numel() - 1} 之外：它们应当是该行的列下标。")
        expect(bool((p[d] > 0).all()), f"from {what} you drew an id whose probability is 0.",
               f"你从{what_zh}中抽到了一个概率为 0 的 id。")
        stat, dof = _chi_square(d, p)
        limit = dof + 6 * math.sqrt(2 * dof)  # 6 standard deviations of a chi-square above its mean
        expect(stat < limit,
               f"the frequencies of your {n} draws from {what} do not match the row: chi-square {stat:.0f} on {dof} "
               f"degrees of freedom (a fair sample stays below {limit:.0f}). Each draw should pick id b with "
               "probability probs[b], independently of the others (with replacement).",
               f"你从{what_zh}中抽取的 {n} 个结果的频率与该行不符：卡方统计量为 {stat:.0f}，自由度为 {dof}"
               f"（公正的样本会低于 {limit:.0f}）。每次抽取都应以概率 probs[b] 选中 id b，"
               "且与其他抽取相互独立（有放回）。")
    again = [fn(row.clone(), 1000, torch.Generator().manual_seed(7)) for _ in range(2)]
    expect(torch.equal(again[0], again[1]),
           "two calls with generators seeded alike gave different draws: pass `generator=` to torch.multinomial, "
           "so that the seed alone decides the sample.",
           "两次调用使用了随机种子相同的随机数生成器，却得到了不同的抽取结果："
           "把 `generator=` 传给 torch.multinomial，使样本仅由随机种子决定。")
    other = fn(row.clone(), 1000, torch.Generator().manual_seed(8))
    expect(not torch.equal(again[0], other),
           "generators with different seeds gave the same draws: use the generator you are given, do not create "
           "or seed your own.",
           "随机种子不同的随机数生成器给出了相同的抽取结果：请使用传给你的生成器，"
           "不要自己创建生成器，也不要自己设置随机种子。")


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
    for text, alpha, frac, what, what_zh in ((shakespeare, 1.0, 0.1, "tiny-shakespeare (alpha = 1, 10% held out)",
                                              "tiny-shakespeare（alpha = 1，留出 10%）"),
                                             (shakespeare, 0.1, 0.2, "tiny-shakespeare (alpha = 0.1, 20% held out)",
                                              "tiny-shakespeare（alpha = 0.1，留出 20%）"),
                                             (crafted, 1.0, 0.1, "a text whose held-out tail has characters the "
                                                                 "training part lacks",
                                              "一段留出尾部含有训练部分所没有的字符的文本")):
        try:
            got = fn(text, alpha, frac)
        except ValueError as e:
            if "not in the vocabulary" not in str(e):
                raise
            raise ExerciseFailure(f"on {what}, your function stops: {e}. A tokenizer built from the training part "
                                  "cannot encode a character that first appears in the held-out part; the model "
                                  "needs a row and a column for it (smoothing then gives it a small probability).",
                                  f"{what_zh}：你的函数出错停止（{e}）。由训练部分构建的分词器无法编码首次出现在"
                                  "留出部分的字符；模型需要为它准备一行和一列（平滑随后会给它一个很小的概率）。") \
                from None
        expected = _reference_heldout(text, alpha, frac)
        expect_shape(got, (), f"the held-out perplexity on {what}", f"{what_zh}上的留出集困惑度")
        got = float(got)
        if math.isclose(got, _train_perplexity(text, alpha, frac), rel_tol=1e-4):
            raise ExerciseFailure(f"on {what}, you report {got:.3f}, the perplexity on the *training* part (the "
                                  f"held-out value is {expected:.3f}). A model scored on the text it counted is "
                                  "scored on its own answers: measure it on the held-out tail.",
                                  f"{what_zh}：你报告的 {got:.3f} 是*训练*部分上的困惑度（留出集上的值是 "
                                  f"{expected:.3f}）。在模型计数过的文本上给它打分，等于拿它自己的答案来评判它："
                                  "请在留出的尾部上测量。")
        if alpha != 1.0 and math.isclose(got, _reference_heldout(text, 1.0, frac), rel_tol=1e-4):
            raise ExerciseFailure(f"on {what}, your value is the one for alpha = 1: smooth with the `alpha` argument.",
                                  f"{what_zh}：你的值是 alpha = 1 时的值：请用参数 `alpha` 做平滑。")
        if got < expected * (1 - 1e-4):
            raise ExerciseFailure(f"on {what}, your perplexity {got:.3f} is lower than the held-out value "
                                  f"{expected:.3f}. Check the three steps: the vocabulary holds every character of "
                                  "the text (none mapped to another id or to a shared unknown row), only the "
                                  "training part is counted, and every transition of the tail is scored, none "
                                  "dropped or added.",
                                  f"{what_zh}：你的困惑度 {got:.3f} 低于留出集上的值 {expected:.3f}。检查这三步："
                                  "词表包含文本中的每个字符（没有字符被映射到别的编号或共用的未知行），只对训练部分"
                                  "计数，并且尾部的每一次转移都计入得分，既不遗漏也不多加。")
        expect_close(got, expected, f"the held-out perplexity on {what}", rtol=1e-4,
                     hint="compare your steps with bigram.train_bigram: which text the vocabulary comes from, what "
                          "is counted, and what is measured.",
                     what_zh=f"{what_zh}上的留出集困惑度",
                     hint_zh="把你的步骤与 bigram.train_bigram 对照：词表来自哪段文本，统计的是什么，测量的又是什么。")


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


def _ce_drops_first(log_probs, ids, base=2.0):
    return float(-log_probs[ids[1:-1], ids[2:]].mean()) / math.log(base)


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

# every exercise of the chapter rests on the notebook's bigram model
_BIGRAM = "the bigram model of {doc}`/notebooks/01_first_look`"

EXERCISES = [
    Exercise("1.1", "Bigram probabilities from counts", "warm-up",
             "Estimate the bigram table $P[a, b] = p(b \\mid a)$ by counting, with add-$\\alpha$ smoothing: "
             "$P[a, b] = (N(a, b) + \\alpha) / \\sum_{b'} (N(a, b') + \\alpha)$. The check compares your table with "
             "counts taken pair by pair in plain Python and with the package's `count_bigrams`, on a sequence small "
             "enough to count by hand, on one with a character that nothing follows, and on tiny-shakespeare.",
             bigram_probabilities, _check_bigram_probabilities, setup=_SETUP_SHAKESPEARE,
             wrong=(_probs_columns, _probs_transposed, _probs_alpha_once, _probs_unsmoothed),
             background=_BIGRAM),
    Exercise("1.2", "Cross-entropy in bits and in nats", "warm-up",
             "The cross-entropy of a model on a text is the mean of $-\\log p(x_{t+1} \\mid x_t)$; its unit is "
             "set by the base of the logarithm (base 2: bits per character, base $e$: nats). The table holds "
             "natural logarithms. The check uses a fair coin (exactly one bit), the uniform model ($\\log_2 V$ "
             "bits) and the add-one table on held-out Shakespeare against PyTorch's `F.cross_entropy`.",
             cross_entropy, _check_cross_entropy, setup="import math",
             wrong=(_ce_ignores_base, _ce_times_ln, _ce_sum, _ce_drops_first),
             background=_BIGRAM),
    Exercise("1.3", "Perplexity", "core",
             "Perplexity is $\\exp$ of the mean negative log-likelihood per transition: the effective number of "
             "equally likely next characters. It is the exponential of a mean, not the mean of exponentials. "
             "The check uses a two-step sequence you can work out on paper, a model that is always right "
             "(perplexity 1), the uniform model (perplexity exactly $V$) and the package's `bigram.perplexity` "
             "on held-out Shakespeare.",
             perplexity, _check_perplexity,
             wrong=(_ppl_mean_of_exps, _ppl_swapped, _ppl_no_minus),
             background=_BIGRAM),
    Exercise("1.4", "Sampling the next character", "core",
             "Generation draws the next character from the row $P[a, :]$ of the current character $a$. Write the "
             "draw with `torch.multinomial` and the generator you are given. The check counts how often each id "
             "comes out in thousands of draws and compares the frequencies with the row by a chi-square statistic "
             "(fixed seeds, so the verdict is the same every run), and checks that the seed alone decides the "
             "sample.",
             sample_next, _check_sample_next, wrong=(_sample_argmax, _sample_global_rng, _sample_uniform),
             background=_BIGRAM),
    Exercise("1.5", "Find the bug: a held-out perplexity that is too good", "stretch",
             "The function below runs on tiny-shakespeare and returns a perplexity below the held-out perplexity "
             "of the count model that the first-look notebook prints (`val_ppl_counts`). The gap is small here, "
             "because a 65 × 65 table has few parameters for a million characters, but the number measures the "
             "wrong thing; for a model with many parameters the same mistake can hide severe overfitting. "
             "Find the mistake and fix it. The first fix uncovers a second problem "
             "that tiny-shakespeare hides but another text exposes: the check also runs your function on a "
             "text whose held-out tail has characters the training part never shows. Follow the book's convention, "
             "that of `bigram.train_bigram`: the vocabulary comes from the whole text, the counts from the "
             "training part only.",
             heldout_perplexity, _check_heldout, setup=_SETUP_SHAKESPEARE,
             wrong=(_heldout_train_vocab, _heldout_drop_unseen, _heldout_counts_everything),
             background=_BIGRAM),
]
