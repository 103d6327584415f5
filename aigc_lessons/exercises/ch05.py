"""Chapter 5 exercises (generative AI and jobs): an occupation's exposure shares from its task labels,
the share of workers above a line (a planted bug and then the two readings of "at least half"), the
exposure of a job family, and Cohen's kappa between the human and GPT-4 raters.

The checks use the real data of "GPTs are GPTs" through :func:`aigc_lessons.data.load_occupations` and
compare with the package's tested functions (:mod:`aigc_lessons.careers`), the stored ``occ_level.csv``,
a pandas ``groupby`` and scikit-learn's ``cohen_kappa_score``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import Exercise, ExerciseFailure, expect, expect_close

_CACHE: dict = {}


def _tables():
    """(data, joined table), loaded once per process (a few seconds the first time)."""
    if "data" not in _CACHE:
        from ..careers import exposure_table
        from ..data import load_occupations

        data = load_occupations()
        _CACHE["data"] = data
        _CACHE["joined"] = exposure_table(data)
    return _CACHE["data"], _CACHE["joined"]


def _float(value, what: str, what_zh: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ExerciseFailure(f"{what} should be a number; got a {type(value).__name__}.",
                              f"{what_zh} 应当是一个数；收到的是 {type(value).__name__}。") from None
    expect(math.isfinite(out), f"{what} is NaN or infinite: is a sum of weights or of employment zero?",
           f"{what_zh} 是 NaN 或无穷大：是不是某个权重之和或就业人数之和为零？")
    return out


# ------------------------------------------------------------------------------------------ 5.1


def occupation_shares(labels: list[str], task_types: list[str | None]) -> dict[str, float]:
    """Return {"alpha": ..., "beta": ..., "gamma": ...} for one occupation from its tasks' labels
    ("E0", "E1" or "E2") and O*NET task types ("Core", "Supplemental" or None when the task has no type),
    one entry per task in the same order. A core task has weight 2, every other task weight 1; each share
    is a weighted mean over the tasks of the task's value: alpha counts E1 as 1, beta counts E1 as 1 and
    E2 as 1/2, gamma counts E1 or E2 as 1 (E0 is 0 in all three)."""
    raise NotImplementedError


# Chief Executives (19 core, 12 supplemental), Data Entry Keyers (beta exactly 1/2), Advertising and
# Promotions Managers (9 of 30 tasks without a type), Legislators (no task has a type), then a fixed sample.
_FIXED_OCCUPATIONS = ("11-1011.00", "43-9021.00", "11-2011.00", "11-1031.00")


def _occupation_cases():
    data, _ = _tables()
    if "occ_cases" not in _CACHE:
        tasks = data.tasks
        codes = list(_FIXED_OCCUPATIONS)
        sample = data.occupations["O*NET-SOC Code"].sample(12, random_state=5).tolist()
        codes += [c for c in sample if c not in codes]
        stored = data.occupations.set_index("O*NET-SOC Code")
        cases = []
        for code in codes:
            t = tasks[tasks["O*NET-SOC Code"] == code]
            types = [None if pd.isna(v) else str(v) for v in t["Task Type"]]
            for rater, label_col, prefix in (("human", "human_exposure_agg", "human_rating"),
                                              ("GPT-4", "gpt4_exposure", "dv_rating")):
                expected = {m: float(stored.at[code, f"{prefix}_{m}"]) for m in ("alpha", "beta", "gamma")}
                cases.append((code, str(stored.at[code, "Title"]), rater, t[label_col].tolist(), types, expected))
        _CACHE["occ_cases"] = cases
    return _CACHE["occ_cases"]


def _shares_of(fn, labels, types, where: str, where_zh: str) -> dict[str, float]:
    got = fn(list(labels), list(types))
    expect(hasattr(got, "keys") and {"alpha", "beta", "gamma"} <= set(got.keys()),
           f"{where}: return a dict with the keys 'alpha', 'beta' and 'gamma'.",
           f"{where_zh}：返回一个以 'alpha'、'beta' 和 'gamma' 为键的 dict。")
    return {m: _float(got[m], f"{where}: {m}", f"{where_zh}：{m}") for m in ("alpha", "beta", "gamma")}


def _shares_hint(got: float, measure: str, labels, types) -> tuple[str, str]:
    """What a wrong share most likely comes from, in the learner's terms (in English and in Chinese)."""
    value = {"alpha": lambda l: float(l == "E1"), "beta": lambda l: (l == "E1") + 0.5 * (l == "E2"),
             "gamma": lambda l: float(l in ("E1", "E2"))}[measure]
    v = np.array([value(l) for l in labels], dtype=float)
    n_core = sum(t == "Core" for t in types)
    n_none = sum(t is None for t in types)
    if abs(got - float(v.mean())) <= 1e-9:
        return (f"that is the plain mean over its {len(labels)} tasks, but a core task ({n_core} here) counts twice.",
                f"这是对它的 {len(labels)} 个任务的简单平均，但核心任务（这里有 {n_core} 个）要计两次。")
    typed = np.array([{"Core": 2.0, "Supplemental": 1.0}.get(t, 0.0) for t in types])
    if n_none and typed.sum() > 0 and abs(got - float((typed * v).sum() / typed.sum())) <= 1e-9:
        return (f"you left out its {n_none} tasks without a type (None); such a task counts once, like a "
                "supplemental one.",
                f"你漏掉了它的 {n_none} 个没有类型（None）的任务；这样的任务和补充任务一样计一次。")
    if measure == "beta":
        return "in beta an E1 task counts 1 and an E2 task 1/2.", "在 beta 中，E1 任务计 1，E2 任务计 1/2。"
    return ("a core task weighs 2, any other task 1; divide the weighted sum by the sum of the weights.",
            "核心任务的权重为 2，其他任务的权重为 1；用加权和除以权重之和。")


