"""Decoding rules: temperature, top-k, top-p (nucleus), and generation with a KV cache.

Each rule turns the model's logits :math:`z` for the next token into the distribution it samples
from; :func:`generate` applies one of them token after token, reusing the keys and values of earlier
tokens (:class:`~aigc_lessons.attention.core.LayerCache`).
"""

from __future__ import annotations

import torch

from ..runtime import cpu_threads
from ..text import CharTokenizer
from .model import GPT

__all__ = ["apply_temperature", "top_k_filter", "top_p_filter", "sample_next", "generate", "generate_text"]


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
    """One token id per row of ``logits (B, V)``: arg max if ``greedy``, else a draw from the softmax of
    the logits divided by ``temperature`` and then filtered by top-k, then top-p (so the nucleus is taken
    on the tempered distribution)."""
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
             stop_id: int | None = None, threads: int | None = 1, **sampling) -> torch.Tensor:
    """Extend ``prompt (B, T0)`` by ``max_new_tokens`` tokens drawn with :func:`sample_next`.

    With ``use_cache`` the keys and values of earlier tokens are kept (:class:`~aigc_lessons.attention.core.LayerCache`) and only
    the newest token runs through the model. When the context is full, the cache is rebuilt from the
    last half of the context, so every token is conditioned on between ``block_size/2`` and
    ``block_size`` previous tokens. Without the cache, the model reruns on the last ``block_size``
    tokens at every step. Rows that produced ``stop_id`` keep producing it (so they can be cut there).
    On a CPU it runs on ``threads`` threads (one by default; ``None`` keeps the current number): one
    token at a time is a chain of small operations.
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
