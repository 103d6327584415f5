"""Generate the API reference pages (book/api/<part>.md) from the package layout.

One page for the ground floor and one per chapter sub-package; each page documents every module of
its part with Sphinx autodoc, in the order in which the sub-package's ``__init__`` imports them (the
reading order). A new file in the package appears in the reference without anyone typing it, and a
renamed function breaks the links that name it (the book builds with warnings as errors).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book" / "_ext"))
from api_links import first_sentence  # noqa: E402 - the book's own rule, which also drops it from the page body

PKG = ROOT / "aigc_lessons"
OUT = ROOT / "book" / "api"
GROUND_FLOOR = ["runtime", "data", "files", "checkpoint", "ema", "metrics", "text", "pretrained", "mistakes", "plots",
                "bench"]
CHAPTERS = [("bigram", "Chapter 1"), ("gan", "Chapter 2"), ("vae", "Chapter 3"), ("attention", "Chapter 4"),
            ("lm", "Chapter 4"), ("careers", "Chapter 5"), ("diffusion", "Chapter 6")]


def first_line(module) -> str:
    """The first sentence of the module's docstring (its first paragraph may wrap over several lines)."""
    doc = (inspect.getdoc(module) or "").strip()
    if not doc:
        return module.__name__
    sentence, _ = first_sentence(doc)  # the API page shows the rest of the docstring below it
    # reST markup of a docstring as MyST in a heading: :class:`~a.B` and ``code`` -> `B` and `code`
    sentence = re.sub(r":\w+:`~?(?:[\w.]+\.)?([^`.]+)`", r"`\1`", sentence)
    return sentence.replace("``", "`")


def heading(name: str, module, chapter: str) -> str:
    text = first_line(module)
    return f"# `{name}`: {text}" + ("" if text.startswith(chapter) else f" ({chapter})") + "\n"


def submodules(name: str) -> list[str]:
    """The modules of sub-package ``name`` in the order its ``__init__`` imports them."""
    init = PKG / name / "__init__.py"
    order = []
    for node in ast.walk(ast.parse(init.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            mod = node.module.split(".")[0]
            if mod not in order and (PKG / name / f"{mod}.py").is_file():
                order.append(mod)
    rest = sorted(p.stem for p in (PKG / name).glob("*.py") if p.stem != "__init__" and p.stem not in order)
    return order + rest


def section(modname: str, level: str = "##") -> str:
    module = importlib.import_module(modname)
    short = modname.removeprefix("aigc_lessons.")
    path = Path(module.__file__).relative_to(ROOT).as_posix()
    return (f"{level} `{short}`: {first_line(module)}\n\n_File: `{path}`_\n\n"
            f"```{{eval-rst}}\n.. automodule:: {modname}\n```\n")


def main() -> int:
    sys.path.insert(0, str(ROOT))
    OUT.mkdir(parents=True, exist_ok=True)
    parts = ["# The ground floor\n\nThe modules every chapter stands on. None of them imports a chapter.\n"]
    parts += [section(f"aigc_lessons.{m}") for m in GROUND_FLOOR]
    (OUT / "foundation.md").write_text("\n".join(parts), encoding="utf-8")
    written = ["foundation"]
    for name, chapter in CHAPTERS:
        modname = f"aigc_lessons.{name}"
        module = importlib.import_module(modname)
        if (PKG / name).is_dir():
            parts = [heading(name, module, chapter),
                     f"Every name below is also available as `aigc_lessons.{name}.NAME`, the way the notebooks "
                     f"use it (`from aigc_lessons import {name}`).\n"]
            parts.append(f"```{{eval-rst}}\n.. automodule:: {modname}\n   :no-members:\n```\n")
            parts += [section(f"{modname}.{m}") for m in submodules(name)]
        else:
            parts = [heading(name, module, chapter), section(modname)]
        (OUT / f"{name}.md").write_text("\n".join(parts), encoding="utf-8")
        written.append(name)
    print(f"api pages: {', '.join(written)} -> {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
