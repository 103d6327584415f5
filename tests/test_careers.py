"""Chapter 5 data analysis: crosswalk, employment join, headline shares, wages, agreement, kappa.

Key figures are recomputed here from the raw files with the ``csv`` module and a hand-written table of
the OEWS 2021 hybrid codes, an independent path: a broken join, weighting or threshold in
``aigc_lessons.careers`` makes these tests fail.
"""

import csv
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.metrics import cohen_kappa_score, f1_score  # noqa: E402

from aigc_lessons import careers  # noqa: E402
from aigc_lessons.data import load_occupations  # noqa: E402

# OEWS May 2021 publishes these SOC 2018 codes under one merged ("hybrid") code each.
HYBRID = {
    "13-1021": "13-1020", "13-1022": "13-1020", "13-1023": "13-1020", "13-2022": "13-2020",
    "13-2023": "13-2020", "21-1011": "21-1018", "21-1014": "21-1018", "25-2055": "25-2052",
    "25-2056": "25-2052", "25-9042": "25-9045", "25-9043": "25-9045", "29-2011": "29-2010",
    "29-2012": "29-2010", "31-1121": "31-1120", "31-1122": "31-1120", "39-7011": "39-7010",
    "39-7012": "39-7010", "47-4091": "47-4090", "47-4099": "47-4090", "51-2022": "51-2028",
    "51-2023": "51-2028", "51-2092": "51-2090", "53-1042": "53-1047", "53-1043": "53-1047",
    "53-1044": "53-1047",
}


@pytest.fixture(scope="module")
def data(mirror):
    return load_occupations()


@pytest.fixture(scope="module")
def joined(data):
    return careers.exposure_table(data)


