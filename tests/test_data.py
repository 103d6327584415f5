"""The data layer: registry, verification, atomic cache, IDX parsing and loaders, on the real mirror."""

import gzip
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch

from aigc_lessons import data

UNREACHABLE = ["http://127.0.0.1:9/nothing-listens-here"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(KeyError) as err:
        data.fetch("imagenet")
    for name in data.DATASETS:
        assert name in str(err.value)


def test_registry_matches_the_mirror_checksums(mirror):
    sums = dict(reversed(line.split()) for line in (mirror / "SHA256SUMS").read_text().splitlines() if line.strip())
    for ds in data.DATASETS.values():
        for spec in ds.files:
            assert sums[f"./{spec.path}"] == spec.sha256, spec.path


def test_mirror_is_used_in_place(mirror, cache, monkeypatch):
    monkeypatch.setenv("AIGC_DATA_MIRROR", str(mirror))
    paths = data.fetch("tinyshakespeare")
    assert paths["tinyshakespeare/input.txt"] == mirror / "tinyshakespeare/input.txt"
    assert not cache.exists()


def test_download_path_fills_cache_atomically_and_verifies(mirror, cache, monkeypatch):
    """The download branch, pointed at the real mirror through a file:// URL."""
    monkeypatch.delenv("AIGC_DATA_MIRROR", raising=False)
    spec = data._spec("tinyshakespeare", "tinyshakespeare/input.txt")
    url = (mirror / spec.path).as_uri()
    path = data.fetch_file(spec, mirror=None, urls=[url])
    assert path == cache / spec.path and path.read_bytes() == (mirror / spec.path).read_bytes()
    assert not list(path.parent.glob("*.part")), "temporary files must not be left behind"
    # second call: served from the cache with no URL at all
    assert data.fetch_file(spec, mirror=None, urls=[]) == path


def test_flipped_byte_in_cache_is_refetched(mirror, cache):
    spec = data._spec("mnist", "mnist/t10k-labels-idx1-ubyte.gz")
    target = cache / spec.path
    target.parent.mkdir(parents=True)
    raw = bytearray((mirror / spec.path).read_bytes())
    raw[100] ^= 0xFF
    target.write_bytes(bytes(raw))
    path = data.fetch_file(spec, mirror=None, urls=[(mirror / spec.path).as_uri()])
    assert path.read_bytes() == (mirror / spec.path).read_bytes()


def test_flipped_byte_with_no_source_is_a_clear_error_never_used(mirror, cache):
    spec = data._spec("mnist", "mnist/t10k-labels-idx1-ubyte.gz")
    target = cache / spec.path
    target.parent.mkdir(parents=True)
    raw = bytearray((mirror / spec.path).read_bytes())
    raw[-20] ^= 0x01
    target.write_bytes(bytes(raw))
    with pytest.raises(data.DataError) as err:
        data.fetch_file(spec, mirror=None, urls=UNREACHABLE)
    message = str(err.value)
    assert "SHA-256" in message and spec.path in message and "AIGC_DATA_MIRROR" in message
    assert not target.exists(), "the corrupt file must be removed, not kept for later use"


def test_corrupt_mirror_is_reported(tmp_path, mirror, cache):
    fake_mirror = tmp_path / "mirror"
    spec = data._spec("tinyshakespeare", "tinyshakespeare/input.txt")
    (fake_mirror / spec.path).parent.mkdir(parents=True)
    text = (mirror / spec.path).read_bytes()
    (fake_mirror / spec.path).write_bytes(text[:-1] + b"?")
    with pytest.raises(data.DataError, match="mirror copy .* fails its SHA-256 check"):
        data.fetch_file(spec, mirror=fake_mirror, urls=UNREACHABLE)


def test_no_mirror_no_network_names_file_url_and_variable(cache, monkeypatch):
    monkeypatch.delenv("AIGC_DATA_MIRROR", raising=False)
    spec = data._spec("gpts_are_gpts", "gpts-are-gpts/occ_level.csv")
    with pytest.raises(data.DataError) as err:
        data.fetch_file(spec, urls=UNREACHABLE)
    message = str(err.value)
    assert "occ_level.csv" in message and UNREACHABLE[0] in message and "AIGC_DATA_MIRROR" in message


def test_gzip_content_check_accepts_a_recompressed_copy(mirror, cache):
    """Upstream MNIST .gz files differ in compressed bytes from the mirror; the content digest decides."""
    spec = data._spec("mnist", "mnist/t10k-labels-idx1-ubyte.gz")
    raw = gzip.decompress((mirror / spec.path).read_bytes())
    other = cache / "other.gz"
    other.parent.mkdir(parents=True)
    other.write_bytes(gzip.compress(raw, compresslevel=1))
    assert other.read_bytes() != (mirror / spec.path).read_bytes()
    assert data._file_ok(other, spec)
    other.write_bytes(gzip.compress(raw[:-1] + b"\x07", compresslevel=1))
    assert not data._file_ok(other, spec)


def _idx(shape, dtype_code=0x08, magic_zero=0):
    header = struct.pack(">HBB", magic_zero, dtype_code, len(shape)) + struct.pack(">" + "I" * len(shape), *shape)
    return header + bytes(int(np.prod(shape)))


def test_parse_idx_roundtrip_and_errors():
    arr = data.parse_idx(_idx((2, 3, 4)))
    assert arr.shape == (2, 3, 4) and arr.dtype == np.uint8
    with pytest.raises(data.DataError, match="magic"):
        data.parse_idx(_idx((2, 3), magic_zero=0x0102))
    with pytest.raises(data.DataError, match="magic"):
        data.parse_idx(_idx((2, 3), dtype_code=0x42))
    with pytest.raises(data.DataError, match="size mismatch"):
        data.parse_idx(_idx((2, 3))[:-1])
    with pytest.raises(data.DataError, match="dimensions"):
        data.parse_idx(_idx((2, 3)), expect_ndim=3)


def test_real_mnist_file_with_wrong_magic_is_rejected(mirror):
    raw = bytearray(gzip.decompress((mirror / "mnist/t10k-labels-idx1-ubyte.gz").read_bytes()))
    assert data.parse_idx(bytes(raw)).shape == (10000,)
    raw[2] = 0x77
    with pytest.raises(data.DataError, match="magic"):
        data.parse_idx(bytes(raw))


def test_load_mnist(mirror, monkeypatch):
    monkeypatch.setenv("AIGC_DATA_MIRROR", str(mirror))
    x, y = data.load_mnist("test")
    assert x.shape == (10000, 1, 28, 28) and x.dtype == torch.float32
    assert 0.0 == x.min() and x.max() == 1.0
    assert y.shape == (10000,) and set(y.tolist()) == set(range(10))
    assert torch.bincount(y).tolist()[:3] == [980, 1135, 1032]  # the known test-set class counts
    with pytest.raises(ValueError, match="train"):
        data.load_mnist("validation")


def test_load_text_and_poems_and_occupations(mirror, monkeypatch):
    monkeypatch.setenv("AIGC_DATA_MIRROR", str(mirror))
    text = data.load_text("tinyshakespeare")
    assert len(text) == 1115394 and text.startswith("First Citizen:")
    with pytest.raises(KeyError, match="tinyshakespeare"):
        data.load_text("war_and_peace")
    poems = data.load_tang_poems()
    assert len(poems) == 57607 and set(poems[0]) == {"title", "author", "paragraphs"}
    assert len(data.load_tang_300()) > 300
    occ = data.load_occupations()
    assert len(occ.occupations) == 923 and len(occ.tasks) == 19265
    total = occ.oews.loc[occ.oews.OCC_CODE == "00-0000", "TOT_EMP"].item()
    assert total == 140886310


def test_cli_verify_and_fetch(mirror):
    env = {"AIGC_DATA_MIRROR": str(mirror), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "aigc_lessons.data", "verify", "mnist"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.count("ok") == 4, out.stdout + out.stderr
    bad = subprocess.run([sys.executable, "-m", "aigc_lessons.data", "fetch", "nope"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "valid names" in bad.stderr
