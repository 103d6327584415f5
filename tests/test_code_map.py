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
