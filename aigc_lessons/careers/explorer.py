"""The website's job explorer: every occupation's exposure, employment, wage and tasks as one offline payload.

Notebook 10 answers "where does my job stand?" with a semantic search that needs a running kernel. On the
static website there is no kernel, so the book build writes :func:`explorer_payload` into a script next to
the page (``book/_ext/job_explorer.py``) and ``_static/job_explorer.js`` searches it in the browser. The
search there is a keyword match on occupation titles, with Chinese queries first turned into English by the
job-title dictionary :data:`~aigc_lessons.careers.search.ZH_EN_GLOSSARY`. :func:`keyword_search` is the same
rule in Python, so the tests can hold the page to it.

Where an occupation stands among all workers: for a measure :math:`m` and an occupation with rating
:math:`r`, the share of workers whose (OEWS) occupation is rated lower,

.. math:: P(r) = \\frac{\\sum_j e_j \\, [m_j < r]}{\\sum_j e_j},

with :math:`e_j` the OEWS employment of row :math:`j` of the joined table (ratings averaged within an OEWS
code, employment counted once; see :func:`~aigc_lessons.careers.exposure.exposure_table`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import Occupations, load_occupations
from ..files import atomic_write
from .exposure import MEASURES, RATERS, TASK_LABEL_COLUMNS, exposure_table, rating_column
from .search import ZH_EN_GLOSSARY

__all__ = ["HISTOGRAM_BINS", "STOPWORDS", "employment_percentile", "explorer_payload", "title_tokens",
           "query_tokens", "keyword_search", "write_explorer_script"]

#: The page's exposure histograms have 20 bins of width 0.05 on [0, 1].
HISTOGRAM_BINS = 20
#: Words a query or a title may contain that say nothing about the job.
STOPWORDS = frozenset("a an and the of in on at for to with by or i my me am is are as all other except "
                      "work job".split())
_WORD_RE = re.compile(r"[a-z0-9]+")


def _stem(word: str) -> str:
    """A crude plural stem: 'nurses' -> 'nurse', 'drivers' -> 'driver' (only a trailing 's' of long words)."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def title_tokens(title: str) -> list[str]:
    """Lower-case word stems of an occupation title, stop words removed."""
    return [_stem(w) for w in _WORD_RE.findall(title.lower()) if w not in STOPWORDS]


def query_tokens(query: str, glossary: dict[str, str] | None = None) -> list[str]:
    """Stems of a query; Chinese terms of the dictionary become their English (longest term first)."""
    glossary = ZH_EN_GLOSSARY if glossary is None else glossary
    text = query.lower()
    for term in sorted(glossary, key=len, reverse=True):
        text = text.replace(term, f" {glossary[term]} ")
    seen: list[str] = []
    for w in _WORD_RE.findall(text):
        s = _stem(w)
        if w not in STOPWORDS and s not in seen:
            seen.append(s)
    return seen


def keyword_search(query: str, payload: dict, k: int = 8) -> list[int]:
    """Indices into ``payload["occupations"]`` of the best title matches, best first (at most ``k``).

    A query word matches a title when a title word starts with it (after the plural stem). Ranking, all in
    integers so that the page's JavaScript sorts identically: more query words matched; then fewer title
    words (the more specific title); then more employment; then the O*NET code. An O*NET or SOC code
    (``29-1141``) matches by prefix. Titles that match no query word are not returned.
    """
    q = query.strip()
    occs = payload["occupations"]
    if re.fullmatch(r"\d{2}-\d{0,4}(\.\d{0,2})?", q):
        return [i for i, o in enumerate(occs) if o["code"].startswith(q)][:k]
    words = query_tokens(q, payload["glossary"])
    if not words:
        return []
    scored = []
    for i, o in enumerate(occs):
        tokens = o["tokens"]
        matched = sum(any(t.startswith(w) for t in tokens) for w in words)
        if matched:
            scored.append((-matched, len(tokens), -(o["employment"] or 0), o["code"], i))
    scored.sort()
    return [s[-1] for s in scored[:k]]


