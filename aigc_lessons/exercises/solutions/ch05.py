"""Solutions of the chapter 5 exercises."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd


def occupation_shares(labels: list[str], task_types: list[str | None]) -> dict[str, float]:
    weights = np.array([2.0 if t == "Core" else 1.0 for t in task_types])  # supplemental and untyped: 1
    e1 = np.array([label == "E1" for label in labels], dtype=float)
    e2 = np.array([label == "E2" for label in labels], dtype=float)
    total = weights.sum()
    return {"alpha": float((weights * e1).sum() / total),
            "beta": float((weights * (e1 + 0.5 * e2)).sum() / total),  # software-dependent tasks count half
            "gamma": float((weights * (e1 + e2)).sum() / total)}


def share_of_workers(table: pd.DataFrame, threshold: float, column: str = "human_rating_beta") -> float:
    exposed = table[column] >= threshold
    # the bug was `exposed.sum() / len(table)`: a share of occupations, every occupation counted once
    share = table.loc[exposed, "employment"].sum() / table["employment"].sum()
    return float(share)


def family_exposure(codes: list[str], exposure: np.ndarray, employment: np.ndarray) -> dict[str, float]:
    weighted: dict[str, float] = {}
    workers: dict[str, float] = {}
    for code, e, n in zip(codes, exposure, employment):
        family = code[:2]
        weighted[family] = weighted.get(family, 0.0) + float(n) * float(e)
        workers[family] = workers.get(family, 0.0) + float(n)
    return {family: weighted[family] / workers[family] for family in weighted}


def cohen_kappa(a: list[str], b: list[str]) -> float:
    n = len(a)
    p_o = sum(x == y for x, y in zip(a, b)) / n
    count_a, count_b = Counter(a), Counter(b)
    labels = set(count_a) | set(count_b)
    p_e = sum((count_a[k] / n) * (count_b[k] / n) for k in labels)  # chance agreement from each rater's own rates
    if p_e == 1.0:
        return 1.0
    return (p_o - p_e) / (1.0 - p_e)


def share_at_line(exposure: np.ndarray, employment: np.ndarray, threshold: float, strict: bool = False) -> float:
    exposure = np.asarray(exposure, dtype=float)
    employment = np.asarray(employment, dtype=float)
    tol = 1e-9
    if strict:
        hit = exposure > threshold + tol  # clearly above the line; on it (up to rounding) is not above
    else:
        hit = exposure >= threshold - tol  # 0.49999999999999994 is 1/2 and counts
    return float(employment[hit].sum() / employment.sum())
