"""Files that are never half-written: one atomic write for checkpoints, caches and downloads.

A reader who presses *interrupt* in the middle of a save, or a laptop that runs out of battery, must
never leave a truncated file under the final name: the next run would trust it. :func:`atomic_write`
writes to a temporary file in the same folder, flushes it to disk and renames it over the target
(``os.replace`` is atomic on POSIX and Windows), so the target holds either the old or the new bytes.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import tempfile
from pathlib import Path
from types import ModuleType
from typing import BinaryIO, Callable

__all__ = ["atomic_write", "code_hash"]


def atomic_write(path: str | os.PathLike, data: bytes | Callable[[BinaryIO], None]) -> Path:
    """Write ``data`` (bytes, or a function that writes to a binary file) to ``path`` atomically.

    Returns the target path. On any error the temporary file is removed and the old target, if there
    was one, is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if isinstance(data, (bytes, bytearray, memoryview)):
                fh.write(data)
            else:
                data(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def code_hash(*objects: ModuleType | Callable | type, length: int = 12) -> str:
    """A short SHA-256 of the source code of ``objects`` (modules, functions or classes).

    Caches put it in their keys, so a change to the code that produced a cached object (a model, an
    index) makes the old cache entry unreachable instead of silently reused.
    """
    h = hashlib.sha256()
    for obj in objects:
        h.update(inspect.getsource(obj).encode("utf-8"))
    return h.hexdigest()[:length]
