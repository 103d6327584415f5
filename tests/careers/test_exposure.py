"""Chapter 5 data: O*NET -> OEWS crosswalk, the employment join, shares of employment, labels.

Key figures are recomputed from the raw files with the ``csv`` module and a hand-written table of the
OEWS 2021 hybrid codes (:mod:`tests.careers.independent`), an independent path.
"""

import numpy as np
import pytest

from aigc_lessons import careers

from .independent import HYBRID, employment, independent_shares


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
    assert s["employment_matched_share"] == pytest.approx(s["employment_matched"] / raw["total"])


def test_employment_is_counted_once(joined, raw):
    t = joined.table
    assert t["oews_code"].is_unique
    expected = sum(employment(raw, c) for c in t["oews_code"])
    assert t["employment"].sum() == pytest.approx(expected)
    assert t["employment"].sum() < raw["total"]
    ceo = t.set_index("oews_code").loc["11-1011"]
    assert ceo["n_onet"] == 2  # Chief Executives and Chief Sustainability Officers share 11-1011
    assert ceo["human_rating_beta"] == pytest.approx((0.35 + 0.388888888888889) / 2)


def test_weighting_by_employment_matters(joined, raw):
    t = joined.table
    weighted = careers.share_of_employment(t, "human", "beta", 0.5, strict=True)
    assert weighted == pytest.approx(independent_shares(raw, "human_rating_beta", 0.5, True)[0], abs=1e-9)
    unweighted = float((t["human_rating_beta"] > 0.5).mean())
    assert abs(weighted - unweighted) > 0.01  # 19.4% of workers vs 17.5% of occupations
    with pytest.raises(ValueError, match="threshold"):
        careers.share_of_employment(t, "human", "beta", 1.5)
    with pytest.raises(ValueError, match="rater"):
        careers.share_of_employment(t, "robot", "beta", 0.5)
    with pytest.raises(ValueError, match="measure"):
        careers.rating_column("human", "delta")


def test_label_ids_map_e0_e1_e2_to_0_1_2():
    assert careers.label_ids(["E2", "E0", "E1", "E0"]).tolist() == [2, 0, 1, 0]
    assert careers.label_ids(["E1"]).dtype == np.int64
    with pytest.raises(ValueError, match="unknown exposure label"):
        careers.label_ids(["E0", "E3"])


def test_build_crosswalk_directly_matches_the_joined_tables_crosswalk(data, joined):
    xw = careers.build_crosswalk(data.occupations, data.oews)
    assert xw.summary == joined.crosswalk.summary
    assert xw.unmatched_onet["onet_code"].tolist() == joined.crosswalk.unmatched_onet["onet_code"].tolist()