def _check_occupation_shares(fn) -> None:
    from ..careers import personal_exposure

    # small cases first, against the package's time-weighted exposure (weights 2 and 1 as "time shares")
    small = [(["E2", "E2", "E2"], ["Core", "Supplemental", None], "three E2 tasks", "三个 E2 任务"),
             (["E1", "E0"], ["Supplemental", "Core"], "an E1 supplemental task and an E0 core task",
              "一个 E1 补充任务和一个 E0 核心任务"),
             (["E1", "E2", "E0", "E1"], [None, None, "Core", None], "three tasks without a type and one core task",
              "三个没有类型的任务和一个核心任务")]
    cases = [(what, what_zh, labels, types,
              personal_exposure([2.0 if t == "Core" else 1.0 for t in types], labels),
              "the reference gives", "参考实现给出的是") for labels, types, what, what_zh in small]
    # then real occupations: the shares must be the ones stored in occ_level.csv
    cases += [(f"{title} ({code}), {rater} labels",
               f"{title}（{code}），{'人类标签' if rater == 'human' else rater + ' 标签'}",
               labels, types, expected, "occ_level.csv stores", "occ_level.csv 中存储的是")
              for code, title, rater, labels, types, expected in _occupation_cases()]
    for what, what_zh, labels, types, expected, source, source_zh in cases:
        got = _shares_of(fn, labels, types, what, what_zh)
        for m in ("alpha", "beta", "gamma"):
            if abs(got[m] - expected[m]) > 1e-9:
                hint, hint_zh = _shares_hint(got[m], m, labels, types)
                raise ExerciseFailure(f"{m} for {what}: got {got[m]:.6g}, {source} {expected[m]:.6g}; "
                                      f"{hint}",
                                      f"{what_zh}的 {m}：得到 {got[m]:.6g}，{source_zh} {expected[m]:.6g}；"
                                      f"{hint_zh}")


