"""The repository's scripts (``.ci/*.py``, ``book/_ext/*.py``) are not a package: the tests load them by path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def load_script(path: str, name: str | None = None) -> ModuleType:
    """Import the script at ``path`` (relative to the repository) as module ``name`` (default: its file name).
    The module is registered in ``sys.modules`` first, where dataclasses look their module up."""
    file = ROOT / path
    spec = importlib.util.spec_from_file_location(name or file.stem, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
