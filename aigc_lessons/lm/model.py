"""The small GPT itself: configuration, transformer block, model, and its Hugging Face twin.

:class:`GPT` is a stack of pre-norm transformer blocks (:class:`Block`) built on
:class:`~aigc_lessons.attention.core.MultiHeadAttention`, with token plus learned position embeddings and an
output layer tied to the token embedding. :func:`gpt2_twin` builds the same architecture as a
``GPT2LMHeadModel``; :func:`copy_to_gpt2` copies our weights into it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..attention import Kernel, LayerCache, MultiHeadAttention
from ..runtime import for_mode

__all__ = ["GPTConfig", "MLP", "Block", "GPT", "gpt2_twin", "copy_to_gpt2"]


@dataclass
class GPTConfig:
    """Architecture of :class:`GPT` (and of its :func:`gpt2_twin`)."""

    vocab_size: int
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True
    kernel: Kernel = "sdpa"
    causal: bool = True  # False reproduces the "missing causal mask" mistake

    @classmethod
    def for_mode(cls, mode: str | None, vocab_size: int, corpus: str = "shakespeare", **overrides) -> "GPTConfig":
        """Quick (CPU) and full (one GPU) architectures of ``corpus`` (``shakespeare`` or ``tang``)
        side by side; keywords override any field. Full mode for Shakespeare is nanoGPT's
        ``shakespeare_char`` model (6 layers, 6 heads, 384 wide, context 256, dropout 0.2)."""
        if corpus == "shakespeare":
            quick = dict(block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0)
            full = dict(block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2)
        elif corpus == "tang":
            # windows start at a poem (24 characters + newline): a context of 32 holds a whole poem.
            # The corpus is small (about 84,000 characters), hence a modest full model with dropout.
            quick = dict(block_size=32, n_layer=4, n_head=4, n_embd=128, dropout=0.1)
            full = dict(block_size=32, n_layer=4, n_head=8, n_embd=256, dropout=0.3)
        else:
            raise ValueError(f"Unknown corpus {corpus!r}; valid: 'shakespeare', 'tang'")
        return for_mode(cls, mode, quick, full, vocab_size=vocab_size, **overrides)

    def __post_init__(self) -> None:
        if self.vocab_size < 1 or self.block_size < 1 or self.n_layer < 1:
            raise ValueError(f"vocab_size, block_size and n_layer must be positive: {self}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} must be divisible by n_head={self.n_head}")


class MLP(nn.Module):
    """Position-wise feed-forward: :math:`W_2\\,\\mathrm{GELU}(W_1 x + b_1) + b_2`, 4x wide (tanh GELU, as GPT-2)."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias)
        self.proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(F.gelu(self.fc(x), approximate="tanh")))


