"""`rmds serve --workers N`: several server processes over one lake and one store. A
session opened on one worker is good on every other (sessions live in the store), and the
requests they all audit land in one chain that verifies, without a gap or a repeated
number. On SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from rmds.store import Store
from rmds.store.audit import verify
from rmds.store.db import AUDIT
from tests.service_fixtures import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text()
        found += [int(x) for x in text.split()]
    return found


def _entries(store: Store) -> int:
    with store.engine.connect() as c:
        return int(c.execute(sa.select(sa.func.count()).select_from(AUDIT)).scalar_one())


def test_two_workers_share_the_sessions_and_one_audit_chain(
        service_lake: Path, store: Store, users: dict[str, str], tmp_path: Path) -> None:
    port = _free_port()
    log_path = tmp_path / "serve.log"
    log = log_path.open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "rmds.cli", "--store", store.url, "serve", "--lake",
         str(service_lake), "--port", str(port), "--workers", "2"],
        env={**os.environ}, cwd=ROOT, text=True, stdout=log, stderr=log)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            deadline = time.monotonic() + 240
            while True:
                assert server.poll() is None, log_path.read_text()
                try:
                    if client.get("/api/saude").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "rmds serve did not start"
                time.sleep(0.2)
            assert len(_children(server.pid)) >= 2, "two worker processes"
            login = client.post("/api/sessao", json={"usuario": "ana", "senha": PASSWORD})
            assert login.status_code == 200, login.text
            auth = {"Authorization": f"Bearer {login.json()['token']}"}
            before = _entries(store)
            statuses: list[int] = []
            workers: set[str] = set()

            def ask() -> None:
                # a connection of its own per request, until both workers have answered
                # audited requests (the kernel hands each connection to one of them)
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and (len(statuses) < 90
                                                       or len(workers) < 2):
                    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
                        r = c.get("/api/cargas", headers=auth)
                    with lock:
                        statuses.append(r.status_code)
                        workers.add(r.headers.get("x-rmds-worker", ""))

            lock = threading.Lock()
            threads = [threading.Thread(target=ask) for _ in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            after = _entries(store)
            # wrong passwords, each on a connection of its own (either worker): from the
            # fourth on, every attempt is throttled, whichever worker took the first three
            wrong: list[tuple[int, str]] = []
            for _ in range(8):
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
                    r = c.post("/api/sessao", json={"usuario": "ninguem",
                                                    "senha": "senha-errada-1"})
                wrong.append((r.status_code, r.headers.get("x-rmds-worker", "")))
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    assert len(statuses) >= 90 and set(statuses) == {200}, log_path.read_text()[-2000:]
    assert len(workers - {""}) == 2, workers       # both workers answered
    assert after == before + len(statuses)   # every restricted read, once
    assert [code for code, _ in wrong] == [401] * 3 + [429] * 5, wrong
    assert verify(store).ok
