"""Characters as tokens: the one character tokenizer of the book (bigram model and GPT alike)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

__all__ = ["CharTokenizer"]


@dataclass(frozen=True)
class CharTokenizer:
    """Characters <-> integer ids; the vocabulary is the sorted set of the characters of a corpus.

    Sorting makes the ids a function of the corpus alone, so two runs on the same text agree.
    A character outside the vocabulary is an error that names it, never a silent substitute.
    """

    chars: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.chars:
            raise ValueError("a CharTokenizer needs at least one character")
        if len(set(self.chars)) != len(self.chars):
            raise ValueError("the characters of a CharTokenizer must be distinct")

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        """The tokenizer whose vocabulary is exactly the characters of ``text``."""
        if not text:
            raise ValueError("cannot build a vocabulary from an empty text")
        return cls(tuple(sorted(set(text))))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def stoi(self) -> dict[str, int]:
        """Character -> id (built once, then cached on the instance)."""
        cache = self.__dict__.get("_stoi_cache")
        if cache is None:
            cache = {c: i for i, c in enumerate(self.chars)}
            object.__setattr__(self, "_stoi_cache", cache)
        return cache

    def encode(self, text: str) -> torch.Tensor:
        """int64 tensor of ids; a character outside the vocabulary raises ``ValueError`` naming it."""
        stoi = self.stoi
        try:
            return torch.tensor([stoi[c] for c in text], dtype=torch.long)
        except KeyError as exc:
            raise ValueError(f"character {exc.args[0]!r} is not in the vocabulary of "
                             f"{self.vocab_size} characters") from None

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """The text of ``ids``; an id outside ``[0, vocab_size)`` raises ``ValueError``."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"ids {bad[:5]} are outside the vocabulary of {self.vocab_size} characters")
        return "".join(self.chars[i] for i in ids)
