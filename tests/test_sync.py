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


def _linked(lake_path: Path) -> tuple[int, int, int]:
    with Lake(lake_path, read_only=True) as lake:
        return (int(lake.scalar("SELECT count(DISTINCT record_uid) FROM person_links")),
                int(lake.scalar("SELECT count(*) FROM persons")),
                int(lake.scalar("SELECT count(*) FROM hospitalisations")))


def _linked_args(state: Path, tmp_path: Path, port: int) -> list[str]:
    return ["sync", "SIH:RD", "--uf", "MG", "--period", "2023-01..2023-01", "--dest",
            str(tmp_path / "baixados"), "--host", "127.0.0.1", "--port", str(port),
            "--retries", "1", "--lake", str(tmp_path / "lago"), "--population",
            str(state / "populacao.csv")]


def test_sync_link_step_failure_names_the_step_and_rerun_retries_only_it(
        server: tuple[Path, int], state: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A step that fails (here the linkage, made to fail once): the sync says which step
    failed, exits non-zero, keeps the loaded batch, and the rerun loads nothing again and
    retries only the steps left to do."""
    import rmds.linkage

    _root, port = server
    args = _linked_args(state, tmp_path, port)
    real = rmds.linkage.link

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("falha simulada da vinculação")

    monkeypatch.setattr(rmds.linkage, "link", broken)
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 1, first.output
    assert "a etapa 'vinculação' falhou" in first.output
    rows = _rows(tmp_path / "lago")
    assert rows > 0
    monkeypatch.setattr(rmds.linkage, "link", real)
    second = CliRunner().invoke(cli, args)
    assert "== carga" not in second.output and "== vinculação" in second.output
    assert second.exit_code == 0, second.output
    assert _rows(tmp_path / "lago") == rows


def test_sync_with_linkage_links_then_second_run_does_nothing(
        server: tuple[Path, int], state: Path, tmp_path: Path) -> None:
    _root, port = server
    lake_path, dest = tmp_path / "lago", tmp_path / "baixados"
    args = ["sync", "SIH:RD", "--uf", "MG", "--period", "2023-01..2023-01", "--dest",
            str(dest), "--host", "127.0.0.1", "--port", str(port), "--retries", "1",
            "--lake", str(lake_path), "--population", str(state / "populacao.csv")]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "== vinculação" in first.output
    links, persons, rows = _linked(lake_path)
    assert links == rows > 0  # every admission loaded got a person
    assert 0 < persons <= rows

    second = CliRunner().invoke(cli, args)
    assert second.exit_code == 0, second.output
    assert "Nada novo" in second.output
    assert "== carga" not in second.output and "== vinculação" not in second.output
    assert _linked(lake_path) == (links, persons, rows)
