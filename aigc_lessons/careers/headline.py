"""The chapter's findings, recomputed: the headline, task shares, wages, major groups, extremes, agreement.

Every number the chapter page quotes comes from a function here, called on the joined table of
:mod:`aigc_lessons.careers.exposure`; Cohen's kappa and macro-F1 are implemented here (the tests check
them against scikit-learn).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..data import Occupations
from .exposure import (LABELS, MEASURES, PUBLISHED_HEADLINE, RATERS, TASK_LABEL_COLUMNS, JoinedTable,
                       label_ids, rating_column, share_of_employment)

__all__ = [
    "headline_grid", "HeadlineResult", "reproduce_headline", "exposure_curve", "WageResult", "wage_exposure",
    "by_major_group", "extremes", "task_shares", "personal_exposure", "occupation_level_check", "TASK_TYPE_WEIGHTS",
    "cohen_kappa", "macro_f1", "Agreement", "label_agreement",
]


# ------------------------------------------------------------------------------------ headline figures


def headline_grid(joined: JoinedTable, denominator: str = "matched") -> pd.DataFrame:
    """Share of employment at >=10%, >=50% and >50% exposure for every rater and measure."""
    table = joined.table.copy()
    table.attrs["employment_total"] = joined.crosswalk.summary["employment_total"]
    rows = []
    for rater in RATERS:
        for measure in MEASURES:
            rows.append({
                "rater": rater, "measure": measure,
                "share_ge_10pct": share_of_employment(table, rater, measure, 0.1, denominator=denominator),
                "share_ge_50pct": share_of_employment(table, rater, measure, 0.5, denominator=denominator),
                "share_gt_50pct": share_of_employment(table, rater, measure, 0.5, strict=True,
                                                      denominator=denominator),
            })
    return pd.DataFrame(rows)


@dataclass
class HeadlineResult:
    """The reproduced headline next to the published one.

    ``at_least_10pct``: human beta >= 0.1; ``over_50pct``: human beta > 0.5 (the closest reproduction);
    ``at_least_50pct``: human beta >= 0.5 (the literal reading); all as shares of the employment of the
    rated occupations. ``grid`` holds every rater/measure combination.
    """

    at_least_10pct: float
    over_50pct: float
    at_least_50pct: float
    published: dict[str, float]
    grid: pd.DataFrame
    rater: str = "human"
    measure: str = "beta"


def reproduce_headline(joined: JoinedTable) -> HeadlineResult:
    """Reproduce "80% of workers with >=10% of tasks exposed, 19% with >=50%" from the released files.

    The measure that comes closest is the *human* beta rating (E1 counts 1, E2 counts 1/2), averaged over
    the O*NET occupations of each OEWS code and weighted by OEWS employment, with the 50% line read as
    "more than half" (beta sits exactly on 0.5 for many occupations, so >= and > differ by about three
    points of employment).
    """
    grid = headline_grid(joined)
    t = joined.table
    return HeadlineResult(
        at_least_10pct=share_of_employment(t, "human", "beta", 0.1),
        over_50pct=share_of_employment(t, "human", "beta", 0.5, strict=True),
        at_least_50pct=share_of_employment(t, "human", "beta", 0.5),
        published=dict(PUBLISHED_HEADLINE),
        grid=grid,
    )


def exposure_curve(table: pd.DataFrame, rater: str = "human", measure: str = "beta",
                   grid: Sequence[float] | None = None) -> pd.DataFrame:
    """Share of employment with exposure >= x for x on ``grid`` (a survival curve weighted by workers)."""
    xs = np.linspace(0.0, 1.0, 101) if grid is None else np.asarray(grid, float)
    col = rating_column(rater, measure)
    e = table[col].to_numpy(float)
    w = table["employment"].to_numpy(float)
    share = [(w * (e >= x)).sum() / w.sum() for x in xs]
    return pd.DataFrame({"threshold": xs, "share_of_employment": share})


@dataclass
class WageResult:
    """Exposure against the median annual wage.

    ``corr_log_wage``: employment-weighted Pearson correlation of exposure with log10(wage);
    ``slope_per_decade``: weighted least-squares slope, change in exposure per tenfold wage;
    ``by_quintile``: employment-weighted mean exposure in five wage groups of equal employment;
    ``n_used`` / ``n_excluded``: OEWS rows with / without a wage.
    """

    corr_log_wage: float
    slope_per_decade: float
    by_quintile: pd.DataFrame
    n_used: int
    n_excluded: int


def _weighted_corr(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted Pearson correlation and weighted least-squares slope of y on x.

    .. math:: \\bar x = \\sum w x / \\sum w,\\quad c_{xy} = \\sum w (x-\\bar x)(y-\\bar y)/\\sum w,
              \\quad r = c_{xy}/\\sqrt{c_{xx} c_{yy}},\\quad b = c_{xy}/c_{xx}
    """
    w = w / w.sum()
    mx, my = (w * x).sum(), (w * y).sum()
    cxy = (w * (x - mx) * (y - my)).sum()
    cxx = (w * (x - mx) ** 2).sum()
    cyy = (w * (y - my) ** 2).sum()
    return float(cxy / math.sqrt(cxx * cyy)), float(cxy / cxx)


