"""The numbers typed on the chapter page are the ones the code computes from the raw data.

If the data, the join or the headline computation changes, this test fails until the page is updated.
"""

from pathlib import Path

import pytest

from aigc_lessons import careers

PAGE = Path(__file__).resolve().parents[2] / "book" / "ch05_careers" / "index.md"


@pytest.fixture(scope="module")
def text():
    return " ".join(PAGE.read_text(encoding="utf-8").split())


@pytest.fixture(scope="module")
def computed(data, joined):
    grid = careers.headline_grid(joined).set_index(["rater", "measure"])
    total = careers.headline_grid(joined, "total").set_index(["rater", "measure"])
    tasks = careers.task_shares(data).set_index("rater")
    agree = careers.label_agreement(data)
    split = agree.disagreement_shares()
    wage_h = careers.wage_exposure(joined.table, "human", "beta")
    wage_g = careers.wage_exposure(joined.table, "gpt4", "beta")
    s = joined.crosswalk.summary
    inner_join = careers.mistake_inner_join(data)
    pct = "{:.1%}".format
    return {
        "headline >=10% rated": pct(grid.loc[("human", "beta"), "share_ge_10pct"]),
        "headline >=10% all": pct(total.loc[("human", "beta"), "share_ge_10pct"]),
        "headline >50% rated": pct(grid.loc[("human", "beta"), "share_gt_50pct"]),
        "headline >50% all": pct(total.loc[("human", "beta"), "share_gt_50pct"]),
        "headline >=50% rated": pct(grid.loc[("human", "beta"), "share_ge_50pct"]),
        "headline >=50% all": pct(total.loc[("human", "beta"), "share_ge_50pct"]),
        "gpt4 >=50% rated": pct(grid.loc[("gpt4", "beta"), "share_ge_50pct"]),
        "gpt4 >=50% all": pct(total.loc[("gpt4", "beta"), "share_ge_50pct"]),
        "tasks E1 human": pct(tasks.loc["human", "share_E1"]),
        "tasks E1|E2": f"{pct(tasks.loc['human', 'share_E1_or_E2'])}; {pct(tasks.loc['gpt4', 'share_E1_or_E2'])}",
        "plain join coverage": pct(inner_join.symptom["employment_share"]),
        "crosswalk coverage": pct(s["employment_matched_share"]),
        "uncovered workers": f"{s['employment_uncovered']:,.0f} workers, sit in {s['oews_rows_uncovered']:.0f}",
        "double count": pct(careers.mistake_double_count(data).symptom["employment_share_of_us"]),
        "agreement": f"{agree.rate:.1%} of the time",
        "kappa": f"= {agree.kappa:.3f}",
        "binary agreement": f"{agree.rate_binary:.1%} ($\\kappa = {agree.kappa_binary:.3f}$)",
        "disagreement split": f"{pct(split['E1-E2'])} lie between E1 and E2, {pct(split['E0-E2'])} between E0 and E2 "
                              f"(mostly E2 from GPT-4 where people said E0) and {pct(split['E0-E1'])} between E0 and E1",
        "wage corr": f"is {wage_h.corr_log_wage:.2f} with human ratings and {wage_g.corr_log_wage:.2f} with GPT-4's",
        "plain loss points": f"{(s['employment_matched_share'] - inner_join.symptom['employment_share']) * 100:.1f} points",
    }


def test_every_number_on_the_page_is_the_computed_one(text, computed):
    missing = {k: v for k, v in computed.items() if v not in text}
    assert not missing, f"the page does not show these computed values: {missing}"


def test_the_page_cites_the_published_numbers_next_to_them(text):
    assert "about 80%" in text and "about 19%" in text and "47-56%" in text
