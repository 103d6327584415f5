"""Write each chapter's exercise notebook and exercise page from the registry in ``aigc_lessons.exercises``.

One source: the prompts, templates, checks and solutions live in ``aigc_lessons/exercises/``; this
script writes ``notebooks/exercises/chNN_exercises.ipynb`` (a template cell and a check cell per
exercise, committed without outputs) and ``book/<chapter>/exercises.md`` (the prompts, a link to the
notebook, each solution in a hidden dropdown). ``--check`` writes nothing and exits 1 when a committed
file differs from what the registry gives (a test runs it).

    python .ci/exercise_pages.py [--check]
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from aigc_lessons import exercises  # noqa: E402

#: chapter number -> its folder under book/ (``chNN_topic``)
CHAPTER_DIRS = {int(d.name[2:4]): d.name for d in (ROOT / "book").glob("ch[0-9][0-9]_*") if d.is_dir()}
CHAPTER_TITLES = {1: "the landscape", 2: "GANs", 3: "VAEs", 4: "attention and language models",
                  5: "generative AI and jobs", 6: "diffusion models"}
SETUP = """import torch
import torch.nn as nn
import torch.nn.functional as F

from aigc_lessons import exercises, runtime

Tensor = torch.Tensor
print(runtime.environment_summary())"""


def _cell(kind: str, source: str) -> dict:
    cell = {"cell_type": kind, "metadata": {}, "source": source.strip("\n").splitlines(keepends=True)}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def notebook(chapter: int) -> dict:
    exs = [ex for ex in exercises.all_exercises() if ex.chapter == chapter]
    page = f"book/{CHAPTER_DIRS[chapter]}/exercises"
    cells = [
        _cell("markdown", f"# Exercises of chapter {chapter}: {CHAPTER_TITLES[chapter]}\n\n"
                          "Each exercise gives you a function to complete. Write your code in its cell, run the cell, "
                          "then run the check cell below it: the check calls your function on small cases, compares "
                          "the answers with an independent reference, and tells you what is wrong (a shape, a value, "
                          "an identity that does not hold). Nothing here needs a GPU; every check runs in seconds.\n\n"
                          f"The worked solutions are on the chapter's exercise page ([{page}](../../{page}.md)), hidden "
                          "until you open them."),
        _cell("code", SETUP),
    ]
    for ex in exs:
        cells.append(_cell("markdown", f"## Exercise {ex.key}: {ex.title} ({ex.level})\n\n{ex.prompt}\n\n"
                                       f"Read first: {ex.background}."))
        if ex.setup:
            cells.append(_cell("code", ex.setup))
        cells.append(_cell("code", inspect.getsource(ex.template)))
        cells.append(_cell("code", f'exercises.check("{ex.key}", {ex.name});'))
    keys = ", ".join(f'"{ex.key}"' for ex in exs)
    names = ", ".join(ex.name for ex in exs)
    cells.append(_cell("markdown", "## Your score\n\nThe cell below runs every check of this notebook again and "
                                   "shows each exercise's verdict: passed, or not yet."))
    cells.append(_cell("code", f"for key, fn in zip([{keys}], [{names}]):\n    exercises.check(key, fn)"))
    for i, cell in enumerate(cells):  # stable cell ids (nbformat 4.5), so a rewrite changes no id
        cell["id"] = f"ch{chapter:02d}-{i:02d}"
    return {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                        "name": "python3"},
                                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def page(chapter: int) -> str:
    exs = [ex for ex in exercises.all_exercises() if ex.chapter == chapter]
    nb = f"../../notebooks/exercises/ch{chapter:02d}_exercises"
    lines = [f"(ch{chapter:02d}-exercises)=",
             f"# Exercises with checks",
             "",
             "<!-- Written by .ci/exercise_pages.py from aigc_lessons/exercises/; edit those, not this page. -->",
             "",
             f"Each exercise below is a function to complete in {{doc}}`the chapter's exercise notebook <{nb}>`; "
             "its check cell runs your function on small cases against an independent reference and says what is "
             "wrong. The levels: *warm-up* (minutes, one idea), *core* (the chapter's main technique), *stretch* "
             "(combines several ideas). Try each before opening its solution.",
             ""]
    for ex in exs:
        sol = f"/aigc_lessons/exercises/solutions/ch{chapter:02d}.py"
        start = "/" + Path(inspect.getsourcefile(ex.template)).resolve().relative_to(ROOT).as_posix()
        lines += [f"## {ex.key} {ex.title} ({ex.level})", "", ex.prompt, "", f"Read first: {ex.background}.", "",
                  "The starting code, as in the notebook:", "",
                  f"```{{literalinclude}} {start}",  # the template cell of the notebook, from the same source
                  ":language: python",
                  f":pyobject: {ex.template.__name__}",
                  "```", "",
                  f"The function to write: `{ex.name}`; its check: `exercises.check(\"{ex.key}\", {ex.name})`.", "",
                  ":::{dropdown} Solution",
                  f"```{{literalinclude}} {sol}",
                  ":language: python",
                  f":pyobject: {ex.name}",
                  "```",
                  ":::", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for chapter in exercises.CHAPTERS:
        files = {ROOT / "notebooks" / "exercises" / f"ch{chapter:02d}_exercises.ipynb":
                 json.dumps(notebook(chapter), indent=1, ensure_ascii=False) + "\n",
                 ROOT / "book" / CHAPTER_DIRS[chapter] / "exercises.md": page(chapter)}
        for path, text in files.items():
            if path.is_file() and path.read_text(encoding="utf-8") == text:
                continue
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print("out of date (run python .ci/exercise_pages.py):", ", ".join(map(str, stale)))
        return 1
    print(f"exercise notebooks and pages: {len(stale)} written" if not args.check else "exercise files are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
