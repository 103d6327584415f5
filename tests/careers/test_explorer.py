"""The website's job explorer: its data against the raw files, its search in Python and in the page's JavaScript."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from aigc_lessons.careers import explorer
from aigc_lessons.careers.search import EXAMPLE_QUERIES, ZH_EXAMPLE_QUERIES

from .independent import HYBRID, employment

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "book" / "_static" / "job_explorer.js"
PAGE = ROOT / "book" / "ch05_careers" / "job_explorer.md"


@pytest.fixture(scope="module")
def payload(data):
    return explorer.explorer_payload(data)


def _by_code(payload):
    return {o["code"]: o for o in payload["occupations"]}


def test_every_occupation_with_its_ratings_and_tasks(payload, raw):
    occs = _by_code(payload)
    assert len(occs) == len(raw["occ"])
    for row in raw["occ"]:
        o = occs[row["O*NET-SOC Code"]]
        assert o["title"] == row["Title"]
        for j, m in enumerate(("alpha", "beta", "gamma")):
            assert o["human"][j] == pytest.approx(float(row[f"human_rating_{m}"]), abs=1e-4)
            assert o["gpt4"][j] == pytest.approx(float(row[f"dv_rating_{m}"]), abs=1e-4)
    n_tasks = {}
    for t in raw["tasks"]:
        n_tasks[t["O*NET-SOC Code"]] = n_tasks.get(t["O*NET-SOC Code"], 0) + 1
    assert {c: len(o["tasks"]) for c, o in occs.items() if o["tasks"]} == n_tasks
    nurse = occs["29-1141.00"]
    labels = {(t["Task"], t["human_exposure_agg"], t["gpt4_exposure"]) for t in raw["tasks"]
              if t["O*NET-SOC Code"] == "29-1141.00"}
    assert {(t[0], t[2], t[3]) for t in nurse["tasks"]} == labels


def test_employment_comes_from_the_oews_row_including_hybrid_codes(payload, raw):
    occs = _by_code(payload)
    assert occs["29-1141.00"]["employment"] == employment(raw, "29-1141")
    # 13-1022 Wholesale and Retail Buyers is published under the hybrid OEWS code 13-1020
    buyer = next(o for c, o in occs.items() if c.startswith("13-1022"))
    assert buyer["oews_code"] == HYBRID["13-1022"] == "13-1020"
    assert buyer["employment"] == employment(raw, "13-1020")
    # two O*NET occupations share 11-1011 (Chief Executives, Chief Sustainability Officers)
    assert occs["11-1011.00"]["n_onet"] == occs["11-1011.03"]["n_onet"] >= 2


def test_percentiles_and_histogram_from_the_joined_table(payload, joined, raw):
    exact = {r["O*NET-SOC Code"]: r for r in raw["occ"]}
    t = joined.table.dropna(subset=["employment"])
    emp = t["employment"].to_numpy(float)
    assert payload["workers"] == int(emp.sum())
    for j, m in enumerate(payload["measures"]):
        values = t[f"human_rating_{m}"].to_numpy(float)
        hist = np.asarray(payload["histogram"][m])
        assert len(hist) == explorer.HISTOGRAM_BINS and hist.sum() == pytest.approx(1.0, abs=1e-5)
        # the first bin holds exactly the workers rated below 0.05
        assert hist[0] == pytest.approx(emp[values < 0.05].sum() / emp.sum(), abs=1e-6)
        for code in ("29-1141.00", "15-1252.00", "47-2111.00"):
            o = _by_code(payload)[code]
            rating = float(exact[code][f"human_rating_{m}"])
            by_loop = sum(e for v, e in zip(values, emp) if v < rating and not np.isclose(v, rating)) / emp.sum()
            assert o["percentile"][j] == pytest.approx(by_loop, abs=2e-4)
    assert explorer.employment_percentile(np.array([0.1, 0.5, 0.9]), np.array([1.0, 2.0, 1.0]), 0.5) == 0.25
    assert explorer.employment_percentile(np.array([0.49999999999999994, 0.9]), np.array([1.0, 1.0]), 0.5) == 0.0


def test_keyword_search_finds_job_titles(payload):
    occs = payload["occupations"]
    assert occs[explorer.keyword_search("registered nurse", payload)[0]]["code"] == "29-1141.00"
    assert occs[explorer.keyword_search("Lawyers", payload)[0]]["title"] == "Lawyers"
    assert [occs[i]["code"] for i in explorer.keyword_search("29-1141", payload)] == ["29-1141.00", "29-1141.01",
                                                                                      "29-1141.02", "29-1141.03",
                                                                                      "29-1141.04"]
    assert explorer.keyword_search("zzzzqx", payload) == []
    assert explorer.keyword_search("the and of", payload) == []


def test_the_pages_claim_about_chinese_titles(payload):
    """The page says how many of notebook 10's Chinese job titles find an accepted occupation first."""
    hits = [payload["occupations"][explorer.keyword_search(q, payload)[0]]["code"] in accepted
            for q, accepted in ZH_EXAMPLE_QUERIES]
    text = " ".join(PAGE.read_text(encoding="utf-8").split())
    claim = re.search(r"(\d+) of the (\d+) Chinese job titles of notebook 10", text)
    assert claim, "the page no longer states the measured search accuracy"
    assert (int(claim.group(1)), int(claim.group(2))) == (sum(hits), len(hits))
    example = re.search(r'\("([^"]+)" finds ([A-Z][\w ,]+?) first, because', text)
    assert example, "the page no longer gives its example of a description the search gets wrong"
    assert payload["occupations"][explorer.keyword_search(example.group(1), payload)[0]]["title"] == example.group(2)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed; the browser test covers one search")
def test_the_pages_javascript_ranks_like_python(payload, tmp_path):
    queries = [q for q, _ in ZH_EXAMPLE_QUERIES + EXAMPLE_QUERIES] + [
        "nurse", "teacher", "driver", "15-12", "29-1141.0", "Analysts", "chief", "会计 审计", "", "zzz"]
    data = tmp_path / "payload.json"
    data.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    script = (f"const m = require({json.dumps(str(JS))}); const fs = require('fs');"
              f"const d = JSON.parse(fs.readFileSync({json.dumps(str(data))}, 'utf8'));"
              f"const qs = {json.dumps(queries, ensure_ascii=False)};"
              "console.log(JSON.stringify(qs.map(q => [m.queryTokens(q, d.glossary), m.search(q, d, 8)])));")
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=120, check=True).stdout
    for q, (tokens, hits) in zip(queries, json.loads(out)):
        assert tokens == explorer.query_tokens(q, payload["glossary"]), q
        assert hits == explorer.keyword_search(q, payload, 8), q


def test_the_data_script_is_an_ordinary_script(tmp_path, data):
    path = explorer.write_explorer_script(tmp_path / "_static" / "job-explorer-data.js", data)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("window.AIGC_JOBS = {") and text.endswith("};\n")
    assert json.loads(text[len("window.AIGC_JOBS = "):-2])["occupations"][0]["code"] == "11-1011.00"
