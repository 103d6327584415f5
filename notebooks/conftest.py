"""Keep what the notebooks produced under ``make test`` (nbval), so the chapter slides can show their figures.

nbval runs every code cell in a kernel and compares nothing (``--nbval-lax``), then forgets the outputs. After
each cell this hook stores them on the cell; when every cell of a notebook has passed, the notebook is written,
outputs included, to ``_build/executed/notebooks/`` (same sub-folders). ``.ci/slides.py`` takes the figures from there or from
``make book``'s ``_build/jupyter_execute/``, whichever is newer, and ``make test``'s book check renders them
(``.ci/stage_check.py``), so the browser test sees the figures. The notebooks in the repository stay clean.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "_build" / "executed" / "notebooks"
_notebooks: dict[str, list] = {}  # notebook path -> [nbval's parsed notebook, all cells passed so far]
_seconds: dict[str, float] = {}  # notebook path -> seconds its cells took to run (setup, which starts the kernel, too)

#: The chapter pages promise that each notebook runs in "about three minutes or less on two CPU cores" in quick mode.
QUICK_MINUTES = 3


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if not hasattr(item.parent, "nb"):
        return
    _seconds[str(item.parent.fspath)] = _seconds.get(str(item.parent.fspath), 0.0) + call.duration
    if call.when != "call" or not hasattr(item, "test_outputs"):
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


def pytest_terminal_summary(terminalreporter):
    """How long each notebook took, against the chapters' promise: a reader (and an instructor planning a lab) can
    compare their machine with the book's two-core reference."""
    if not _seconds:
        return
    write = terminalreporter.write_line
    write(f"notebook run times ({os.environ.get('AIGC_MODE', 'auto')} mode, {os.cpu_count()} CPUs here; the chapters "
          f"promise about {QUICK_MINUTES} minutes or less per notebook on two CPU cores in quick mode):")
    for path, seconds in sorted(_seconds.items(), key=lambda kv: -kv[1]):
        name = Path(path).resolve().relative_to(HERE).as_posix()
        over = "  (over the promise)" if seconds > 60 * QUICK_MINUTES * 1.2 else ""
        write(f"  {seconds:7.1f} s  {name}{over}")
