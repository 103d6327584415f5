"""Downloads and the mirror: a truncated transfer, a read-only mirror, bytes verified before they land."""

import http.server
import os
import stat
import threading

import pytest

from aigc_lessons import data


class _Truncating(http.server.BaseHTTPRequestHandler):
    """Announces the whole file but sends only half of it, then closes the connection."""

    body = b""
    hits = 0

    def do_GET(self):  # noqa: N802 - the http.server spelling
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body[: len(self.body) // 2])
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def truncating_server(mirror):
    spec = data._spec("tinyshakespeare", "tinyshakespeare/input.txt")
    _Truncating.body = (mirror / spec.path).read_bytes()
    _Truncating.hits = 0
    server = http.server.HTTPServer(("127.0.0.1", 0), _Truncating)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield spec, f"http://127.0.0.1:{server.server_address[1]}/input.txt"
    server.shutdown()
    server.server_close()


def test_truncated_download_is_retried_then_a_data_error(truncating_server, tmp_path, monkeypatch):
    spec, url = truncating_server
    cache = tmp_path / "cache"
    monkeypatch.delenv("AIGC_DATA_MIRROR", raising=False)
    with pytest.raises(data.DataError) as err:
        data.fetch_file(spec, mirror=None, cache=cache, urls=[url])
    message = str(err.value)
    assert "IncompleteRead" in message and url in message and "AIGC_DATA_MIRROR" in message
    assert _Truncating.hits == 2, "a truncated transfer is tried once more before giving up"
    assert not (cache / spec.path).exists(), "nothing may be written under the final name"
    assert not list(cache.rglob("*.part")), "no temporary file may be left behind"


def test_download_failing_its_checksum_never_lands(mirror, tmp_path, monkeypatch):
    monkeypatch.delenv("AIGC_DATA_MIRROR", raising=False)
    spec = data._spec("tinyshakespeare", "tinyshakespeare/input.txt")
    wrong = tmp_path / "wrong.txt"
    wrong.write_bytes(b"not shakespeare")
    cache = tmp_path / "cache"
    with pytest.raises(data.DataError, match="failed its SHA-256 check"):
        data.fetch_file(spec, mirror=None, cache=cache, urls=[wrong.as_uri()])
    assert not (cache / spec.path).exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions; the next test covers it")
def test_read_only_mirror_corrupt_file_is_reported_not_deleted(tmp_path, mirror):
    _read_only_mirror_case(tmp_path, mirror, chmod=True)


def test_mirror_used_as_cache_is_never_deleted_or_written(tmp_path, mirror, monkeypatch):
    _read_only_mirror_case(tmp_path, mirror, chmod=False, monkeypatch=monkeypatch)


def _read_only_mirror_case(tmp_path, mirror, chmod, monkeypatch=None):
    spec = data._spec("tinyshakespeare", "tinyshakespeare/input.txt")
    fake = tmp_path / "mirror"
    target = fake / spec.path
    target.parent.mkdir(parents=True)
    corrupt = (mirror / spec.path).read_bytes()[:-1] + b"?"
    target.write_bytes(corrupt)
    if chmod:
        target.parent.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(data.DataError) as err:
            # the cache folder is the mirror itself, and the only source is a good copy
            data.fetch_file(spec, mirror=fake, cache=fake, urls=[(mirror / spec.path).as_uri()])
    finally:
        target.parent.chmod(stat.S_IRWXU)
    message = str(err.value)
    assert "mirror copy" in message and "AIGC_DATA_DIR" in message
    assert target.read_bytes() == corrupt, "the mirror is only ever read: its file stays as it was"
