"""Self-attention from its formula: masks, the attention function, multi-head attention with a KV
cache, positional encodings, and the experiment that shows why the logits are divided by sqrt(d_k).

The rest of the chapter's attention material sits next to this file:
:mod:`~aigc_lessons.attention.cost` (time and memory), :mod:`~aigc_lessons.attention.minilm` (a real
pretrained model opened up), :mod:`~aigc_lessons.attention.fusion` (attention over two modalities) and
:mod:`~aigc_lessons.attention.mistakes`; the small GPT built on :class:`MultiHeadAttention` lives in
:mod:`aigc_lessons.lm`.

Scaled dot-product attention (Vaswani et al., 2017) maps queries :math:`Q \\in \\mathbb{R}^{n_q\\times d_k}`,
keys :math:`K \\in \\mathbb{R}^{n_k\\times d_k}` and values :math:`V \\in \\mathbb{R}^{n_k\\times d_v}` to

.. math::  \\mathrm{Attention}(Q, K, V) = \\mathrm{softmax}\\!\\left(\\frac{Q K^\\top}{\\sqrt{d_k}} + M\\right) V,

where the mask :math:`M` holds 0 where a query may look at a key and :math:`-\\infty` where it may not.

Mask polarity, one convention for the whole module: a boolean mask is ``True`` where attention is
**allowed** (the convention of :func:`torch.nn.functional.scaled_dot_product_attention` and of Hugging
Face's ``attention_mask``). :class:`torch.nn.MultiheadAttention`'s ``key_padding_mask`` uses the
opposite polarity (``True`` = ignore);
:func:`~aigc_lessons.attention.mistakes.padding_polarity_mistake` measures what mixing them does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "Kernel",
    "scaled_dot_product_attention",
    "causal_mask",
    "padding_mask",
    "combine_masks",
    "LayerCache",
    "MultiHeadAttention",
    "sinusoidal_encoding",
    "rotary_embedding",
    "scaling_experiment",
    "plot_scaling_experiment",
]

Kernel = Literal["naive", "sdpa"]


# --------------------------------------------------------------------------------------- the formula


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    if q.dim() < 2 or k.dim() < 2 or v.dim() < 2:
        raise ValueError(f"q, k, v need at least 2 dimensions (..., length, features); got "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"queries and keys must have the same feature size d_k: q {tuple(q.shape)} vs k {tuple(k.shape)}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"keys and values must have the same length: k {tuple(k.shape)} vs v {tuple(v.shape)}")


def causal_mask(n_queries: int, n_keys: int | None = None, *, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean mask of shape ``(n_queries, n_keys)``, ``True`` where query ``i`` may attend to key ``j``.

    The queries are the *last* ``n_queries`` of the ``n_keys`` positions (bottom-right alignment), so
    ``allowed[i, j] = j <= i + (n_keys - n_queries)``: with a cache of ``n_keys - n_queries`` earlier
    positions, every new token sees all of the past and itself, never the future. With
    ``n_keys == n_queries`` this is the lower triangle.
    """
    n_keys = n_queries if n_keys is None else n_keys
    if n_queries < 1 or n_keys < n_queries:
        raise ValueError(f"causal_mask needs 1 <= n_queries <= n_keys, got {n_queries}, {n_keys}")
    return torch.ones(n_queries, n_keys, dtype=torch.bool, device=device).tril(diagonal=n_keys - n_queries)


