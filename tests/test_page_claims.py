"""Claims that the careers chapter (book/ch05_careers/index.md) makes about the released GPTs-are-GPTs data.

1. ``occ_level.csv`` is exactly the weighted mean of the task labels in ``full_labelset.tsv``: per
   occupation and per rater, core tasks weigh 2, supplemental tasks (and the tasks that have no type)
   weigh 1, with E0 = 0, E1 = 1 and E2 = 0, 1/2 or 1 for alpha, beta and gamma (zeta). Equal weights do
   not reproduce the file.
2. The occupation shares at a threshold of one half (2.3% alpha, 21.6% beta, 47.3% zeta, human ratings)
   come out with ">=" on the stored values; ">" gives other numbers; and the one human-beta occupation
   stored as 0.49999999999999994 is exactly 1/2 in exact arithmetic.
3. The released labels are E0/E1/E2 only (E3 merged into E2).

The files are read through :func:`aigc_lessons.data.load_occupations`, from the data mirror.
"""

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aigc_lessons.data import load_occupations

PAGE = Path(__file__).resolve().parent.parent / "book" / "ch05_careers" / "index.md"

#: task-label column of full_labelset.tsv -> prefix of the matching occ_level.csv columns
RATERS = {"human_exposure_agg": "human_rating", "gpt4_exposure": "dv_rating"}
#: value of each label under each measure (the data files call zeta "gamma")
MEASURES = {
    "alpha": {"E0": 0.0, "E1": 1.0, "E2": 0.0},
    "beta": {"E0": 0.0, "E1": 1.0, "E2": 0.5},
    "gamma": {"E0": 0.0, "E1": 1.0, "E2": 1.0},
}
NO_TYPE = "(no type)"  # 1,312 tasks have an empty Task Type
CORE_2_SUPPLEMENTAL_1 = {"Core": 2.0, "Supplemental": 1.0, NO_TYPE: 1.0}
EQUAL = {"Core": 1.0, "Supplemental": 1.0, NO_TYPE: 1.0}
TOL = 1e-9


@pytest.fixture(scope="module")
def data(mirror):
    os.environ.setdefault("AIGC_DATA_MIRROR", str(mirror))
    return load_occupations()


@pytest.fixture(scope="module")
def text():
    return " ".join(PAGE.read_text(encoding="utf-8").split())


def task_weights(tasks: pd.DataFrame, weights: dict) -> pd.Series:
    kind = tasks["Task Type"].astype(object).where(tasks["Task Type"].notna(), NO_TYPE)
    unknown = set(kind) - set(weights)
    assert not unknown, f"unexpected task types {unknown}"
    return kind.map(weights).astype(float)


def rebuild(tasks: pd.DataFrame, weights: dict) -> pd.DataFrame:
    """occ_level.csv's six rating columns recomputed from the task labels with the given task weights."""
    w = task_weights(tasks, weights)
    out = {}
    for label_col, prefix in RATERS.items():
        for measure, value in MEASURES.items():
            v = tasks[label_col].map(value)
            assert v.notna().all(), f"{label_col} has labels outside E0/E1/E2"
            frame = pd.DataFrame({"code": tasks["O*NET-SOC Code"], "wv": w * v, "w": w})
            sums = frame.groupby("code")[["wv", "w"]].sum()
            out[f"{prefix}_{measure}"] = sums["wv"] / sums["w"]
    return pd.DataFrame(out)


def max_abs_diff(rebuilt: pd.DataFrame, occ: pd.DataFrame) -> pd.Series:
    stored = occ.set_index("O*NET-SOC Code")
    assert stored.index.is_unique
    rebuilt = rebuilt.reindex(stored.index)
    assert rebuilt.notna().all().all(), "an occupation of occ_level.csv has no task in full_labelset.tsv"
    return (rebuilt - stored[rebuilt.columns]).abs().max()


def test_the_files_have_the_expected_shape(data):
    tasks, occ = data.tasks, data.occupations
    assert len(occ) == 923 and len(tasks) == 19265
    assert set(tasks["O*NET-SOC Code"]) == set(occ["O*NET-SOC Code"])
    assert set(tasks["Task Type"].dropna()) == {"Core", "Supplemental"}
    assert tasks["Task Type"].value_counts().to_dict() == {"Core": 13225, "Supplemental": 4728}
    assert tasks["Task Type"].isna().sum() == 1312
    # the two human-label columns of the task file are the same labels
    assert (tasks["human_exposure_agg"] == tasks["human_labels"]).all()