def _shares_plain_mean(labels, task_types):
    e1 = np.array([l == "E1" for l in labels], float)
    e2 = np.array([l == "E2" for l in labels], float)
    return {"alpha": e1.mean(), "beta": (e1 + 0.5 * e2).mean(), "gamma": (e1 + e2).mean()}


def _shares_e2_full(labels, task_types):
    w = np.array([2.0 if t == "Core" else 1.0 for t in task_types])
    e1 = np.array([l == "E1" for l in labels], float)
    e2 = np.array([l == "E2" for l in labels], float)
    return {"alpha": (w * e1).sum() / w.sum(), "beta": (w * (e1 + e2)).sum() / w.sum(),
            "gamma": (w * (e1 + e2)).sum() / w.sum()}


def _shares_untyped_dropped(labels, task_types):
    w = np.array([{"Core": 2.0, "Supplemental": 1.0}.get(t, 0.0) for t in task_types])
    if w.sum() == 0:  # an occupation without any typed task: fall back to equal weights
        w = np.ones(len(labels))
    e1 = np.array([l == "E1" for l in labels], float)
    e2 = np.array([l == "E2" for l in labels], float)
    return {"alpha": (w * e1).sum() / w.sum(), "beta": (w * (e1 + 0.5 * e2)).sum() / w.sum(),
            "gamma": (w * (e1 + e2)).sum() / w.sum()}


# ------------------------------------------------------------------------------------------ 5.2


def share_of_workers(table: pd.DataFrame, threshold: float, column: str = "human_rating_beta") -> float:
    """Return the share of the workers counted in ``table`` who work in an occupation whose ``column`` is
    at least ``threshold`` (>= on the stored value). ``table`` has one row per occupation with its number
    of workers in ``employment`` and its exposure ratings (the joined table of the chapter). This version
    runs and returns a number between 0 and 1, but it is not the share the first sentence promises: find
    the bug and fix it."""
    exposed = table[column] >= threshold
    share = exposed.sum() / len(table)  # the share of workers in exposed occupations
    return float(share)


def _check_share_of_workers(fn) -> None:
    from ..careers import reproduce_headline, share_of_employment

    tiny = pd.DataFrame({"oews_title": ["Cashiers", "Actuaries", "Astronomers"],
                         "employment": [3_300_000.0, 27_000.0, 1_800.0],
                         "human_rating_beta": [0.05, 0.6, 0.4]})
    got = _float(fn(tiny.copy(), 0.1), "the share", "占比")
    expected = (27_000 + 1_800) / (3_300_000 + 27_000 + 1_800)
    if abs(got - 2 / 3) < 1e-9:
        raise ExerciseFailure("on a table of 3.3 million cashiers (beta 0.05), 27,000 actuaries (0.6) and 1,800 "
                              "astronomers (0.4) you return 2/3, the share of *occupations* above 0.1. Almost every "
                              "worker there is a cashier: each occupation must count with its number of workers.",
                              "在一张有 330 万名收银员（beta 0.05）、27,000 名精算师（0.6）和 1,800 名天文学家（0.4）"
                              "的表上，你返回了 2/3，这是高于 0.1 的*职业*所占的比例。表中几乎每个劳动者都是收银员："
                              "每个职业都必须按它的劳动者人数计入。")
    expect_close(got, expected, "the share of workers with beta >= 0.1 among cashiers, actuaries and astronomers",
                 rtol=1e-9, hint="divide the workers of the exposed occupations by all the workers of the table.",
                 what_zh="收银员、精算师和天文学家中 beta >= 0.1 的劳动者占比",
                 hint_zh="用暴露职业的劳动者人数除以表中全部劳动者的人数。")
    data, joined = _tables()
    table = joined.table
    headline = reproduce_headline(joined)
    for rater, measure, threshold, ref in (("human", "beta", 0.1, headline.at_least_10pct),
                                           ("human", "beta", 0.5, headline.at_least_50pct),
                                           ("gpt4", "alpha", 0.5, None)):
        col = f"{'human_rating' if rater == 'human' else 'dv_rating'}_{measure}"
        ref = share_of_employment(table, rater, measure, threshold) if ref is None else ref
        got = _float(fn(table.copy(), threshold, col), f"the share for {col}", f"{col} 的占比")
        above = share_of_employment(table, rater, measure, threshold, strict=True)
        if abs(got - above) < 1e-12 and abs(got - ref) > 1e-12:
            raise ExerciseFailure(f"for {col} at {threshold} you leave out the occupations exactly on the line: "
                                  "the task asks for *at least* the threshold (>=).",
                                  f"对 {col} 取阈值 {threshold} 时，你漏掉了恰好落在分界线上的职业：题目要求的是"
                                  "*至少*达到阈值（>=）。")
        expect_close(got, ref, f"the share of workers with {col} >= {threshold} on the joined table", rtol=1e-9,
                     hint="the chapter's headline figures come from this table; use the `column` argument.",
                     what_zh=f"连接后的表上 {col} >= {threshold} 的劳动者占比",
                     hint_zh="本章的核心结论数字就来自这张表；请使用 `column` 参数。")