def padding_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Turn a ``(batch, n_keys)`` keep-mask (1/True = real token, 0/False = padding, as a Hugging Face
    tokenizer returns it) into a boolean mask of shape ``(batch, 1, 1, n_keys)`` that broadcasts over
    heads and queries. ``True`` = the key may be attended to.
    """
    if attention_mask.dim() != 2:
        raise ValueError(f"padding_mask expects (batch, n_keys), got {tuple(attention_mask.shape)}")
    if attention_mask.dtype != torch.bool and not ((attention_mask == 0) | (attention_mask == 1)).all():
        raise ValueError("padding_mask expects 0/1 or boolean entries (1 = real token, 0 = padding)")
    return attention_mask.bool()[:, None, None, :]


def combine_masks(*masks: torch.Tensor | None) -> torch.Tensor | None:
    """Logical AND of boolean keep-masks (``None`` entries are skipped); ``None`` if all are ``None``."""
    out = None
    for m in masks:
        if m is None:
            continue
        if m.dtype != torch.bool:
            raise ValueError(f"combine_masks expects boolean masks (True = may attend), got {m.dtype}")
        out = m if out is None else (out & m)
    return out


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    *,
    is_causal: bool = False,
    scale: float | None = None,
    dropout_p: float = 0.0,
    return_weights: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ · scale + mask) v, written out.

    Shapes: ``q (..., n_q, d_k)``, ``k (..., n_k, d_k)``, ``v (..., n_k, d_v)``; the result is
    ``(..., n_q, d_v)``. ``scale`` defaults to :math:`1/\\sqrt{d_k}`. ``attn_mask`` is a boolean tensor
    broadcastable to ``(..., n_q, n_k)``, ``True`` where attention is allowed, or a float tensor added
    to the logits. ``is_causal`` adds :func:`causal_mask` and needs ``n_q == n_k`` (PyTorch accepts other
    lengths and aligns its mask top-left; for a query block at the end of the keys pass
    ``causal_mask(n_q, n_k)`` instead).

    A query row whose keys are *all* masked (by a boolean mask or by a float mask of ``-inf``) has no
    distribution to attend with: its weights and output are 0, as PyTorch's kernels return too. With ``return_weights`` the
    attention probabilities ``(..., n_q, n_k)`` are returned too.
    """
    _check_qkv(q, k, v)
    n_q, n_k, d_k = q.shape[-2], k.shape[-2], q.shape[-1]
    scale = 1.0 / math.sqrt(d_k) if scale is None else scale
    logits = (q @ k.transpose(-2, -1)) * scale
    keep = None
    if is_causal:
        if n_q != n_k:
            raise ValueError(f"is_causal needs as many queries as keys (got {n_q} and {n_k}); pass causal_mask(n_q, n_k)")
        keep = causal_mask(n_q, n_k, device=q.device)
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            keep = attn_mask if keep is None else (keep & attn_mask)
        else:
            logits = logits + attn_mask
    if keep is not None:
        logits = logits.masked_fill(~keep, float("-inf"))
    weights = torch.softmax(logits, dim=-1)
    # rows with no allowed key (boolean or -inf float mask): softmax of all -inf is NaN; define them as
    # "attend to nothing" (a NaN from the inputs themselves is left to show)
    weights = weights.masked_fill(torch.isneginf(logits).all(dim=-1, keepdim=True), 0.0)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    out = weights @ v
    return (out, weights) if return_weights else out


# ------------------------------------------------------------------------------- multi-head module


@dataclass
class LayerCache:
    """Keys and values of earlier positions for one attention layer (a "KV cache").

    During generation each new token needs the keys and values of all earlier tokens; keeping them
    turns the cost of producing token :math:`t` from :math:`O(t\\,d^2 + t^2 d)` (recompute everything) into
    :math:`O(d^2 + t\\,d)`.
    """

    k: torch.Tensor | None = None
    v: torch.Tensor | None = None

    @property
    def length(self) -> int:
        return 0 if self.k is None else int(self.k.shape[-2])