def wage_exposure(table: pd.DataFrame, rater: str = "human", measure: str = "beta") -> WageResult:
    """How exposure relates to the median wage (rows without a wage are excluded and counted)."""
    col = rating_column(rater, measure)
    ok = table["wage"].notna() & (table["wage"] > 0)
    t = table[ok]
    x = np.log10(t["wage"].to_numpy(float))
    y = t[col].to_numpy(float)
    w = t["employment"].to_numpy(float)
    r, b = _weighted_corr(x, y, w)
    order = np.argsort(x, kind="stable")
    cum = np.cumsum(w[order]) / w.sum()
    group = np.minimum((cum * 5 - 1e-12).astype(int), 4)
    q = pd.DataFrame({"quintile": group + 1, "wage": t["wage"].to_numpy(float)[order], "exposure": y[order],
                      "employment": w[order]})
    by_q = q.groupby("quintile").apply(
        lambda g: pd.Series({"wage_min": g["wage"].min(), "wage_max": g["wage"].max(),
                             "mean_exposure": np.average(g["exposure"], weights=g["employment"]),
                             "employment": g["employment"].sum()}), include_groups=False).reset_index()
    return WageResult(corr_log_wage=r, slope_per_decade=b, by_quintile=by_q, n_used=int(ok.sum()),
                      n_excluded=int((~ok).sum()))


def by_major_group(table: pd.DataFrame, rater: str = "human", measure: str = "beta") -> pd.DataFrame:
    """Employment-weighted mean exposure per SOC major group, sorted from most to least exposed."""
    col = rating_column(rater, measure)
    g = table.groupby(["major_code", "major_title"]).apply(
        lambda d: pd.Series({"mean_exposure": np.average(d[col], weights=d["employment"]),
                             "employment": d["employment"].sum(), "occupations": len(d)}),
        include_groups=False)
    return g.reset_index().sort_values("mean_exposure", ascending=False, ignore_index=True)