def _sow_strict(table, threshold, column="human_rating_beta"):
    emp = table["employment"]
    return float(emp[table[column] > threshold].sum() / emp.sum())


def _sow_mean_exposure(table, threshold, column="human_rating_beta"):
    # the employment-weighted mean exposure of the exposed occupations: a number between 0 and 1, not a share
    hit = table[table[column] >= threshold]
    return float((hit[column] * hit["employment"]).sum() / hit["employment"].sum())


# ------------------------------------------------------------------------------------------ 5.3


def family_exposure(codes: list[str], exposure: np.ndarray, employment: np.ndarray) -> dict[str, float]:
    """Return the employment-weighted mean exposure of each job family: {major group: mean}. ``codes`` are
    SOC codes like "15-1252" (one per occupation); the major group is the first two digits ("15"), the
    dict's key. For a family F, mean = sum over o in F of employment[o] * exposure[o], divided by the sum
    over o in F of employment[o]: the exposure of the average worker of the family."""
    raise NotImplementedError


def _family_cases():
    _, joined = _tables()
    t = joined.table
    return [("human beta on the joined table", "连接后的表上的人类 beta", t["oews_code"].tolist(),
             t["human_rating_beta"].to_numpy(), t["employment"].to_numpy()),
            ("GPT-4 alpha on the joined table", "连接后的表上的 GPT-4 alpha", t["oews_code"].tolist(),
             t["dv_rating_alpha"].to_numpy(), t["employment"].to_numpy())]


def _groupby_reference(codes, exposure, employment) -> dict[str, float]:
    df = pd.DataFrame({"family": [c[:2] for c in codes], "weighted": np.asarray(exposure, float) *
                       np.asarray(employment, float), "workers": np.asarray(employment, float)})
    sums = df.groupby("family")[["weighted", "workers"]].sum()
    return (sums["weighted"] / sums["workers"]).to_dict()


