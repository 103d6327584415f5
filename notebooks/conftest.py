"""Keep what the notebooks produced under ``make test`` (nbval), so the chapter slides can show their figures.

nbval runs every code cell in a kernel and compares nothing (``--nbval-lax``), then forgets the outputs. After
each cell this hook stores them on the cell; when every cell of a notebook has passed, the notebook is written,
outputs included, to ``_build/executed/notebooks/`` (same sub-folders). ``.ci/slides.py`` takes the figures from there or from
``make book``'s ``_build/jupyter_execute/``, whichever is newer, and ``make test``'s book check renders them
(``.ci/stage_check.py``), so the browser test sees the figures. The notebooks in the repository stay clean.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "_build" / "executed" / "notebooks"
_notebooks: dict[str, list] = {}  # notebook path -> [nbval's parsed notebook, all cells passed so far]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when != "call" or not hasattr(item, "test_outputs") or not hasattr(item.parent, "nb"):
        return
    entry = _notebooks.setdefault(str(item.parent.fspath), [item.parent.nb, True])
    if item.test_outputs is not None:
        item.cell.outputs = item.test_outputs
    entry[1] = entry[1] and outcome.get_result().passed


def pytest_sessionfinish(session):
    for path, (nb, passed) in _notebooks.items():
        target = OUT / Path(path).resolve().relative_to(HERE)
        if passed:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            nbformat.write(nb, str(tmp))
            tmp.replace(target)
        else:
            target.unlink(missing_ok=True)  # never keep the figures of an older, passing run as if current
