"""The chapter's common mistakes, each reproduced, measured and fixed.

Double-counting workers when several O*NET occupations share one SOC code, losing occupations to a plain
inner join, and feeding Chinese text to an English-only sentence encoder. Each function returns a
:class:`~aigc_lessons.mistakes.MistakeReport`.
"""

from __future__ import annotations

from ..data import Occupations, load_occupations
from ..mistakes import MistakeReport
from ..pretrained import Encoder
from .exposure import _detailed_oews, build_crosswalk, exposure_table, rating_column, share_of_employment
from .search import ZH_EXAMPLE_QUERIES, OccupationIndex, search_accuracy

__all__ = ["mistake_double_count", "mistake_inner_join", "mistake_chinese_query"]


def _us_employment(data: Occupations) -> float:
    return float(data.oews.loc[data.oews["O_GROUP"] == "total", "TOT_EMP"].iloc[0])


def mistake_double_count(data: Occupations | None = None) -> MistakeReport:
    """Mistake: give every O*NET occupation the full employment of its SOC code.

    Several O*NET occupations share one SOC code, so the naive join counts those workers several times.
    ``symptom`` (the naive join) and ``fixed`` (:func:`~aigc_lessons.careers.exposure.exposure_table`)
    both hold ``employment_share_of_us`` (total employment as a share of all OEWS employment: well above 1
    means double counting), ``rows`` and ``share_gt_50pct``, the headline share (human beta > 0.5).
    """
    data = data or load_occupations()
    det = _detailed_oews(data.oews)
    total = _us_employment(data)
    occ = data.occupations.copy()
    occ["soc"] = occ["O*NET-SOC Code"].str[:7]
    naive = occ.merge(det[["TOT_EMP"]], left_on="soc", right_index=True, how="inner")
    col = rating_column("human", "beta")
    joined = exposure_table(data)
    return MistakeReport(
        name="double-counting workers",
        cause="every O*NET occupation gets the full employment of its SOC code, which several of them share",
        symptom={"employment_share_of_us": float(naive["TOT_EMP"].sum()) / total,
                 "rows": float(len(naive)),
                 "share_gt_50pct": float(naive.loc[naive[col] > 0.5, "TOT_EMP"].sum() / naive["TOT_EMP"].sum())},
        fixed={"employment_share_of_us": float(joined.table["employment"].sum()) / total,
               "rows": float(len(joined.table)),
               "share_gt_50pct": share_of_employment(joined.table, "human", "beta", 0.5, strict=True)},
    )


def mistake_inner_join(data: Occupations | None = None) -> MistakeReport:
    """Mistake: inner-join O*NET codes (first 7 characters) to OEWS detailed codes and move on.

    OEWS May 2021 publishes some occupations under hybrid codes (13-1020, 31-1120, ...), so a plain inner
    join silently loses them. ``symptom`` (the plain join) and ``fixed`` (the crosswalk of
    :func:`~aigc_lessons.careers.exposure.build_crosswalk`) both hold ``onet_lost`` (O*NET occupations
    without an OEWS row), ``employment_share`` (share of OEWS employment reached) and ``workers`` (workers
    reached); ``details["recovered_workers"]`` is the difference in workers.
    """
    data = data or load_occupations()
    det = _detailed_oews(data.oews)
    total = _us_employment(data)
    soc = data.occupations["O*NET-SOC Code"].str[:7]
    plain_matched = soc.isin(det.index)
    plain_emp = float(det.loc[sorted(set(soc[plain_matched])), "TOT_EMP"].sum())
    xw = build_crosswalk(data.occupations, data.oews)
    return MistakeReport(
        name="a plain inner join",
        cause="O*NET codes cut to 7 characters are inner-joined to OEWS codes, so the hybrid codes are lost",
        symptom={"onet_lost": float((~plain_matched).sum()), "employment_share": plain_emp / total,
                 "workers": plain_emp},
        fixed={"onet_lost": xw.summary["onet_unmatched"], "employment_share": xw.summary["employment_matched_share"],
               "workers": xw.summary["employment_matched"]},
        details={"recovered_workers": xw.summary["employment_matched"] - plain_emp},
    )


def mistake_chinese_query(index: OccupationIndex, encoder: Encoder, data: Occupations | None = None) -> MistakeReport:
    """Mistake: feed Chinese text to an English-only sentence encoder.

    Most Chinese characters are not in MiniLM's vocabulary and become [UNK]; the query vector then says
    nothing about the job. ``symptom`` (without the glossary) and ``fixed`` (with it) hold the mean share
    of [UNK] tokens (``unk_share``), the top-1 / top-3 hit rates (``top1``, ``top3``) and the share of
    confident answers (``confident``) over :data:`~aigc_lessons.careers.search.ZH_EXAMPLE_QUERIES`;
    ``details`` holds the two tables of :func:`~aigc_lessons.careers.search.search_accuracy`.
    """
    data = data or load_occupations()
    raw = search_accuracy(ZH_EXAMPLE_QUERIES, index, encoder, data, k=3, use_glossary=False)
    fixed = search_accuracy(ZH_EXAMPLE_QUERIES, index, encoder, data, k=3, use_glossary=True)

    def measured(table):
        return {"unk_share": float(table["unk_share"].mean()), "top1": float(table["top1"].mean()),
                "top3": float(table["top3"].mean()), "confident": float(table["confident"].mean())}

    return MistakeReport(
        name="Chinese text into an English-only encoder",
        cause="MiniLM's vocabulary has no entry for most Chinese characters, so they become [UNK]",
        symptom=measured(raw), fixed=measured(fixed), details={"without_glossary": raw, "with_glossary": fixed},
    )
