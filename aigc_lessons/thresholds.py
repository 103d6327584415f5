"""The threshold type of the calibrated checks, on its own so that :mod:`aigc_lessons.calibrate` and
:mod:`aigc_lessons.calibrate_units` can both use it without importing each other."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Callable

__all__ = ["Threshold", "MEASURED"]

_OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, ">": operator.gt, "<=": operator.le,
                                                   "<": operator.lt}

#: The ``why`` of a quick-mode threshold set from the calibration table.
MEASURED = "set with margin below the worst of the runs in tests/calibration.json"


@dataclass(frozen=True)
class Threshold:
    """``metric op value``, e.g. ``Threshold(">=", 0.8)``; ``why`` says where the value comes from."""

    op: str
    value: float
    why: str = ""

    def holds(self, measured: float) -> bool:
        return _OPS[self.op](measured, self.value)
