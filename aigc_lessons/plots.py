"""Small plotting helpers shared by the chapters. Every figure gets axis labels with units."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch


def image_grid(images: torch.Tensor, nrow: int = 8, *, pad: int = 2, value_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """Tile a batch of single-channel images (N, 1, H, W) or (N, H, W) into one 2-D array.

    Shapes other than these raise ``ValueError`` with the shape that arrived.
    """
    if images.dim() == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.dim() != 3:
        raise ValueError(f"image_grid expects (N, 1, H, W) or (N, H, W), got {tuple(images.shape)}")
    lo, hi = value_range
    x = ((images.detach().float().cpu() - lo) / (hi - lo)).clamp(0, 1).numpy()
    n, h, w = x.shape
    ncol = min(nrow, n)
    nrows = int(np.ceil(n / ncol))
    grid = np.ones((nrows * (h + pad) + pad, ncol * (w + pad) + pad), dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, ncol)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = x[i]
    return grid


def show_images(images: torch.Tensor, nrow: int = 8, title: str = "", ax=None, **kwargs):
    """Show :func:`image_grid` of ``images`` without ticks (pixels have no unit to label)."""
    ax = ax or plt.subplots(figsize=(0.9 * min(nrow, len(images)), 0.9 * int(np.ceil(len(images) / nrow))))[1]
    ax.imshow(image_grid(images, nrow, **kwargs), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def curves(history: Mapping[str, Sequence[float]], *, xlabel: str, ylabel: str, title: str = "",
           x: Sequence[float] | None = None, ax=None, logy: bool = False):
    """Plot one line per entry of ``history`` (e.g. train and validation loss) with labelled axes."""
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    for name, values in history.items():
        xs = x if x is not None else np.arange(1, len(values) + 1)
        ax.plot(xs[: len(values)], values, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"


def cjk_font_path() -> Path:
    """The Noto Sans CJK SC font file (SIL Open Font License) of the pinned ``mplfonts`` wheel.

    The font comes with ``make venv``; nothing is downloaded at run time. It covers simplified and
    traditional characters, so the Tang poems (traditional) and the Chinese edition's labels both render.
    """
    spec = importlib.util.find_spec("mplfonts")
    path = Path(spec.origin).parent / "fonts" / CJK_FONT_FILE if spec and spec.origin else None
    if path is None or not path.is_file():
        raise FileNotFoundError(
            f"no CJK font: {CJK_FONT_FILE} comes with the 'mplfonts' package pinned in requirements.txt; "
            "run `make venv` (or pip install -r requirements.txt)")
    return path


def use_cjk_font() -> str:
    """Let matplotlib draw Chinese characters: register :func:`cjk_font_path` and put it after the default
    sans-serif font, so Latin text keeps its font and each Chinese glyph falls back to Noto Sans CJK SC.
    Returns the CJK font's family name. Idempotent."""
    from matplotlib import font_manager

    path = str(cjk_font_path())
    name = font_manager.FontProperties(fname=path).get_name()
    installed = {f.name for f in font_manager.fontManager.ttflist}
    if name not in installed:
        font_manager.fontManager.addfont(path)
    latin_name = next((f for f in plt.rcParams["font.sans-serif"] if f in installed and f != name), name)
    # a list of concrete families: matplotlib falls back glyph by glyph along it (a generic family does not)
    plt.rcParams["font.family"] = [latin_name, name] if latin_name != name else [name]
    return name