def employment_percentile(values: np.ndarray, employment: np.ndarray, rating: float) -> float:
    """Share of workers whose occupation is rated strictly lower than ``rating`` (the formula above).

    "Lower" means lower by more than 1e-9: ratings are means of fractions, and two that are equal on paper
    can differ in the last bit (the data hold 0.49999999999999994 for 1/2).
    """
    return float(employment[values < rating - 1e-9].sum() / employment.sum())


def explorer_payload(data: Occupations | None = None) -> dict:
    """Everything the page needs, as JSON-ready Python objects.

    ``occupations``: one entry per O*NET occupation: ``code``, ``title``, ``tokens``; the six ratings as
    ``human`` and ``gpt4`` lists in the order of ``MEASURES`` (alpha, beta, gamma); ``percentile``, the formula above for
    each human rating; the OEWS row the crosswalk maps it to (``oews_code``, ``oews_title``, ``n_onet``,
    ``employment``, ``wage``, ``wage_source``; ``None`` when unmatched); ``tasks`` as ``[text, type,
    human label, GPT-4 label]``. ``histogram``: the employment share in each of :data:`HISTOGRAM_BINS`
    bins, per human measure. ``workers``: the employment they add up. ``glossary``: the Chinese
    job-title dictionary.
    """
    data = data or load_occupations()
    jtable = exposure_table(data)
    joined = jtable.table
    to_oews = jtable.crosswalk.table.set_index("onet_code")["oews_code"]
    emp_ok = joined["employment"].notna()
    jt, emp = joined[emp_ok], joined.loc[emp_ok, "employment"].to_numpy(float)
    edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    histogram = {}
    for m in MEASURES:
        values = jt[rating_column("human", m)].to_numpy(float)
        idx = np.clip(np.digitize(values, edges[1:-1]), 0, HISTOGRAM_BINS - 1)
        histogram[m] = [round(float(emp[idx == b].sum() / emp.sum()), 6) for b in range(HISTOGRAM_BINS)]
    by_oews = joined.set_index("oews_code")
    tasks = data.tasks
    task_cols = ["Task", "Task Type", TASK_LABEL_COLUMNS["human"], TASK_LABEL_COLUMNS["gpt4"]]
    grouped = {code: g[task_cols] for code, g in tasks.groupby("O*NET-SOC Code", sort=False)}
    occupations = []
    for _, row in data.occupations.sort_values("O*NET-SOC Code").iterrows():
        code, title = row["O*NET-SOC Code"], str(row["Title"])
        soc = to_oews.get(code)
        entry = {"code": code, "title": title, "tokens": title_tokens(title),
                 **{r: [float(row[rating_column(r, m)]) for m in MEASURES] for r in RATERS},
                 "percentile": [round(employment_percentile(jt[rating_column("human", m)].to_numpy(float), emp,
                                                            float(row[rating_column("human", m)])), 4)
                                for m in MEASURES],
                 "oews_code": None, "oews_title": None, "n_onet": 0, "employment": None, "wage": None,
                 "wage_source": "missing"}
        if isinstance(soc, str) and soc in by_oews.index:
            o = by_oews.loc[soc]
            entry.update(oews_code=soc, oews_title=str(o["oews_title"]), n_onet=int(o["n_onet"]),
                         employment=None if pd.isna(o["employment"]) else int(o["employment"]),
                         wage=None if pd.isna(o["wage"]) else int(round(float(o["wage"]))),
                         wage_source=str(o["wage_source"]))
        t = grouped.get(code)
        entry["tasks"] = [] if t is None else [[str(a), "" if pd.isna(b) else str(b), str(c), str(d)]
                                               for a, b, c, d in t.itertuples(index=False)]
        occupations.append(entry)
    return {"measures": list(MEASURES), "bins": HISTOGRAM_BINS, "histogram": histogram,
            "workers": int(emp.sum()), "glossary": dict(ZH_EN_GLOSSARY), "occupations": occupations}


def write_explorer_script(path: str | Path, data: Occupations | None = None) -> Path:
    """Write ``window.AIGC_JOBS = {...};`` (an ordinary script, so the page also works from ``file://``)."""
    payload = explorer_payload(data)
    text = "window.AIGC_JOBS = " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + ";\n"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text.encode("utf-8"))
    path.chmod(0o644)  # a web server's user must be able to read it
    return path
