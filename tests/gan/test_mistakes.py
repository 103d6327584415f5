"""The chapter's common mistakes (a)-(d), each pinned by its symptom and its fix.

Mistake (d), reading D(x) as the data density, uses the trained discriminator of conftest.py that
test_theory.py checks against D*.
"""

import pytest
import torch

from aigc_lessons import calibrate, gan
from aigc_lessons.mistakes import MistakeReport


def test_mistake_a_generator_step_on_detached_fake():
    """``gan.mistake_detached_fake`` through its calibrated run ``unit-gan-detached-fake``."""
    metrics, objects = calibrate.run_unit("unit-gan-detached-fake", 0)  # 10 steps of each variant
    report = objects["report"]
    assert isinstance(report, MistakeReport)
    assert report.symptom["generator_weight_change"] == 0.0  # not small: exactly zero
    assert report.symptom["generator_got_gradient"] is False
    # the fixed step moves G by more than 1 in L2 (1.34-1.54 in the calibrated runs), not merely a little
    calibrate.assert_checks("unit-gan-detached-fake", metrics, "quick")
    assert report.fixed["generator_got_gradient"] is True


def test_mistake_b_seven_by_seven_generator():
    report = gan.mistake_wrong_output_size(z_dim=16, channels=8)
    assert isinstance(report, MistakeReport)
    assert report.symptom["generator_output_shape"] == (4, 1, 7, 7)
    assert "mat1 and mat2" in report.symptom["raw_error"]  # torch's message names neither network
    assert "(1, 7, 7)" in report.symptom["check_shapes_error"]
    assert "(1, 28, 28)" in report.symptom["check_shapes_error"]
    assert report.fixed["check_shapes"] == (1, 28, 28)


def test_stride_one_upsampling_is_as_wrong_as_none():
    """The mistakes page: with stride 1 in the two upsampling layers (kernel 4, padding 1) each adds one pixel,
    7 -> 8 -> 9, and the discriminator's linear layer gets 2c*2*2 features where it expects 2c*7*7."""
    c = 8
    G, D = gan.DCGenerator(16, c), gan.DCDiscriminator(c)
    ups = [m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(ups) == 2
    for m in ups:
        m.stride = (1, 1)
    with torch.no_grad():
        out = G(torch.randn(4, 16))
        assert tuple(out.shape) == (4, 1, 9, 9)
        features = D.net[:-1](out)  # everything before the final linear layer
    assert features.shape[1] == 2 * c * 2 * 2 and D.net[-1].in_features == 2 * c * 7 * 7
    with pytest.raises(gan.ShapeMismatchError, match=r"\(1, 9, 9\)"):
        gan.check_shapes(G, D, 16)


@pytest.fixture(scope="module")
def unit_max_max():
    """300 steps with each objective: the calibrated ``unit-gan-max-max`` run at seed 0."""
    return calibrate.run_unit("unit-gan-max-max", 0)


def test_mistake_c_max_over_both_players(unit_max_max):
    """``gan.mistake_max_over_both_players`` through its calibrated run ``unit-gan-max-max``."""
    metrics, objects = unit_max_max
    max_max = objects["report"]
    assert isinstance(max_max, MistakeReport)
    bug, fix = max_max.symptom, max_max.fixed
    # the generator helps the discriminator: D(G(z)) collapses to 0 and D's loss to 0 ...
    calibrate.assert_checks("unit-gan-max-max", metrics, "quick", only=["buggy_mean_d_of_g_z", "buggy_mean_d_loss"])
    # ... and although the generator trains (its samples move: a frozen or untrained one fails this), they never
    # reach the data (not one in a hundred is high-quality, their mean radius stays far from the ring's)
    assert metrics["buggy_high_quality_samples"] == round(bug["high_quality"] * 2500)
    calibrate.assert_checks("unit-gan-max-max", metrics, "quick",
                            only=["buggy_sample_shift", "buggy_high_quality_samples", "buggy_radius_gap"])
    # with the correct sign the game stays contested and the samples reach the ring (after 300 steps few of
    # them are high-quality yet: on some seeds none, so the check is their mean radius)
    calibrate.assert_checks("unit-gan-max-max", metrics, "quick", only=["fixed_mean_d_of_g_z", "fixed_radius_gap"])
    # the curves behind the numbers, for the notebook
    for variant, numbers in (("buggy", bug), ("fixed", fix)):
        curves = max_max.details[variant]
        assert len(curves["d_fake"]) == len(curves["d_loss"]) == 300
        assert curves["samples"].norm(dim=1).mean().item() == pytest.approx(numbers["mean_sample_radius"])


def test_mistake_d_reading_d_as_density(trained_d, unit_disc1d):
    metrics, objects = unit_disc1d
    report = objects["report"]
    assert isinstance(report, MistakeReport)
    assert report.symptom == gan.mistake_d_as_density(trained_d).symptom
    # symptom: D is largest far in the left tail (where p_g is thin), not at the data's mode 0 (the untrained
    # D of seed 0 peaks at -1.1), and it correlates with p_data about as weakly as D* does (0.32)
    calibrate.assert_checks("unit-gan-disc1d", metrics, "quick",
                            only=["argmax_d_distance_from_data_mode", "corr_d_p_data"])
    # fix: p_data = p_g D / (1 - D) recovers the density where the generator has mass
    calibrate.assert_checks("unit-gan-disc1d", metrics, "quick", only=["max_rel_error_recovered_density"])
    assert torch.equal(report.details["d_learned"], trained_d.d_learned)
