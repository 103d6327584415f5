"""Stage the sources of ``make test``'s book check, with the notebooks' outputs from the same test run.

    python .ci/stage_check.py [DEST]        (default: _build/check_src)

``make test`` runs every notebook under nbval, and ``notebooks/conftest.py`` keeps the executed copies in
``_build/executed/notebooks/``. The book check then builds from DEST: links to every file of the repository,
except that each notebook whose executed copy is current (the same cell sources as the notebook now) is the
executed copy. So the checked site has the figures, tables and printed results a reader sees, and the browser
test checks them (images load, alt texts, no raw LaTeX), without running any notebook a second time. A
notebook without a current executed copy is linked as it is (no outputs) and listed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
EXECUTED = ROOT / "_build" / "executed" / "notebooks"
SKIP = {"_build", ".git", ".venv", "notebooks", "mutants"}


def _sources(path: Path) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nbformat.read(str(path), as_version=4).cells]


def stage(dest: Path) -> tuple[int, list[str]]:
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for entry in ROOT.iterdir():
        if entry.name not in SKIP:
            (dest / entry.name).symlink_to(entry)
    with_outputs, without = 0, []
    for src in sorted((ROOT / "notebooks").rglob("*")):
        rel = src.relative_to(ROOT / "notebooks")
        if src.is_dir() or "__pycache__" in rel.parts or ".ipynb_checkpoints" in rel.parts:
            continue
        target = dest / "notebooks" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        executed = EXECUTED / rel
        if src.suffix == ".ipynb" and executed.is_file() and _sources(executed) == _sources(src):
            shutil.copyfile(executed, target)
            with_outputs += 1
        else:
            target.symlink_to(src)
            if src.suffix == ".ipynb":
                without.append(rel.as_posix())
    return with_outputs, without


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    dest = Path(args[0]) if args else ROOT / "_build" / "check_src"
    n, without = stage(dest)
    print(f"stage_check: {n} notebooks with their outputs from make test's run"
          + (f"; without outputs (no current executed copy): {', '.join(without)}" if without else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