def _check_family_exposure(fn) -> None:
    small = ("three families", "三个职业族", ["15-1252", "15-1211", "11-1011", "13-2011", "13-1071"],
             np.array([0.8, 0.2, 0.4, 0.6, 0.1]), np.array([1_600_000.0, 100_000.0, 200_000.0, 1_300_000.0,
                                                             700_000.0]))
    for what, what_zh, codes, exposure, employment in [small, *_family_cases()]:
        got = fn(list(codes), exposure.copy(), employment.copy())
        expect(hasattr(got, "items"), f"for {what}: return a dict {{major group: mean exposure}}; got a "
                                      f"{type(got).__name__}.",
               f"对于{what_zh}：返回一个 dict {{职业大类: 平均暴露度}}；收到的是 {type(got).__name__}。")
        got = {str(k): v for k, v in got.items()}
        ref = _groupby_reference(codes, exposure, employment)
        if set(got) != set(ref):
            sample = sorted(got)[:4]
            raise ExerciseFailure(f"for {what} the families should be the first two digits of the codes, "
                                  f"{sorted(ref)[:4]}...; your keys start {sample}.",
                                  f"对于{what_zh}，职业族应当是代码的前两位数字，即 {sorted(ref)[:4]}...；"
                                  f"你的键的开头是 {sample}。")
        for fam in sorted(ref):
            g = _float(got[fam], f"the mean of family {fam}", f"职业族 {fam} 的均值")
            if abs(g - ref[fam]) <= 1e-9 * max(1.0, abs(ref[fam])):
                continue
            members = [i for i, c in enumerate(codes) if c[:2] == fam]
            plain = float(np.mean(exposure[members]))
            if abs(g - plain) <= 1e-9:
                hint = ("that is the plain mean over its occupations; an occupation with many workers must weigh "
                        "more than one with few.")
                hint_zh = "这是对该职业族各职业的简单平均；劳动者多的职业的权重必须大于劳动者少的职业。"
            elif g < ref[fam]:
                hint = "divide by the workers of this family only, not by all workers."
                hint_zh = "只除以这个职业族的劳动者人数，而不是全部劳动者的人数。"
            else:
                hint = "weight each occupation's exposure by its employment and divide by the family's employment."
                hint_zh = "用每个职业的就业人数为它的暴露度加权，再除以该职业族的就业人数。"
            raise ExerciseFailure(f"for {what}, family {fam}: got {g:.6g}, expected {ref[fam]:.6g}; {hint}",
                                  f"对于{what_zh}，职业族 {fam}：得到 {g:.6g}，应为 {ref[fam]:.6g}；{hint_zh}")


def _family_unweighted(codes, exposure, employment):
    df = pd.DataFrame({"family": [c[:2] for c in codes], "e": exposure})
    return df.groupby("family")["e"].mean().to_dict()


def _family_first_digit(codes, exposure, employment):
    df = pd.DataFrame({"family": [c[:1] for c in codes], "we": exposure * employment, "w": employment})
    s = df.groupby("family")[["we", "w"]].sum()
    return (s["we"] / s["w"]).to_dict()


def _family_global_denominator(codes, exposure, employment):
    df = pd.DataFrame({"family": [c[:2] for c in codes], "we": exposure * employment})
    return (df.groupby("family")["we"].sum() / float(np.sum(employment))).to_dict()


# ------------------------------------------------------------------------------------------ 5.4


def cohen_kappa(a: list[str], b: list[str]) -> float:
    """Return Cohen's kappa between two raters who labelled the same items (a[i] and b[i] are the two
    labels of item i): kappa = (p_o - p_e) / (1 - p_e), where p_o is the share of items on which they
    agree and p_e = sum over labels k of (share of items rater a labels k) * (share rater b labels k),
    the labels being every label either rater uses. If p_e is 1 (both raters give every item one and the
    same label), return 1.0."""
    raise NotImplementedError


