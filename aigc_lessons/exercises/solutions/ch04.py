"""Solutions of the chapter 4 exercises."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def causal_attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    n = q.shape[-2]
    logits = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    future = torch.ones(n, n, dtype=torch.bool, device=q.device).triu(diagonal=1)  # key j > query i
    logits = logits.masked_fill(future, float("-inf"))  # weight exactly 0 after the softmax
    return torch.softmax(logits, dim=-1) @ v  # softmax over the keys


def softmax_saturation(q: Tensor, k: Tensor, scaled: bool = True) -> tuple[float, float]:
    s = q @ k.T
    if scaled:
        s = s / math.sqrt(q.shape[-1])  # Var(q.k) = d_k, so this brings the variance back to 1
    weights = torch.softmax(s, dim=-1)  # one distribution over the keys per query
    return float(s.var()), float(weights.max(dim=-1).values.mean())


def causal_self_attention(x: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor) -> Tensor:
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    n = x.shape[-2]
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    # the future is j > i: the entries strictly above the main diagonal, diagonal=1 (diagonal=2 let t see t+1)
    future = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
    scores = scores.masked_fill(future, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v


def nucleus_probs(logits: Tensor, p: float) -> Tensor:
    probs = torch.softmax(logits.double(), dim=-1)
    ranked = probs.sort(dim=-1, descending=True).values
    before = ranked.cumsum(-1) - ranked  # mass of the tokens ranked above each one
    n_kept = (before < p).sum(-1, keepdim=True)  # tokens needed to reach p (the first one always counts)
    last = ranked.gather(-1, n_kept - 1)  # probability of the last token kept
    kept = torch.where(probs >= last, probs, torch.zeros_like(probs))  # ties with it are kept too
    return (kept / kept.sum(-1, keepdim=True)).to(logits.dtype)


def multi_head_self_attention(x: Tensor, w_qkv: Tensor, b_qkv: Tensor, w_out: Tensor, b_out: Tensor,
                              n_heads: int, causal: bool = False) -> Tensor:
    B, n, d = x.shape
    d_h = d // n_heads
    q, k, v = F.linear(x, w_qkv, b_qkv).split(d, dim=-1)  # each (B, n, d)

    def split(t: Tensor) -> Tensor:  # (B, n, d) -> (B, n, H, d_h) -> (B, H, n, d_h)
        return t.reshape(B, n, n_heads, d_h).transpose(1, 2)

    q, k, v = split(q), split(k), split(v)
    logits = q @ k.transpose(-2, -1) / math.sqrt(d_h)  # each head scales by its own width
    if causal:
        logits = logits.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
    y = torch.softmax(logits, dim=-1) @ v  # (B, H, n, d_h)
    y = y.transpose(1, 2).reshape(B, n, d)  # merge: heads side by side again
    return F.linear(y, w_out, b_out)
