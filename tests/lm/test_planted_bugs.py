"""Planted bug: the unigram format rate off by a constant factor must fail the test named after its formula.

The test once asserted only ``0 < r < 1e-6``, which a wrong formula also satisfies.
"""

import pytest

from aigc_lessons import lm

from . import test_poems


def test_unigram_rate_off_by_a_factor_is_caught(monkeypatch, tang):
    true = lm.unigram_format_rate
    monkeypatch.setattr(lm, "unigram_format_rate", lambda splits: 1.5 * true(splits))
    with pytest.raises(AssertionError):
        test_poems.test_unigram_format_rate_is_the_product_of_frequencies(tang)
