"""The thresholds that the GAN chapter's pages quote for their tests are the thresholds the tests assert.

``aigc_lessons.calibrate_units.UNIT_CHECKS`` holds the unit tests' thresholds, set from measurements over seeds
and floating-point paths; recalibrating one changes what a test asserts, and the page that states it must change
with it. Each row below is a phrase of a page, with the check, the metric and the comparison it states.
"""

from pathlib import Path

import pytest

from aigc_lessons.calibrate_units import UNIT_CHECKS

ROOT = Path(__file__).resolve().parent.parent

#: (page, phrase on the page, unit check, metric, comparison, value as the page states it)
CLAIMS = [
    ("book/ch02_gan/mistakes.md", "with the fix they get gradients and move by more than 1",
     "unit-gan-detached-fake", "fixed_generator_weight_change", ">", 1.0),
    ("book/ch02_gan/mistakes.md", "the mean $D(G(z))$ over the last 50 steps is below 0.05",
     "unit-gan-max-max", "buggy_mean_d_of_g_z", "<", 0.05),
    ("book/ch02_gan/mistakes.md", "the discriminator loss below 0.1", "unit-gan-max-max", "buggy_mean_d_loss", "<", 0.1),
    ("book/ch02_gan/mistakes.md", "stays more than 1 away from the ring's radius 2",
     "unit-gan-max-max", "buggy_radius_gap", ">", 1.0),
    ("book/ch02_gan/mistakes.md", "with the fix $D(G(z))$ stays above 0.2", "unit-gan-max-max", "fixed_mean_d_of_g_z",
     ">", 0.2),
    ("book/ch02_gan/mistakes.md", "the samples' mean distance from the origin is within 0.6 of 2",
     "unit-gan-max-max", "fixed_radius_gap", "<", 0.6),
    ("book/ch02_gan/mistakes.md", "more than two units from the data's mode at 0",
     "unit-gan-disc1d", "argmax_d_distance_from_data_mode", ">", 2.0),
    ("book/ch02_gan/mistakes.md", "its correlation with $p_{data}$ over the range is below 0.4",
     "unit-gan-disc1d", "corr_d_p_data", "<", 0.4),
    ("book/ch02_gan/math.md", "ends within **0.05** of $D^*$ at every grid point",
     "unit-gan-disc1d", "max_abs_error_vs_d_star", "<", 0.05),
    ("book/ch02_gan/math.md", "and within 0.015 on average under that mixture",
     "unit-gan-disc1d", "weighted_abs_error_vs_d_star", "<", 0.015),
]


@pytest.mark.parametrize("page, phrase, check, metric, op, value", CLAIMS, ids=[f"{c[2]}:{c[3]}" for c in CLAIMS])
def test_the_page_states_the_threshold_its_test_asserts(page, phrase, check, metric, op, value):
    text = " ".join((ROOT / page).read_text(encoding="utf-8").split())
    assert phrase in text, f"{page} no longer says {phrase!r}"
    threshold = UNIT_CHECKS[check]["quick"][metric]
    assert (threshold.op, threshold.value) == (op, value), (
        f"{page} says {phrase!r}, but {check}.{metric} asserts {threshold.op} {threshold.value}: update the page")