class MultiHeadAttention(nn.Module):
    """Multi-head attention: ``h`` heads of size ``d_model / h`` in parallel, then an output projection.

    .. math::  \\mathrm{MHA}(X) = \\mathrm{Concat}(\\mathrm{head}_1,\\dots,\\mathrm{head}_h) W^O,\\qquad
               \\mathrm{head}_i = \\mathrm{Attention}(X W^Q_i, C W^K_i, C W^V_i)

    with ``C = X`` for self-attention or a ``context`` for cross-attention. The three input
    projections are stored as one ``(3 d, d)`` linear layer ``qkv`` (rows: all query heads, then keys,
    then values), the layout of :class:`torch.nn.MultiheadAttention`, so weights copy over without
    reordering (GPT-2's ``Conv1D`` keeps the same order, transposed). ``kernel="naive"`` runs :func:`scaled_dot_product_attention` above;
    ``kernel="sdpa"`` runs PyTorch's fused :func:`torch.nn.functional.scaled_dot_product_attention`
    (FlashAttention-style kernels on GPUs). Both compute the same function.
    """

    def __init__(self, d_model: int, n_heads: int, *, bias: bool = True, dropout: float = 0.0,
                 kernel: Kernel = "naive") -> None:
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        if kernel not in ("naive", "sdpa"):
            raise ValueError(f"Unknown attention kernel {kernel!r}; valid: 'naive', 'sdpa'")
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.kernel: Kernel = kernel
        self.dropout = dropout
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out = nn.Linear(d_model, d_model, bias=bias)

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        b, n, _ = t.shape
        return t.view(b, n, self.n_heads, self.d_head).transpose(1, 2)  # (B, H, n, d_head)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, *,
                attn_mask: torch.Tensor | None = None, key_mask: torch.Tensor | None = None,
                causal: bool = False, cache: LayerCache | None = None,
                return_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from ``x (B, n, d)`` over ``context (B, m, d)`` (default ``x``).

        ``key_mask (B, m)``: 1/True for real keys, 0/False for padding. ``attn_mask``: boolean,
        broadcastable to ``(B, H, n, m)``, ``True`` = allowed. ``causal``: position ``i`` sees keys
        ``<= i`` (with a ``cache``, the cached positions come first and are all visible).
        Returns ``(output (B, n, d), weights (B, H, n, m) or None)``.
        """
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"expected x of shape (batch, length, {self.d_model}), got {tuple(x.shape)}")
        w = self.qkv.weight
        bq = self.qkv.bias
        d = self.d_model
        if context is None:
            q, k, v = self.qkv(x).split(d, dim=-1)
        else:
            if context.dim() != 3 or context.shape[-1] != d or context.shape[0] != x.shape[0]:
                raise ValueError(f"context must be (batch={x.shape[0]}, length, {d}), got {tuple(context.shape)}")
            q = F.linear(x, w[:d], None if bq is None else bq[:d])
            k, v = F.linear(context, w[d:], None if bq is None else bq[d:]).split(d, dim=-1)
        q, k, v = self._heads(q), self._heads(k), self._heads(v)
        past = 0
        if cache is not None:
            past = cache.length
            if past:
                k = torch.cat([cache.k, k], dim=-2)
                v = torch.cat([cache.v, v], dim=-2)
            cache.k, cache.v = k, v
        n_q, n_k = q.shape[-2], k.shape[-2]
        keep = None if key_mask is None else padding_mask(key_mask)
        if key_mask is not None and key_mask.shape[-1] != n_k:
            raise ValueError(f"key_mask covers {key_mask.shape[-1]} keys but there are {n_k}")
        use_is_causal = False
        if causal:
            if past == 0 and keep is None and attn_mask is None:
                use_is_causal = n_q > 1
            elif n_q > 1:
                keep = combine_masks(keep, causal_mask(n_q, n_k, device=x.device))
        keep = combine_masks(keep, attn_mask)
        p = self.dropout if self.training else 0.0
        weights = None
        if self.kernel == "sdpa" and not return_weights:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, dropout_p=p, is_causal=use_is_causal)
        else:
            y, weights = scaled_dot_product_attention(q, k, v, keep, is_causal=use_is_causal, dropout_p=p,
                                                      return_weights=True)
        y = y.transpose(1, 2).reshape(x.shape[0], n_q, d)
        return self.out(y), (weights if return_weights else None)

    # -- weights from other implementations ------------------------------------------------------

    @classmethod
    def from_torch(cls, mha: nn.MultiheadAttention, kernel: Kernel = "naive") -> "MultiHeadAttention":
        """Copy the weights of a ``batch_first`` :class:`torch.nn.MultiheadAttention` (same q/k/v size)."""
        if not mha.batch_first or not mha._qkv_same_embed_dim:
            raise ValueError("from_torch needs nn.MultiheadAttention(batch_first=True) with kdim = vdim = embed_dim")
        has_bias = mha.in_proj_bias is not None
        new = cls(mha.embed_dim, mha.num_heads, bias=has_bias, dropout=mha.dropout, kernel=kernel)
        new = new.to(device=mha.in_proj_weight.device, dtype=mha.in_proj_weight.dtype)
        with torch.no_grad():
            new.qkv.weight.copy_(mha.in_proj_weight)
            new.out.weight.copy_(mha.out_proj.weight)
            if has_bias:
                new.qkv.bias.copy_(mha.in_proj_bias)
                new.out.bias.copy_(mha.out_proj.bias)
        return new

    @classmethod
    def from_linear(cls, query: nn.Linear, key: nn.Linear, value: nn.Linear, output: nn.Linear, n_heads: int,
                    kernel: Kernel = "naive") -> "MultiHeadAttention":
        """Build from four separate projections (the layout of BERT-family models such as MiniLM)."""
        d = query.in_features
        new = cls(d, n_heads, bias=query.bias is not None, kernel=kernel)
        new = new.to(device=query.weight.device, dtype=query.weight.dtype)
        with torch.no_grad():
            new.qkv.weight.copy_(torch.cat([query.weight, key.weight, value.weight], dim=0))
            new.out.weight.copy_(output.weight)
            if query.bias is not None:
                new.qkv.bias.copy_(torch.cat([query.bias, key.bias, value.bias], dim=0))
                new.out.bias.copy_(output.bias)
        return new


# ---------------------------------------------------------------------------- positional encodings


def sinusoidal_encoding(n_positions: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The fixed encodings of Vaswani et al. (2017), shape ``(n_positions, d_model)``:

    .. math::  PE_{p,2i} = \\sin(p\\,\\omega_i),\\quad PE_{p,2i+1} = \\cos(p\\,\\omega_i),\\quad
               \\omega_i = \\mathrm{base}^{-2i/d}.

    Each pair of coordinates is a point on a circle turning at its own frequency, so
    :math:`PE_{p+k}` is a fixed rotation of :math:`PE_p` (independent of :math:`p`), and
    :math:`PE_p \\cdot PE_{p+k} = \\sum_i \\cos(k\\,\\omega_i)` depends on the offset :math:`k` only.
    """
    if d_model % 2:
        raise ValueError(f"sinusoidal_encoding needs an even d_model, got {d_model}")
    pos = torch.arange(n_positions, dtype=torch.float64)[:, None]
    omega = base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    pe = torch.zeros(n_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * omega)
    pe[:, 1::2] = torch.cos(pos * omega)
    return pe.float()


