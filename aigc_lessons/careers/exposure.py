"""The exposure data joined with employment: rating columns, the crosswalk, the joined table, shares.

The occupation ratings of "GPTs are GPTs" (one row per O*NET occupation) are mapped to BLS OEWS May 2021
rows by :func:`build_crosswalk`, which counts every loss; :func:`exposure_table` averages the ratings
within each OEWS code so that employment is counted once; :func:`share_of_employment` weights by it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from ..data import Occupations, load_occupations

__all__ = [
    "RATERS", "TASK_LABEL_COLUMNS", "MEASURES", "LABELS", "PUBLISHED_HEADLINE", "PUBLISHED_TASK_SHARES",
    "OEWS_TOP_CODE_ANNUAL", "HOURS_PER_YEAR", "rating_column", "label_ids", "onet_to_soc", "Crosswalk",
    "build_crosswalk", "JoinedTable", "exposure_table", "share_of_employment",
]

# ------------------------------------------------------------------------------------------ constants

#: rater name -> column prefix of occ_level.csv
RATERS: dict[str, str] = {"human": "human_rating", "gpt4": "dv_rating"}
#: rater name -> task-label column of full_labelset.tsv
TASK_LABEL_COLUMNS: dict[str, str] = {"human": "human_exposure_agg", "gpt4": "gpt4_exposure"}
MEASURES: tuple[str, ...] = ("alpha", "beta", "gamma")
LABELS: tuple[str, ...] = ("E0", "E1", "E2")

#: The published headline (Eloundou et al. 2023, abstract) says that about 80% of US workers could have at
#: least 10% of their tasks affected, about 19% at least 50%. These two numbers are quoted, not computed.
PUBLISHED_HEADLINE: dict[str, float] = {"share_at_least_10pct": 0.80, "share_at_least_50pct": 0.19}
#: The abstract also quotes about 15% of all tasks with an LLM alone, 47-56% with LLM-powered software.
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


def label_ids(labels: Iterable[str]) -> np.ndarray:
    """Exposure labels ``E0``/``E1``/``E2`` as indices 0/1/2 (anything else raises ``ValueError``)."""
    index = {l: i for i, l in enumerate(LABELS)}
    try:
        return np.array([index[l] for l in labels], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"unknown exposure label {exc.args[0]!r}; expected one of {LABELS}") from exc


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
    occupation the full employment would count 11-1011's workers twice (see
    :func:`~aigc_lessons.careers.mistakes.mistake_double_count`).
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
    the rated occupations, ``"total"`` by all employment in OEWS (wage-and-salary jobs in nonfarm establishments) (then the unmatched workers count
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