def extremes(table: pd.DataFrame, rater: str = "human", measure: str = "beta", n: int = 10,
             min_employment: float = 50_000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``n`` most and least exposed occupations with at least ``min_employment`` workers.

    Ties are broken by employment (larger first), so the lists are deterministic.
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    col = rating_column(rater, measure)
    t = table[table["employment"] >= min_employment]
    keep = ["oews_code", "oews_title", "employment", "wage", col]
    most = t.sort_values([col, "employment"], ascending=[False, False]).head(n)[keep].reset_index(drop=True)
    least = t.sort_values([col, "employment"], ascending=[True, False]).head(n)[keep].reset_index(drop=True)
    return most, least


def task_shares(data: Occupations) -> pd.DataFrame:
    """Share of all O*NET tasks labelled E1 (the model alone) and E1 or E2 (with software), per rater.

    The paper's abstract quotes these task-level shares: about 15% of tasks with an LLM alone and
    47-56% with software built on top (the range spans the two raters).
    """
    rows = []
    for rater, col in TASK_LABEL_COLUMNS.items():
        lab = data.tasks[col]
        rows.append({"rater": rater, "share_E1": float((lab == "E1").mean()),
                     "share_E1_or_E2": float(lab.isin(["E1", "E2"]).mean())})
    return pd.DataFrame(rows)


def personal_exposure(time_shares: Sequence[float], labels: Sequence[str]) -> dict[str, float]:
    r"""Exposure of *your* week: the paper's alpha, beta, gamma with tasks weighted by time, not counted.

    .. math:: \beta_{\text{time}} = \sum_t w_t\,\big([E1_t] + \tfrac12 [E2_t]\big),\qquad
              w_t = \frac{\text{hours on task } t}{\text{all hours}}

    ``time_shares`` are hours or percentages (normalised here); ``labels`` are E0/E1/E2. With time
    shares in the data set's task weights (:data:`TASK_TYPE_WEIGHTS`: a core task twice a supplemental
    one) this is exactly the occupation-level rating of the data set; equal time on every task differs
    from it wherever an occupation has tasks of both types.
    """
    w = np.asarray(time_shares, dtype=float)
    if w.ndim != 1 or len(w) != len(labels) or len(w) == 0:
        raise ValueError(f"need one time share per label, got {len(w)} shares and {len(labels)} labels")
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError("time shares must be non-negative and not all zero")
    y = label_ids(labels)
    w = w / w.sum()
    return {"alpha": float(w[y == 1].sum()), "beta": float(w[y == 1].sum() + 0.5 * w[y == 2].sum()),
            "gamma": float(w[y >= 1].sum())}


#: Task weights that rebuild occ_level.csv exactly (core tasks count twice, supplemental tasks and the
#: tasks without a type once).
TASK_TYPE_WEIGHTS: dict[str, float] = {"Core": 2.0, "Supplemental": 1.0}


def occupation_level_check(data: Occupations, weights: dict[str, float] | None = None,
                           default_weight: float = 1.0) -> pd.DataFrame:
    """Rebuild occ_level.csv from the task labels and compare, per rater and measure.

    Each occupation's rating is the weighted mean over its tasks of the task's value (alpha: 1 for E1;
    beta: 1 for E1, 1/2 for E2; gamma: 1 for E1 or E2), with weight ``weights[task type]``
    (``default_weight`` for a task without a type). With :data:`TASK_TYPE_WEIGHTS` (core 2,
    supplemental 1) every column of the file is reproduced to rounding error; with equal weights most
    occupations are not (Chief Executives: 19 core and 12 supplemental tasks, total weight 50, hence
    ratings in steps of 1/50). Returns, per column, the mean absolute difference and the fraction of
    occupations that agree to 1e-9.
    """
    weights = TASK_TYPE_WEIGHTS if weights is None else weights
    t = data.tasks
    w = t["Task Type"].map(weights).fillna(default_weight).astype(float)
    rows = []
    occ = data.occupations.set_index("O*NET-SOC Code")
    for rater, label_col in TASK_LABEL_COLUMNS.items():
        lab = t[label_col]
        values = pd.DataFrame({
            "alpha": (lab == "E1").astype(float),
            "beta": (lab == "E1").astype(float) + 0.5 * (lab == "E2").astype(float),
            "gamma": lab.isin(["E1", "E2"]).astype(float),
        })
        weighted = values.mul(w, axis=0).assign(code=t["O*NET-SOC Code"], weight=w).groupby("code").sum()
        parts = weighted[list(MEASURES)].div(weighted["weight"], axis=0).reindex(occ.index)
        for m in MEASURES:
            diff = (parts[m] - occ[rating_column(rater, m)]).abs()
            rows.append({"rater": rater, "measure": m, "mean_abs_diff": float(diff.mean()),
                         "share_exact": float((diff < 1e-9).mean())})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ label agreement


def cohen_kappa(a: Sequence, b: Sequence, labels: Sequence | None = None) -> float:
    """Cohen's kappa between two raters of the same items (Cohen 1960).

    .. math:: \\kappa = \\frac{p_o - p_e}{1 - p_e},\\qquad p_o = \\sum_k C_{kk}/n,\\qquad
              p_e = \\sum_k \\frac{C_{k\\cdot}}{n}\\frac{C_{\\cdot k}}{n}

    where :math:`C` is the confusion matrix of the two label sequences. :math:`\\kappa = 1` is perfect
    agreement, 0 is what two raters with these label frequencies reach by chance.
    """
    a = np.asarray(list(a), dtype=object)
    b = np.asarray(list(b), dtype=object)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"cohen_kappa needs two label sequences of equal length, got {a.shape} and {b.shape}")
    if len(a) == 0:
        raise ValueError("cohen_kappa needs at least one item")
    cats = list(labels) if labels is not None else sorted(set(a.tolist()) | set(b.tolist()), key=str)
    index = {c: i for i, c in enumerate(cats)}
    unknown = (set(a.tolist()) | set(b.tolist())) - set(index)
    if unknown:
        raise ValueError(f"labels {sorted(map(str, unknown))} are not in labels={cats}")
    conf = np.zeros((len(cats), len(cats)))
    np.add.at(conf, ([index[x] for x in a], [index[y] for y in b]), 1.0)
    n = conf.sum()
    p_o = np.trace(conf) / n
    p_e = float((conf.sum(1) / n) @ (conf.sum(0) / n))
    if p_e == 1.0:
        return 1.0 if p_o == 1.0 else 0.0
    return float((p_o - p_e) / (1.0 - p_e))


