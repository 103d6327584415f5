"""A real pretrained model opened up: all-MiniLM-L6-v2's attention probabilities, one of its encoder
layers recomputed with :class:`~aigc_lessons.attention.core.MultiHeadAttention`, attention-map plots
and sentence embeddings.

The model itself is loaded by :func:`aigc_lessons.pretrained.load_minilm`; pass
``attn_implementation="eager"``, the implementation that can return attention probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from ..pretrained import mean_pool
from .core import MultiHeadAttention

__all__ = [
    "minilm_attentions",
    "minilm_layer_from_scratch",
    "MiniLMReproduction",
    "plot_attention_maps",
    "plot_weight_matrices",
    "sentence_embeddings",
]


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
    """Recompute BERT encoder layer ``layer`` of ``model`` with the chapter's own attention.

    A BERT layer (post-norm) is

    .. math::  A = \\mathrm{LN}_1(X + \\mathrm{MHA}(X)),\\qquad Y = \\mathrm{LN}_2\\big(A + W_2\\,\\mathrm{GELU}(W_1 A + b_1) + b_2\\big),

    with the padding of the batch masked out of every key set. The weights are copied from the
    model into :class:`~aigc_lessons.attention.core.MultiHeadAttention` with
    :meth:`~aigc_lessons.attention.core.MultiHeadAttention.from_linear`.
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
    """Grid of heat maps: rows are layers, columns heads; each map is ``(query token, key token)``, with one colour
    bar for all of them (probabilities, 0 to 1)."""
    import matplotlib.pyplot as plt

    n = len(tokens)
    fig, axes = plt.subplots(len(layers), len(heads), figsize=(2.6 * len(heads), 2.6 * len(layers)),
                             squeeze=False)
    for r, layer in enumerate(layers):
        for c, head in enumerate(heads):
            ax = axes[r][c]
            w = attentions[layer][0, head, :n, :n].detach().cpu().numpy()
            image = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=1.0)
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
    fig.tight_layout(rect=(0, 0, 0.9, 1))
    fig.colorbar(image, cax=fig.add_axes((0.92, 0.2, 0.015, 0.6)), label="attention probability")
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
    """Mean of the last hidden states over real tokens, L2-normalised (the all-MiniLM-L6-v2 recipe,
    :func:`aigc_lessons.pretrained.mean_pool`)."""
    enc = tokenizer(list(sentences), return_tensors="pt", padding=True)
    return mean_pool(model(**enc).last_hidden_state, enc["attention_mask"])
