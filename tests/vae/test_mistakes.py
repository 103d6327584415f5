"""The chapter's three common mistakes (book/ch03_vae/mistakes.md): each symptom and each fix, pinned."""

from __future__ import annotations

import pytest

from aigc_lessons import mistakes, vae


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
    report = vae.mistake_kl_sign(steps=150, data=data)
    check_report(report)
    wrong, fixed = report.symptom, report.fixed
    # Symptom: a negative "negative log-likelihood" (impossible for binary data) and an exploding KL.
    assert wrong["final_train_loss"] < 0
    assert wrong["kl_nats"] > 1e3 and wrong["kl_nats"] > 100 * fixed["kl_nats"]
    assert wrong["mean_abs_mu"] > 10 * fixed["mean_abs_mu"]
    assert wrong["reconstruction_nats"] > fixed["reconstruction_nats"]
    # Fix: a positive loss, a KL of a few nats.
    assert 0 < fixed["final_train_loss"] < 300 and 0 < fixed["kl_nats"] < 50


def test_mean_squared_error_with_an_arbitrary_weight(data):
    report = vae.mistake_mse_reconstruction(steps=200, data=data)
    check_report(report)
    wrong, fixed = report.symptom, report.fixed
    # Symptom: posterior collapse, every reconstruction the same blob.
    assert wrong["kl_nats"] < 0.5 and wrong["active_units"] == 0
    assert wrong["reconstruction_spread"] < 0.1
    # Fix: the Bernoulli likelihood uses the latent code.
    assert fixed["active_units"] >= 8 and fixed["kl_nats"] > 2 and fixed["reconstruction_spread"] > 5
    assert fixed["reconstruction_nats"] < wrong["reconstruction_nats"] - 50


def test_sampling_without_reparameterization(data):
    report = vae.mistake_no_reparameterization(steps=150, data=data)
    check_report(report)
    wrong, fixed = report.symptom, report.fixed
    # Symptom: not a single bit of the reconstruction gradient reaches the encoder's mean or variance.
    assert wrong["grad_norm_mu"] == 0.0 and wrong["grad_norm_logvar"] == 0.0
    assert fixed["grad_norm_mu"] > 1e-3 and fixed["grad_norm_logvar"] > 1e-3
    # ... so only the KL trains the encoder and it collapses onto the prior.
    assert wrong["kl_nats"] < 0.5 and wrong["active_units"] == 0
    assert fixed["active_units"] >= 8
