"""Each of the chapter's mistakes: its symptom measured, and the fix removing it."""

import pytest

from aigc_lessons import diffusion
from aigc_lessons.mistakes import MistakeReport


def test_mistake_alpha_bar_off_by_one():
    r = diffusion.mistake_alpha_bar_off_by_one(n=1000)
    assert isinstance(r, MistakeReport)
    assert r.symptom["high_quality"] < 0.5 and r.fixed["high_quality"] > 0.97
    assert r.symptom["median_distance_over_sigma"] > 3 * r.fixed["median_distance_over_sigma"]
    # with T = 1000 the same slip is much smaller, but still measurable
    assert r.details["T=1000 wrong"]["median_distance_over_sigma"] > r.details["T=1000 fixed"]["median_distance_over_sigma"]


def test_mistake_marginal_with_beta():
    r = diffusion.mistake_marginal_with_beta(n=1000)
    assert r.symptom["signal_coefficient_at_T"] > 0.98 and r.fixed["signal_coefficient_at_T"] < 0.01
    assert r.symptom["kl_x_T_to_prior_nats"] > 0.2 and r.fixed["kl_x_T_to_prior_nats"] < 0.02
    # the perfect model of the mistaken training snaps every sample onto a centre: the spread is lost
    assert r.symptom["median_distance_over_sigma"] < 0.2 < r.fixed["median_distance_over_sigma"]


def test_mistake_noise_at_last_step():
    r = diffusion.mistake_noise_at_last_step(n=1000)
    assert r.symptom["high_quality"] < 0.7 and r.fixed["high_quality"] > 0.97
    assert r.symptom["median_distance_over_sigma"] > 2 * r.fixed["median_distance_over_sigma"]
    assert r.details["T=1000 wrong"]["median_distance_over_sigma"] > r.details["T=1000 fixed"]["median_distance_over_sigma"]


def test_mistake_unit_range_images(digits):
    r = diffusion.mistake_unit_range_images(digits[0][:64], n=16, steps=10)
    assert r.symptom["median_pixel"] >= 0.45 and r.symptom["share_dark_pixels"] < 0.05
    assert r.fixed["median_pixel"] < 0.05 and r.fixed["share_dark_pixels"] > 0.6
    assert abs(r.fixed["mean_pixel"] - r.details["real"]["mean_pixel"]) < 0.05
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        diffusion.mistake_unit_range_images(digits[0].reshape(-1, 784))


def test_mistake_schedule_mismatch():
    r = diffusion.mistake_schedule_mismatch(n=1000)
    assert r.symptom["modes_covered"] <= 4 and r.symptom["high_quality"] < 0.2
    assert r.fixed["modes_covered"] == 8 and r.fixed["high_quality"] > 0.97
