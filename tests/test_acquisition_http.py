"""HTTP download with resume (Range), against a local http.server: no internet."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from rmds.acquisition.http import http_fetch
from rmds.lake.ingest import expand_paths

DATA = os.urandom(100_000)
CUTS = {"n": 0}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/vacinacao_mg.csv":
            self.send_error(404)
            return
        start = int(self.headers.get("Range", "bytes=0-")[6:].rstrip("-") or 0)
        body = DATA[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if CUTS["n"] > 0:  # drop the connection mid-file
            CUTS["n"] -= 1
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def base() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_http_download_resumes_after_a_dropped_connection(base: str, tmp_path: Path) -> None:
    CUTS["n"] = 2
    target = tmp_path / "vacinacao_mg.csv"
    http_fetch(f"{base}/vacinacao_mg.csv", target, timeout=5, sleep=lambda _s: None)
    assert target.read_bytes() == DATA and CUTS["n"] == 0
    assert not (tmp_path / "vacinacao_mg.csv.part").exists()


def test_http_half_download_is_not_visible(base: str, tmp_path: Path) -> None:
    CUTS["n"] = 99
    target = tmp_path / "vacinacao_mg.csv"
    with pytest.raises(OSError):
        http_fetch(f"{base}/vacinacao_mg.csv", target, retries=1, timeout=5,
                   sleep=lambda _s: None)
    assert not target.exists() and expand_paths([tmp_path]) == []


def test_http_missing_file_is_reported(base: str, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="404"):
        http_fetch(f"{base}/nada.csv", tmp_path / "nada.csv", timeout=5, sleep=lambda _s: None)
