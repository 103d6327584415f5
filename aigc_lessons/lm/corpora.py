"""The two corpora of the small GPT: tiny-shakespeare and Tang quatrains, split and batched.

:class:`TextSplits` holds a corpus cut into training and held-out text (as text and as id tensors,
with the one :class:`aigc_lessons.text.CharTokenizer`); :func:`get_batch` draws the random windows
that training sees. The quatrain format checks (:func:`quatrain_ok`, :func:`format_rate`,
:func:`format_failures`) live here too: they define which poems the Tang corpus keeps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

import torch

from ..text import CharTokenizer

__all__ = ["TextSplits", "shakespeare_splits", "tang_quatrains", "tang_splits", "get_batch",
           "quatrain_ok", "format_rate", "format_failures"]


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
    from ..data import load_text

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
    from ..data import load_tang_poems

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
    if dev.type == "cuda" and not x.is_cuda:  # a CPU corpus: page-locked copies overlap with the GPU's work
        return x.pin_memory().to(dev, non_blocking=True), y.pin_memory().to(dev, non_blocking=True)
    return x.to(dev), y.to(dev)
