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
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "aigc_lessons"
OUT = ROOT / "book" / "api"
GROUND_FLOOR = ["runtime", "data", "files", "checkpoint", "ema", "metrics", "text", "pretrained", "mistakes", "plots",
                "bench"]
CHAPTERS = [("bigram", "Chapter 1"), ("gan", "Chapter 2"), ("vae", "Chapter 3"), ("attention", "Chapter 4"),
            ("lm", "Chapter 4"), ("careers", "Chapter 5"), ("diffusion", "Chapter 6")]


def first_line(module) -> str:
    doc = inspect.getdoc(module) or ""
    return doc.strip().splitlines()[0].rstrip(".") if doc.strip() else module.__name__


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
            parts = [f"# `{name}`: {first_line(module)} ({chapter})\n",
                     f"Every name below is also available as `aigc_lessons.{name}.NAME`, the way the notebooks "
                     f"use it (`from aigc_lessons import {name}`).\n"]
            parts.append(f"```{{eval-rst}}\n.. automodule:: {modname}\n   :no-members:\n```\n")
            parts += [section(f"{modname}.{m}") for m in submodules(name)]
        else:
            parts = [f"# `{name}`: {first_line(module)} ({chapter})\n", section(modname)]
        (OUT / f"{name}.md").write_text("\n".join(parts), encoding="utf-8")
        written.append(name)
    print(f"api pages: {', '.join(written)} -> {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
