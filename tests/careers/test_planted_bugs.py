"""Planted bug: rebuilding occ_level.csv with equal task weights must fail the test that pins core = 2."""

import pytest

from aigc_lessons.careers import headline

from . import test_headline


def test_occupation_weights_equal_instead_of_core_2_is_caught(monkeypatch, data):
    monkeypatch.setattr(headline, "TASK_TYPE_WEIGHTS", {"Core": 1.0, "Supplemental": 1.0})
    with pytest.raises(AssertionError):
        test_headline.test_occupation_file_is_the_core_weighted_mean_of_the_task_labels(data)