def test_released_labels_are_e0_e1_e2_only(data):
    for col in RATERS:
        assert set(data.tasks[col]) == {"E0", "E1", "E2"}


def test_occ_level_is_the_core_weighted_mean_of_the_task_labels(data):
    diff = max_abs_diff(rebuild(data.tasks, CORE_2_SUPPLEMENTAL_1), data.occupations)
    assert len(diff) == 6
    assert (diff < TOL).all(), f"largest differences per column: {diff.to_dict()}"


def test_equal_task_weights_do_not_reproduce_occ_level(data):
    diff = max_abs_diff(rebuild(data.tasks, EQUAL), data.occupations)
    assert (diff > 0.05).all(), f"equal weights came too close: {diff.to_dict()}"


@pytest.mark.parametrize("weights", [
    {"Core": 1.0, "Supplemental": 2.0, NO_TYPE: 1.0},
    {"Core": 2.0, "Supplemental": 1.0, NO_TYPE: 2.0},
    {"Core": 3.0, "Supplemental": 1.0, NO_TYPE: 1.0},
])
def test_other_weightings_do_not_reproduce_occ_level(data, weights):
    diff = max_abs_diff(rebuild(data.tasks, weights), data.occupations)
    assert (diff > 1e-3).all(), f"weights {weights} came too close: {diff.to_dict()}"


def test_chief_executives_step_of_one_fiftieth(data):
    """31 tasks, 19 core and 12 supplemental: total weight 2*19 + 12 = 50."""
    t = data.tasks[data.tasks["O*NET-SOC Code"] == "11-1011.00"]
    counts = t["Task Type"].value_counts().to_dict()
    assert len(t) == 31 and counts == {"Core": 19, "Supplemental": 12}
    assert task_weights(t, CORE_2_SUPPLEMENTAL_1).sum() == 50


def test_occupation_shares_at_one_half(data, text):
    occ = data.occupations
    ge = {m: (occ[f"human_rating_{m}"] >= 0.5).mean() for m in MEASURES}
    gt = {m: (occ[f"human_rating_{m}"] > 0.5).mean() for m in MEASURES}
    assert [f"{ge[m]:.1%}" for m in MEASURES] == ["2.3%", "21.6%", "47.3%"]
    assert [f"{gt[m]:.1%}" for m in MEASURES] == ["2.2%", "19.2%", "46.5%"]
    for number in ("2.3%", "21.6%", "47.3%"):
        assert number in text


def test_the_half_stored_below_one_half(data, text):
    """Data Entry Keyers: 5 core and 4 supplemental tasks, human beta exactly 1/2, stored 0.49999999999999994."""
    occ = data.occupations.set_index("O*NET-SOC Code")
    col = occ["human_rating_beta"]
    below = col[(col < 0.5) & (col > 0.5 - TOL)]
    assert list(below.index) == ["43-9021.00"]
    assert below.iloc[0] == np.nextafter(0.5, 0.0) and repr(float(below.iloc[0])) == "0.49999999999999994"
    t = data.tasks[data.tasks["O*NET-SOC Code"] == "43-9021.00"]
    weight = {"Core": Fraction(2), "Supplemental": Fraction(1)}
    value = {"E0": Fraction(0), "E1": Fraction(1), "E2": Fraction(1, 2)}
    num = sum(weight[k] * value[lab] for k, lab in zip(t["Task Type"], t["human_exposure_agg"]))
    den = sum(weight[k] for k in t["Task Type"])
    assert num / den == Fraction(1, 2)
    # counted as one half it would move the beta share from 199 to 200 of 923 occupations
    assert (col >= 0.5).sum() == 199 and (col >= 0.5 - TOL).sum() == 200
    assert "0.49999999999999994" in text and "Data Entry Keyers" in text


def test_the_page_states_the_weighting_and_no_tracker(text):
    assert "core task counts twice, a supplemental task (or one without a type) once" in text
    for phrase in ("the issue that", "not the plain mean of the task labels we have"):
        assert phrase not in text
