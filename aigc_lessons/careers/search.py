"""Where does my job stand? Occupation documents, a MiniLM index, Chinese queries and the job search.

Each O*NET occupation becomes a short document (its title and first core tasks), embedded once with
all-MiniLM-L6-v2 (:func:`aigc_lessons.pretrained.load_minilm`) and cached; a reader's description of
their job is embedded the same way and compared by cosine similarity. MiniLM reads English only, so
Chinese job titles go through a small glossary first, and input it cannot read is said to be so.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from ..checkpoint import load_checkpoint, save_checkpoint
from ..data import Occupations, cache_dir, load_occupations
from ..files import code_hash
from ..pretrained import Encoder, load_minilm, mean_pool
from .exposure import MEASURES, RATERS, TASK_LABEL_COLUMNS, rating_column

__all__ = [
    "embed_texts", "occupation_documents", "OccupationIndex", "build_occupation_index", "ZH_EN_GLOSSARY",
    "translate_query", "MIN_SIMILARITY", "JobMatch", "search_jobs", "EXAMPLE_QUERIES", "ZH_EXAMPLE_QUERIES",
    "NONSENSE_QUERIES", "search_accuracy", "best_similarities", "job_widget",
]


# ------------------------------------------------------------------------------ embeddings and index


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
    """Text that stands for each O*NET occupation: its title, then its first ``n_tasks`` tasks, core (and
    untyped) tasks before supplemental ones.

    Returns (codes, titles, documents) in the order of occ_level.csv.
    """
    if n_tasks < 0:
        raise ValueError(f"n_tasks must be >= 0, got {n_tasks}")
    tasks = data.tasks
    # core tasks first (and unlabelled ones); supplemental ones fill up to n_tasks where those are too few
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
    """Unit-length embeddings of the 923 occupation documents, with their codes and titles and the number
    of tasks in each document (``n_tasks``)."""

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

    The cache file name carries a digest of the documents, ``max_length``, the model's name and the
    :func:`~aigc_lessons.files.code_hash` of the code that builds the index, so a change of any of them
    computes a fresh index instead of reusing a stale one.
    """
    data = data or load_occupations()
    codes, titles, docs = occupation_documents(data, n_tasks)
    code = code_hash(occupation_documents, embed_texts, _length_batches, mean_pool, build_occupation_index)
    key = "\n".join(docs) + f"|{max_length}|all-MiniLM-L6-v2|{code}"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    path = cache_dir() / "careers" / f"occupation_index_{digest}.pt"
    if use_cache:
        state = load_checkpoint(path, kind="careers-occupation-index")
        if state is not None and state.get("codes") == codes:
            return OccupationIndex(codes, titles, state["embeddings"], n_tasks, path, True)
    encoder = encoder or load_minilm("cpu")
    emb = embed_texts(docs, encoder, max_length=max_length, progress=progress)
    if use_cache:
        save_checkpoint({"kind": "careers-occupation-index", "codes": codes, "embeddings": emb}, path)
    return OccupationIndex(codes, titles, emb, n_tasks, path if use_cache else None, False)


# ---------------------------------------------------------------------------- Chinese queries


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


# ------------------------------------------------------------------------------------- the search


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


#: Inputs that describe no job; the search must answer them with ``confident=False``.
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


