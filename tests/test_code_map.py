"""The code map (.ci/code_map.py -> book/api/code_map.md): each concept's sentence renders as Markdown."""

import re

from .ci_scripts import load_script

code_map = load_script(".ci/code_map.py")


def test_docstring_roles_become_markdown():
    def f():
        """Penalty :math:`\\lVert x \\rVert^2` of a :class:`~pkg.GanLoss` made by :func:`get_loss`; more."""

    assert code_map.concept(f) == "Penalty $\\lVert x \\rVert^2$ of a `pkg.GanLoss` made by `get_loss`."


def test_the_generated_page_shows_no_rest_role():
    page = code_map.render(code_map.collect())
    assert page.count("\n| ") > 50, "the code map has a row per linked object"
    left = re.findall(r":(?:math|class|func|meth|attr|obj|data|mod|exc):`", page)
    assert not left, f"{len(left)} reST roles would show as their source on the page"


def test_a_long_formula_is_cut_before_its_top_level_equals_and_plus_signs():
    """Inline math never wraps, so one long docstring formula set the width of a whole column of the map: a long
    formula is cut into pieces before each ``=`` and ``+`` outside brackets; short ones, signs inside brackets
    and relations such as ``\\le`` stay whole, and the pieces keep the operator's spacing."""
    cut = code_map.breakable_math(r"V(D,G) = \int p_{data}\log D + p_g\log(1-D)")
    assert cut == r"$V(D,G)$ ${}= \int p_{data}\log D$ ${}+ p_g\log(1-D)$"
    assert code_map.breakable_math("x = y + z") == "$x = y + z$"
    assert code_map.breakable_math(r"f(a = b, c + d) \sum_{i=1}^{n+1} x_i \le yyyyyyy") == \
        r"$f(a = b, c + d) \sum_{i=1}^{n+1} x_i \le yyyyyyy$"
    assert code_map.breakable_math(r"a <= b = cccccccccccccccccccccccccccccc") == r"$a <= b$ ${}= cccccccccccccccccccccccccccccc$"
