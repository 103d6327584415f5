"""Fixtures shared by the GAN chapter's test files."""

import pytest

from aigc_lessons import calibrate


@pytest.fixture(scope="session")
def unit_disc1d():
    """The quick-mode 1-D discriminator, trained by the calibrated ``unit-gan-disc1d`` run at seed 0:
    ``(metrics, objects)``; its thresholds are ``calibrate.CHECKS["unit-gan-disc1d"]``."""
    return calibrate.run_unit("unit-gan-disc1d", 0)


@pytest.fixture(scope="session")
def trained_d(unit_disc1d):
    """The quick-mode 1-D discriminator: checked against D* in test_theory, read as a density in test_mistakes."""
    return unit_disc1d[1]["result"]
