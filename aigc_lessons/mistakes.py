"""The common-mistakes thread: one report type that every chapter's reproduced mistake returns.

Each mistake in the book is run twice, once as the blog posts wrote it and once fixed, and measured
both times. A test then pins the difference, so the mistake cannot quietly come back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["MistakeReport"]


@dataclass
class MistakeReport:
    """A common mistake, reproduced and measured.

    ``name``     a short title, as on the chapter's mistakes page;
    ``cause``    what the wrong code does, in one sentence;
    ``symptom``  what we measured with the mistake (metric name -> value);
    ``fixed``    the same metrics with the fix;
    ``details``  anything else a notebook plots (curves, tensors); not compared by tests.
    """

    name: str
    cause: str
    symptom: dict[str, object]
    fixed: dict[str, object]
    details: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or not self.cause:
            raise ValueError("a MistakeReport needs a name and a cause")

    def table(self):
        """The measurements as a small DataFrame: one row per metric, columns ``symptom`` and ``fixed``."""
        import pandas as pd

        keys = list(dict.fromkeys([*self.symptom, *self.fixed]))
        return pd.DataFrame({"symptom": [self.symptom.get(k) for k in keys],
                             "fixed": [self.fixed.get(k) for k in keys]}, index=keys)
