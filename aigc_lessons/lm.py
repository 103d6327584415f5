"""A small GPT from scratch, trained at character level on tiny-shakespeare and on Tang quatrains.

The model (:class:`GPT`) is a stack of pre-norm transformer blocks built on
:class:`aigc_lessons.attention.MultiHeadAttention`:

.. math::  h \\leftarrow h + \\mathrm{MHA}(\\mathrm{LN}_1(h)),\\qquad h \\leftarrow h + \\mathrm{MLP}(\\mathrm{LN}_2(h)),

with token plus learned position embeddings at the bottom, a final LayerNorm, and an output layer
that shares its matrix with the token embedding (weight tying, Press & Wolf 2017). It is trained to
minimise the next-character cross-entropy

.. math::  \\mathcal{L} = -\\frac{1}{T}\\sum_{t=1}^{T} \\log p_\\theta(x_{t+1} \\mid x_{\\le t})

in nats per character. :func:`gpt2_twin` builds the same architecture as a Hugging Face
``GPT2LMHeadModel`` (random initialisation); :func:`train_lm` trains either.

Quick mode (CPU) and full mode (one GPU) share every function; only the configs differ
(:meth:`GPTConfig.for_mode`, :meth:`TrainConfig.for_mode`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import Kernel, LayerCache, MultiHeadAttention, cpu_threads
from .checkpoint import CheckpointError, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .runtime import pick, resolve_mode, seed_everything

__all__ = [
    "CharTokenizer", "TextSplits", "shakespeare_splits", "tang_quatrains", "tang_splits", "get_batch",
    "GPTConfig", "GPT", "gpt2_twin", "copy_to_gpt2", "TrainConfig", "TrainResult", "train_lm", "evaluate",
    "apply_temperature", "top_k_filter", "top_p_filter", "sample_next", "generate", "generate_text",
    "NgramIndex", "memorisation", "MemorisationResult", "memorisation_curve", "plot_memorisation",
    "quatrain_ok", "format_rate", "format_failures", "sample_poems", "unigram_format_rate",
    "causal_mask_mistake", "plot_causal_mask_mistake", "plot_history", "LMDemoConfig", "bench_shakespeare", "bench_tang",
]


# ------------------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class CharTokenizer:
    """Characters <-> integer ids; the vocabulary is the sorted set of characters of a corpus."""

    chars: tuple[str, ...]

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        if not text:
            raise ValueError("cannot build a vocabulary from an empty text")
        return cls(tuple(sorted(set(text))))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    @property
    def stoi(self) -> dict[str, int]:
        return self._stoi()

    def _stoi(self) -> dict[str, int]:
        cache = self.__dict__.get("_stoi_cache")
        if cache is None:
            cache = {c: i for i, c in enumerate(self.chars)}
            object.__setattr__(self, "_stoi_cache", cache)
        return cache

    def encode(self, text: str) -> torch.Tensor:
        """int64 tensor of ids; a character outside the vocabulary raises ``ValueError`` naming it."""
        stoi = self._stoi()
        try:
            return torch.tensor([stoi[c] for c in text], dtype=torch.long)
        except KeyError as exc:
            raise ValueError(f"character {exc.args[0]!r} is not in the vocabulary of {self.vocab_size} characters") from None

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return "".join(self.chars[i] for i in ids)


@dataclass
class TextSplits:
    """A corpus cut into a training and a held-out part, as text and as id tensors.

    ``align_to``: when set (a separator character such as the newline between poems), training and
    evaluation windows start right at a separator, so that position :math:`p` of a window is
    position :math:`p` of a document, as when every document begins with a start token.
    """

    name: str
    tokenizer: CharTokenizer
    train_text: str
    val_text: str
    train: torch.Tensor = field(repr=False)
    val: torch.Tensor = field(repr=False)
    align_to: str | None = None

    def window_starts(self, split: str, block_size: int) -> torch.Tensor | None:
        """Allowed window starts in ``split`` (``"train"`` or ``"val"``), or ``None`` (anywhere)."""
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        if self.align_to is None:
            return None
        data = self.train if split == "train" else self.val
        sep = self.tokenizer.stoi[self.align_to]
        starts = torch.nonzero(data[: data.numel() - block_size - 1] == sep).flatten()
        if starts.numel() == 0:
            raise ValueError(f"no {self.align_to!r} leaves room for a window of {block_size} in {split}")
        return starts


def _splits(name: str, train_text: str, val_text: str, align_to: str | None = None) -> TextSplits:
    tok = CharTokenizer.from_text(train_text + val_text)
    return TextSplits(name, tok, train_text, val_text, tok.encode(train_text), tok.encode(val_text), align_to)


def shakespeare_splits(val_fraction: float = 0.1) -> TextSplits:
    """tiny-shakespeare: the first 90 % of the characters for training, the last 10 % held out
    (the split of nanoGPT's ``shakespeare_char``, so validation losses compare)."""
    from .data import load_text

    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    text = load_text("tinyshakespeare")
    cut = int(len(text) * (1 - val_fraction))
    return _splits("tinyshakespeare", text[:cut], text[cut:])


_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_LINE_PAIR = re.compile(f"^([{_HAN}]{{5}})[，。？！；、：]([{_HAN}]{{5}})[，。？！；、：]$")
_QUATRAIN = re.compile(f"^[{_HAN}]{{5}}，[{_HAN}]{{5}}。[{_HAN}]{{5}}，[{_HAN}]{{5}}。$")


def quatrain_ok(poem: str) -> bool:
    """True when ``poem`` is a five-character quatrain in the expected format: four lines of five
    Chinese characters, ``，`` after lines 1 and 3, ``。`` after lines 2 and 4, nothing else."""
    return bool(_QUATRAIN.match(poem))


def format_failures(poems: Sequence[str]) -> dict[str, int]:
    """Count ``poems`` by outcome: ``ok``, ``two lines only`` (a well-formed couplet and then the
    end), ``other length`` and ``wrong punctuation`` (right length, some mark wrong or misplaced)."""
    out = {"ok": 0, "two lines only": 0, "other length": 0, "wrong punctuation": 0}
    couplet = re.compile(f"^[{_HAN}]{{5}}，[{_HAN}]{{5}}。$")
    for p in poems:
        if quatrain_ok(p):
            out["ok"] += 1
        elif couplet.match(p):
            out["two lines only"] += 1
        elif len(p) != 24:
            out["other length"] += 1
        else:
            out["wrong punctuation"] += 1
    return out


def format_rate(poems: Sequence[str]) -> float:
    """Share of ``poems`` that pass :func:`quatrain_ok`."""
    if not len(poems):
        raise ValueError("format_rate needs at least one poem")
    return sum(map(quatrain_ok, poems)) / len(poems)


def tang_quatrains() -> list[str]:
    """Five-character quatrains (五言絕句) of the Complete Tang Poems, one string per poem.

    A poem is taken when it has exactly two paragraphs and each is two lines of five Chinese
    characters, each line followed by a punctuation mark (any of ，。？！；、：). Most use ``，`` and
    ``。``; the others (questions, exclamations) stay in, so the training set's own
    :func:`format_rate` is a little below 1 and is the ceiling a model of it can be held to.
    Poems that occur twice are kept once, so no poem is both in training and held out.
    """
    from .data import load_tang_poems

    poems: dict[str, None] = {}  # ordered set: the collection holds some poems twice
    for p in load_tang_poems():
        paras = p.get("paragraphs", [])
        if len(paras) == 2 and all(_LINE_PAIR.match(x) for x in paras):
            poems["".join(paras)] = None
    return list(poems)


def tang_splits(val_fraction: float = 0.1, seed: int = 0) -> TextSplits:
    """Tang quatrains shuffled (``seed``) and split by poem. Every poem is preceded by a newline,
    which plays the part of a start token: windows are aligned to it (``align_to="\\n"``) and
    generation starts from it."""
    poems = tang_quatrains()
    order = torch.randperm(len(poems), generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = max(1, int(len(poems) * val_fraction))
    val = [poems[i] for i in order[:n_val]]
    train = [poems[i] for i in order[n_val:]]
    join = lambda ps: "\n" + "\n".join(ps) + "\n"  # noqa: E731
    return _splits("tang_quatrains", join(train), join(val), align_to="\n")


def get_batch(data: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator,
              device: torch.device | str = "cpu", starts: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random windows: inputs ``x[b] = data[i:i+T]``, targets ``y[b] = data[i+1:i+T+1]``,
    with ``i`` uniform over all positions or over ``starts`` when given."""
    if data.numel() <= block_size + 1:
        raise ValueError(f"data of {data.numel()} tokens is too short for windows of {block_size}")
    if starts is None:
        ix = torch.randint(data.numel() - block_size - 1, (batch_size,), generator=generator)
    else:
        ix = starts[torch.randint(starts.numel(), (batch_size,), generator=generator)]
    offsets = torch.arange(block_size + 1)
    win = data[ix[:, None] + offsets]
    x, y = win[:, :-1], win[:, 1:]
    dev = torch.device(device)
    if dev.type == "cuda":
        return x.pin_memory().to(dev, non_blocking=True), y.pin_memory().to(dev, non_blocking=True)
    return x.to(dev), y.to(dev)


# ----------------------------------------------------------------------------------------- model


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
    def for_mode(cls, mode: str | None, vocab_size: int, corpus: str = "shakespeare") -> "GPTConfig":
        """Quick (CPU) and full (one GPU) architectures side by side. Full mode for Shakespeare is
        nanoGPT's ``shakespeare_char`` model (6 layers, 6 heads, 384 wide, context 256, dropout 0.2)."""
        m = resolve_mode(mode)
        if corpus == "shakespeare":
            return cls(vocab_size, block_size=pick(m, 64, 256), n_layer=pick(m, 4, 6), n_head=pick(m, 4, 6),
                       n_embd=pick(m, 128, 384), dropout=pick(m, 0.0, 0.2))
        if corpus == "tang":
            # windows start at a poem (24 characters + newline): a context of 32 holds a whole poem.
            # The corpus is small (about 84,000 characters), hence a modest full model with dropout.
            return cls(vocab_size, block_size=32, n_layer=4, n_head=pick(m, 4, 8),
                       n_embd=pick(m, 128, 256), dropout=pick(m, 0.1, 0.3))
        raise ValueError(f"Unknown corpus {corpus!r}; valid: 'shakespeare', 'tang'")

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

    ``forward(idx (B, T)) -> logits (B, T, V)``; with ``cache`` (one :class:`LayerCache` per layer)
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
        theirs.ln_1.weight.copy_(ours.ln1.weight)
        theirs.ln_1.bias.copy_(ours.ln1.bias)
        theirs.attn.c_attn.weight.copy_(ours.attn.qkv.weight.T)
        theirs.attn.c_attn.bias.copy_(ours.attn.qkv.bias)
        theirs.attn.c_proj.weight.copy_(ours.attn.out.weight.T)
        theirs.attn.c_proj.bias.copy_(ours.attn.out.bias)
        theirs.ln_2.weight.copy_(ours.ln2.weight)
        theirs.ln_2.bias.copy_(ours.ln2.bias)
        theirs.mlp.c_fc.weight.copy_(ours.mlp.fc.weight.T)
        theirs.mlp.c_fc.bias.copy_(ours.mlp.fc.bias)
        theirs.mlp.c_proj.weight.copy_(ours.mlp.proj.weight.T)
        theirs.mlp.c_proj.bias.copy_(ours.mlp.proj.bias)
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


# -------------------------------------------------------------------------------------- training


@dataclass
class TrainConfig:
    """Optimisation settings; quick and full values side by side in :meth:`for_mode`.

    The learning rate warms up linearly over ``warmup_steps`` and then follows a cosine from ``lr``
    down to ``min_lr``. Its clock is the *progress* :math:`\\max(\\text{step}/\\text{max\\_steps},\\
    \\text{seconds}/\\text{time\\_budget\\_s})`, so a run that is slower than planned (a shared CPU)
    still anneals fully before its time budget ends, and a run without a time budget is exactly
    reproducible step by step.
    """

    max_steps: int = 2000
    batch_size: int = 12
    lr: float = 2e-3
    min_lr: float = 1e-4
    warmup_steps: int = 50
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    time_budget_s: float | None = None
    eval_interval: int = 250
    eval_batches: int = 8
    final_eval_tokens: int | None = 32768   # None: the whole held-out split
    log_interval: int = 10
    checkpoint_interval: int = 500
    amp_bf16: bool = False
    compile: bool = False
    cpu_threads: int | str | None = None    # on a CPU: a number, "auto" (see attention.cpu_threads) or None
    seed: int = 1337

    # corpus -> field -> (quick, full). Quick: CPU, step-budgeted and on one thread (reproducible from
    # run to run, and robust to a shared machine, where two threads mostly wait for each other); the
    # time budget is only a safety net. Full: one GPU, 60 s of training.
    _MODES = {
        "shakespeare": dict(max_steps=(1000, 6000), batch_size=(16, 128), lr=(5e-3, 1.5e-3),
                            min_lr=(2.5e-4, 1.5e-4), warmup_steps=(50, 200), time_budget_s=(600.0, 60.0),
                            eval_interval=(200, 500), eval_batches=(8, 40), final_eval_tokens=(32768, None),
                            checkpoint_interval=(300, 2000)),
        # the GPT-2 twin in the notebook: the same loop, a shorter run
        "twin": dict(max_steps=(200, 6000), batch_size=(16, 128), lr=(3e-3, 1.5e-3), min_lr=(1.5e-4, 1.5e-4),
                     warmup_steps=(20, 200), time_budget_s=(300.0, 60.0), eval_interval=(100, 500),
                     eval_batches=(4, 40), final_eval_tokens=(8192, None), checkpoint_interval=(300, 2000)),
        "tang": dict(max_steps=(500, 1500), batch_size=(16, 64), lr=(3e-3, 1e-3), min_lr=(1.5e-4, 1e-4),
                     warmup_steps=(50, 100), time_budget_s=(400.0, 60.0), eval_interval=(100, 250),
                     eval_batches=(8, 40), final_eval_tokens=(None, None), checkpoint_interval=(250, 500)),
    }

    @classmethod
    def for_mode(cls, mode: str | None, corpus: str = "shakespeare") -> "TrainConfig":
        """The configuration of ``corpus`` (``shakespeare``, ``twin`` or ``tang``) for ``mode``.
        Full mode adds bf16 autocast and ``torch.compile`` (both used on CUDA only)."""
        if corpus not in cls._MODES:
            raise ValueError(f"Unknown corpus {corpus!r}; valid: {', '.join(cls._MODES)}")
        m = resolve_mode(mode)
        values = {k: pick(m, q, f) for k, (q, f) in cls._MODES[corpus].items()}
        return cls(**values, amp_bf16=pick(m, False, True), compile=pick(m, False, True),
                   cpu_threads=pick(m, 1, None))

    def lr_at(self, progress: float, step: int) -> float:
        """Learning rate at ``step`` and training progress in [0, 1]."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        c = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
        return self.min_lr + c * (self.lr - self.min_lr)


@dataclass
class TrainResult:
    """What :func:`train_lm` returns."""

    model: nn.Module = field(repr=False)
    history: dict
    metrics: dict
    train_seconds: float
    steps: int
    resumed_from: int = 0
    finished: bool = True


def _autocast(device: torch.device, enabled: bool):
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _signature(model: nn.Module) -> list:
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def evaluate(model: nn.Module, data: torch.Tensor, *, max_tokens: int | None = None, batch_size: int = 32,
             device: torch.device | str = "cpu", amp_bf16: bool = False, starts: torch.Tensor | None = None,
             threads: int | str | None = "auto") -> float:
    """Mean next-token cross-entropy (nats/token) over windows of the context length: non-overlapping
    and spread evenly over ``data``, or starting at the given ``starts`` (aligned corpora); all of
    them, or an evenly spaced subset of about ``max_tokens`` tokens. Deterministic. On a CPU it runs
    on ``threads`` threads (see :func:`aigc_lessons.attention.cpu_threads`)."""
    dev = torch.device(device)
    with cpu_threads(threads if dev.type == "cpu" else None), torch.no_grad():
        return _evaluate(model, data, max_tokens, batch_size, dev, amp_bf16, starts)


def _evaluate(model, data, max_tokens, batch_size, dev, amp_bf16, starts=None) -> float:
    T = _block_size(model)
    if data.numel() < T + 1:
        raise ValueError(f"data of {data.numel()} tokens is shorter than one window of {T}")
    if starts is None:
        n_win = (data.numel() - 1) // T
        if max_tokens is not None:
            n_win = max(1, min(n_win, max_tokens // T))
        starts = torch.linspace(0, data.numel() - T - 1, n_win).long()
    elif max_tokens is not None and starts.numel() > max(1, max_tokens // T):
        starts = starts[torch.linspace(0, starts.numel() - 1, max(1, max_tokens // T)).long()]
    n_win = starts.numel()
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    offsets = torch.arange(T + 1)
    for i in range(0, n_win, batch_size):
        win = data[starts[i: i + batch_size, None] + offsets].to(dev)
        with _autocast(dev, amp_bf16):
            logits = _logits(model, win[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), win[:, 1:].reshape(-1), reduction="sum")
        total += float(loss)
        count += win[:, 1:].numel()
    model.train(was_training)
    return total / count


@torch.no_grad()
def _estimate(model, data, cfg: TrainConfig, block: int, dev: torch.device, starts=None) -> float:
    """Mean loss on ``cfg.eval_batches`` random batches drawn with a fixed seed (the same at every evaluation)."""
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    was = model.training
    model.eval()
    losses = []
    for _ in range(cfg.eval_batches):
        x, y = get_batch(data, cfg.batch_size, block, gen, dev, starts)
        with _autocast(dev, cfg.amp_bf16):
            logits = _logits(model, x)
        losses.append(float(F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))))
    model.train(was)
    return float(np.mean(losses))


def _optimizer(model: nn.Module, cfg: TrainConfig, dev: torch.device) -> torch.optim.Optimizer:
    """AdamW; weight decay on matrices only (not on biases and LayerNorm gains)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    kwargs = {"fused": True} if dev.type == "cuda" else {}
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), **kwargs)


def train_lm(model: nn.Module, splits: TextSplits, cfg: TrainConfig, *, device: torch.device | str = "cpu",
             checkpoint_path: str | Path | None = None, stop_after: int | None = None,
             progress: bool = True) -> TrainResult:
    """Train a causal language model (our :class:`GPT` or a ``GPT2LMHeadModel``) on ``splits``.

    Every ``cfg.checkpoint_interval`` steps and at the end, model, optimizer, step, history, elapsed
    training seconds and all random-number states are written atomically to ``checkpoint_path``; a
    later call with the same path continues from there (the same batches and, without a time
    budget, bit-identical weights as an uninterrupted run). ``stop_after`` ends this call after that
    many steps (an interruption, for demonstrations and tests). The clock ``train_seconds`` counts
    optimisation steps only: not evaluations, checkpoints or the one-off ``torch.compile`` warm-up.
    """
    dev = torch.device(device)
    block = _block_size(model)
    if splits.tokenizer.vocab_size > _logits_size(model):
        raise ValueError(f"the model predicts {_logits_size(model)} tokens but the data has {splits.tokenizer.vocab_size}")
    model.to(dev)
    model.train()
    train_starts, val_starts = splits.window_starts("train", block), splits.window_starts("val", block)
    gen = seed_everything(cfg.seed)
    opt = _optimizer(model, cfg, dev)
    history: dict = {"step": [], "train_loss": [], "val_loss": [], "seconds": [], "lr": [],
                     "batch_step": [], "batch_loss": []}
    fwd = model
    compile_seconds = 0.0
    if cfg.compile and dev.type == "cuda" and hasattr(torch, "compile"):
        t0 = time.perf_counter()
        try:
            fwd = torch.compile(model)
            x, _ = get_batch(splits.train, cfg.batch_size, block, torch.Generator().manual_seed(0), dev)
            with _autocast(dev, cfg.amp_bf16):
                _logits(fwd, x).float().mean().backward()  # compile forward and backward once, off the clock
            # (before a checkpoint's random-number states are restored, so a resumed run stays exact)
            opt.zero_grad(set_to_none=True)
        except Exception as exc:  # noqa: BLE001 - any compiler failure: train eagerly instead
            warnings.warn(f"torch.compile failed ({type(exc).__name__}: {exc}); training without it")
            fwd = model
            opt.zero_grad(set_to_none=True)
        compile_seconds = time.perf_counter() - t0

    step, seconds, resumed_from = 0, 0.0, 0
    kind = f"lm/{type(model).__name__}"
    if checkpoint_path is not None:
        state = load_checkpoint(checkpoint_path, kind=kind, map_location=dev)
        if state is not None:
            if state["signature"] != _signature(model):
                raise CheckpointError(f"checkpoint {checkpoint_path} holds a different architecture; "
                                      "use another path or delete it")
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            step, seconds, history = state["step"], state["train_seconds"], state["history"]
            set_rng_state(state["rng"], gen)
            resumed_from = step

    def save():
        if checkpoint_path is not None:
            save_checkpoint({"kind": kind, "model": model.state_dict(), "optimizer": opt.state_dict(),
                             "step": step, "train_seconds": seconds, "history": history,
                             "rng": rng_state(gen), "signature": _signature(model),
                             "config": dataclasses.asdict(cfg)}, checkpoint_path)

    def budget_left() -> bool:
        return cfg.time_budget_s is None or seconds < cfg.time_budget_s

    def progress_now() -> float:
        p = step / cfg.max_steps
        if cfg.time_budget_s:
            p = max(p, seconds / cfg.time_budget_s)
        return p

    from tqdm.auto import tqdm

    # mininterval: few redraws, so a long run in a notebook does not flood the kernel's output channel
    # (tools that read it only after the cell finishes, such as nbval, drop messages beyond ~1000)
    bar = tqdm(total=cfg.max_steps, initial=step, desc=f"train {splits.name}", disable=not progress, leave=False,
               mininterval=2.0)
    done_this_call = 0
    pending: list[torch.Tensor] = []
    with cpu_threads(cfg.cpu_threads if dev.type == "cpu" else None):
        while step < cfg.max_steps and budget_left() and (stop_after is None or done_this_call < stop_after):
            if step % cfg.eval_interval == 0 and (not history["step"] or history["step"][-1] != step):
                history["step"].append(step)
                history["train_loss"].append(_estimate(model, splits.train, cfg, block, dev, train_starts))
                history["val_loss"].append(_estimate(model, splits.val, cfg, block, dev, val_starts))
                history["seconds"].append(seconds)
                history["lr"].append(cfg.lr_at(progress_now(), step))
                bar.set_postfix(train=f"{history['train_loss'][-1]:.3f}", val=f"{history['val_loss'][-1]:.3f}")
            t0 = time.perf_counter()
            lr = cfg.lr_at(progress_now(), step)
            for g in opt.param_groups:
                g["lr"] = lr
            x, y = get_batch(splits.train, cfg.batch_size, block, gen, dev, train_starts)
            with _autocast(dev, cfg.amp_bf16):
                logits = _logits(fwd, x)
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            pending.append(loss.detach())
            step += 1
            done_this_call += 1
            if step % cfg.log_interval == 0:
                history["batch_step"].append(step)
                history["batch_loss"].append(float(torch.stack(pending).mean()))  # syncs the GPU once per interval
                pending.clear()
            if dev.type == "cuda" and step % cfg.log_interval == 0:
                torch.cuda.synchronize(dev)
            seconds += time.perf_counter() - t0
            bar.update(1)
            if step % cfg.checkpoint_interval == 0:
                save()
        finished = step >= cfg.max_steps or not budget_left()
        if finished and (not history["step"] or history["step"][-1] != step):
            history["step"].append(step)
            history["train_loss"].append(_estimate(model, splits.train, cfg, block, dev, train_starts))
            history["val_loss"].append(_estimate(model, splits.val, cfg, block, dev, val_starts))
            history["seconds"].append(seconds)
            history["lr"].append(cfg.lr_at(progress_now(), step))
        save()
        metrics = {}
        if finished:
            metrics["val_loss"] = evaluate(model, splits.val, max_tokens=cfg.final_eval_tokens, device=dev,
                                           amp_bf16=cfg.amp_bf16, starts=val_starts)
            metrics["train_loss"] = evaluate(model, splits.train, max_tokens=cfg.final_eval_tokens or 10**6,
                                             device=dev, amp_bf16=cfg.amp_bf16, starts=train_starts)
    bar.close()
    metrics.update({"steps": step, "train_seconds": seconds, "compile_seconds": compile_seconds,
                    "tokens_per_second": step * cfg.batch_size * block / max(seconds, 1e-9)})
    return TrainResult(model, history, metrics, seconds, step, resumed_from, finished)


def _logits_size(model: nn.Module) -> int:
    if isinstance(model, GPT):
        return model.cfg.vocab_size
    return int(model.config.vocab_size)


def plot_history(result: TrainResult, title: str = "", ax=None):
    """Loss curves: per-batch training loss (thin), and train/validation estimates at evaluations."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(7, 3.8))[1]
    h = result.history
    ax.plot(h["batch_step"], h["batch_loss"], color="0.75", lw=0.8, label="training batches (mean per log interval)")
    ax.plot(h["step"], h["train_loss"], "o-", label="train (fixed eval batches)")
    ax.plot(h["step"], h["val_loss"], "s-", label="held-out (fixed eval batches)")
    ax.set_xlabel("optimisation step")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.set_title(title or "training curves")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


# -------------------------------------------------------------------------------------- sampling


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide logits by :math:`\\tau > 0`: :math:`p_i \\propto \\exp(z_i/\\tau)`; :math:`\\tau\\to 0` tends to the arg max."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 (use greedy=True for the arg max), got {temperature}")
    return logits / temperature


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest logits of each row, set the others to :math:`-\\infty`."""
    if k < 1:
        raise ValueError(f"top-k needs k >= 1, got {k}")
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering (Holtzman et al. 2020): keep the smallest set of most probable tokens whose
    total probability reaches ``p``; set the others to :math:`-\\infty`."""
    if not 0.0 < p <= 1.0:
        raise ValueError(f"top-p needs 0 < p <= 1, got {p}")
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    before = torch.cumsum(probs, dim=-1) - probs  # mass of the tokens ranked above each one
    drop_sorted = before >= p  # already reached p without this token
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def sample_next(logits: torch.Tensor, *, greedy: bool = False, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """One token id per row of ``logits (B, V)``: arg max if ``greedy``, else a draw from
    softmax(filtered logits / temperature) with top-k then top-p filtering."""
    if logits.dim() != 2:
        raise ValueError(f"sample_next expects logits of shape (batch, vocab), got {tuple(logits.shape)}")
    if greedy:
        return logits.argmax(-1)
    z = apply_temperature(logits.float(), temperature)
    if top_k is not None:
        z = top_k_filter(z, top_k)
    if top_p is not None:
        z = top_p_filter(z, top_p)
    probs = torch.softmax(z, dim=-1)
    if generator is not None and probs.device.type != "cpu":
        return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(-1).to(probs.device)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def generate(model: GPT, prompt: torch.Tensor, max_new_tokens: int, *, use_cache: bool = True,
             stop_id: int | None = None, threads: int | str | None = "auto", **sampling) -> torch.Tensor:
    """Extend ``prompt (B, T0)`` by ``max_new_tokens`` tokens drawn with :func:`sample_next`.

    With ``use_cache`` the keys and values of earlier tokens are kept (:class:`LayerCache`) and only
    the newest token runs through the model. When the context is full, the cache is rebuilt from the
    last half of the context, so every token is conditioned on between ``block_size/2`` and
    ``block_size`` previous tokens. Without the cache, the model reruns on the last ``block_size``
    tokens at every step. Rows that produced ``stop_id`` keep producing it (so they can be cut there).
    On a CPU it runs on ``threads`` threads: one token at a time is a chain of small operations.
    """
    dev = next(model.parameters()).device
    with cpu_threads(threads if dev.type == "cpu" else None), torch.no_grad():
        return _generate(model, prompt, max_new_tokens, use_cache, stop_id, sampling)


def _generate(model: GPT, prompt, max_new_tokens, use_cache, stop_id, sampling) -> torch.Tensor:
    if prompt.dim() != 2 or prompt.shape[1] < 1:
        raise ValueError(f"prompt must be (batch, length >= 1) token ids, got {tuple(prompt.shape)}")
    was = model.training
    model.eval()
    T = model.cfg.block_size
    dev = next(model.parameters()).device
    ids = prompt.to(dev)
    done = torch.zeros(ids.shape[0], dtype=torch.bool, device=dev)
    cache = None
    if use_cache:
        cache = model.new_cache()
        logits = model(ids[:, -T:], cache)[:, -1]
    for _ in range(max_new_tokens):
        if not use_cache:
            logits = model(ids[:, -T:])[:, -1]
        nxt = sample_next(logits, **sampling)
        if stop_id is not None:
            nxt = torch.where(done, torch.full_like(nxt, stop_id), nxt)
            done |= nxt == stop_id
        ids = torch.cat([ids, nxt[:, None]], dim=1)
        if stop_id is not None and bool(done.all()):
            break
        if use_cache:
            if cache[0].length >= T:  # context full: keep the most recent half
                cache = model.new_cache()
                logits = model(ids[:, -(T // 2):], cache)[:, -1]
            else:
                logits = model(nxt[:, None], cache)[:, -1]
    model.train(was)
    return ids


def generate_text(model: GPT, tokenizer: CharTokenizer, prompt: str, max_new_tokens: int, *, n: int = 1,
                  **sampling) -> list[str]:
    """``n`` continuations of ``prompt`` (the prompt included), decoded to text."""
    p = tokenizer.encode(prompt).unsqueeze(0).expand(n, -1)
    out = generate(model, p, max_new_tokens, **sampling)
    return [tokenizer.decode(row) for row in out]


# ---------------------------------------------------------------------------------- memorisation


class NgramIndex:
    r"""All length-``n`` substrings of a text, hashed and sorted for look-up in :math:`O(\log N)`.

    The hash of the window starting at :math:`i` is :math:`h_i = \sum_{j<n} c_{i+j} B^j \bmod 2^{64}`.
    With prefix sums :math:`P_k = \sum_{t<k} c_t B^t` it is :math:`h_i = (P_{i+n} - P_i)\,B^{-i}`
    (:math:`B` odd, so invertible modulo :math:`2^{64}`): all :math:`N` windows in :math:`O(N)`
    vectorised operations. A hit is confirmed by searching the substring in the text itself, so the
    answer is exact: a hash collision cannot create a false "memorised" span.
    """

    _B = 1_000_003
    _B_INV = pow(_B, -1, 2**64)

    def __init__(self, text: str, n: int) -> None:
        if n < 1 or len(text) < n:
            raise ValueError(f"need 1 <= n <= len(text), got n={n}, len={len(text)}")
        self.text, self.n = text, n
        self.hashes = np.sort(self._window_hashes(text, n))  # duplicates are harmless for look-up

    @classmethod
    def _window_hashes(cls, text: str, n: int) -> np.ndarray:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        m = codes.shape[0] - n + 1
        if m <= 0:
            return np.zeros(0, dtype=np.uint64)
        with np.errstate(over="ignore"):
            powers = np.empty(codes.shape[0], dtype=np.uint64)
            powers[0] = 1
            powers[1:] = cls._B
            powers = np.cumprod(powers, dtype=np.uint64)           # B^t mod 2^64 (wrapping)
            inv = np.empty(m, dtype=np.uint64)
            inv[0] = 1
            inv[1:] = cls._B_INV
            inv = np.cumprod(inv, dtype=np.uint64)                  # B^-i mod 2^64
            prefix = np.zeros(codes.shape[0] + 1, dtype=np.uint64)
            prefix[1:] = np.cumsum(codes * powers, dtype=np.uint64)
            return (prefix[n: n + m] - prefix[:m]) * inv

    def spans_found(self, s: str) -> list[int]:
        """Start offsets ``i`` in ``s`` whose ``s[i:i+n]`` occurs in the indexed text."""
        if len(s) < self.n:
            return []
        h = self._window_hashes(s, self.n)
        pos = np.searchsorted(self.hashes, h)
        pos[pos == len(self.hashes)] = 0
        candidates = np.nonzero(self.hashes[pos] == h)[0]
        return [int(i) for i in candidates if s[i: i + self.n] in self.text]

    def contains_span(self, s: str) -> bool:
        return bool(self.spans_found(s))

    def longest_match(self, s: str) -> int:
        """Length of the longest substring of ``s`` found verbatim in the text (binary search on length)."""
        lo, hi = 0, len(s)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if any(s[i: i + mid] in self.text for i in range(len(s) - mid + 1)):
                lo = mid
            else:
                hi = mid - 1
        return lo


@dataclass
class MemorisationResult:
    span: int
    sample_rate: float            # share of generated samples with a span found in the training text
    heldout_rate: float           # the same for windows of held-out text (a baseline: real text repeats too)
    n_samples: int
    examples: list                # (sample, first matching span) for a few hits


def memorisation(samples: Sequence[str], splits: TextSplits, span: int = 50, seed: int = 0,
                 index: NgramIndex | None = None) -> MemorisationResult:
    """How often model samples contain a ``span``-character substring of the training text verbatim,
    compared with held-out windows of the same lengths (Carlini et al. 2021 measure extraction
    of training data in the same spirit, at a much larger scale)."""
    if not len(samples):
        raise ValueError("memorisation needs at least one sample")
    index = index or NgramIndex(splits.train_text, span)
    hits, examples = 0, []
    for s in samples:
        found = index.spans_found(s)
        if found:
            hits += 1
            if len(examples) < 5:
                examples.append((s, s[found[0]: found[0] + span]))
    gen = torch.Generator().manual_seed(seed)
    held = 0
    for s in samples:
        L = min(len(s), len(splits.val_text))
        i = int(torch.randint(len(splits.val_text) - L + 1, (1,), generator=gen))
        held += index.contains_span(splits.val_text[i: i + L])
    return MemorisationResult(span, hits / len(samples), held / len(samples), len(samples), examples)


def memorisation_curve(samples: Sequence[str], splits: TextSplits, spans: Sequence[int] = (10, 20, 30, 40, 50),
                       seed: int = 0):
    """:func:`memorisation` for several span lengths: a DataFrame with ``span, sample_rate, heldout_rate``."""
    import pandas as pd

    rows = []
    for n in spans:
        r = memorisation(samples, splits, span=n, seed=seed)
        rows.append({"span": n, "sample_rate": r.sample_rate, "heldout_rate": r.heldout_rate})
    return pd.DataFrame(rows)


def plot_memorisation(df, ax=None, what: str = "model samples"):
    """Share of texts that contain a span of the training text verbatim, against the span length."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(6.5, 3.8))[1]
    ax.plot(df.span, df.sample_rate, "o-", label=what)
    ax.plot(df.span, df.heldout_rate, "s--", label="held-out text (same lengths)")
    ax.set_xlabel("span length n (characters)")
    ax.set_ylabel("share containing an n-character span\nof the training text (fraction)")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title("verbatim overlap with the training text")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


# ------------------------------------------------------------------------------------------- Tang


def sample_poems(model: GPT, tokenizer: CharTokenizer, n: int, *, seed: int = 0, max_chars: int = 30,
                 **sampling) -> list[str]:
    """``n`` poems, each generated from a newline (the separator between poems) until the next one."""
    gen = torch.Generator().manual_seed(seed)
    nl = tokenizer.stoi["\n"]
    prompt = torch.full((n, 1), nl, dtype=torch.long)
    out = generate(model, prompt, max_chars, stop_id=nl, generator=gen, **sampling)
    poems = []
    for row in out[:, 1:].tolist():
        if nl in row:
            row = row[: row.index(nl)]
        poems.append(tokenizer.decode(row))
    return poems


def unigram_format_rate(splits: TextSplits) -> float:
    """Format rate of a model that knows only how often each character occurs (no context at all),
    computed exactly: a sample started after a newline is a well-formed quatrain when its next 25
    characters are 5 Chinese characters, ``，``, 5, ``。``, 5, ``，``, 5, ``。`` and the newline, so

    .. math::  P = p_{\\text{Han}}^{20}\\; p_{，}^{2}\\; p_{。}^{2}\\; p_{\\backslash n}

    with the character frequencies :math:`p` of the training text. A floor for the format score."""
    text = splits.train_text
    n = len(text)
    han = sum(1 for c in text if re.match(f"[{_HAN}]", c)) / n
    return han ** 20 * (text.count("，") / n) ** 2 * (text.count("。") / n) ** 2 * (text.count("\n") / n)


# -------------------------------------------------------------------------------- common mistakes


@torch.no_grad()
def _prefix_loss(model: GPT, windows: torch.Tensor) -> float:
    """Next-token loss where position t is predicted from ``x[:t+1]`` alone (the model is rerun on each
    prefix): what a model can do at generation time, when the future does not exist yet."""
    model.eval()
    total, count = 0.0, 0
    for t in range(windows.shape[1] - 1):
        logits = model(windows[:, : t + 1])[:, -1]
        total += float(F.cross_entropy(logits, windows[:, t + 1], reduction="sum"))
        count += windows.shape[0]
    return total / count


def causal_mask_mistake(steps: int = 300, *, n_layer: int = 2, n_embd: int = 64, block_size: int = 32,
                        batch_size: int = 16, lr: float = 3e-3, seed: int = 0,
                        splits: TextSplits | None = None) -> dict:
    """Mistake: a GPT trained without the causal mask. Position t then sees x[t+1], which is its
    own target, so training teaches it to copy instead of to predict.

    Trains the same small model with and without the mask for ``steps`` steps (constant learning
    rate ``lr``) on tiny-shakespeare and returns, for each variant (``causal`` / ``leaky``):
    ``train_loss`` (the loss the training loop reports, mean of its last 30 batches),
    ``prefix_loss`` (held-out loss when each character is predicted from its prefix only: the
    situation of generation, when the future does not exist yet), ``curve`` (``(step, batch loss)``
    pairs) and a greedy ``sample``.
    """
    splits = splits or shakespeare_splits()
    cfg = TrainConfig(max_steps=steps, batch_size=batch_size, lr=lr, min_lr=lr, warmup_steps=10,
                      eval_interval=steps, eval_batches=2, final_eval_tokens=2048, log_interval=10,
                      checkpoint_interval=10**9, cpu_threads=1, seed=seed)
    out: dict = {}
    windows = torch.stack([splits.val[i: i + block_size + 1] for i in range(0, 16 * 997, 997)])
    for name, causal in (("causal", True), ("leaky", False)):
        torch.manual_seed(seed)
        model = GPT(GPTConfig(splits.tokenizer.vocab_size, block_size=block_size, n_layer=n_layer, n_head=4,
                              n_embd=n_embd, causal=causal))
        res = train_lm(model, splits, cfg, progress=False)
        out[f"train_loss_{name}"] = float(np.mean(res.history["batch_loss"][-3:]))
        with cpu_threads(1):
            out[f"prefix_loss_{name}"] = _prefix_loss(model, windows)
        out[f"curve_{name}"] = list(zip(res.history["batch_step"], res.history["batch_loss"]))
        out[f"sample_{name}"] = generate_text(model, splits.tokenizer, "ROMEO:\n", 60, greedy=True, use_cache=False)[0]
    return out


def plot_causal_mask_mistake(r: dict, ax=None):
    """Training-loss curves of the causal and the leaky model (:func:`causal_mask_mistake`), with
    each model's prefix-only held-out loss as a dashed line."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(7, 3.8))[1]
    for name, colour in (("causal", "C0"), ("leaky", "C3")):
        steps, losses = zip(*r[f"curve_{name}"])
        label = "with causal mask" if name == "causal" else "without causal mask (leaky)"
        ax.plot(steps, losses, color=colour, label=f"{label}: training loss")
        ax.axhline(r[f"prefix_loss_{name}"], color=colour, ls="--", lw=1,
                   label=f"{label}: held-out loss, past only")
    ax.set_xlabel("optimisation step")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.set_title("a missing causal mask: low training loss, useless model")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


# ------------------------------------------------------------------------------- notebook config


@dataclass
class LMDemoConfig:
    """What notebooks 07 and 08 vary by mode besides the training configs, quick and full side by side."""

    prompt: str = "ROMEO:\n"
    sample_chars: int = 300
    temperatures: tuple = (0.5, 1.0)
    top_k: int = 10
    top_p: float = 0.9
    memo_samples: int = 200       # samples for the memorisation measurement
    memo_chars: int = 256         # characters per sample
    memo_temperature: float = 1.0
    memo_spans: tuple = (10, 20, 30, 40, 50)
    poem_samples: int = 200       # Tang: poems for the format score ...
    poem_temperature: float = 1.0  # ... drawn from the model's own distribution
    poem_top_k: int | None = None
    poem_other_settings: tuple = ((("temperature", 0.5),), (("temperature", 0.8), ("top_k", 50)))
    # Asserted floor for the Tang format score. The training set's own rate (just below 1) is the
    # ceiling; a model that knows only character frequencies scores about 2e-8
    # (unigram_format_rate), an untrained one 0. With 200 samples the standard error of a rate
    # near 0.9 is about 0.02, so a model that has learned the form clears 0.8 by several standard
    # errors, and one that has not cannot reach it by luck.
    format_threshold: float = 0.8
    seed: int = 0

    @classmethod
    def for_mode(cls, mode: str | None = None) -> "LMDemoConfig":
        m = resolve_mode(mode)
        return cls(sample_chars=pick(m, 300, 600), memo_samples=pick(m, 200, 500), memo_chars=pick(m, 256, 512))


# ------------------------------------------------------------------------------------ benchmarks


def _smoke(tcfg: TrainConfig, mcfg: GPTConfig, max_steps: int | None, batch_size: int | None) -> TrainConfig:
    """Test-only caps, so that a full-mode run can be started on a CPU in seconds."""
    if max_steps is not None:
        tcfg = dataclasses.replace(tcfg, max_steps=max_steps, eval_interval=max_steps,
                                   final_eval_tokens=4 * mcfg.block_size, eval_batches=1)
    if batch_size is not None:
        tcfg = dataclasses.replace(tcfg, batch_size=batch_size)
    return tcfg


def bench_shakespeare(mode: str, device: torch.device, *, max_steps: int | None = None,
                      batch_size: int | None = None) -> dict:
    """``python -m aigc_lessons.bench lm-shakespeare``: train :class:`GPT` on tiny-shakespeare with the
    mode's configs and report the held-out loss (nats per character). ``max_steps`` and
    ``batch_size`` are test-only caps (a smoke test of full mode on a CPU)."""
    splits = shakespeare_splits()
    mcfg = GPTConfig.for_mode(mode, splits.tokenizer.vocab_size, "shakespeare")
    tcfg = _smoke(TrainConfig.for_mode(mode, "shakespeare"), mcfg, max_steps, batch_size)
    seed_everything(tcfg.seed)
    res = train_lm(GPT(mcfg), splits, tcfg, device=device)
    return {"config": {"model": dataclasses.asdict(mcfg), "train": dataclasses.asdict(tcfg)},
            "metrics": {"val_loss": res.metrics["val_loss"], "steps": res.steps,
                        "tokens_per_second": res.metrics["tokens_per_second"],
                        "compile_seconds": res.metrics["compile_seconds"]},
            "train_seconds": res.train_seconds}


def bench_tang(mode: str, device: torch.device, *, max_steps: int | None = None, batch_size: int | None = None,
               n_samples: int = 200) -> dict:
    """``python -m aigc_lessons.bench lm-tang``: train on five-character quatrains; report held-out
    loss, the format rate of ``n_samples`` generated poems and the training set's own format rate.
    ``max_steps`` and ``batch_size`` are test-only caps."""
    splits = tang_splits()
    mcfg = GPTConfig.for_mode(mode, splits.tokenizer.vocab_size, "tang")
    tcfg = _smoke(TrainConfig.for_mode(mode, "tang"), mcfg, max_steps, batch_size)
    seed_everything(tcfg.seed)
    res = train_lm(GPT(mcfg), splits, tcfg, device=device)
    demo = LMDemoConfig.for_mode(mode)
    poems = sample_poems(res.model, splits.tokenizer, n_samples, seed=demo.seed, temperature=demo.poem_temperature,
                         top_k=demo.poem_top_k)
    train_poems = [p for p in splits.train_text.split("\n") if p]
    return {"config": {"model": dataclasses.asdict(mcfg), "train": dataclasses.asdict(tcfg),
                       "sampling": {"n": n_samples, "temperature": demo.poem_temperature, "top_k": demo.poem_top_k}},
            "metrics": {"val_loss": res.metrics["val_loss"], "format_rate": format_rate(poems),
                        "format_rate_train": format_rate(train_poems), "steps": res.steps},
            "train_seconds": res.train_seconds}
