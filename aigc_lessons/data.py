"""The book's real data sets: where they live, how they are checked, and loaders that return tensors.

Every file is found in this order:

1. ``$AIGC_DATA_MIRROR`` (an offline copy laid out like the upstream folders, e.g. a workshop USB
   stick or the course's ``shared/data-mirror``), used in place;
2. the cache ``$AIGC_DATA_DIR`` (default ``$XDG_CACHE_HOME/aigc_lessons``, or ``~/.cache/aigc_lessons`` when
   ``XDG_CACHE_HOME`` is not set), where downloads are kept;
3. the upstream URL, downloaded with a progress bar into the cache.

Each file is verified by SHA-256 before use. MNIST and the Tang poems are gzip files whose compressed
bytes depend on the compressor, so for them the check is on the *uncompressed* bytes, which are the
same upstream and in the mirror. Writes go to a temporary file that is renamed into place, so an
interrupted download never leaves a half file under the final name. A cached file that fails its
check is deleted and fetched again; if nothing can supply it, the error names the file, the URLs
tried and ``AIGC_DATA_MIRROR``.

Command line::

    python -m aigc_lessons.data fetch [NAME ...]   # all data sets when no name is given
    python -m aigc_lessons.data verify [NAME ...]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.client
import io
import json
import os
import struct
import sys
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch

from .files import atomic_write

__all__ = [
    "DATASETS",
    "DataError",
    "FileSpec",
    "Dataset",
    "fetch",
    "fetch_file",
    "verify",
    "parse_idx",
    "load_mnist",
    "load_text",
    "load_tang_poems",
    "load_tang_300",
    "load_occupations",
    "Occupations",
    "cache_dir",
    "mirror_dir",
]


class DataError(RuntimeError):
    """A data file is missing, corrupt or malformed; the message says what to do."""


@dataclass(frozen=True)
class FileSpec:
    """One file of a data set.

    ``path`` is relative to the mirror and the cache. ``sha256`` is the digest of the bytes as
    stored; for gzip files ``content_sha256`` is the digest of the uncompressed bytes, and a file
    that matches either digest is accepted. ``urls`` are upstream locations; ``builder`` (optional) assembles the file from several
    upstream files (the Tang poems are 58 JSON files upstream).
    """

    path: str
    sha256: str
    urls: tuple[str, ...] = ()
    content_sha256: str | None = None
    builder: Callable[[Callable[[str], bytes]], bytes] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    files: tuple[FileSpec, ...]
    license: str


_MNIST_BASES = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
_GH_RAW = "https://raw.githubusercontent.com/"
_GPTS = _GH_RAW + "openai/GPTs-are-GPTs/main/data/"
_POETRY = _GH_RAW + "chinese-poetry/chinese-poetry/master/"


def _mnist(name: str, sha: str, content: str) -> FileSpec:
    return FileSpec(f"mnist/{name}", sha, tuple(b + name for b in _MNIST_BASES), content_sha256=content)


def _build_tang(get: Callable[[str], bytes]) -> bytes:
    """Join upstream ``全唐诗/poet.tang.N.json`` (N = 0, 1000, ..., 57000) into gzipped JSON lines."""
    lines = []
    for n in range(0, 58000, 1000):
        url = _POETRY + urllib.parse.quote(f"全唐诗/poet.tang.{n}.json")
        for poem in json.loads(get(url).decode("utf-8")):
            record = {"title": poem.get("title", ""), "author": poem.get("author", ""),
                      "paragraphs": poem.get("paragraphs", [])}
            lines.append(json.dumps(record, ensure_ascii=False))
    return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), compresslevel=9, mtime=0)


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset(
            "mnist",
            "MNIST handwritten digits, 60,000 train and 10,000 test images of 28x28 pixels (IDX format).",
            (
                _mnist("train-images-idx3-ubyte.gz",
                       "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
                       "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
                _mnist("train-labels-idx1-ubyte.gz",
                       "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203",
                       "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
                _mnist("t10k-images-idx3-ubyte.gz",
                       "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
                       "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
                _mnist("t10k-labels-idx1-ubyte.gz",
                       "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
                       "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
            ),
            "MNIST terms (CC BY-SA 3.0 as stated by LeCun, Cortes and Burges)",
        ),
        Dataset(
            "tinyshakespeare",
            "1,115,394 characters of Shakespeare's plays (karpathy/char-rnn).",
            (
                FileSpec("tinyshakespeare/input.txt",
                         "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
                         (_GH_RAW + "karpathy/char-rnn/master/data/tinyshakespeare/input.txt",)),
            ),
            "public domain text",
        ),
        Dataset(
            "tang_poems",
            "57,607 poems of the Complete Tang Poems (全唐诗) and the 300 Tang Poems (唐诗三百首), "
            "traditional characters, from chinese-poetry/chinese-poetry.",
            (
                FileSpec("chinese-poetry/tang_poems.jsonl.gz",
                         "370f84e4e3f2c7a44f6491ab37ebeb720a38598f810916b62fbde7283cd4db92",
                         content_sha256="7cba48fef237fa10c5f54f2b81838e8b467e2b3f95b73183369ea792e10d14ad",
                         builder=_build_tang),
                FileSpec("chinese-poetry/tangshisanbaishou.json",
                         "8423b65d938d0327e369972e790549b42609fa7ac4a2a72df59f4cb5a49c08f8",
                         (_POETRY + urllib.parse.quote("蒙学/tangshisanbaishou.json"),)),
            ),
            "MIT",
        ),
        Dataset(
            "gpts_are_gpts",
            "GPTs-are-GPTs occupation and task exposure ratings (Eloundou et al.) with BLS OEWS May 2021 "
            "national employment and wages.",
            (
                FileSpec("gpts-are-gpts/occ_level.csv",
                         "40c74f53de40aec91c0017d80690cbba915f83a8bb414bcf2f884692f1749acb",
                         (_GPTS + "occ_level.csv",)),
                FileSpec("gpts-are-gpts/full_labelset.tsv",
                         "094378905e1f3349e50a9a83dc69643a2ef227954d611c8316a46da08cb3d8de",
                         (_GPTS + "full_labelset.tsv",)),
                FileSpec("gpts-are-gpts/national_May2021_dl.csv",
                         "ed35ea6dda3c430f7865c2194df49bacf8f0502a6783462051c603b53974583f",
                         (_GPTS + "national_May2021_dl.csv",)),
            ),
            "MIT",
        ),
    ]
}


def _dataset(name: str) -> Dataset:
    if name not in DATASETS:
        raise KeyError(f"Unknown data set {name!r}; valid names are: {', '.join(sorted(DATASETS))}.")
    return DATASETS[name]


def mirror_dir() -> Path | None:
    """The offline mirror from ``$AIGC_DATA_MIRROR``, or ``None`` when unset."""
    value = os.environ.get("AIGC_DATA_MIRROR", "").strip()
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """The download cache: ``$AIGC_DATA_DIR``, else ``$XDG_CACHE_HOME/aigc_lessons`` or ``~/.cache/aigc_lessons``."""
    value = os.environ.get("AIGC_DATA_DIR", "").strip()
    if value:
        return Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "aigc_lessons"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _bytes_ok(data: bytes, spec: FileSpec) -> bool:
    """True when ``data`` are the bytes ``spec`` describes (content digest for gzip files)."""
    if _sha256(data) == spec.sha256:
        return True
    if spec.content_sha256 is not None:
        try:
            return _sha256(gzip.decompress(data)) == spec.content_sha256
        except (OSError, EOFError, zlib.error):
            return False
    return False


def _file_ok(path: Path, spec: FileSpec) -> bool:
    """True when ``path`` holds the bytes ``spec`` describes."""
    try:
        return _bytes_ok(path.read_bytes(), spec)
    except OSError:
        return False


#: Transport failures that mean "try again or try the next source", never a traceback for the reader.
_TRANSPORT_ERRORS = (urllib.error.URLError, OSError, ValueError, http.client.HTTPException)


def _download(url: str, timeout: float = 30.0, attempts: int = 2) -> bytes:
    """Fetch ``url`` into memory with a progress bar (tqdm) and return its bytes.

    The download is tried up to ``attempts`` times in all when a transport error occurs (a transfer that
    ends early, with fewer bytes than the server announced, counts as one); then the last transport error
    is raised for the caller to report. Nothing touches the disk here: the caller verifies the bytes before writing them.
    """
    from tqdm.auto import tqdm

    last: Exception | None = None
    for _ in range(max(1, attempts)):
        try:
            request = urllib.request.Request(url, headers={"User-Agent": "aigc-lessons/0.1"})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                buf = io.BytesIO()
                with tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1],
                          leave=False) as bar:
                    while chunk := response.read(1 << 16):
                        buf.write(chunk)
                        bar.update(len(chunk))
            data = buf.getvalue()
            if total is not None and len(data) != total:
                raise http.client.IncompleteRead(data, total - len(data))
            return data
        except _TRANSPORT_ERRORS as exc:
            last = exc
    assert last is not None
    raise last


def _inside(path: Path, root: Path | None) -> bool:
    if root is None:
        return False
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except (ValueError, OSError):
        return False


def fetch_file(
    spec: FileSpec,
    *,
    mirror: Path | None | str = "env",
    cache: Path | None = None,
    urls: Iterable[str] | None = None,
) -> Path:
    """Return a verified local path for ``spec``: mirror, then cache, then download into the cache.

    ``mirror="env"`` reads ``$AIGC_DATA_MIRROR``; pass ``None`` to skip the mirror. ``urls`` replaces
    the upstream URLs (a workshop can point it at a local web server). The mirror is only ever read:
    a bad mirror file is reported, never deleted or overwritten, even when the cache folder is the
    mirror itself (then downloads are refused rather than written into it). Downloaded bytes are
    verified in memory and only then written, atomically, under their final name. Every failure
    (transport, checksum, permissions) ends in one :class:`DataError` that names the file, every
    source tried and ``AIGC_DATA_MIRROR``.
    """
    mirror_root = mirror_dir() if mirror == "env" else (Path(mirror) if mirror else None)
    cache_root = cache if cache is not None else cache_dir()
    problems: list[str] = []

    if mirror_root is not None:
        candidate = mirror_root / spec.path
        if candidate.is_file():
            if _file_ok(candidate, spec):
                return candidate
            problems.append(f"mirror copy {candidate} fails its SHA-256 check (corrupt or a different version)")
        else:
            problems.append(f"mirror {mirror_root} has no {spec.path}")

    cached = cache_root / spec.path
    cache_is_mirror = _inside(cached, mirror_root)
    if cached.is_file() and not cache_is_mirror:
        if _file_ok(cached, spec):
            return cached
        try:
            cached.unlink()
            problems.append(f"cached copy {cached} failed its SHA-256 check and was deleted")
        except OSError as exc:
            problems.append(f"cached copy {cached} failed its SHA-256 check and could not be deleted ({exc})")

    def store(data: bytes, source: str) -> Path | None:
        if not _bytes_ok(data, spec):
            problems.append(f"{source} arrived but failed its SHA-256 check")
            return None
        if cache_is_mirror:
            problems.append(f"{source} is fine, but the cache folder {cache_root} lies inside the read-only "
                            "mirror; set AIGC_DATA_DIR to another folder")
            return None
        try:
            return atomic_write(cached, data)
        except OSError as exc:
            problems.append(f"{source} is fine, but it cannot be written to {cached} ({exc}); "
                            "set AIGC_DATA_DIR to a writable folder")
            return None

    tried: list[str] = []
    sources = list(urls) if urls is not None else list(spec.urls)
    for url in sources:
        tried.append(url)
        try:
            data = _download(url)
        except _TRANSPORT_ERRORS as exc:
            problems.append(f"download {url} failed: {type(exc).__name__}: {exc}")
            continue
        if (path := store(data, f"download {url}")) is not None:
            return path
    if urls is None and spec.builder is not None:
        tried.append("the upstream files assembled by the builder")
        try:
            data = spec.builder(_download)
        except _TRANSPORT_ERRORS as exc:
            problems.append(f"assembling from upstream failed: {type(exc).__name__}: {exc}")
        else:
            if (path := store(data, "the file assembled from upstream")) is not None:
                return path

    raise DataError(
        f"Could not obtain data file {spec.path!r}.\n"
        + "".join(f"  - {p}\n" for p in problems)
        + f"  URLs tried: {', '.join(tried) if tried else 'none'}\n"
        + f"  AIGC_DATA_MIRROR={os.environ.get('AIGC_DATA_MIRROR', '') or '<unset>'}\n"
        "Fix: set AIGC_DATA_MIRROR to the absolute path of a folder holding the course's data mirror (a "
        "relative path is read from the folder Python runs in, which for a notebook is notebooks/), or "
        "connect to the internet and run `python -m aigc_lessons.data fetch`."
    )


def fetch(name: str, **kwargs) -> dict[str, Path]:
    """Make every file of data set ``name`` available; return ``{relative path: local path}``."""
    return {spec.path: fetch_file(spec, **kwargs) for spec in _dataset(name).files}


def verify(name: str) -> dict[str, bool]:
    """Check the files of ``name`` that are present (mirror or cache) without downloading anything."""
    result = {}
    for spec in _dataset(name).files:
        places = [p for p in (mirror_dir(), cache_dir()) if p is not None]
        present = [root / spec.path for root in places if (root / spec.path).is_file()]
        result[spec.path] = bool(present) and all(_file_ok(p, spec) for p in present)
    return result


def _spec(name: str, path: str) -> FileSpec:
    return next(s for s in _dataset(name).files if s.path == path)


# ----------------------------------------------------------------------------------------- MNIST

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data: bytes, *, expect_ndim: int | None = None) -> np.ndarray:
    """Parse an IDX file (LeCun's format): 2 zero bytes, a type byte, a dimension count, then
    big-endian uint32 sizes and the values. Raises :class:`DataError` on a bad magic number or a
    size that does not match the payload.
    """
    if len(data) < 4:
        raise DataError(f"IDX data too short ({len(data)} bytes) to hold a header.")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code not in _IDX_DTYPES or ndim == 0:
        raise DataError(
            f"Bad IDX magic number 0x{data[:4].hex()}: expected 0x0000 then a type byte "
            f"({', '.join(hex(c) for c in _IDX_DTYPES)}) and a dimension count. Is this really an IDX file?"
        )
    if expect_ndim is not None and ndim != expect_ndim:
        raise DataError(f"IDX file has {ndim} dimensions, expected {expect_ndim}.")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError("IDX header truncated.")
    shape = struct.unpack(">" + "I" * ndim, data[4:header])
    dtype = np.dtype(_IDX_DTYPES[dtype_code])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise DataError(
            f"IDX size mismatch: header says shape {shape} ({expected} bytes) but the payload has "
            f"{len(data) - header} bytes."
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def load_mnist(split: str = "train", **fetch_kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    """Return MNIST ``(images, labels)``: images float32 in [0, 1] of shape (N, 1, 28, 28), labels
    int64 of shape (N,). ``split`` is ``"train"`` (60,000) or ``"test"`` (10,000).
    """
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"Unknown MNIST split {split!r}; valid splits are 'train' and 'test'.")
    img_path = fetch_file(_spec("mnist", f"mnist/{prefix}-images-idx3-ubyte.gz"), **fetch_kwargs)
    lab_path = fetch_file(_spec("mnist", f"mnist/{prefix}-labels-idx1-ubyte.gz"), **fetch_kwargs)
    images = parse_idx(gzip.decompress(img_path.read_bytes()), expect_ndim=3)
    labels = parse_idx(gzip.decompress(lab_path.read_bytes()), expect_ndim=1)
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise DataError(f"MNIST {split}: images {images.shape} and labels {labels.shape} do not match.")
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


# ------------------------------------------------------------------------------------------- text

_TEXTS = {"tinyshakespeare": ("tinyshakespeare", "tinyshakespeare/input.txt")}


def load_text(name: str, **fetch_kwargs) -> str:
    """Return a plain-text corpus as one string. Known: ``"tinyshakespeare"``."""
    if name not in _TEXTS:
        raise KeyError(f"Unknown text corpus {name!r}; valid names are: {', '.join(sorted(_TEXTS))}.")
    dataset, path = _TEXTS[name]
    return fetch_file(_spec(dataset, path), **fetch_kwargs).read_text(encoding="utf-8")


def load_tang_poems(**fetch_kwargs) -> list[dict]:
    """Return the 57,607 poems of the Complete Tang Poems as dicts with ``title``, ``author`` and
    ``paragraphs`` (a list of lines, traditional characters), in the upstream file order."""
    path = fetch_file(_spec("tang_poems", "chinese-poetry/tang_poems.jsonl.gz"), **fetch_kwargs)
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_tang_300(**fetch_kwargs) -> list[dict]:
    """Return the 300 Tang Poems as dicts with ``type`` (e.g. 五言絕句), ``title``, ``author``, ``paragraphs``."""
    path = fetch_file(_spec("tang_poems", "chinese-poetry/tangshisanbaishou.json"), **fetch_kwargs)
    book = json.loads(path.read_text(encoding="utf-8"))
    poems = []
    for section in book["content"]:
        for poem in section["content"]:
            poems.append({"type": section["type"], "title": poem.get("chapter", ""),
                          "author": poem.get("author", ""), "paragraphs": poem.get("paragraphs", [])})
    return poems


# ------------------------------------------------------------------------------------ occupations


@dataclass
class Occupations:
    """The GPTs-are-GPTs tables as pandas DataFrames.

    ``occupations``: one row per O*NET-SOC occupation with exposure shares (alpha, beta, gamma) by
    human raters and by GPT-4 (``dv_*`` columns). ``tasks``: one row per O*NET task with labels
    E0/E1/E2. ``oews``: BLS OEWS May 2021 national employment and wages, one row per SOC code and
    level (``O_GROUP``), numbers parsed (``*`` and ``#`` markers become missing values).
    """

    occupations: "object"
    tasks: "object"
    oews: "object"


def load_occupations(**fetch_kwargs) -> Occupations:
    """Load the three GPTs-are-GPTs tables (see :class:`Occupations`)."""
    import pandas as pd

    paths = fetch("gpts_are_gpts", **fetch_kwargs)
    occ = pd.read_csv(paths["gpts-are-gpts/occ_level.csv"])
    tasks = pd.read_csv(paths["gpts-are-gpts/full_labelset.tsv"], sep="\t", index_col=0)
    oews = pd.read_csv(paths["gpts-are-gpts/national_May2021_dl.csv"], encoding="utf-8-sig", dtype=str)
    numeric = ["TOT_EMP", "EMP_PRSE", "H_MEAN", "A_MEAN", "H_MEDIAN", "A_MEDIAN", "A_PCT10", "A_PCT90"]
    for col in numeric:
        oews[col] = pd.to_numeric(oews[col].str.replace(",", "", regex=False), errors="coerce")
    return Occupations(occupations=occ, tasks=tasks, oews=oews)


# ------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aigc_lessons.data", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for cmd, helptext in (("fetch", "make data sets available (mirror, cache or download)"),
                          ("verify", "check the SHA-256 of the files present, without downloading")):
        p = sub.add_parser(cmd, help=helptext)
        p.add_argument("names", nargs="*", help=f"data sets (default: all): {', '.join(DATASETS)}")
    args = parser.parse_args(argv)
    names = args.names or list(DATASETS)
    status = 0
    for name in names:
        try:
            if args.command == "fetch":
                for rel, path in fetch(name).items():
                    print(f"ok      {name}: {rel} -> {path}")
            else:
                for rel, ok in verify(name).items():
                    print(f"{'ok' if ok else 'MISSING/BAD':8}{name}: {rel}")
                    status |= 0 if ok else 1
        except (KeyError, DataError) as exc:
            print(f"error   {name}: {exc}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
