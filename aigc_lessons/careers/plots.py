"""The chapter's figures: exposure curves and distributions, wages, major groups, extremes, search, models.

Every function draws on a Matplotlib axis (a new one when ``ax`` is ``None``) and returns it, with the
axes labelled in their units.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .exposure import rating_column
from .headline import by_major_group, exposure_curve, extremes, wage_exposure
from .search import MIN_SIMILARITY

__all__ = [
    "plot_exposure_distribution", "plot_exposure_curve", "plot_exposure_vs_wage", "plot_major_groups",
    "plot_extremes", "plot_similarity_calibration", "plot_model_comparison",
]

# ------------------------------------------------------------------------------- exposure figures

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
    ax.set_ylabel("OEWS employment (millions of workers)")
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
    ax.set_ylabel("share of OEWS employment [%]")
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


# --------------------------------------------------------------------------------- search figure


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


# --------------------------------------------------------------------------- fine-tuning figure


def plot_model_comparison(metrics: pd.DataFrame, ax=None):
    """Accuracy and macro-F1 of each model as grouped bars.

    ``metrics`` holds one row per model, like the ``metrics`` of a
    :class:`~aigc_lessons.careers.experiment.FinetuneReport`.
    """
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

