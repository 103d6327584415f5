"""The smallest honest generative model: a character bigram language model.

Characters become ids through the book's one tokenizer, :class:`aigc_lessons.text.CharTokenizer`.

A bigram model says the next character depends only on the current one:

.. math::  p(x_1, \\dots, x_T) = p(x_1) \\prod_{t=2}^{T} p(x_t \\mid x_{t-1}).

With a table :math:`P[a, b] = p(b \\mid a)` the maximum-likelihood estimate is the normalised count
:math:`P[a,b] = N(a,b) / \\sum_{b'} N(a,b')`; adding :math:`\\alpha` to every count (Laplace smoothing)
keeps characters never seen after ``a`` from getting probability zero on held-out text.

The same model is also a one-layer neural network: logits :math:`W[a, :]` passed through softmax.
Minimising the cross-entropy by gradient descent reaches the count solution, which the first-look
notebook shows. Quality is the held-out *perplexity* :math:`\\exp(-\\frac1T\\sum_t \\log p(x_t\\mid x_{t-1}))`,
the effective number of equally likely next characters; a model that knows nothing (uniform over
:math:`V` symbols) has perplexity exactly :math:`V`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import runtime
from .text import CharTokenizer

__all__ = ["BigramConfig", "BigramResult", "BigramLM", "count_bigrams", "train_bigram",
           "perplexity", "split_text", "bench"]


def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """Split a corpus into a training head and a held-out tail (no shuffling: text is sequential)."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    cut = int(len(text) * (1.0 - val_fraction))
    return text[:cut], text[cut:]


def count_bigrams(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Return the (V, V) matrix N with N[a, b] = number of times b follows a in ``ids``."""
    if ids.dim() != 1 or ids.numel() < 2:
        raise ValueError(f"count_bigrams expects a 1-D id sequence of length >= 2, got shape {tuple(ids.shape)}")
    flat = ids[:-1] * vocab_size + ids[1:]
    return torch.bincount(flat, minlength=vocab_size * vocab_size).reshape(vocab_size, vocab_size).float()


def perplexity(log_probs: torch.Tensor, ids: torch.Tensor) -> float:
    """Perplexity of a bigram table of log-probabilities ``log_probs[a, b] = log p(b|a)`` on ``ids``."""
    nll = -log_probs[ids[:-1], ids[1:]].mean()
    return float(torch.exp(nll))


class BigramLM(nn.Module):
    """A bigram model as a network: ``logits = W[x_t]``, ``p(x_{t+1} | x_t) = softmax(W[x_t])``."""

    def __init__(self, vocab_size: int):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(vocab_size, vocab_size))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.logits[ids]

    def log_probs(self) -> torch.Tensor:
        return F.log_softmax(self.logits.detach(), dim=-1)

    @torch.no_grad()
    def sample(self, start: int, length: int, generator: torch.Generator, temperature: float = 1.0) -> list[int]:
        """Draw ``length`` ids after ``start`` by ancestral sampling."""
        if temperature <= 0:
            raise ValueError("temperature must be positive")
        out = [int(start)]
        probs = F.softmax(self.logits.detach().cpu() / temperature, dim=-1)
        for _ in range(length):
            out.append(int(torch.multinomial(probs[out[-1]], 1, generator=generator)))
        return out


@dataclass
class BigramConfig:
    """Training settings; ``for_mode`` gives the quick (CPU) and full values side by side."""

    steps: int = 300
    batch_size: int = 4096
    lr: float = 0.5
    smoothing: float = 1.0
    val_fraction: float = 0.1
    seed: int = 1337

    @classmethod
    def for_mode(cls, mode: str | None = None, **overrides) -> "BigramConfig":
        return runtime.for_mode(cls, mode, quick=dict(steps=300), full=dict(steps=2000), **overrides)


@dataclass
class BigramResult:
    """What :func:`train_bigram` returns; ``vocab`` is the corpus's character tokenizer."""

    model: BigramLM
    vocab: CharTokenizer
    history: dict[str, list[float]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    count_log_probs: torch.Tensor | None = None


def train_bigram(text: str, config: BigramConfig, device: torch.device | str = "cpu",
                 progress: bool = True) -> BigramResult:
    """Fit the bigram model twice (closed-form counts, and gradient descent) and measure both.

    Metrics: ``val_ppl_counts``, ``val_ppl_sgd``, ``val_ppl_uniform`` (= V), ``val_nll_sgd`` (nats/char),
    ``train_seconds``.
    """
    from tqdm.auto import tqdm

    device = torch.device(device)
    gen = runtime.seed_everything(config.seed)
    vocab = CharTokenizer.from_text(text)
    train_text, val_text = split_text(text, config.val_fraction)
    train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
    V = len(vocab)

    counts = count_bigrams(train_ids, V) + config.smoothing
    count_lp = torch.log(counts / counts.sum(dim=1, keepdim=True))

    model = BigramLM(V).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    history: dict[str, list[float]] = {"train_loss": [], "val_loss": []}
    x_all, y_all = train_ids[:-1].to(device), train_ids[1:].to(device)
    vx, vy = val_ids[:-1].to(device), val_ids[1:].to(device)
    start = time.perf_counter()
    for step in tqdm(range(config.steps), desc="bigram", disable=not progress):
        idx = torch.randint(0, x_all.numel(), (config.batch_size,), generator=gen).to(device)
        loss = F.cross_entropy(model(x_all[idx]), y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 10 == 0 or step == config.steps - 1:
            with torch.no_grad():
                history["train_loss"].append(float(loss))
                history["val_loss"].append(float(F.cross_entropy(model(vx), vy)))
    seconds = time.perf_counter() - start
    model = model.cpu()
    metrics = {
        "vocab_size": V,
        "val_ppl_uniform": float(V),
        "val_ppl_counts": perplexity(count_lp, val_ids),
        "val_ppl_sgd": perplexity(model.log_probs(), val_ids),
        "val_nll_sgd": math.log(perplexity(model.log_probs(), val_ids)),
        "train_seconds": seconds,
    }
    return BigramResult(model=model, vocab=vocab, history=history, metrics=metrics, count_log_probs=count_lp)


def bench(mode: str, device: torch.device) -> dict:
    """``python -m aigc_lessons.bench first-look-bigram``."""
    from .data import load_text

    config = BigramConfig.for_mode(mode)
    result = train_bigram(load_text("tinyshakespeare"), config, device)
    return {"config": config, "metrics": result.metrics, "train_seconds": result.metrics["train_seconds"]}
