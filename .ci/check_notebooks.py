"""Fail when a committed notebook carries outputs or execution counts (the build executes them)."""

import json
import sys
from pathlib import Path


def dirty_cells(path: Path) -> list[int]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [i for i, c in enumerate(nb.get("cells", []))
            if c.get("cell_type") == "code" and (c.get("outputs") or c.get("execution_count") is not None)]


def main(folders: list[str]) -> int:
    bad = 0
    for folder in folders:
        for path in sorted(Path(folder).rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            cells = dirty_cells(path)
            if cells:
                bad += 1
                print(f"{path}: code cells {cells} have outputs or execution counts; "
                      f"clear them (jupyter nbconvert --clear-output --inplace {path})")
    if bad:
        return 1
    print("notebooks are clean")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["notebooks"]))
