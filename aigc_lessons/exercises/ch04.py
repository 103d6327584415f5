"""Chapter 4 exercises (attention and language models): causal attention from its formula, the
softmax saturation that the sqrt(d_k) prevents, a causal mask that peeks one step ahead, the
distribution of nucleus (top-p) sampling, and multi-head attention with its heads split and merged."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import Exercise, ExerciseFailure, close, expect, expect_close, expect_shape

Tensor = torch.Tensor


def _randn(*shape: int, seed: int) -> Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _looks_ahead(fn, inputs: list[Tensor], n: int) -> int | None:
    """The first position t whose output changes when only the inputs at t+1 (along dim -2) change;
    ``None`` when no output depends on a later position. ``inputs`` are the tensors that carry one
    row per position; each is perturbed at one position at a time."""
    base = fn(*inputs)
    for t in range(n - 1):
        moved = []
        for i, a in enumerate(inputs):
            b = a.clone()
            b[..., t + 1, :] += 3.0 + _randn(*b[..., t + 1, :].shape, seed=100 + t)
            moved.append(b)
        out = fn(*moved)
        if not close(out[..., : t + 1, :], base[..., : t + 1, :], rtol=0.0, atol=1e-9):
            return t
    return None


# ------------------------------------------------------------------------------------------ 4.1


def causal_attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """Return causal scaled dot-product attention softmax(q kᵀ / sqrt(d_k) + M) v for queries and keys
    q, k of shape (..., n, d_k) and values v of shape (..., n, d_v), where the mask M is 0 where key j
    comes at or before query i (j <= i) and -inf where it comes after (j > i). The leading dimensions
    (batch, heads) are any; the result has shape (..., n, d_v)."""
    raise NotImplementedError


def _check_causal_attention(fn) -> None:
    q, k, v = _randn(5, 4, seed=0), _randn(5, 4, seed=1), _randn(5, 3, seed=2)
    out = expect_shape(fn(q.clone(), k.clone(), v.clone()), (5, 3), "the output for q, k (5, 4) and v (5, 3)",
                       "q、k 为 (5, 4)、v 为 (5, 3) 时的输出")
    expect(out.dtype == torch.float64, f"for float64 inputs your output is {out.dtype}: compute in the inputs' dtype "
                                       "(a cast such as .float() drops digits, and the check compares to 1e-9).",
           f"输入是 float64 时你的输出是 {out.dtype}：请用输入的 dtype 计算（.float() 之类的转换会丢失有效数字，"
           "而检查的比较精度是 1e-9）。")
    rows = (~torch.isfinite(out)).any(-1).nonzero().flatten().tolist()
    if rows:
        raise ExerciseFailure(f"rows {rows} of your output are NaN or infinite. A row is NaN when every key of that "
                              "query is masked (the softmax divides 0 by 0): query i must see keys j <= i, itself "
                              "included, so the mask starts one step above the diagonal (torch.triu(..., diagonal=1)).",
                              f"你的输出的第 {rows} 行是 NaN 或无穷大。当某个查询的所有键都被掩码时，这一行就是 NaN"
                              "（softmax 算出 0 除以 0）：查询 i 必须能看到 j <= i 的键，包括它自己，所以掩码从对角线"
                              "上方一格开始（torch.triu(..., diagonal=1)）。")
    ones = fn(q.clone(), k.clone(), torch.ones(5, 3, dtype=torch.float64))
    expect_close(ones, torch.ones(5, 3), "the output when every value is 1", rtol=1e-9,
                 hint="each output is a weighted average of values, so its weights over the keys must sum to 1: "
                      "take the softmax along the keys' axis (the last axis of q kᵀ), after masking.",
                 what_zh="所有值都为 1 时的输出",
                 hint_zh="每个输出都是值的加权平均，所以它在各个键上的权重之和必须为 1：先施加掩码，"
                         "再沿键所在的轴（q kᵀ 的最后一个轴）做 softmax。")
    t = _looks_ahead(lambda a, b, c: fn(a, b, c), [q, k, v], 5)
    if t is not None:
        raise ExerciseFailure(f"the output at position {t} changes when only the query, key and value at position "
                              f"{t + 1} change: a later position still gets some weight. Masked keys need a logit of "
                              "-inf (weight exactly 0), and only keys j > i are masked.",
                              f"只改动位置 {t + 1} 处的查询、键和值，位置 {t} 处的输出就发生了变化：靠后的位置仍然"
                              "分到了一些权重。被掩码的键的 logit 必须是 -inf（权重恰好为 0），并且只有 j > i 的键"
                              "才被掩码。")
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    if close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=1.0), rtol=1e-5, atol=1e-9):
        raise ExerciseFailure("your output is that of attention without the 1/sqrt(d_k) factor: divide the logits "
                              "q kᵀ by sqrt(d_k) before the softmax.",
                              "你的输出是不带 1/sqrt(d_k) 因子的注意力的输出：在 softmax 之前，把 logits q kᵀ "
                              "除以 sqrt(d_k)。")
    expect_close(out, ref, "the output for one sequence of 5 tokens", rtol=1e-7, atol=1e-9,
                 hint="the logits are q kᵀ / sqrt(d_k), with d_k the last dimension of q (not of v).",
                 what_zh="一个包含 5 个词元的序列的输出",
                 hint_zh="logits 是 q kᵀ / sqrt(d_k)，其中 d_k 是 q（而不是 v）的最后一维。")
    # a batch of heads, with gradients
    q, k, v = (_randn(2, 3, 7, 8, seed=s).requires_grad_(True) for s in (3, 4, 5))
    out = expect_shape(fn(q, k, v), (2, 3, 7, 8), "the output for a batch q, k, v of shape (2, 3, 7, 8)",
                       "形状为 (2, 3, 7, 8) 的一批 q、k、v 的输出")
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    expect_close(out.detach(), ref.detach(), "the output for a batch (2, 3, 7, 8)", rtol=1e-7, atol=1e-9,
                 hint="work on the last two axes only (k.transpose(-2, -1), softmax over dim=-1), so that any "
                      "leading batch and head axes pass through.",
                 what_zh="形状为 (2, 3, 7, 8) 的一批输入的输出",
                 hint_zh="只在最后两个轴上运算（k.transpose(-2, -1)，在 dim=-1 上做 softmax），"
                         "让前面任意的批次轴和头轴原样保留。")
    expect(out.requires_grad, "the output must be differentiable in q, k and v (no .detach(), .numpy() or .item()).",
           "输出必须对 q、k 和 v 可微（不要用 .detach()、.numpy() 或 .item()）。")
    g = _randn(2, 3, 7, 8, seed=6)
    got = torch.autograd.grad((out * g).sum(), (q, k, v))
    want = torch.autograd.grad((ref * g).sum(), (q, k, v))
    for name, a, b in zip("qkv", got, want):
        expect_close(a, b, f"the gradient in {name}", rtol=1e-6, atol=1e-9, what_zh=f"对 {name} 的梯度")
    # one token: it can only attend to itself
    q1, k1, v1 = _randn(1, 4, seed=7), _randn(1, 4, seed=8), _randn(1, 2, seed=9)
    expect_close(fn(q1, k1, v1), v1, "the output for a single token", rtol=1e-9,
                 hint="a single token sees only itself, so its output is its own value.",
                 what_zh="单个词元的输出", hint_zh="单个词元只能看到它自己，所以它的输出就是它自己的值。")
    # large logits (a trained model's can reach the hundreds): exp alone overflows above 709 in float64
    q, k, v = 1000 * _randn(5, 4, seed=20), _randn(5, 4, seed=21), _randn(5, 3, seed=22)
    big = float((q @ k.T).abs().max() / 2)
    got = fn(q, k, v)
    expect(bool(torch.isfinite(got).all()),
           f"with logits up to about {big:,.0f} your output is not finite. Either exp overflowed (above 709 in "
           "float64: subtract each row's largest logit before exp, or use torch.softmax, which does), or the softmax "
           "ran over the masked keys too, a later key took all the weight and the visible keys' weights underflowed "
           "to 0 before renormalising (set the masked logits to -inf before the softmax).",
           f"当 logits 大到约 {big:,.0f} 时，你的输出不是有限值。要么是 exp 溢出了（float64 中超过 709 就会溢出："
           "请在 exp 之前减去每行最大的 logit，或者使用会这样做的 torch.softmax），要么是 softmax 把被掩码的键也算了"
           "进去，一个靠后的键拿走了全部权重，可见键的权重在重新归一化之前就下溢成了 0（请在 softmax 之前把被掩码"
           "的 logits 设为 -inf）。")
    expect_close(got, F.scaled_dot_product_attention(q, k, v, is_causal=True), "the output for logits in the thousands",
                 rtol=1e-7, atol=1e-9, what_zh="logits 达到数千时的输出")


def _attn_no_shift(q, k, v):
    n = q.shape[-2]
    s = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).exp()
    s = s.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), 0.0)
    return s / s.sum(-1, keepdim=True) @ v


def _attn_unscaled(q, k, v):
    n = q.shape[-2]
    s = (q @ k.transpose(-2, -1)).masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def _attn_fill_zero(q, k, v):
    n = q.shape[-2]
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return torch.softmax(s.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), 0.0), dim=-1) @ v


def _attn_wrong_axis(q, k, v):
    n = q.shape[-2]
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return torch.softmax(s.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf")), dim=-2) @ v


# ------------------------------------------------------------------------------------------ 4.2


def softmax_saturation(q: Tensor, k: Tensor, scaled: bool = True) -> tuple[float, float]:
    """For queries q (n_q, d_k) and keys k (n_k, d_k), form the attention logits s = q kᵀ, divided by
    sqrt(d_k) when ``scaled``, and return (the variance of all entries of s, the mean over the queries of
    the largest attention weight in that query's row of softmax(s)). A largest weight near 1 means a
    saturated, almost one-hot softmax."""
    raise NotImplementedError


def _check_softmax_saturation(fn) -> None:
    from ..attention import scaling_experiment

    n_q, n_k, seed = 256, 64, 3
    for d_k in (16, 256, 1024):
        df = scaling_experiment((d_k,), n_keys=n_k, n_queries=n_q, seed=seed)
        gen = torch.Generator().manual_seed(seed)  # the same draws as the experiment
        q = torch.randn(n_q, d_k, generator=gen, dtype=torch.float64)
        k = torch.randn(n_k, d_k, generator=gen, dtype=torch.float64)
        for scaled in (True, False):
            row = df[df.scaled == scaled].iloc[0]
            got = fn(q.clone(), k.clone(), scaled)
            expect(isinstance(got, (tuple, list)) and len(got) == 2,
                   "return a pair (variance of the logits, mean largest attention weight).",
                   "返回一个二元组（logits 的方差，平均最大注意力权重）。")
            var, top = (float(x) for x in got)
            label = f"d_k = {d_k}, {'scaled' if scaled else 'not scaled'}"
            label_zh = f"d_k = {d_k}、{'有缩放' if scaled else '无缩放'}"
            if scaled and math.isclose(var * d_k, row.logit_var, rel_tol=1e-2):
                raise ExerciseFailure(f"with {label} your logit variance is about 1/d_k: you divided by d_k. The "
                                      "variance of q·k is d_k, so the factor that brings it back to 1 is 1/sqrt(d_k).",
                                      f"当 {label_zh}时，你的 logits 方差约为 1/d_k：你除以了 d_k。q·k 的方差是 d_k，"
                                      "所以把它拉回到 1 的因子是 1/sqrt(d_k)。")
            expect_close(var, row.logit_var, f"the variance of the logits ({label})", rtol=1e-3,
                         hint="the variance (the square of the standard deviation) of every entry of the "
                              f"({n_q}, {n_k}) matrix of logits.",
                         what_zh=f"logits 的方差（{label_zh}）",
                         hint_zh="要求的是形状为 "
                                 f"({n_q}, {n_k}) 的 logits 矩阵中所有元素的方差（即标准差的平方）。")
            expect_close(top, row.max_prob, f"the mean largest attention weight ({label})", rtol=1e-6,
                         hint="take the softmax of each query's row (over the keys, dim=-1), its largest entry, "
                              "then the mean over the queries.",
                         what_zh=f"平均最大注意力权重（{label_zh}）",
                         hint_zh="对每个查询所在的行做 softmax（在键上，即 dim=-1），取其中最大的元素，"
                                 "再对所有查询求平均。")
    # what the numbers say at d_k = 1024 (the last width above): the claim of the chapter, with your function
    var_u, top_u = (float(x) for x in fn(q, k, False))
    var_s, top_s = (float(x) for x in fn(q, k, True))
    expect(0.8 < var_u / 1024 < 1.2 and 0.8 < var_s < 1.2 and top_u > 0.9 > 0.5 > top_s,
           "at d_k = 1024 the unscaled logits should have variance near d_k and a saturated softmax, the scaled "
           "ones variance near 1 and no saturation.",
           "在 d_k = 1024 时，未缩放的 logits 的方差应接近 d_k，且 softmax 饱和；缩放后的 logits 方差应接近 1，"
           "且不饱和。")


def _sat_divide_by_dk(q, k, scaled=True):
    s = q @ k.T / (q.shape[-1] if scaled else 1.0)
    return float(s.var()), float(torch.softmax(s, dim=-1).max(dim=-1).values.mean())


def _sat_wrong_axis(q, k, scaled=True):
    s = q @ k.T / (math.sqrt(q.shape[-1]) if scaled else 1.0)
    return float(s.var()), float(torch.softmax(s, dim=0).max(dim=-1).values.mean())


def _sat_std(q, k, scaled=True):
    s = q @ k.T / (math.sqrt(q.shape[-1]) if scaled else 1.0)
    return float(s.std()), float(torch.softmax(s, dim=-1).max(dim=-1).values.mean())


# ------------------------------------------------------------------------------------------ 4.3


def causal_self_attention(x: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor) -> Tensor:
    """One head of causal self-attention over the token vectors x (..., n, d): queries x @ w_q, keys
    x @ w_k, values x @ w_v, logits divided by sqrt(d_k), and a mask so that the token at position t
    attends to positions 0, ..., t and never to a later one. This version runs and returns the right
    shape, but it has a bug. Find it and fix it."""
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    n = x.shape[-2]
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    future = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=2)  # True above the diagonal: later keys
    scores = scores.masked_fill(future, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v


def _check_causal_self_attention(fn) -> None:
    d, d_k, d_v, n = 6, 4, 5, 6
    w_q, w_k, w_v = _randn(d, d_k, seed=10), _randn(d, d_k, seed=11), _randn(d, d_v, seed=12)
    x = _randn(2, n, d, seed=13)
    out = expect_shape(fn(x.clone(), w_q, w_k, w_v), (2, n, d_v), f"the output for x (2, {n}, {d})",
                       f"x 为 (2, {n}, {d}) 时的输出")
    expect(bool(torch.isfinite(out).all()), "your output contains NaN: some position attends to no key at all. "
                                            "Every position must still see itself (and everything before it).",
           "你的输出含有 NaN：某个位置根本没有关注任何键。每个位置都必须仍能看到它自己（以及它之前的所有位置）。")
    t = _looks_ahead(lambda a: fn(a, w_q, w_k, w_v), [x], n)
    if t is not None:
        raise ExerciseFailure(f"the output at position {t} changes when only the token at position {t + 1} changes: "
                              f"position {t} sees into the future. Print your mask for n = 4 and compare it with the "
                              "causal mask of the chapter, entry by entry.",
                              f"只改动位置 {t + 1} 处的词元，位置 {t} 处的输出就发生了变化：位置 {t} 看到了未来。"
                              "打印 n = 4 时你的掩码，并与本章的因果掩码逐个元素比较。")
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    if not close(out, ref, rtol=1e-7, atol=1e-9):
        causal = torch.ones(n, n, dtype=torch.bool).triu(1)
        slips = (
            (1 / d_k, "the logits are divided by d_k; the factor is 1/sqrt(d_k).", "logits 除以的是 d_k；因子应是 1/sqrt(d_k)。"),
            (1.0, "the logits are not scaled; divide q kᵀ by sqrt(d_k).", "logits 没有缩放；请把 q kᵀ 除以 sqrt(d_k)。"),
            (1 / math.sqrt(d), f"the logits are divided by the square root of the token width d = {d}; the factor is "
                               f"1/sqrt(d_k), with d_k = {d_k} the width of the queries and keys.",
             f"logits 除以的是词元宽度 d = {d} 的平方根；因子应是 1/sqrt(d_k)，d_k = {d_k} 是查询和键的宽度。"),
        )
        for scale, message, message_zh in slips:
            if close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale), rtol=1e-7, atol=1e-9):
                raise ExerciseFailure(f"the mask is right now, but {message}", f"掩码已经对了，但{message_zh}")
        swapped = (k @ q.transpose(-2, -1) / math.sqrt(d_k)).masked_fill(causal, float("-inf"))
        if close(out, torch.softmax(swapped, dim=-1) @ v, rtol=1e-7, atol=1e-9):
            raise ExerciseFailure("the logits are k qᵀ: row i must hold query i's dot products with every key, "
                                  "q @ k.transpose(-2, -1).",
                                  "logits 算成了 k qᵀ：第 i 行必须是查询 i 与每个键的点积，即 q @ k.transpose(-2, -1)。")
    expect_close(out, ref, "the output", rtol=1e-7, atol=1e-9,
                 hint="no position sees the future any more, but the values differ from causal attention: does every "
                      "position still see itself and all earlier positions?",
                 what_zh="输出",
                 hint_zh="已经没有位置能看到未来了，但数值与因果注意力不同：每个位置是否仍能看到它自己和之前的"
                         "所有位置？")
    x1 = _randn(1, d, seed=14)
    expect_close(fn(x1, w_q, w_k, w_v), x1 @ w_v, "the output for a single token", rtol=1e-9,
                 hint="one token sees only itself: its output is its own value x @ w_v.",
                 what_zh="单个词元的输出", hint_zh="单个词元只能看到它自己：它的输出就是它自己的值 x @ w_v。")


def _bug_no_mask(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    return torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5, dim=-1) @ v


def _bug_hides_itself(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    n = x.shape[-2]
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    scores = scores.masked_fill(torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=0), float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def _bug_masks_the_past(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    n = x.shape[-2]
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    scores = scores.masked_fill(torch.tril(torch.ones(n, n, dtype=torch.bool), diagonal=-1), float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


# ------------------------------------------------------------------------------------------ 4.4


def nucleus_probs(logits: Tensor, p: float) -> Tensor:
    """Return the distribution that nucleus (top-p) sampling draws the next token from, for a batch of
    next-token logits (B, V): per row, sort the probabilities softmax(logits) in decreasing order and
    keep the smallest set of most probable tokens whose total probability is at least p (0 < p <= 1);
    tokens whose probability equals that of the last token kept are kept too, so the result does not
    depend on how a sort orders equal values. Set the other tokens' probabilities to 0 and renormalise
    the kept ones to sum to 1. The result has shape (B, V)."""
    raise NotImplementedError


def _nucleus_reference(logits: Tensor, p: float) -> Tensor:
    """The rule, row by row in plain Python and float64."""
    out = torch.zeros(logits.shape, dtype=torch.float64)
    for r, row in enumerate(torch.softmax(logits.double(), dim=-1).tolist()):
        ranked = sorted(row, reverse=True)
        mass, last = 0.0, ranked[0]
        for prob in ranked:
            if mass >= p:
                break
            mass, last = mass + prob, prob
        kept = [prob if prob >= last else 0.0 for prob in row]
        out[r] = torch.tensor(kept, dtype=torch.float64) / sum(kept)
    return out


def _check_nucleus_probs(fn) -> None:
    from ..lm import sample_next, top_p_filter

    logits = torch.tensor([[3.0, 1.0, 0.5, 0.2, -1.0, -2.0],
                           [0.1, 0.0, -0.1, 0.05, -0.05, 0.02],
                           [8.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    probs = torch.softmax(logits.double(), dim=-1)
    for p in (0.5, 0.8, 0.95):
        got = expect_shape(fn(logits.clone(), p), (3, 6), f"the distribution for logits (3, 6) and p = {p}",
                           f"logits 为 (3, 6)、p = {p} 时的分布")
        expect(bool(torch.isfinite(got).all()), f"with p = {p} your distribution contains NaN or infinity: the most "
                                                "probable token of each row is always kept, so a row is never empty.",
               f"p = {p} 时，你的分布含有 NaN 或无穷大：每一行中概率最大的词元总会被保留，所以任何一行都不会为空。")
        expect_close(got.sum(-1), torch.ones(3), f"the row sums for p = {p}", rtol=1e-5,
                     hint="renormalise: divide the kept probabilities by their total.",
                     what_zh=f"p = {p} 时的各行之和", hint_zh="重新归一化：把保留下来的概率除以它们的总和。")
        kept = got.double() > 0
        missed = (probs * kept).sum(-1) < p - 1e-6
        if missed.any():
            raise ExerciseFailure(f"with p = {p} the tokens you keep in row {int(missed.nonzero()[0])} hold less than "
                                  "p of the original probability. Keep the token that crosses p as well.",
                                  f"p = {p} 时，你在第 {int(missed.nonzero()[0])} 行保留的词元所占的原始概率不足 p。"
                                  "把使累计概率越过 p 的那个词元也保留下来。")
        expect_close(got, _nucleus_reference(logits, p), f"the distribution for p = {p}", rtol=1e-5, atol=1e-7,
                     hint="rank by probability (a sort in decreasing order), keep the smallest prefix whose total "
                          "reaches p, and renormalise.",
                     what_zh=f"p = {p} 时的分布",
                     hint_zh="按概率排序（降序），保留总和达到 p 的最短前缀，再重新归一化。")
    expect_close(fn(logits.clone(), 1.0), probs, "the distribution for p = 1", rtol=1e-5, atol=1e-7,
                 hint="p = 1 keeps every token: the result is the softmax itself.",
                 what_zh="p = 1 时的分布", hint_zh="p = 1 会保留所有词元：结果就是 softmax 本身。")
    onehot = torch.zeros(3, 6, dtype=torch.float64)
    onehot[torch.arange(3), logits.argmax(-1)] = 1.0
    expect_close(fn(logits.clone(), 1e-4), onehot, "the distribution for p = 0.0001", atol=1e-7,
                 hint="the most probable token alone already reaches a tiny p: it is always kept, and nothing else.",
                 what_zh="p = 0.0001 时的分布",
                 hint_zh="仅最可能的那个词元就已经达到很小的 p：它总会被保留，其他词元都不保留。")
    # ties: probabilities 0.53, 0.20, 0.20, 0.07; p = 0.6 is reached inside the tied pair
    ties = torch.tensor([[2.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    got = fn(ties.clone(), 0.6)
    expect_close(got, _nucleus_reference(ties, 0.6), "the distribution with tied probabilities (p = 0.6)", atol=1e-7,
                 hint="a token whose probability equals that of the last token kept is kept too, whatever order the "
                      "sort gave the tied tokens.",
                 what_zh="概率相等时的分布（p = 0.6）",
                 hint_zh="概率与最后一个被保留的词元相等的词元也要保留，无论排序给这些概率相等的词元排出怎样的"
                         "顺序。")
    # random logits (no ties): the package's filter and its sampler
    z = _randn(4, 50, seed=20).float() * 2.0
    for p in (0.3, 0.9):
        expect_close(fn(z.clone(), p), torch.softmax(top_p_filter(z, p), dim=-1), f"the distribution for random "
                     f"logits (4, 50) and p = {p} (compared with lm.top_p_filter)", rtol=1e-4, atol=1e-6,
                     what_zh=f"随机 logits (4, 50)、p = {p} 时的分布（与 lm.top_p_filter 比较）")
    row = torch.tensor([[2.0, 1.5, 1.0, 0.3, -0.5, -2.0]])
    n_draws = 40_000
    draws = sample_next(row.expand(n_draws, -1), top_p=0.8, generator=torch.Generator().manual_seed(21))
    freq = torch.bincount(draws, minlength=6).double() / n_draws
    mine = fn(row.clone(), 0.8)[0].double()
    expect(float((freq - mine).abs().max()) < 0.015,
           f"{n_draws} draws of the book's sampler lm.sample_next(top_p=0.8) land with frequencies "
           f"{[round(f, 3) for f in freq.tolist()]}, your distribution says {[round(f, 3) for f in mine.tolist()]}.",
           f"本书的采样器 lm.sample_next(top_p=0.8) 抽取 {n_draws} 次得到的频率是 "
           f"{[round(f, 3) for f in freq.tolist()]}，而你的分布给出的是 {[round(f, 3) for f in mine.tolist()]}。")


def _nucleus_exclusive(logits, p):
    probs, order = torch.softmax(logits, dim=-1).sort(dim=-1, descending=True)
    keep = probs.cumsum(-1) < p
    keep[..., 0] = True
    kept = torch.zeros_like(probs).scatter(-1, order, probs * keep)
    return kept / kept.sum(-1, keepdim=True)


def _nucleus_no_renorm(logits, p):
    probs, order = torch.softmax(logits, dim=-1).sort(dim=-1, descending=True)
    keep = probs.cumsum(-1) - probs < p
    return torch.zeros_like(probs).scatter(-1, order, probs * keep)


def _nucleus_unsorted(logits, p):
    probs = torch.softmax(logits, dim=-1)
    keep = probs.cumsum(-1) - probs < p
    return probs * keep / (probs * keep).sum(-1, keepdim=True)


# ------------------------------------------------------------------------------------------ 4.5


def multi_head_self_attention(x: Tensor, w_qkv: Tensor, b_qkv: Tensor, w_out: Tensor, b_out: Tensor,
                              n_heads: int, causal: bool = False) -> Tensor:
    """Multi-head self-attention of x (B, n, d) with ``n_heads`` heads of width d_h = d / n_heads.

    1. Project: [q | k | v] = x w_qkvᵀ + b_qkv, where w_qkv (3d, d) holds the query rows, then the key
       rows, then the value rows (the layout of nn.MultiheadAttention's in_proj_weight), b_qkv is (3d,).
    2. Split each of q, k, v (B, n, d) into heads (B, n_heads, n, d_h); head h owns the features
       h*d_h, ..., (h+1)*d_h - 1.
    3. Run scaled dot-product attention in every head, dividing the logits by sqrt(d_h), the head's own
       width (with the causal mask if ``causal``).
    4. Merge: put the heads' outputs back side by side into (B, n, d), then apply the output projection
       y w_outᵀ + b_out (w_out is (d, d), b_out is (d,)).

    Return the result, shape (B, n, d)."""
    raise NotImplementedError


def _torch_mha(d: int, n_heads: int, seed: int) -> nn.MultiheadAttention:
    with torch.random.fork_rng(devices=[]):
        mha = nn.MultiheadAttention(d, n_heads, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for i, prm in enumerate(mha.parameters()):
            prm.copy_(_randn(*prm.shape, seed=seed + i) * 0.4)
    return mha.eval()


def _check_multi_head(fn) -> None:
    B, n, d = 2, 5, 12
    for n_heads in (1, 3, 4, 12):
        for causal in (False, True):
            mha = _torch_mha(d, n_heads, seed=30 + n_heads)
            x = _randn(B, n, d, seed=40 + n_heads).requires_grad_(True)
            args = (mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight, mha.out_proj.bias)
            label = f"{n_heads} head{'s' if n_heads > 1 else ''}{', causal' if causal else ''}"
            label_zh = f"{n_heads} 个头{'、因果' if causal else ''}"
            out = expect_shape(fn(x, *args, n_heads, causal), (B, n, d),
                               f"the output for x ({B}, {n}, {d}), {label}", f"x 为 ({B}, {n}, {d})、{label_zh} 时的输出")
            # nn.MultiheadAttention's boolean mask means True = *not* allowed: the keys after each query
            mask = torch.ones(n, n, dtype=torch.bool).triu(1) if causal else None
            ref, _ = mha(x, x, x, attn_mask=mask, need_weights=False)
            if n_heads == 1:
                hint = ("with one head there is nothing to split yet: check the projection x @ w.T + b, which rows of "
                        "w_qkv are the queries, keys and values, the 1/sqrt(d_h) and the mask.")
                hint_zh = ("只有一个头时还谈不上拆分：请检查投影 x @ w.T + b、w_qkv 中哪些行分别是查询、键和值、"
                           "1/sqrt(d_h) 因子以及掩码。")
            else:
                hint = ("one head would agree, several do not: check how you split and merge the heads. Head h "
                        "owns features h*d_h ... (h+1)*d_h - 1 of every position, and a reshape alone cannot put the "
                        "heads' axis in front of the positions. Each head divides by sqrt(d_h), its own width.")
                hint_zh = ("只有一个头时结果会一致，多个头时却不一致：检查你如何拆分和合并各个头。头 h 拥有每个位置的"
                           "第 h*d_h ... (h+1)*d_h - 1 个特征，而仅靠一次 reshape 无法把头所在的轴移到位置所在的轴"
                           "前面。每个头都除以 sqrt(d_h)，即它自己的宽度。")
            expect_close(out.detach(), ref.detach(), f"the output ({label}), compared with nn.MultiheadAttention",
                         rtol=1e-7, atol=1e-9, hint=hint,
                         what_zh=f"输出（{label_zh}；与 nn.MultiheadAttention 比较）", hint_zh=hint_zh)
            expect(out.requires_grad, "the output must be differentiable in x and the weights (no .detach() or "
                                      "torch.no_grad()).",
                   "输出必须对 x 和各个权重可微（不要用 .detach() 或 torch.no_grad()）。")
            g = _randn(B, n, d, seed=50)
            got = torch.autograd.grad((out * g).sum(), (x, mha.in_proj_weight))
            want = torch.autograd.grad((ref * g).sum(), (x, mha.in_proj_weight))
            expect_close(got[0], want[0], f"the gradient in x ({label})", rtol=1e-6, atol=1e-9,
                         what_zh=f"对 x 的梯度（{label_zh}）")
            expect_close(got[1], want[1], f"the gradient in w_qkv ({label})", rtol=1e-6, atol=1e-9,
                         what_zh=f"对 w_qkv 的梯度（{label_zh}）")



def _mha_no_transpose(x, w_qkv, b_qkv, w_out, b_out, n_heads, causal=False):
    B, n, d = x.shape
    q, k, v = (t.reshape(B, n_heads, n, d // n_heads) for t in F.linear(x, w_qkv, b_qkv).split(d, dim=-1))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    return F.linear(y.reshape(B, n, d), w_out, b_out)


def _mha_merge_no_transpose(x, w_qkv, b_qkv, w_out, b_out, n_heads, causal=False):
    B, n, d = x.shape
    q, k, v = (t.view(B, n, n_heads, d // n_heads).transpose(1, 2) for t in F.linear(x, w_qkv, b_qkv).split(d, -1))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    return F.linear(y.reshape(B, n, d), w_out, b_out)


def _mha_scale_by_d(x, w_qkv, b_qkv, w_out, b_out, n_heads, causal=False):
    B, n, d = x.shape
    q, k, v = (t.view(B, n, n_heads, d // n_heads).transpose(1, 2) for t in F.linear(x, w_qkv, b_qkv).split(d, -1))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=1 / math.sqrt(d))
    return F.linear(y.transpose(1, 2).reshape(B, n, d), w_out, b_out)


EXERCISES = [
    Exercise("4.1", "Causal attention from the formula", "warm-up",
             "Write causal scaled dot-product attention, $\\mathrm{softmax}(QK^\\top/\\sqrt{d_k} + M)\\,V$ with the "
             "causal mask $M$ of the chapter, for inputs with any leading batch and head axes. The check compares "
             "your function, and its gradients, with PyTorch's `F.scaled_dot_product_attention(..., is_causal=True)`, "
             "changes later positions to see whether an earlier output moves, and tries logits in the thousands, where "
             "a softmax written without subtracting each row's maximum overflows.",
             causal_attention, _check_causal_attention,
             wrong=(_attn_unscaled, _attn_fill_zero, _attn_wrong_axis, _attn_no_shift),
             background="{ref}`ch04-masks`"),
    Exercise("4.2", "Measure why attention divides by $\\sqrt{d_k}$", "warm-up",
             "Measure two numbers for random standard-normal queries and keys: the variance of the logits and the "
             "mean largest attention weight, with and without the $1/\\sqrt{d_k}$. The check compares them with the "
             "book's `aigc_lessons.attention.scaling_experiment` at $d_k = 16, 256, 1024$. Afterwards, call your "
             "function for a few widths yourself: at which $d_k$ does the unscaled softmax become almost one-hot?",
             softmax_saturation, _check_softmax_saturation,
             wrong=(_sat_divide_by_dk, _sat_wrong_axis, _sat_std),
             background="{ref}`ch04-scaling`"),
    Exercise("4.3", "Find the bug in a causal mask", "core",
             "The head of causal self-attention below runs, returns the right shape, and its mask looks like a "
             "causal mask at first sight. The check changes the tokens after position $t$ and watches the output "
             "at $t$ (the structural test of the chapter's page of common mistakes); then it compares your output "
             "with PyTorch's causal attention. Find the bug and fix it.",
             causal_self_attention, _check_causal_self_attention,
             wrong=(_bug_no_mask, _bug_hides_itself, _bug_masks_the_past),
             background="{ref}`ch04-masks`"),
    Exercise("4.4", "The distribution of nucleus sampling", "core",
             "Write the distribution that top-p (nucleus) sampling draws from: the smallest set of most probable "
             "tokens whose probability reaches $p$, renormalised, with every token tied with the last one kept "
             "kept too, as the starting code says. The check compares it with a plain row-by-row computation, "
             "with the book's `aigc_lessons.lm.top_p_filter` on random logits (which have no ties; the filter "
             "breaks ties by the order of its sort), and with the frequencies of 40,000 draws of "
             "`aigc_lessons.lm.sample_next(top_p=0.8)`; it also tries $p = 1$, a tiny $p$ and tied probabilities.",
             nucleus_probs, _check_nucleus_probs,
             wrong=(_nucleus_exclusive, _nucleus_no_renorm, _nucleus_unsorted),
             background="{ref}`ch04-decoding`"),
    Exercise("4.5", "Multi-head attention: split the heads and merge them back", "stretch",
             "Write multi-head self-attention from its weight matrices: one projection for queries, keys and "
             "values, heads split with `view`/`reshape` and `transpose`, attention in each head, heads merged and "
             "projected. The check copies the weights of a `torch.nn.MultiheadAttention` and compares outputs and "
             "gradients for 1, 3, 4 and 12 heads, with and without the causal mask.",
             multi_head_self_attention, _check_multi_head,
             wrong=(_mha_no_transpose, _mha_merge_no_transpose, _mha_scale_by_d),
             background="{ref}`ch04-mha`"),
]
