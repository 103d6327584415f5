"""Chapter 5 common mistakes: each one's symptom is measured, and its fix removes it."""

import pytest

from aigc_lessons import careers
from aigc_lessons.mistakes import MistakeReport

from .independent import HYBRID


def test_mistake_double_count_symptom_and_fix(data, joined, raw):
    m = careers.mistake_double_count(data)
    assert isinstance(m, MistakeReport)
    assert m.symptom["employment_share_of_us"] > 1.2  # more workers than the US has
    assert m.fixed["employment_share_of_us"] < 1.0
    assert m.symptom["rows"] > m.fixed["rows"]
    # the fixed numbers are the joined table's
    assert m.fixed["rows"] == len(joined.table)
    assert m.fixed["employment_share_of_us"] == pytest.approx(joined.table["employment"].sum() / raw["total"])
    assert m.fixed["share_gt_50pct"] == careers.reproduce_headline(joined).over_50pct
    assert m.symptom["rows"] == sum(r["O*NET-SOC Code"][:7] in raw["detailed"] for r in raw["occ"])


def test_mistake_inner_join_symptom_and_fix(data, raw):
    m = careers.mistake_inner_join(data)
    assert isinstance(m, MistakeReport)
    assert m.symptom["onet_lost"] == 31 and m.fixed["onet_lost"] == 1
    # the 31 lost by the plain join: 30 reached through a hybrid code, plus fishing and hunting
    lost = [r["O*NET-SOC Code"] for r in raw["occ"] if r["O*NET-SOC Code"][:7] not in raw["detailed"]]
    assert len(lost) == m.symptom["onet_lost"]
    assert sum(code[:7] in HYBRID for code in lost) == len(lost) - 1
    assert m.fixed["employment_share"] - m.symptom["employment_share"] > 0.05
    recovered = m.fixed["workers"] - m.symptom["workers"]
    assert recovered > 8e6 and m.details["recovered_workers"] == recovered
    assert m.symptom["employment_share"] == pytest.approx(m.symptom["workers"] / raw["total"])


def test_mistake_chinese_query_symptom_and_fix(data, encoder, index):
    m = careers.mistake_chinese_query(index, encoder, data)
    assert isinstance(m, MistakeReport)
    # symptom: most Chinese characters are [UNK] for MiniLM, and no query finds its occupation
    assert m.symptom["unk_share"] > 0.5 and m.symptom["top3"] == 0.0 and m.symptom["confident"] == 0.0
    # fix: the glossary turns job titles into English first
    assert m.fixed["top3"] >= 0.9 and m.fixed["unk_share"] == 0.0
    assert m.fixed["top3"] == m.details["with_glossary"]["top3"].mean()
    assert len(m.details["without_glossary"]) == len(careers.ZH_EXAMPLE_QUERIES)
    r = careers.search_jobs("我喜欢吃苹果", index, encoder, data)  # "I like eating apples": not covered
    assert not r.confident and "could not read" in r.message