def rotary_embedding(x: torch.Tensor, positions: torch.Tensor | None = None, base: float = 10000.0) -> torch.Tensor:
    """Rotary position embedding (RoPE, Su et al.): rotate each coordinate pair of ``x (..., n, d)``
    by the angle :math:`p\\,\\omega_i` of its position :math:`p`.

    For queries and keys rotated this way, :math:`\\langle R_m q, R_n k\\rangle = \\langle q, R_{n-m} k\\rangle`:
    attention logits depend on the *relative* position :math:`n - m` only. Pairs are (0,1), (2,3), ...
    """
    n, d = x.shape[-2], x.shape[-1]
    if d % 2:
        raise ValueError(f"rotary_embedding needs an even feature size, got {d}")
    if positions is None:
        positions = torch.arange(n, device=x.device)
    if positions.shape[-1] != n:
        raise ValueError(f"positions has {positions.shape[-1]} entries for {n} positions")
    omega = base ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float64) / d)
    angle = positions.to(torch.float64)[..., None] * omega  # (..., n, d/2)
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x1 * cos - x2 * sin
    out[..., 1::2] = x1 * sin + x2 * cos
    return out


# ---------------------------------------------------------------------------- why divide by sqrt(d_k)


def scaling_experiment(d_ks: Sequence[int] = (4, 16, 64, 256, 1024), n_keys: int = 64, n_queries: int = 512,
                       seed: int = 0) -> "object":
    """Measure what the :math:`1/\\sqrt{d_k}` factor does, with and without it, as :math:`d_k` grows.

    Queries and keys have i.i.d. standard-normal entries, so :math:`q\\cdot k = \\sum_{i=1}^{d_k} q_i k_i`
    is a sum of :math:`d_k` independent terms of mean 0 and variance 1: :math:`\\mathrm{Var}(q\\cdot k) = d_k`.
    Dividing by :math:`\\sqrt{d_k}` brings the variance back to 1 at every width.

    Returns a pandas DataFrame with one row per ``(d_k, scaled)``: ``logit_var`` (variance of the
    logits), ``max_prob`` (mean of the largest attention weight per query: 1 means a one-hot,
    saturated softmax), ``entropy_nats`` (mean entropy of the weights; :math:`\\log n_{keys}` is uniform)
    and ``grad_norm`` (mean norm of :math:`\\partial L / \\partial\\,\\mathrm{logits}` for
    :math:`L = g\\cdot\\mathrm{softmax}(s)\\,V` with random :math:`g`: the gradient the softmax lets through).
    """
    import pandas as pd

    gen = torch.Generator().manual_seed(seed)
    rows = []
    for d_k in d_ks:
        q = torch.randn(n_queries, d_k, generator=gen, dtype=torch.float64)
        k = torch.randn(n_keys, d_k, generator=gen, dtype=torch.float64)
        v = torch.randn(n_keys, 16, generator=gen, dtype=torch.float64)
        g = torch.randn(n_queries, 16, generator=gen, dtype=torch.float64)
        for scaled in (True, False):
            s = (q @ k.T) / (math.sqrt(d_k) if scaled else 1.0)
            s = s.detach().requires_grad_(True)
            p = torch.softmax(s, dim=-1)
            ((p @ v) * g).sum().backward()
            ent = -(p * torch.log(p.clamp_min(1e-300))).sum(-1)
            rows.append({
                "d_k": int(d_k), "scaled": scaled,
                "logit_var": float(s.detach().var()),
                "max_prob": float(p.detach().max(-1).values.mean()),
                "entropy_nats": float(ent.detach().mean()),
                "grad_norm": float(s.grad.norm(dim=-1).mean()),
            })
    return pd.DataFrame(rows)


def plot_scaling_experiment(df, axes=None):
    """Three panels: logit variance, largest attention weight, gradient norm, against d_k (log axes)."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    panels = [("logit_var", "variance of logits (unitless)", True),
              ("max_prob", "mean largest attention weight", False),
              ("grad_norm", "mean ‖∂L/∂logits‖ (unitless)", True)]
    for ax, (col, label, logy) in zip(axes, panels):
        for scaled, style in ((True, "o-"), (False, "s--")):
            sub = df[df.scaled == scaled]
            ax.plot(sub.d_k, sub[col], style, label="q·k/√d_k" if scaled else "q·k (no scaling)")
        ax.set_xscale("log", base=2)
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel("key/query width d_k (dimensions)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_title("logit variance grows like d_k")
    axes[1].set_title("softmax saturates without scaling")
    axes[2].set_title("…and its gradient vanishes")
    return axes