class Block(nn.Module):
    """Pre-norm transformer block: :math:`h + \\mathrm{MHA}(\\mathrm{LN}(h))`, then :math:`h + \\mathrm{MLP}(\\mathrm{LN}(h))`."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.causal = cfg.causal
        self.ln1 = nn.LayerNorm(cfg.n_embd, eps=1e-5, bias=cfg.bias)
        self.attn = MultiHeadAttention(cfg.n_embd, cfg.n_head, bias=cfg.bias, dropout=cfg.dropout, kernel=cfg.kernel)
        self.drop = nn.Dropout(cfg.dropout)
        self.ln2 = nn.LayerNorm(cfg.n_embd, eps=1e-5, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, h: torch.Tensor, cache: LayerCache | None = None) -> torch.Tensor:
        a, _ = self.attn(self.ln1(h), causal=self.causal, cache=cache)
        h = h + self.drop(a)
        return h + self.mlp(self.ln2(h))


class GPT(nn.Module):
    """Decoder-only transformer language model over ``cfg.vocab_size`` tokens.

    ``forward(idx (B, T)) -> logits (B, T, V)``; with ``cache`` (one :class:`~aigc_lessons.attention.core.LayerCache` per layer)
    only the new tokens are processed and their positions continue after the cached ones.
    """

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.pos_emb = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd, eps=1e-5, bias=cfg.bias)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # weight tying
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.endswith("attn.out.weight") or name.endswith("mlp.proj.weight"):
                # residual branches scaled down so the variance of h does not grow with depth (GPT-2)
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, 0.0, 0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_parameters(self) -> int:
        """Trainable parameters, the tied matrix counted once."""
        return sum(p.numel() for p in self.parameters())

    def new_cache(self) -> list[LayerCache]:
        return [LayerCache() for _ in self.blocks]

    def forward(self, idx: torch.Tensor, cache: list[LayerCache] | None = None) -> torch.Tensor:
        if idx.dim() != 2 or idx.dtype != torch.long:
            raise ValueError(f"idx must be a (batch, length) int64 tensor, got {tuple(idx.shape)} {idx.dtype}")
        t = idx.shape[1]
        start = cache[0].length if cache else 0
        if start + t > self.cfg.block_size:
            raise ValueError(f"sequence of {start + t} tokens exceeds the context of {self.cfg.block_size}")
        if cache is not None and len(cache) != len(self.blocks):
            raise ValueError(f"cache has {len(cache)} layers, the model {len(self.blocks)}")
        pos = torch.arange(start, start + t, device=idx.device)
        h = self.drop(self.tok_emb(idx) + self.pos_emb(pos))
        for i, block in enumerate(self.blocks):
            h = block(h, None if cache is None else cache[i])
        return self.head(self.ln_f(h))


def gpt2_twin(cfg: GPTConfig):
    """The same architecture as a Hugging Face ``GPT2LMHeadModel`` built from a ``GPT2Config``
    (random initialisation, nothing downloaded): pre-norm blocks, learned positions, tanh GELU,
    4x MLP, LayerNorm eps 1e-5, tied output layer."""
    from transformers import GPT2Config, GPT2LMHeadModel

    if not cfg.causal:
        raise ValueError("GPT-2 is always causal; gpt2_twin needs cfg.causal=True")
    conf = GPT2Config(vocab_size=cfg.vocab_size, n_positions=cfg.block_size, n_embd=cfg.n_embd,
                      n_layer=cfg.n_layer, n_head=cfg.n_head, n_inner=4 * cfg.n_embd,
                      activation_function="gelu_new", resid_pdrop=cfg.dropout, embd_pdrop=cfg.dropout,
                      attn_pdrop=cfg.dropout, layer_norm_epsilon=1e-5, tie_word_embeddings=True,
                      bos_token_id=None, eos_token_id=None, pad_token_id=None)
    return GPT2LMHeadModel(conf)


@torch.no_grad()
def copy_to_gpt2(model: GPT, hf) -> None:
    """Copy the weights of our :class:`GPT` into a :func:`gpt2_twin` (GPT-2's ``Conv1D`` stores the
    transpose of a linear layer's weight). Afterwards both compute the same logits."""
    if not model.cfg.bias:
        raise ValueError("GPT-2 has biases everywhere; copy_to_gpt2 needs cfg.bias=True")
    t = hf.transformer
    t.wte.weight.copy_(model.tok_emb.weight)
    t.wpe.weight.copy_(model.pos_emb.weight)
    for ours, theirs in zip(model.blocks, t.h):
        # (our layer, GPT-2's layer, whether GPT-2's Conv1D stores the weight transposed)
        for mine, hf_layer, conv1d in ((ours.ln1, theirs.ln_1, False), (ours.attn.qkv, theirs.attn.c_attn, True),
                                       (ours.attn.out, theirs.attn.c_proj, True), (ours.ln2, theirs.ln_2, False),
                                       (ours.mlp.fc, theirs.mlp.c_fc, True), (ours.mlp.proj, theirs.mlp.c_proj, True)):
            hf_layer.weight.copy_(mine.weight.T if conv1d else mine.weight)
            hf_layer.bias.copy_(mine.bias)
    t.ln_f.weight.copy_(model.ln_f.weight)
    t.ln_f.bias.copy_(model.ln_f.bias)


def _logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    return out.logits if hasattr(out, "logits") else out


def _block_size(model: nn.Module) -> int:
    if isinstance(model, GPT):
        return model.cfg.block_size
    n = getattr(getattr(model, "config", None), "n_positions", None)
    if n is None:
        raise TypeError(f"cannot tell the context length of {type(model).__name__}")
    return int(n)


def _logits_size(model: nn.Module) -> int:
    if isinstance(model, GPT):
        return model.cfg.vocab_size
    return int(model.config.vocab_size)
