"""Planted bugs: the test named after a formula must fail when that formula is wrong.

``test_the_optimal_discriminator_maximises_the_value`` once perturbed whatever D it was given, so it
passed with a wrong D*. Here the bug is planted again and the real test must raise. (Mutation testing,
``make mutants``, covers the operators of these modules; this case keeps one bug by name.)
"""

import pytest

from aigc_lessons import gan

from . import test_theory
from .test_theory import grid  # noqa: F401 - a fixture


def test_optimal_discriminator_with_a_wrong_weight_is_caught(monkeypatch, grid):  # noqa: F811
    monkeypatch.setattr(gan, "optimal_discriminator", lambda p_data, p_g: p_data / (p_data + 0.9 * p_g))
    with pytest.raises(AssertionError):
        test_theory.test_the_optimal_discriminator_maximises_the_value(grid)
