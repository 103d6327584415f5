"""Fixtures shared by the GAN chapter's test files."""

import pytest

from aigc_lessons import gan


@pytest.fixture(scope="session")
def trained_d():
    """The quick-mode 1-D discriminator: checked against D* in test_theory, read as a density in test_mistakes."""
    return gan.train_discriminator_1d(gan.Disc1DConfig.for_mode("quick"))
