"""Chapter 4's attention mistakes, reproduced and measured: forgetting the sqrt(d_k) and a padding
mask of the wrong polarity. Each returns an :class:`aigc_lessons.mistakes.MistakeReport` with the
measurements of the mistake (``symptom``) next to those of the fix (``fixed``).

(The third, a GPT trained without its causal mask, needs the small GPT and lives in
:mod:`aigc_lessons.lm`.)
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from ..mistakes import MistakeReport
from .core import scaling_experiment

__all__ = ["unscaled_attention_mistake", "padding_polarity_mistake"]

_METRICS = ("logit_var", "max_prob", "grad_norm")


def unscaled_attention_mistake(d_k: int = 512, n_keys: int = 64, n_queries: int = 256,
                               seed: int = 0) -> MistakeReport:
    """Mistake: computing softmax(q kᵀ) without dividing by :math:`\\sqrt{d_k}`.

    Measured at one width, without (``symptom``) and with (``fixed``) the scaling: the variance of
    the logits (``logit_var``), the largest attention weight per query (``max_prob``, mean) and the
    mean norm of the gradient reaching the logits (``grad_norm``). ``details`` holds ``d_k`` and the
    two rows of :func:`~aigc_lessons.attention.core.scaling_experiment` (``experiment``).
    """
    df = scaling_experiment((d_k,), n_keys=n_keys, n_queries=n_queries, seed=seed)
    s, u = df[df.scaled].iloc[0], df[~df.scaled].iloc[0]
    return MistakeReport(
        name="forgetting the sqrt(d_k)",
        cause="the attention logits q·k are not divided by sqrt(d_k), so their variance grows like d_k",
        symptom={m: float(u[m]) for m in _METRICS},
        fixed={m: float(s[m]) for m in _METRICS},
        details={"d_k": d_k, "n_keys": n_keys, "n_queries": n_queries, "experiment": df},
    )


def padding_polarity_mistake(lengths: Sequence[int] = (5, 9), pad_to: int = 12, d_model: int = 32,
                             n_heads: int = 4, seed: int = 0) -> MistakeReport:
    """Mistake: handing a Hugging Face style ``attention_mask`` (1 = real token) to
    :class:`torch.nn.MultiheadAttention`'s ``key_padding_mask``, which means the opposite (True = ignore).

    A batch of sequences of different ``lengths`` is right-padded to ``pad_to`` tokens. Measured for the
    inverted mask (``symptom``) and the right one (``fixed``): the attention mass that real queries put
    on padding keys (``pad_mass``), and the largest change of the first (shorter) sequence's outputs
    when its padding slots hold other numbers (``padding_sensitivity``; a correct mask makes the
    result independent of padding). ``details["weights"]`` holds the head-averaged attention weights
    ``(batch, pad_to, pad_to)`` for ``"right"`` and ``"inverted"``.
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
    measured, weights = {}, {}
    for name, kpm in (("right", keep == 0), ("inverted", keep.bool())):
        with torch.no_grad():
            y1, w = mha(x, x, x, key_padding_mask=kpm, average_attn_weights=True)
            y2, _ = mha(x2, x2, x2, key_padding_mask=kpm)
        real_q = keep.bool()
        pad_k = (keep == 0)[:, None, :].expand(-1, n, -1)
        mass = (w * pad_k).sum(-1)[real_q]
        first = keep[0].bool()
        measured[name] = {"pad_mass": float(mass.mean()),
                          "padding_sensitivity": float((y1[0, first] - y2[0, first]).abs().max())}
        weights[name] = w
    return MistakeReport(
        name="a padding mask of the wrong polarity",
        cause="a keep-mask (1 = real token) is passed as nn.MultiheadAttention's key_padding_mask (True = ignore)",
        symptom=measured["inverted"],
        fixed=measured["right"],
        details={"lengths": tuple(lengths), "pad_to": pad_to, "weights": weights},
    )