def macro_f1(y_true: Sequence, y_pred: Sequence, labels: Sequence) -> float:
    """Unweighted mean over classes of F1 = 2 P R / (P + R) (a class never predicted nor present gets 0)."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    scores = []
    for c in labels:
        tp = float(((y_pred == c) & (y_true == c)).sum())
        fp = float(((y_pred == c) & (y_true != c)).sum())
        fn = float(((y_pred != c) & (y_true == c)).sum())
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


@dataclass
class Agreement:
    """Human vs GPT-4 labels of the same tasks.

    ``rate`` and ``kappa`` on the three labels; ``rate_binary`` and ``kappa_binary`` on exposed
    (E1 or E2) vs not (E0); ``confusion``: counts, rows human, columns GPT-4; ``occupation_corr``: Pearson
    correlation across occupations of the human and GPT-4 shares (alpha, beta, gamma).
    """

    n_tasks: int
    rate: float
    kappa: float
    rate_binary: float
    kappa_binary: float
    confusion: pd.DataFrame
    occupation_corr: dict[str, float]

    def disagreement_shares(self) -> dict[str, float]:
        """How the disagreements split between the pairs of labels: ``"E0-E1"``, ``"E0-E2"``, ``"E1-E2"`` ->
        the share of all tasks the raters label differently that carry that pair (in either order)."""
        c = self.confusion
        off = float(c.to_numpy().sum() - np.trace(c.to_numpy()))
        return {f"{a}-{b}": float(c.loc[a, b] + c.loc[b, a]) / off
                for i, a in enumerate(c.index) for b in list(c.index)[i + 1:]}


def label_agreement(data: Occupations, task_index: Iterable | None = None) -> Agreement:
    """Agreement between the human and GPT-4 labels (all tasks, or the rows in ``task_index``)."""
    t = data.tasks if task_index is None else data.tasks.loc[list(task_index)]
    h = t[TASK_LABEL_COLUMNS["human"]].to_numpy()
    g = t[TASK_LABEL_COLUMNS["gpt4"]].to_numpy()
    hb = np.where(h == "E0", "no", "yes")
    gb = np.where(g == "E0", "no", "yes")
    conf = pd.crosstab(pd.Series(h, name="human"), pd.Series(g, name="gpt4")).reindex(
        index=list(LABELS), columns=list(LABELS), fill_value=0)
    occ = data.occupations
    corr = {m: float(np.corrcoef(occ[rating_column("human", m)], occ[rating_column("gpt4", m)])[0, 1])
            for m in MEASURES}
    return Agreement(n_tasks=len(t), rate=float((h == g).mean()), kappa=cohen_kappa(h, g, LABELS),
                     rate_binary=float((hb == gb).mean()), kappa_binary=cohen_kappa(hb, gb, ["no", "yes"]),
                     confusion=conf, occupation_corr=corr)