def _check_cohen_kappa(fn) -> None:
    from sklearn.metrics import cohen_kappa_score

    from ..careers import cohen_kappa as package_kappa

    data, _ = _tables()
    human = data.tasks["human_exposure_agg"].tolist()
    gpt4 = data.tasks["gpt4_exposure"].tolist()
    cases = [("six tasks", "六个任务", ["E0", "E0", "E1", "E2", "E1", "E0"], ["E0", "E1", "E1", "E2", "E2", "E0"]),
             ("raters who always disagree", "两个评分者总是意见不一", ["E0", "E1", "E0", "E1"],
              ["E1", "E0", "E1", "E0"]),
             ("rater b never uses E2", "评分者 b 从不使用 E2", ["E0", "E1", "E2", "E2", "E1", "E0", "E1"],
              ["E0", "E1", "E1", "E0", "E1", "E0", "E0"]),
             ("all 19,265 tasks, human vs GPT-4", "全部 19,265 个任务，人类对比 GPT-4", human, gpt4),
             ("exposed or not, human vs GPT-4", "是否暴露，人类对比 GPT-4", ["yes" if h != "E0" else "no" for h in human],
              ["yes" if g != "E0" else "no" for g in gpt4])]
    for what, what_zh, a, b in cases:
        got = _float(fn(list(a), list(b)), f"kappa for {what}", f"kappa（{what_zh}）")
        ref = float(cohen_kappa_score(a, b))
        if abs(got - ref) <= 1e-9:
            continue
        aa, bb = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
        p_o = float((aa == bb).mean())
        cats = sorted(set(a) | set(b))
        if abs(got - p_o) <= 1e-9:
            hint = "that is the raw agreement p_o; kappa subtracts the agreement p_e expected by chance."
            hint_zh = "这是原始一致率 p_o；kappa 还要减去偶然情况下预期的一致率 p_e。"
        elif abs(got - (p_o - 1 / len(cats)) / (1 - 1 / len(cats))) <= 1e-9:
            hint = ("chance agreement is not 1/(number of labels): it comes from how often each rater uses each "
                    "label.")
            hint_zh = "偶然一致率不是 1/(标签数)：它取决于每个评分者使用每个标签的频率。"
        else:
            hint = "p_e multiplies rater a's share of label k by rater b's share of label k, summed over k."
            hint_zh = "p_e 是评分者 a 使用标签 k 的比例乘以评分者 b 使用标签 k 的比例，再对 k 求和。"
        raise ExerciseFailure(f"kappa for {what}: got {got:.6g}, scikit-learn gives {ref:.6g}; {hint}",
                              f"kappa（{what_zh}）：得到 {got:.6g}，scikit-learn 给出的是 {ref:.6g}；{hint_zh}")
    got = _float(fn(["E0"] * 5, ["E0"] * 5), "kappa when both raters say E0 for every item",
                 "两个评分者对每一项都给出 E0 时的 kappa")
    expect_close(got, package_kappa(["E0"] * 5, ["E0"] * 5), "kappa when both raters say E0 for every item",
                 hint="then p_e = 1 and the formula is 0/0; the docstring says what to return.",
                 what_zh="两个评分者对每一项都给出 E0 时的 kappa",
                 hint_zh="此时 p_e = 1，公式变成 0/0；文档字符串说明了这种情况下应返回什么。")


def _kappa_raw_agreement(a, b):
    return float(np.mean([x == y for x, y in zip(a, b)]))


def _kappa_one_rater_marginals(a, b):
    n = len(a)
    p_o = sum(x == y for x, y in zip(a, b)) / n
    p_e = sum((a.count(k) / n) ** 2 for k in set(a) | set(b))  # only rater a's frequencies
    return 1.0 if p_e == 1 else (p_o - p_e) / (1 - p_e)


def _kappa_uniform_chance(a, b):
    cats = set(a) | set(b)
    p_o = sum(x == y for x, y in zip(a, b)) / len(a)
    p_e = 1 / len(cats)
    return 1.0 if p_e == 1 else (p_o - p_e) / (1 - p_e)


# ------------------------------------------------------------------------------------------ 5.5


def share_at_line(exposure: np.ndarray, employment: np.ndarray, threshold: float, strict: bool = False) -> float:
    """Return the employment-weighted share of workers in occupations whose exposure is at least
    ``threshold`` (strict=False: exposure >= threshold) or above it (strict=True: exposure > threshold).
    The ratings are fractions of task weight stored as floating-point numbers, so a rating within 1e-9 of
    the threshold counts as exactly on it: it is counted with strict=False and left out with strict=True."""
    raise NotImplementedError