@pytest.fixture(scope="module")
def raw(mirror):
    """The raw files read with the csv module: ratings per O*NET code, OEWS detailed rows, US total."""
    folder = mirror / "gpts-are-gpts"
    with open(folder / "occ_level.csv", newline="", encoding="utf-8") as fh:
        occ = list(csv.DictReader(fh))
    detailed, total = {}, None
    with open(folder / "national_May2021_dl.csv", newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            if row["O_GROUP"] == "detailed":
                detailed[row["OCC_CODE"]] = row
            elif row["O_GROUP"] == "total":
                total = float(row["TOT_EMP"].replace(",", ""))
    with open(folder / "full_labelset.tsv", newline="", encoding="utf-8") as fh:
        tasks = list(csv.DictReader(fh, delimiter="\t"))
    return {"occ": occ, "detailed": detailed, "total": total, "tasks": tasks}


def independent_shares(raw, column, threshold, strict):
    """Mean rating per OEWS code (hand crosswalk), weighted by employment, share at the threshold."""
    ratings = defaultdict(list)
    for row in raw["occ"]:
        soc = row["O*NET-SOC Code"][:7]
        code = soc if soc in raw["detailed"] else HYBRID.get(soc)
        if code is not None:
            ratings[code].append(float(row[column]))
    num = den = 0.0
    for code, values in ratings.items():
        emp = float(raw["detailed"][code]["TOT_EMP"].replace(",", ""))
        mean = sum(values) / len(values)
        den += emp
        if (mean > threshold) if strict else (mean >= threshold):
            num += emp
    return num / den, den


def test_onet_to_soc_and_bad_codes():
    assert careers.onet_to_soc("11-1011.03") == "11-1011"
    for bad in ["11-1011", "111011.00", "", None, "ab-cdef.gh"]:
        with pytest.raises(ValueError, match="O\\*NET-SOC"):
            careers.onet_to_soc(bad)


def test_crosswalk_counts_every_loss(joined, raw):
    xw = joined.crosswalk
    s = xw.summary
    assert s["onet_detailed"] + s["onet_hybrid"] + s["onet_unmatched"] == len(raw["occ"]) == 923
    assert xw.unmatched_onet["onet_code"].tolist() == ["45-3031.00"]  # fishing and hunting: not in OEWS
    hybrid = xw.table[xw.table["match"] == "hybrid"]
    assert dict(zip(hybrid["soc"], hybrid["oews_code"])) == HYBRID
    # what no O*NET occupation reaches is only OEWS's "All Other" residual categories, with their workers
    assert xw.uncovered_oews["OCC_TITLE"].str.contains("All Other").all()
    assert s["employment_matched"] + s["employment_uncovered"] == pytest.approx(s["employment_detailed_sum"])
    assert s["employment_total"] == raw["total"]


def test_employment_is_counted_once(joined, raw):
    t = joined.table
    assert t["oews_code"].is_unique
    expected = sum(float(raw["detailed"][c]["TOT_EMP"].replace(",", "")) for c in t["oews_code"])
    assert t["employment"].sum() == pytest.approx(expected)
    assert t["employment"].sum() < raw["total"]
    ceo = t.set_index("oews_code").loc["11-1011"]
    assert ceo["n_onet"] == 2  # Chief Executives and Chief Sustainability Officers share 11-1011
    assert ceo["human_rating_beta"] == pytest.approx((0.35 + 0.388888888888889) / 2)


@pytest.mark.parametrize("rater,measure", [(r, m) for r in careers.RATERS for m in careers.MEASURES])
def test_headline_grid_matches_independent_computation(joined, raw, rater, measure):
    grid = careers.headline_grid(joined).set_index(["rater", "measure"])
    column = careers.rating_column(rater, measure)
    for name, threshold, strict in (("share_ge_10pct", 0.1, False), ("share_ge_50pct", 0.5, False),
                                    ("share_gt_50pct", 0.5, True)):
        expected, _ = independent_shares(raw, column, threshold, strict)
        assert grid.loc[(rater, measure), name] == pytest.approx(expected, abs=1e-9), name


def test_headline_reproduction_is_close_to_the_published_numbers(joined, raw):
    h = careers.reproduce_headline(joined)
    ten, _ = independent_shares(raw, "human_rating_beta", 0.1, False)
    half, _ = independent_shares(raw, "human_rating_beta", 0.5, True)
    assert h.at_least_10pct == pytest.approx(ten, abs=1e-9)
    assert h.over_50pct == pytest.approx(half, abs=1e-9)
    # the page's claim: within 2 points of "about 80%" and 1 point of "about 19%"
    assert abs(h.at_least_10pct - h.published["share_at_least_10pct"]) < 0.02
    assert abs(h.over_50pct - h.published["share_at_least_50pct"]) < 0.01
    # the plain reading (>= 0.5) overshoots by about three points: beta sits exactly on 0.5 for many jobs
    assert h.at_least_50pct - h.over_50pct > 0.02
    # the observation: GPT-4 beta at >= 50% is in the 24-30% range
    g = h.grid.set_index(["rater", "measure"])
    assert 0.24 < g.loc[("gpt4", "beta"), "share_ge_50pct"] < 0.30


def test_weighting_by_employment_matters(joined):
    t = joined.table
    weighted = careers.share_of_employment(t, "human", "beta", 0.5, strict=True)
    unweighted = float((t["human_rating_beta"] > 0.5).mean())
    assert abs(weighted - unweighted) > 0.01  # 19.4% of workers vs 17.5% of occupations
    with pytest.raises(ValueError, match="threshold"):
        careers.share_of_employment(t, "human", "beta", 1.5)
    with pytest.raises(ValueError, match="rater"):
        careers.share_of_employment(t, "robot", "beta", 0.5)


def test_total_denominator_counts_unmatched_workers_as_unexposed(joined):
    matched = careers.headline_grid(joined, "matched").set_index(["rater", "measure"])
    total = careers.headline_grid(joined, "total").set_index(["rater", "measure"])
    ratio = joined.crosswalk.summary["employment_matched_share"]
    assert np.allclose(total.to_numpy(float), matched.to_numpy(float) * ratio)


def test_exposure_curve_agrees_with_share(joined):
    c = careers.exposure_curve(joined.table, "gpt4", "gamma", grid=[0.0, 0.1, 0.5, 1.0])
    assert c["share_of_employment"].iloc[0] == pytest.approx(1.0)
    assert np.all(np.diff(c["share_of_employment"]) <= 0)
    assert c["share_of_employment"].iloc[2] == pytest.approx(careers.share_of_employment(joined.table, "gpt4", "gamma", 0.5))


def test_wages_and_exposure(joined, raw):
    t = joined.table
    assert (t["wage_source"] == "top-coded").sum() == sum(
        1 for c in t["oews_code"] if raw["detailed"][c]["A_MEDIAN"].strip() == "#")
    assert t.loc[t["wage_source"] == "top-coded", "wage"].eq(careers.OEWS_TOP_CODE_ANNUAL).all()
    res = careers.wage_exposure(t, "human", "beta")
    ok = t["wage"].notna()
    expected = np.cov(np.log10(t.loc[ok, "wage"]), t.loc[ok, "human_rating_beta"],
                      aweights=t.loc[ok, "employment"])
    r = expected[0, 1] / np.sqrt(expected[0, 0] * expected[1, 1])
    assert res.corr_log_wage == pytest.approx(r, abs=1e-9)
    assert res.slope_per_decade == pytest.approx(expected[0, 1] / expected[0, 0], abs=1e-9)
    assert res.corr_log_wage > 0.3  # higher-wage occupations are more exposed
    assert res.n_used + res.n_excluded == len(t)
    q = res.by_quintile
    assert q["employment"].sum() == pytest.approx(t.loc[ok, "employment"].sum())
    assert q["mean_exposure"].iloc[-1] > q["mean_exposure"].iloc[0]


def test_major_groups_and_extremes(joined):
    t = joined.table
    g = careers.by_major_group(t, "human", "beta")
    assert g["employment"].sum() == pytest.approx(t["employment"].sum())
    office = t[t["major_code"] == "43-0000"]
    expected = np.average(office["human_rating_beta"], weights=office["employment"])
    assert g.set_index("major_code").loc["43-0000", "mean_exposure"] == pytest.approx(expected)
    assert g["major_code"].iloc[0] == "15-0000"  # computer and mathematical work is the most exposed
    assert g["major_code"].iloc[-1] == "37-0000"  # building and grounds cleaning the least
    most, least = careers.extremes(t, n=5)
    assert most["human_rating_beta"].min() >= least["human_rating_beta"].max()
    assert (most["employment"] >= 50_000).all()
    with pytest.raises(ValueError):
        careers.extremes(t, n=0)


def test_cohen_kappa_matches_sklearn_and_the_formula():
    rng = np.random.default_rng(0)
    a = rng.choice(["E0", "E1", "E2"], 500, p=[0.5, 0.2, 0.3])
    b = np.where(rng.random(500) < 0.6, a, rng.choice(["E0", "E1", "E2"], 500))
    assert careers.cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    # a 2x2 table worked by hand: 40 yes-yes, 10 yes-no, 20 no-yes, 30 no-no;
    # p_o = 0.7, p_e = 0.5*0.6 + 0.5*0.4 = 0.5, kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4
    x = ["y"] * 40 + ["y"] * 10 + ["n"] * 20 + ["n"] * 30
    y = ["y"] * 40 + ["n"] * 10 + ["y"] * 20 + ["n"] * 30
    assert careers.cohen_kappa(x, y) == pytest.approx(0.4)
    assert careers.cohen_kappa(["a", "b"], ["a", "b"]) == 1.0
    with pytest.raises(ValueError, match="equal length"):
        careers.cohen_kappa(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="not in labels"):
        careers.cohen_kappa(["a", "z"], ["a", "a"], labels=["a", "b"])


def test_macro_f1_matches_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    p = np.where(rng.random(300) < 0.5, y, rng.integers(0, 3, 300))
    assert careers.macro_f1(y, p, range(3)) == pytest.approx(f1_score(y, p, average="macro"))


def test_label_agreement_on_all_tasks(data, raw):
    a = careers.label_agreement(data)
    human = [r["human_exposure_agg"] for r in raw["tasks"]]
    gpt4 = [r["gpt4_exposure"] for r in raw["tasks"]]
    assert a.n_tasks == len(human) == 19265
    assert a.rate == pytest.approx(np.mean([h == g for h, g in zip(human, gpt4)]))
    assert a.kappa == pytest.approx(cohen_kappa_score(human, gpt4), abs=1e-12)
    binary = [(h != "E0") == (g != "E0") for h, g in zip(human, gpt4)]
    assert a.rate_binary == pytest.approx(np.mean(binary))
    assert a.confusion.to_numpy().sum() == a.n_tasks
    assert 0.3 < a.kappa < a.kappa_binary < 0.8  # moderate agreement, better on exposed-or-not


def test_occupation_file_is_close_to_task_means(data):
    check = careers.occupation_level_check(data)
    assert (check["mean_abs_diff"] < 0.02).all()
    assert (check["share_exact"] < 0.5).all()  # ... but not the same computation


def test_mistake_double_count_symptom_and_fix(data):
    m = careers.mistake_double_count(data)
    assert m["naive_employment_share_of_us"] > 1.2  # more workers than the US has
    assert m["correct_employment_share_of_us"] < 1.0
    assert m["naive_rows"] > m["correct_rows"]


def test_mistake_inner_join_symptom_and_fix(data):
    m = careers.mistake_inner_join(data)
    assert m["plain_onet_lost"] == 31 and m["crosswalk_onet_lost"] == 1
    assert m["crosswalk_employment_share"] - m["plain_employment_share"] > 0.05
    assert m["recovered_workers"] > 8e6


def test_figures_have_labelled_axes(joined):
    t = joined.table
    axes = [careers.plot_exposure_distribution(t), careers.plot_exposure_curve(t),
            careers.plot_exposure_vs_wage(t), careers.plot_major_groups(t), *careers.plot_extremes(t, n=5)]
    for ax in axes:
        assert ax.get_xlabel() and ax.get_title()
    assert "log" in axes[2].get_xscale()
    plt.close("all")


def test_task_shares_reproduce_the_15_and_47_to_56_percent(data, raw):
    shares = careers.task_shares(data).set_index("rater")
    for rater, col in (("human", "human_exposure_agg"), ("gpt4", "gpt4_exposure")):
        labels = [r[col] for r in raw["tasks"]]
        assert shares.loc[rater, "share_E1"] == pytest.approx(labels.count("E1") / len(labels))
        assert shares.loc[rater, "share_E1_or_E2"] == pytest.approx(
            (labels.count("E1") + labels.count("E2")) / len(labels))
    pub = careers.PUBLISHED_TASK_SHARES
    assert abs(shares.loc["human", "share_E1"] - pub["llm_alone"]) < 0.01
    assert abs(shares.loc["human", "share_E1_or_E2"] - pub["with_software_low"]) < 0.01
    assert abs(shares.loc["gpt4", "share_E1_or_E2"] - pub["with_software_high"]) < 0.01


def test_personal_exposure_weights_tasks_by_time(data):
    # equal time on every task reproduces the data set's task-mean shares for that occupation
    t = data.tasks[data.tasks["O*NET-SOC Code"] == "27-3023.00"]
    eq = careers.personal_exposure([1.0] * len(t), t["human_exposure_agg"].tolist())
    e1 = (t["human_exposure_agg"] == "E1").mean()
    e2 = (t["human_exposure_agg"] == "E2").mean()
    assert eq["alpha"] == pytest.approx(e1) and eq["beta"] == pytest.approx(e1 + e2 / 2)
    assert eq["gamma"] == pytest.approx(e1 + e2)
    # a worked example: 50% E0, 30% E1, 20% E2 -> beta = 0.3 + 0.1 = 0.4
    ex = careers.personal_exposure([50, 30, 20], ["E0", "E1", "E2"])
    assert ex == pytest.approx({"alpha": 0.3, "beta": 0.4, "gamma": 0.5})
    with pytest.raises(ValueError, match="one time share per label"):
        careers.personal_exposure([1, 2], ["E0"])
    with pytest.raises(ValueError, match="non-negative"):
        careers.personal_exposure([0, 0], ["E0", "E1"])
