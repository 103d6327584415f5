"""The chapter's common mistakes (a)-(d), each pinned by its symptom and its fix.

Mistake (d), reading D(x) as the data density, uses the trained discriminator of conftest.py that
test_theory.py checks against D*.
"""

import pytest
import torch

from aigc_lessons import gan
from aigc_lessons.mistakes import MistakeReport


def test_mistake_a_generator_step_on_detached_fake():
    report = gan.mistake_detached_fake(steps=10)
    assert isinstance(report, MistakeReport)
    assert report.symptom["generator_weight_change"] == 0.0  # not small: exactly zero
    assert report.symptom["generator_got_gradient"] is False
    assert report.fixed["generator_weight_change"] > 1e-3
    assert report.fixed["generator_got_gradient"] is True


def test_mistake_b_seven_by_seven_generator():
    report = gan.mistake_wrong_output_size(z_dim=16, channels=8)
    assert isinstance(report, MistakeReport)
    assert report.symptom["generator_output_shape"] == (4, 1, 7, 7)
    assert "mat1 and mat2" in report.symptom["raw_error"]  # torch's message names neither network
    assert "(1, 7, 7)" in report.symptom["check_shapes_error"]
    assert "(1, 28, 28)" in report.symptom["check_shapes_error"]
    assert report.fixed["check_shapes"] == (1, 28, 28)


@pytest.fixture(scope="module")
def max_max():
    return gan.mistake_max_over_both_players(steps=300)


def test_mistake_c_max_over_both_players(max_max):
    assert isinstance(max_max, MistakeReport)
    bug, fix = max_max.symptom, max_max.fixed
    # the generator helps the discriminator: D(G(z)) collapses to 0 and D's loss to 0 ...
    assert bug["mean_D_of_G_z"] < 0.05 and bug["mean_d_loss"] < 0.1
    # ... and the samples leave the data instead of approaching it
    assert bug["high_quality"] < 0.01 and abs(bug["mean_sample_radius"] - 2.0) > 1.0
    # with the correct sign the game stays contested and samples reach the ring
    assert fix["mean_D_of_G_z"] > 0.2 and fix["high_quality"] > bug["high_quality"]
    assert abs(fix["mean_sample_radius"] - 2.0) < 0.5
    # the curves behind the numbers, for the notebook
    for variant, numbers in (("buggy", bug), ("fixed", fix)):
        curves = max_max.details[variant]
        assert len(curves["d_fake"]) == len(curves["d_loss"]) == 300
        assert curves["samples"].norm(dim=1).mean().item() == pytest.approx(numbers["mean_sample_radius"])


def test_mistake_d_reading_d_as_density(trained_d):
    report = gan.mistake_d_as_density(trained_d)
    assert isinstance(report, MistakeReport)
    s, f = report.symptom, report.fixed
    # symptom: D is largest far in the left tail (where p_g is thin), not at the data's mode 0
    assert abs(s["argmax_D"] - s["argmax_p_data"]) > 2.0
    assert s["corr_D_p_data"] < 0.6
    # fix: p_data = p_g D / (1 - D) recovers the density where the generator has mass
    assert f["max_rel_error_recovered_density"] < 0.3
    assert torch.equal(report.details["d_learned"], trained_d.d_learned)
