"""rmds fetch against a local FTP server (pyftpdlib): no test reaches the internet."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

pyftpdlib = pytest.importorskip("pyftpdlib")
from pyftpdlib.authorizers import DummyAuthorizer  # noqa: E402
from pyftpdlib.handlers import FTPHandler  # noqa: E402
from pyftpdlib.servers import FTPServer  # noqa: E402

from rmds.acquisition.catalog import FAMILIES, families_of, ingestible_name  # noqa: E402
from rmds.acquisition.fetch import MANIFEST, Fetcher, periods  # noqa: E402
from rmds.lake.ingest import expand_paths, identity_key  # noqa: E402

SIH = "dissemin/publicos/SIHSUS/200801_/Dados"
SIA = "dissemin/publicos/SIASUS/200801_/Dados"


class Faults:
    drop: ClassVar[dict[str, int]] = {}    # file name -> times to cut the transfer at half
    refuse: ClassVar[set[str]] = set()     # file names answered 550 on RETR


class _Handler(FTPHandler):  # type: ignore[misc]
    def ftp_RETR(self, file: str) -> Any:
        name = os.path.basename(file)
        if name in Faults.refuse:
            self.respond("550 Permissão negada.")
            return None
        if Faults.drop.get(name, 0) > 0:
            Faults.drop[name] -= 1
            data = Path(file).read_bytes()
            start = self._restart_position
            cut = Path(file).parent.parent / ".cut"
            cut.mkdir(exist_ok=True)
            short = cut / name
            short.write_bytes(data[: start + max(1, (len(data) - start) // 2)])
            return super().ftp_RETR(str(short))
        return super().ftp_RETR(file)


@pytest.fixture
def ftp(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    root = tmp_path / "ftp"
    (root / SIH).mkdir(parents=True)
    (root / SIA).mkdir(parents=True)
    for ym in ("2301", "2302"):  # 2303 is missing upstream
        (root / SIH / f"RDMG{ym}.dbc").write_bytes(os.urandom(50_000))
    for part in "ab":
        (root / SIA / f"PAMG2301{part}.dbc").write_bytes(os.urandom(20_000))
    auth = DummyAuthorizer()
    auth.add_anonymous(str(root))
    handler = type("H", (_Handler,), {"authorizer": auth, "permit_foreign_addresses": True})
    Faults.drop, Faults.refuse = {}, set()
    server = FTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield root, server.address[1]
    finally:
        server.close_all()
        thread.join(5)


def _fetcher(dest: Path, port: int, **kw: Any) -> Fetcher:
    return Fetcher(dest, host="127.0.0.1", port=port, timeout=5, retries=3,
                   sleep=lambda _s: None, **kw)


def test_periods_and_catalog() -> None:
    assert periods("2023-11..2024-02") == [(2023, 11), (2023, 12), (2024, 1), (2024, 2)]
    assert len(periods("2023")) == 12
    with pytest.raises(ValueError):
        periods("23-1")
    rd = families_of(["SIH:RD"])[0]
    assert rd.stem("mg", 2023, 1) == "RDMG2301"
    assert identity_key(Path(rd.stem("MG", 2023, 1) + ".dbc"), "SIH", "DBC") == "SIH:RDMG2301"
    assert {f.code for f in families_of(["SIM"])} == {"DO", "DOEXT", "DOFET", "DOINF", "DOMAT"}
    assert all(f.folder.startswith("/dissemin/publicos/") for f in FAMILIES)
    with pytest.raises(ValueError, match="desconhecid"):
        families_of(["XYZ"])
    # what ingest reads is said by the systems' declarations, not a second list
    assert {f.code for f in FAMILIES if f.ingestible()} == {
        "DO", "DOEXT", "DOFET", "DOINF", "DOMAT", "DN", "RD", "PA", "ST"}
    assert ingestible_name("RDMG2301.dbc") and ingestible_name("PAMG2301b.dbc")
    assert not ingestible_name("SPMG2301.dbc") and not ingestible_name("PFMG2301.dbc")


def test_fetch_reports_missing_and_splits(ftp: tuple[Path, int], tmp_path: Path) -> None:
    root, port = ftp
    dest = tmp_path / "dest"
    fams = [f for f in FAMILIES if f.code in ("RD", "PA")]
    fams = [f.__class__(**{**f.__dict__, "folder": "/" + (SIH if f.code == "RD" else SIA)})
            for f in fams]
    report = _fetcher(dest, port).fetch(fams, "MG", periods("2023-01..2023-03"))
    assert sorted(report.fetched) == ["PAMG2301a.dbc", "PAMG2301b.dbc", "RDMG2301.dbc",
                                      "RDMG2302.dbc"]
    assert [m.rsplit("/", 1)[-1] for m in report.missing] == [
        "RDMG2303.dbc", "PAMG2302.dbc", "PAMG2303.dbc"]
    for name in report.fetched:
        src = root / (SIH if name.startswith("RD") else SIA) / name
        assert (dest / name).read_bytes() == src.read_bytes()
    manifest = json.loads((dest / MANIFEST).read_text())
    assert manifest["RDMG2301.dbc"]["size"] == 50_000
    # second run: nothing new
    again = _fetcher(dest, port).fetch(fams, "MG", periods("2023-01..2023-03"))
    assert again.fetched == [] and len(again.unchanged) == 4


def _rd(port: int) -> list[Any]:
    f = families_of(["SIH:RD"])[0]
    return [f.__class__(**{**f.__dict__, "folder": "/" + SIH})]


def test_dropped_connection_resumes(ftp: tuple[Path, int], tmp_path: Path) -> None:
    root, port = ftp
    Faults.drop = {"RDMG2301.dbc": 2}
    seen: list[int] = []
    report = _fetcher(tmp_path / "d", port, progress=lambda _r, n, _t: seen.append(n)).fetch(
        _rd(port), "MG", periods("2023-01"))
    assert report.fetched == ["RDMG2301.dbc"]
    assert (tmp_path / "d" / "RDMG2301.dbc").read_bytes() == (
        root / SIH / "RDMG2301.dbc").read_bytes()
    assert Faults.drop["RDMG2301.dbc"] == 0
    assert not list((tmp_path / "d").glob("*.part"))


def test_half_download_never_visible_to_ingest(ftp: tuple[Path, int], tmp_path: Path) -> None:
    _root, port = ftp
    Faults.drop = {"RDMG2301.dbc": 99}  # never completes
    dest = tmp_path / "d"
    report = _fetcher(dest, port).fetch(_rd(port), "MG", periods("2023-01"))
    assert report.failed and not report.fetched
    assert (dest / "RDMG2301.dbc.part").exists()
    assert not (dest / "RDMG2301.dbc").exists()
    assert expand_paths([dest]) == []
    # the next run resumes and completes
    Faults.drop = {}
    assert _fetcher(dest, port).fetch(_rd(port), "MG", periods("2023-01")).fetched == [
        "RDMG2301.dbc"]
    assert expand_paths([dest]) == [dest / "RDMG2301.dbc"]


def test_republished_file_is_fetched_again(ftp: tuple[Path, int], tmp_path: Path) -> None:
    root, port = ftp
    dest = tmp_path / "d"
    _fetcher(dest, port).fetch(_rd(port), "MG", periods("2023-01"))
    new = os.urandom(50_000)
    (root / SIH / "RDMG2301.dbc").write_bytes(new)  # same size, new time
    os.utime(root / SIH / "RDMG2301.dbc", (2_000_000_000, 2_000_000_000))
    report = _fetcher(dest, port).fetch(_rd(port), "MG", periods("2023-01"))
    assert report.republished == ["RDMG2301.dbc"]
    assert (dest / "RDMG2301.dbc").read_bytes() == new


def test_refused_file_is_reported(ftp: tuple[Path, int], tmp_path: Path) -> None:
    _root, port = ftp
    Faults.refuse = {"RDMG2302.dbc"}
    report = _fetcher(tmp_path / "d", port).fetch(_rd(port), "MG", periods("2023-01..2023-02"))
    assert report.fetched == ["RDMG2301.dbc"]
    assert report.missing == [f"/{SIH}/RDMG2302.dbc"]


def test_timeout_is_retried_then_reported(tmp_path: Path) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts, never greets
    sleeps: list[float] = []
    try:
        fetcher = Fetcher(tmp_path / "d", host="127.0.0.1", port=silent.getsockname()[1],
                          timeout=0.2, retries=2, backoff=1.0, sleep=sleeps.append)
        with pytest.raises(OSError):
            fetcher.fetch(_rd(0), "MG", periods("2023-01"))
    finally:
        silent.close()
    assert sleeps == [1.0, 2.0]  # exponential back-off
