"""rmds sync against a local FTP server: a republished file supersedes the old rows, and a
second run with nothing new does no work."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

pytest.importorskip("pyftpdlib")
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

from rmds.cli import cli
from rmds.lake.store import Lake
from rmds.sources.datasus.dbc import DbcReader
from rmds.sources.datasus.dbf_writer import dbf_bytes, write_dbc
from rmds.sources.datasus.layouts import IDENTIFIED, SIH_RD
from rmds.synth import SynthConfig, generate
from rmds.territory import ReferencePack

DADOS = "dissemin/publicos/SIHSUS/200801_/Dados"


@pytest.fixture(scope="module")
def state(pack: ReferencePack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sync") / "estado"
    generate(SynthConfig(0.002, (2023,), 31, out), pack)
    return out


@pytest.fixture
def server(state: Path, tmp_path: Path) -> Iterator[tuple[Path, int]]:
    root = tmp_path / "ftp"
    (root / DADOS).mkdir(parents=True)
    (root / DADOS / "RDMG2301.dbc").write_bytes((state / "SIH" / "RDMG2301.dbc").read_bytes())
    auth = DummyAuthorizer()
    auth.add_anonymous(str(root))
    srv = FTPServer(("127.0.0.1", 0), type("H", (FTPHandler,), {"authorizer": auth}))
    thread = threading.Thread(target=srv.serve_forever, kwargs={"timeout": 0.05}, daemon=True)
    thread.start()
    try:
        yield root, srv.address[1]
    finally:
        srv.close_all()
        thread.join(5)


def _rows(lake_path: Path) -> int:
    with Lake(lake_path, read_only=True) as lake:
        return int(lake.scalar("SELECT count(*) FROM hospitalisations"))


def test_sync_supersedes_republished_and_second_run_does_nothing(
        server: tuple[Path, int], state: Path, tmp_path: Path) -> None:
    root, port = server
    lake_path, dest = tmp_path / "lago", tmp_path / "baixados"
    args = ["sync", "SIH:RD", "--uf", "MG", "--period", "2023-01..2023-02", "--dest",
            str(dest), "--host", "127.0.0.1", "--port", str(port), "--retries", "1",
            "--lake", str(lake_path), "--population", str(state / "populacao.csv"),
            "--no-link"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "RDMG2302.dbc" in first.output  # the missing month is reported
    with DbcReader(state / "SIH" / "RDMG2301.dbc") as reader:
        table = pa.Table.from_batches(list(reader.iter_batches()))
    assert _rows(lake_path) == table.num_rows

    second = CliRunner().invoke(cli, args)
    assert second.exit_code == 0, second.output
    assert "Nada novo" in second.output and "== carga" not in second.output

    corrected = table.slice(9)  # republished with 9 admissions fewer
    write_dbc(root / DADOS / "RDMG2301.dbc",
              dbf_bytes(corrected, SIH_RD + IDENTIFIED["SIH"]))
    third = CliRunner().invoke(cli, args)
    assert third.exit_code == 0, third.output
    assert "republicado: RDMG2301.dbc" in third.output
    assert _rows(lake_path) == table.num_rows - 9
    with Lake(lake_path, read_only=True) as lake:
        status = sorted(b["status"] for b in lake.batches())
    assert status == ["ativo", "substituído"]
