"""Generate the book's code map (book/api/code_map.md) from the pages, the package and the tests.

A row for every package object that a page links with a ``{py:...}`` role: the concept (the first
sentence of its docstring), the pages that name it, the object itself, and the test files that call
it. Nothing in the table is typed by hand, so it cannot drift from the code; ``make book`` and
``make book-check`` run this first. ``--check`` exits 1 when a linked object has no test.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "book" / "_ext")]
from api_links import lookup  # noqa: E402 - the book's own resolver of dotted names
ROLE = re.compile(r"\{py:(?:func|class|meth|obj|data|attr)\}`(?:[^`<]*<)?~?(aigc_lessons\.[\w.]+)>?`")
CHAPTER_ORDER = ["bigram", "gan", "vae", "attention", "lm", "careers", "diffusion"]


SPHINX_ROLE = re.compile(r":(math|class|func|meth|attr|obj|data|mod|exc):`~?([^`]+)`")


def myst_roles(text: str) -> str:
    """reST roles of a docstring in MyST: ``:math:`x``` becomes ``$x$``, a cross-reference role plain code
    (the page renders Markdown, where a reST role would show as its source)."""
    return SPHINX_ROLE.sub(lambda m: breakable_math(m[2]) if m[1] == "math" else f"`{m[2]}`", text)


def breakable_math(tex: str, longer_than: int = 30) -> str:
    """``$tex$`` for the page, cut before each top-level ``=`` and ``+`` of a long formula into pieces that a table
    cell may wrap between (inline math never wraps: one long formula set the width of a whole column of the map).
    The piece after a cut starts with ``{}=`` or ``{}+`` so that TeX keeps the operator's spacing."""
    if len(tex) <= longer_than:
        return f"${tex}$"
    pieces, depth, start = [], 0, 0
    for i, ch in enumerate(tex):
        depth += (ch in "{([") - (ch in "})]")
        if ch in "=+" and depth == 0 and i > start and tex[i - 1] not in "<>!\\":
            pieces.append(tex[start:i].strip())
            start = i
    pieces.append(tex[start:].strip())
    return " ".join(f"${'{}' if i else ''}{piece}$" for i, piece in enumerate(pieces))


def concept(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    first = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    first = re.sub(r"\s+", " ", first)
    sentence = re.split(r"(?<=[.:;])\s", first, maxsplit=1)[0]
    sentence = re.sub(r"[:;]$", ".", sentence)  # the first clause of a longer sentence ends as one
    return myst_roles(sentence).replace("|", "\\|")


def collect():
    pages: dict[str, set[Path]] = defaultdict(set)
    for path in sorted([*ROOT.glob("book/**/*.md"), *ROOT.glob("notebooks/*.ipynb")]):
        if "api" in path.relative_to(ROOT).parts:
            continue
        for target in ROLE.findall(path.read_text(encoding="utf-8")):
            pages[target].add(path)
    tests = {p: p.read_text(encoding="utf-8") for p in sorted(ROOT.glob("tests/**/*.py")) if p.name != "__init__.py"}
    rows = []
    for target in sorted(pages):
        obj = lookup(target)
        name = target.rsplit(".", 1)[-1]
        pattern = re.compile(rf"\b{re.escape(name)}\b")
        used = [p for p, src in tests.items() if pattern.search(src)]
        chapter = target.split(".")[1]
        rows.append((chapter, target, obj, sorted(pages[target]), used))
    order = {c: i for i, c in enumerate(CHAPTER_ORDER)}
    rows.sort(key=lambda r: (order.get(r[0], -1), r[1]))
    return rows


def render(rows) -> str:
    out = ["# Code map", "",
           "Each concept of the book with the page that teaches it, the function or class that implements it,",
           "and the tests that check it (files in the repository's `tests/` folder). This page is generated from the pages, the package and the tests when",
           "the book is built (`.ci/code_map.py`); nothing in it is typed by hand.", ""]
    chapter = None
    for ch, target, obj, pages, tests in rows:
        if ch != chapter:
            chapter = ch
            out += ["", f"## `aigc_lessons.{ch}`" if ch in CHAPTER_ORDER else f"## `aigc_lessons.{ch}` (ground floor)",
                    "", "| concept | page | code | tests |", "|---|---|---|---|"]
        role = "class" if inspect.isclass(obj) else "mod" if inspect.ismodule(obj) else "func"
        page_links = ", ".join(f"{{doc}}`/{p.relative_to(ROOT).with_suffix('').as_posix()}`" for p in pages)
        # paths inside tests/ (the column's name says where): the full path widened the table past the page
        test_names = ", ".join(f"`{p.relative_to(ROOT / 'tests').as_posix()}`" for p in tests) or "**none**"
        out.append(f"| {concept(obj)} | {page_links} | {{py:{role}}}`~{target}` | {test_names} |")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "book" / "api" / "code_map.md"))
    parser.add_argument("--check", action="store_true", help="fail when a linked object has no test")
    args = parser.parse_args(argv)
    rows = collect()
    Path(args.out).write_text(render(rows), encoding="utf-8")
    untested = [r[1] for r in rows if not r[4]]
    print(f"code map: {len(rows)} objects linked from the pages, {len(untested)} without a test -> {args.out}")
    if args.check and untested:
        print("untested: " + ", ".join(untested))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
