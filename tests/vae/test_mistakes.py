"""The chapter's three common mistakes (book/ch03_vae/mistakes.md): each symptom and each fix, pinned."""

from __future__ import annotations

import pytest

from aigc_lessons import calibrate, mistakes, vae


@pytest.fixture(scope="module")
def data():
    return vae.mistake_data(n_train=5000, n_eval=500)


def check_report(report) -> None:
    """Every mistake returns the one shared report type, with both training histories in ``details``."""
    assert isinstance(report, mistakes.MistakeReport) and vae.MistakeReport is mistakes.MistakeReport
    assert report.name and report.cause and set(report.symptom) == set(report.fixed)
    assert {"wrong_history", "fixed_history"} <= set(report.details)
    assert list(report.table().columns) == ["symptom", "fixed"]


def test_kl_with_the_wrong_sign(data):
    metrics, objects = calibrate.run_unit("unit-vae-kl-sign", 0, data=data)  # mistake_kl_sign(steps=150, seed=0)
    report = objects["report"]
    check_report(report)
    wrong, fixed = report.symptom, report.fixed
    assert report.details["fixed_history"]["step"] == [150]  # one log: the losses are means over all 150 steps
    # Symptom: a negative "negative log-likelihood" (impossible for binary data) and an exploding KL.
    calibrate.assert_checks("unit-vae-kl-sign", metrics, "quick",
                            only=["wrong_final_train_loss", "wrong_kl_nats", "wrong_over_fixed_kl",
                                  "wrong_over_fixed_mean_abs_mu", "wrong_minus_fixed_reconstruction_nats"])
    # Fix: a positive loss, a KL of a few nats.
    assert fixed["final_train_loss"] > 0 and fixed["kl_nats"] > 0  # a negative ELBO of binary data and a KL
    calibrate.assert_checks("unit-vae-kl-sign", metrics, "quick", only=["fixed_final_train_loss", "fixed_kl_nats"])


def test_mean_squared_error_with_an_arbitrary_weight(data):
    metrics, objects = calibrate.run_unit("unit-vae-mse", 0, data=data)  # mistake_mse_reconstruction(steps=200)
    report = objects["report"]
    check_report(report)
    # Symptom: posterior collapse (no KL, no active unit), every reconstruction the same blob; the model did
    # train, to the average digit (an untrained one, which also has no KL and no spread, reconstructs far worse).
    calibrate.assert_checks("unit-vae-mse", metrics, "quick",
                            only=["wrong_kl_nats", "wrong_active_units", "wrong_reconstruction_spread",
                                  "wrong_reconstruction_nats"])
    # Fix: the Bernoulli likelihood uses the latent code, and reconstructs 50 nats and more better.
    calibrate.assert_checks("unit-vae-mse", metrics, "quick",
                            only=["fixed_active_units", "fixed_kl_nats", "fixed_reconstruction_spread",
                                  "wrong_minus_fixed_reconstruction_nats"])


def test_sampling_without_reparameterization(data):
    metrics, objects = calibrate.run_unit("unit-vae-reparam", 0, data=data)  # mistake_no_reparameterization(150)
    report = objects["report"]
    check_report(report)
    wrong, fixed = report.symptom, report.fixed
    # Symptom: not a single bit of the reconstruction gradient reaches the encoder's mean or variance.
    assert wrong["grad_norm_mu"] == 0.0 and wrong["grad_norm_logvar"] == 0.0
    assert fixed["grad_norm_mu"] > 1e-3 and fixed["grad_norm_logvar"] > 1e-3
    # ... so only the KL trains the encoder and it collapses onto the prior; the fixed one uses its code.
    calibrate.assert_checks("unit-vae-reparam", metrics, "quick")
