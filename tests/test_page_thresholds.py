"""The thresholds that the GAN, VAE and transformer chapters' pages quote for their tests are the thresholds the tests assert.

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
    ("book/ch03_vae/mistakes.md", "the test requires more than 1,000 nats", "unit-vae-kl-sign", "wrong_kl_nats", ">", 1e3),
    ("book/ch03_vae/mistakes.md", "over 100 times the correct model's KL", "unit-vae-kl-sign", "wrong_over_fixed_kl",
     ">", 100.0),
    ("book/ch03_vae/mistakes.md", "the test requires ten times the correct model's average $|\\mu|$",
     "unit-vae-kl-sign", "wrong_over_fixed_mean_abs_mu", ">", 10.0),
    ("book/ch03_vae/mistakes.md", "The reported loss becomes *negative*", "unit-vae-kl-sign", "wrong_final_train_loss",
     "<", 0.0),
    ("book/ch03_vae/mistakes.md", "the test requires below 0.5 nats", "unit-vae-mse", "wrong_kl_nats", "<", 0.5),
    ("book/ch03_vae/mistakes.md", "not one latent unit is active", "unit-vae-mse", "wrong_active_units", "<", 1),
    ("book/ch03_vae/mistakes.md", "(reconstruction spread below 0.1)", "unit-vae-mse", "wrong_reconstruction_spread",
     "<", 0.1),
    ("book/ch03_vae/mistakes.md", "uses eight or more units", "unit-vae-mse", "fixed_active_units", ">=", 8),
    ("book/ch03_vae/mistakes.md", "(reconstruction spread above 5)", "unit-vae-mse", "fixed_reconstruction_spread",
     ">", 5.0),
    ("book/ch03_vae/mistakes.md", "with a Bernoulli reconstruction error over 50 nats lower",
     "unit-vae-mse", "wrong_minus_fixed_reconstruction_nats", ">", 50.0),
    ("book/ch04_transformers/mistakes.md", "the leaky model's training loss is below half of the causal model's",
     "unit-lm-causal-mask", "leaky_over_causal_train_loss", "<", 0.5),
    ("book/ch04_transformers/mistakes.md", "its prefix-only loss is higher by more than 0.3 nats",
     "unit-lm-causal-mask", "leaky_minus_causal_prefix_loss", ">", 0.3),
]


@pytest.mark.parametrize("page, phrase, check, metric, op, value", CLAIMS, ids=[f"{c[2]}:{c[3]}" for c in CLAIMS])
def test_the_page_states_the_threshold_its_test_asserts(page, phrase, check, metric, op, value):
    text = " ".join((ROOT / page).read_text(encoding="utf-8").split())
    assert phrase in text, f"{page} no longer says {phrase!r}"
    threshold = UNIT_CHECKS[check]["quick"][metric]
    assert (threshold.op, threshold.value) == (op, value), (
        f"{page} says {phrase!r}, but {check}.{metric} asserts {threshold.op} {threshold.value}: update the page")