def _check_share_at_line(fn) -> None:
    from ..careers import reproduce_headline, share_of_employment

    e = np.array([0.5000000000000001, 0.49999999999999994, 0.5, 0.3, 0.7, 0.49])
    w = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    for strict, expected in ((False, 23 / 63), (True, 16 / 63)):
        got = _float(fn(e.copy(), w.copy(), 0.5, strict=strict), "the share", "占比")
        if abs(got - expected) > 1e-12:
            relation = ">" if strict else ">="
            raise ExerciseFailure(
                f"exposures {[repr(float(v)) for v in e[:3]]} are all 1/2 up to rounding: with strict={strict} the "
                f"share (exposure {relation} 0.5) of employment {w.tolist()} over {e.tolist()} is {expected:.6g}; "
                f"you return {got:.6g}. Compare with a tolerance of 1e-9, in the right direction for each reading.",
                f"暴露度 {[repr(float(v)) for v in e[:3]]} 在舍入误差范围内都等于 1/2：strict={strict} 时，"
                f"就业人数为 {w.tolist()}、暴露度为 {e.tolist()} 的占比（暴露度 {relation} 0.5）是 {expected:.6g}；"
                f"你返回的是 {got:.6g}。请用 1e-9 的容差进行比较，并且对每种解读都要把容差用在正确的方向上。")
    _, joined = _tables()
    table = joined.table
    head = reproduce_headline(joined)
    emp = table["employment"].to_numpy()
    beta = table["human_rating_beta"].to_numpy()
    expect_close(fn(beta.copy(), emp.copy(), 0.1), head.at_least_10pct, "human beta >= 0.1 (the headline)", rtol=1e-9,
                 hint="leave the ratings as they are: only a value within 1e-9 of the line counts as on it.",
                 what_zh="人类 beta >= 0.1（核心结论）",
                 hint_zh="保持评分原样：只有与分界线相差在 1e-9 以内的值才算落在分界线上。")
    expect_close(fn(beta.copy(), emp.copy(), 0.5, strict=True), head.over_50pct, "human beta > 0.5", rtol=1e-9,
                 hint="with strict=True an occupation on the line is not above it.",
                 what_zh="人类 beta > 0.5", hint_zh="strict=True 时，恰好落在分界线上的职业不算高于分界线。")
    rounded = table.copy()
    for col in ("human_rating_beta", "dv_rating_beta"):
        rounded[col] = rounded[col].round(12)
    for rater, col in (("human", "human_rating_beta"), ("gpt4", "dv_rating_beta")):
        got = _float(fn(table[col].to_numpy().copy(), emp.copy(), 0.5), f"{col} >= 0.5", f"{col} >= 0.5")
        ref = share_of_employment(rounded, rater, "beta", 0.5)
        if abs(got - share_of_employment(table, rater, "beta", 0.5)) < 1e-12 and abs(got - ref) > 1e-12:
            who = "Data Entry Keyers" if rater == "human" else "Geographers"
            who_zh = "数据录入员（Data Entry Keyers）" if rater == "human" else "地理学家（Geographers）"
            raise ExerciseFailure(f"{col} >= 0.5: you leave out {who}, stored as 0.49999999999999994, which is "
                                  "1/2 up to rounding: compare with a tolerance.",
                                  f"{col} >= 0.5：你漏掉了{who_zh}，它存储为 0.49999999999999994，在舍入误差范围内"
                                  "就是 1/2：请带容差进行比较。")
        expect_close(got, ref, f"the share of workers with {col} >= 0.5", rtol=1e-9,
                     what_zh=f"{col} >= 0.5 的劳动者占比")



def _line_ignores_strict(exposure, employment, threshold, strict=False):
    hit = exposure >= threshold - 1e-9
    return float(employment[hit].sum() / employment.sum())


def _line_no_tolerance(exposure, employment, threshold, strict=False):
    hit = exposure > threshold if strict else exposure >= threshold
    return float(employment[hit].sum() / employment.sum())


