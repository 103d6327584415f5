"""The chapter's common mistakes (a)-(c), each pinned by its symptom and its fix.

Mistake (d), reading D(x) as the data density, shares the trained discriminator of
tests/test_gan_theory.py and is pinned there (test_mistake_d_reading_d_as_density).
"""

import pytest

from aigc_lessons import gan


def test_mistake_a_generator_step_on_detached_fake():
    report = gan.mistake_detached_fake(steps=10)
    assert report.symptom["generator_weight_change"] == 0.0  # not small: exactly zero
    assert report.symptom["generator_got_gradient"] is False
    assert report.fixed["generator_weight_change"] > 1e-3
    assert report.fixed["generator_got_gradient"] is True


def test_mistake_b_seven_by_seven_generator():
    report = gan.mistake_wrong_output_size(z_dim=16, channels=8)
    assert report.symptom["generator_output_shape"] == (4, 1, 7, 7)
    assert "mat1 and mat2" in report.symptom["raw_error"]  # torch's message names neither network
    assert "(1, 7, 7)" in report.symptom["check_shapes_error"]
    assert "(1, 28, 28)" in report.symptom["check_shapes_error"]
    assert report.fixed["check_shapes"] == (1, 28, 28)


@pytest.fixture(scope="module")
def max_max():
    return gan.mistake_max_over_both_players(steps=300)


def test_mistake_c_max_over_both_players(max_max):
    bug, fix = max_max.symptom, max_max.fixed
    # the generator helps the discriminator: D(G(z)) collapses to 0 and D's loss to 0 ...
    assert bug["mean_D_of_G_z"] < 0.05 and bug["mean_d_loss"] < 0.1
    # ... and the samples leave the data instead of approaching it
    assert bug["high_quality"] < 0.01 and abs(bug["mean_sample_radius"] - 2.0) > 1.0
    # with the correct sign the game stays contested and samples reach the ring
    assert fix["mean_D_of_G_z"] > 0.2 and fix["high_quality"] > bug["high_quality"]
    assert abs(fix["mean_sample_radius"] - 2.0) < 0.5
