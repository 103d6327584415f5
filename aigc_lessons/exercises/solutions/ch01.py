"""Solutions of the chapter 1 exercises."""

from __future__ import annotations

import math

import torch

from ...bigram import count_bigrams, split_text
from ...text import CharTokenizer

Tensor = torch.Tensor


def bigram_probabilities(ids: Tensor, vocab_size: int, alpha: float) -> Tensor:
    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)
    # one count per consecutive pair (current, next); accumulate=True adds up repeated pairs
    counts.index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1, dtype=torch.float64), accumulate=True)
    counts = counts + alpha  # every cell, zeros included: no row is left empty
    return counts / counts.sum(dim=1, keepdim=True)  # each row is p(. | current character)


def cross_entropy(log_probs: Tensor, ids: Tensor, base: float = 2.0) -> float:
    nats = -log_probs[ids[:-1], ids[1:]].mean()  # mean over transitions, in nats (natural log)
    return float(nats) / math.log(base)  # log_b(x) = ln(x) / ln(b)


def perplexity(log_probs: Tensor, ids: Tensor) -> float:
    nll = -log_probs[ids[:-1], ids[1:]].mean()  # mean negative log-likelihood per transition
    return float(torch.exp(nll))  # exp of the mean (a geometric mean of 1/p), not the mean of exps


def sample_next(probs: Tensor, n: int, generator: torch.Generator) -> Tensor:
    return torch.multinomial(probs, n, replacement=True, generator=generator)


def heldout_perplexity(text: str, alpha: float = 1.0, val_fraction: float = 0.1) -> float:
    # fix 2: the vocabulary covers the whole corpus, so a character first seen in the tail has a row and column
    vocab = CharTokenizer.from_text(text)
    train_text, val_text = split_text(text, val_fraction)
    train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
    counts = count_bigrams(train_ids, len(vocab)) + alpha  # counted on the training part only
    log_probs = torch.log(counts / counts.sum(dim=1, keepdim=True))
    nll = -log_probs[val_ids[:-1], val_ids[1:]].mean()  # fix 1: measured on the held-out part
    return float(torch.exp(nll))