def _line_two_decimals(exposure, employment, threshold, strict=False):
    e = np.round(exposure, 2)
    hit = e > threshold if strict else e >= threshold
    return float(employment[hit].sum() / employment.sum())


EXERCISES = [
    Exercise("5.1", "An occupation's exposure from its tasks", "warm-up",
             "Compute $\\alpha$, $\\beta$ and $\\gamma$ of one occupation from the E0/E1/E2 labels of its tasks, "
             "weighting core tasks 2 and the others 1, as the chapter's formulas do. The check runs your function "
             "on the tasks of real occupations, for both raters, and compares with the values stored in "
             "`occ_level.csv`. The notebook's setup cell loads the data with `data = load_occupations()`; "
             "`data.tasks` holds the task labels.",
             occupation_shares, _check_occupation_shares,
             setup="import numpy as np\nimport pandas as pd\n\nfrom aigc_lessons import careers\n"
                   "from aigc_lessons.data import load_occupations\n\n"
                   "data = load_occupations()  # the tables of \"GPTs are GPTs\": tasks, occupations, OEWS\n"
                   "table = careers.exposure_table(data).table  # one row per OEWS occupation\n"
                   "ceo = data.tasks[data.tasks[\"O*NET-SOC Code\"] == \"11-1011.00\"]\n"
                   "print(ceo.groupby([\"Task Type\", \"human_exposure_agg\"]).size())",
             wrong=(_shares_plain_mean, _shares_e2_full, _shares_untyped_dropped),
             background="{ref}`ch05-exposure`"),
    Exercise("5.2", "Find the bug: a share of workers", "warm-up",
             "The function below is meant to compute the chapter's headline, the share of *workers* whose occupation "
             "reaches an exposure threshold. Try it on `table`, the joined table (one row per OEWS occupation) that "
             "the notebook's setup cell builds with `careers.exposure_table(data).table`: it runs and returns a plausible "
             "number. Find the bug and fix it; the check compares with the package's headline on the joined table.",
             share_of_workers, _check_share_of_workers, wrong=(_sow_strict, _sow_mean_exposure),
             background="{ref}`ch05-headline`"),
    Exercise("5.3", "The exposure of a job family", "core",
             "A job family is a SOC major group: the first two digits of the code (15 for computer and mathematical "
             "occupations). Compute the employment-weighted mean exposure of every family. The check compares with "
             "a pandas `groupby` on the joined table, for two rating columns, and on a small made-up table.",
             family_exposure, _check_family_exposure,
             wrong=(_family_unweighted, _family_first_digit, _family_global_denominator),
             background="{ref}`ch05-who`"),
    Exercise("5.4", "Do people and GPT-4 agree? Cohen's kappa", "core",
             "Implement Cohen's kappa, $\\kappa = (p_o - p_e)/(1 - p_e)$, for two label sequences. The check compares "
             "with `sklearn.metrics.cohen_kappa_score` on small cases and on the 19,265 human and GPT-4 labels of the "
             "data set, with three labels and with exposed-or-not.",
             cohen_kappa, _check_cohen_kappa,
             wrong=(_kappa_raw_agreement, _kappa_one_rater_marginals, _kappa_uniform_chance),
             background="{ref}`ch05-headline`"),
    Exercise("5.5", "The 50% line: two readings and one float", "stretch",
             "\"At least half\" can be read as $e \\ge 0.5$ or, as the worker share of 19% suggests, $e > 0.5$; and "
             "Data Entry Keyers have a human $\\beta$ of exactly 1/2 that the file stores as 0.49999999999999994. "
             "Write a share of workers that takes the reading as an argument and counts ratings within $10^{-9}$ "
             "of the line as on it. The check compares with the package's headline figures and with its share "
             "computed on ratings rounded to 12 decimals.",
             share_at_line, _check_share_at_line, wrong=(_line_ignores_strict, _line_no_tolerance, _line_two_decimals),
             background="{ref}`ch05-headline`"),
]
