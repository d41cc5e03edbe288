"""The live lake: snapshots, supersession of republished files, readers that never wait,
kill -9 mid-load and mid-compute, and data files that other engines read as they are."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from rmds.cli import cli
from rmds.indicators.compute import compute
from rmds.lake.ingest import FAULT_ENV, ingest
from rmds.lake.store import FAULT_COMMIT_ENV, Lake
from rmds.schema import TABLES
from rmds.sources.datasus.dbc import DbcReader
from rmds.sources.datasus.dbf_writer import write_dbf
from rmds.sources.datasus.layouts import IDENTIFIED, SIH_RD
from rmds.synth import SynthConfig, generate
from rmds.territory import ReferencePack

ROOT = Path(__file__).resolve().parents[2]
JANUARY = "RDMG2301.dbc"


@pytest.fixture(scope="module")
def state(pack: ReferencePack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vivo") / "estado"
    generate(SynthConfig(0.002, (2023,), 31, out), pack)
    return out


def _republished(state: Path, folder: Path) -> tuple[Path, int]:
    """January's SIH file as DATASUS would republish it: corrected, with 9 admissions
    fewer and 4 repeated from the end, under the same name (here as .dbf)."""
    with DbcReader(state / "SIH" / JANUARY) as reader:
        table = pa.Table.from_batches(list(reader.iter_batches()))
    corrected = pa.concat_tables([table.slice(9), table.slice(table.num_rows - 4)])
    folder.mkdir(parents=True, exist_ok=True)
    path = write_dbf(folder / "RDMG2301.dbf", corrected, SIH_RD + IDENTIFIED["SIH"])
    return path, corrected.num_rows


def _mart(lake: Lake, periods: tuple[str, ...]) -> list[tuple[Any, ...]]:
    marks = ", ".join("?" for _ in periods)
    return sorted(lake.run(
        "SELECT indicator_id, level, unit_code, period, round(numerator, 6), "
        "round(denominator, 6), "
        "round(value, 9), suppressed FROM indicator_values WHERE period IN "
        f"({marks})", list(periods)), key=repr)


PERIODS = ("2023-01", "2023-T1", "2023")


def test_a_republished_file_supersedes_the_earlier_batch_in_one_commit(
        state: Path, pack: ReferencePack, tmp_path: Path) -> None:
    population = state / "populacao.csv"
    new_file, new_rows = _republished(state, tmp_path / "corrigido")
    lake_path = tmp_path / "lago"
    with Lake(lake_path) as lake:
        ingest(lake, [state], pack)
        compute(lake, pack, population=population)
        before = lake.snapshot_id()
        figures_before = _mart(lake, PERIODS)
        old = next(b for b in lake.batches() if b["file_name"] == JANUARY)
        total_before = lake.counts()["hospitalisations"]
        [outcome] = ingest(lake, [new_file], pack)
        assert outcome.status == "carregado"
        new = outcome.batch
        assert new is not None
        # the new file's rows replace the old ones: counts are the new file's
        in_batch = lake.scalar("SELECT count(*) FROM hospitalisations WHERE batch_id = ?",
                               [new["batch_id"]])
        assert in_batch == new["rows_accepted"] and new["rows_read"] == new_rows
        assert lake.scalar("SELECT count(*) FROM hospitalisations WHERE batch_id = ?",
                           [old["batch_id"]]) == 0
        assert lake.counts()["hospitalisations"] == (
            total_before - old["rows_accepted"] + new["rows_accepted"])
        listed = {b["batch_id"]: b for b in lake.batches()}
        assert listed[old["batch_id"]]["status"] == "substituído"
        assert listed[old["batch_id"]]["superseded_by"] == new["batch_id"]
        assert listed[old["batch_id"]]["sha256"] != listed[new["batch_id"]]["sha256"]
        assert listed[new["batch_id"]]["identity_key"] == "SIH:RDMG2301"
        # the load is one snapshot, which says what it superseded
        load = next(s for s in reversed(lake.snapshots()) if s.message == "carga")
        assert {"lote": old["batch_id"], "por": new["batch_id"]} in load.extra["substituidos"]
        # loading the same new file again changes nothing
        [again] = ingest(lake, [new_file], pack)
        assert again.status == "ignorado"
        compute(lake, pack, population=population)
        figures_after = _mart(lake, PERIODS)
    assert figures_after != figures_before

    # a lake that only ever saw the new file gives the same figures
    only_new = tmp_path / "so-o-novo"
    shutil.copytree(state, only_new)
    (only_new / "SIH" / JANUARY).unlink()
    shutil.copy(new_file, only_new / "SIH" / new_file.name)
    with Lake(tmp_path / "lago-novo") as fresh:
        ingest(fresh, [only_new], pack)
        compute(fresh, pack, population=population)
        assert _mart(fresh, PERIODS) == figures_after
        assert fresh.counts()["hospitalisations"] == lake_counts(lake_path)

    # the earlier snapshot still gives the earlier figures, in the API of the lake and the CLI
    with Lake(lake_path, snapshot=before) as past:
        assert _mart(past, PERIODS) == figures_before
        assert past.counts()["hospitalisations"] == total_before
    shown = CliRunner().invoke(cli, ["indicators", "show", "taxa_internacao", "--lake",
                                     str(lake_path), "--level", "estado", "--period",
                                     "2023-01", "--snapshot", str(before), "--json",
                                     "--restricted"])
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.output)
    assert body["snapshot"] == before
    [cell] = body["valores"]
    expected = next(r for r in figures_before if r[0] == "taxa_internacao"
                    and r[1] == "estado" and r[3] == "2023-01")
    assert cell["numerator"] == pytest.approx(expected[4], abs=1e-6)
    assert cell["denominator"] == pytest.approx(expected[5], abs=1e-6)
    listing = CliRunner().invoke(cli, ["batches", "--lake", str(lake_path), "--json"])
    statuses = {b["batch_id"]: b["status"] for b in json.loads(listing.output)}
    assert statuses[old["batch_id"]] == "substituído"


def lake_counts(path: Path) -> int:
    with Lake(path, read_only=True) as lake:
        return int(lake.counts()["hospitalisations"])


def test_the_current_data_files_are_plain_parquet_that_other_engines_read(
        state: Path, pack: ReferencePack, tmp_path: Path) -> None:
    """After a supersession (which deletes rows) the current files carry no delete files:
    DuckDB without rmds or DuckLake, and pyarrow, read them and count what rmds counts."""
    new_file, _ = _republished(state, tmp_path / "corrigido")
    lake_path = tmp_path / "lago"
    with Lake(lake_path) as lake:
        ingest(lake, [state / "SIH", state / "SIM"], pack)
        ingest(lake, [new_file], pack)
        counts = lake.counts()
        files = {t.name: lake.current_files(t.name) for t in TABLES}
    assert counts["hospitalisations"] > 0
    plain = duckdb.connect()
    for name, listed in files.items():
        assert all(f["exclusoes"] is None for f in listed), name
        paths = [f["arquivo"] for f in listed]
        if not paths:
            assert counts[name] == 0
            continue
        got = plain.execute("SELECT count(*) FROM read_parquet(?, union_by_name = true)",
                            [paths]).fetchall()[0][0]
        assert got == counts[name], name
        assert sum(pq.read_metadata(p).num_rows for p in paths) == counts[name]
    # the same list through the CLI, as Spark would be given it
    result = CliRunner().invoke(cli, ["snapshots", "files", "hospitalisations", "--lake",
                                      str(lake_path)])
    assert result.exit_code == 0, result.output
    listed_files = json.loads(result.output)["arquivos"]
    assert sorted(f["arquivo"] for f in listed_files) == sorted(
        f["arquivo"] for f in files["hospitalisations"])


def test_a_lake_in_a_folder_with_a_quote_in_its_name_works(
        state: Path, pack: ReferencePack, tmp_path: Path) -> None:
    """Pingo d'Água (MG): paths are never spliced into SQL."""
    folder = tmp_path / "Pingo d'Água"
    with Lake(folder / "lago") as lake:
        [outcome] = ingest(lake, [state / "SIH" / JANUARY], pack)
        assert outcome.status == "carregado"
        lake.export_parquet(folder / "exportação")
    with Lake(folder / "lago", read_only=True) as lake:
        assert lake.counts()["hospitalisations"] == outcome.batch["rows_accepted"]  # type: ignore[index]
    assert list((folder / "exportação" / "hospitalisations").rglob("*.parquet"))
    population = shutil.copy(state / "populacao.csv", folder / "população d'água.csv")
    with Lake(folder / "lago") as lake:
        compute(lake, pack, population=Path(population))
    result = CliRunner().invoke(cli, ["indicators", "export", str(folder / "m'art.csv"),
                                      "--lake", str(folder / "lago")])
    assert result.exit_code == 0, result.output
    assert (folder / "m'art.csv").stat().st_size > 0


def test_kill_mid_compute_leaves_the_previous_snapshot_whole(
        state: Path, pack: ReferencePack, tmp_path: Path) -> None:
    lake_path = tmp_path / "lago"
    with Lake(lake_path) as lake:
        ingest(lake, [state], pack)
        compute(lake, pack, population=state / "populacao.csv")
        before = lake.snapshot_id()
        figures = _mart(lake, PERIODS)
    env = {**os.environ, FAULT_COMMIT_ENV: "indicadores"}
    killed = subprocess.run(
        [sys.executable, "-m", "rmds.cli", "indicators", "compute", "--lake", str(lake_path),
         "--population", str(state / "populacao.csv")],
        env=env, capture_output=True, text=True, cwd=ROOT, check=False)
    assert killed.returncode == -9, killed.stderr
    with Lake(lake_path) as lake:        # the writer lock died with the process
        assert lake.snapshot_id() == before
        assert _mart(lake, PERIODS) == figures


# ----------------------------------------------------------------- serving while writing


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rmds(args: list[str], env: dict[str, str], **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "rmds.cli", *args], env=env, cwd=ROOT,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            **kwargs)


@pytest.mark.slow
def test_the_site_keeps_answering_while_other_processes_load_link_and_compute(
        state: Path, pack: ReferencePack, tmp_path: Path) -> None:
    """`rmds serve` in one process; `rmds ingest` of a new month, `rmds link
    --incremental` and `rmds indicators compute` in others (first an ingest and a compute
    killed with SIGKILL midway); a client requesting pages and API routes meanwhile: no
    failed request, each answer from one committed snapshot (its batch list is exactly
    that snapshot's), and the answers move to the new snapshots."""
    december = state / "SIH" / "RDMG2312.dbc"
    first = tmp_path / "primeira-carga"
    shutil.copytree(state, first)
    (first / "SIH" / december.name).unlink()
    lake_path = tmp_path / "lago"
    population = state / "populacao.csv"
    env = {**os.environ, "RMDS_HOME": str(tmp_path / "home"),
           "RMDS_LAKE": str(lake_path), "RMDS_NEW_PASSWORD": "senha-de-teste-123"}
    for args in (["ingest", str(first)], ["link"],
                 ["indicators", "compute", "--population", str(population)],
                 ["users", "add", "ana", "--role", "analista_estadual"]):
        done = _rmds(args, env)
        _out, err = done.communicate(timeout=600)
        assert done.returncode == 0, (args, err)
    with Lake(lake_path, read_only=True) as lake:
        start = lake.snapshot_id()
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "rmds.cli", "serve", "--port", str(port)],
                              env=env, cwd=ROOT, text=True, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    answers: list[tuple[float, str, int, int, Any]] = []
    stop = threading.Event()
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            deadline = time.monotonic() + 240
            while True:
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                try:
                    if client.get("/api/saude").status_code == 200:
                        break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "rmds serve did not start"
                    time.sleep(0.2)
            login = client.post("/api/sessao", json={"usuario": "ana",
                                                     "senha": "senha-de-teste-123"})
            assert login.status_code == 200, login.text
            auth = {"Authorization": f"Bearer {login.json()['token']}"}
            routes = ["/api/cargas", "/",
                      "/api/indicadores/taxa_internacao/valores?nivel=estado&periodo=2023",
                      "/api/qualidade"]

            def poll() -> None:
                # a request that fails in transport (refused, reset, timed out) is a failed
                # answer too, recorded with its error: the poller never dies silently
                while not stop.is_set():
                    for route in routes:
                        try:
                            r = client.get(route, headers=auth)
                        except httpx.TransportError as error:
                            answers.append((time.monotonic(), route, -1, -1, repr(error)))
                            continue
                        body = r.json() if route.startswith("/api/cargas") else None
                        if r.status_code != 200:
                            body = r.text[:500]
                        answers.append((time.monotonic(), route, r.status_code,
                                        int(r.headers.get("x-rmds-snapshot", -1)), body))

            poller = threading.Thread(target=poll)
            poller.start()
            try:
                # killed mid-load and mid-compute: nothing of them is ever served
                for args, fault in (
                        (["ingest", str(december)], {FAULT_ENV: "1"}),
                        (["indicators", "compute", "--population", str(population)],
                         {FAULT_COMMIT_ENV: "indicadores"})):
                    killed = _rmds(args, {**env, **fault})
                    killed.communicate(timeout=600)
                    assert killed.returncode == -9, args
                with Lake(lake_path, read_only=True) as lake:
                    assert lake.snapshot_id() == start
                writers = [["ingest", str(december)], ["link", "--incremental"],
                           ["indicators", "compute", "--population", str(population)]]
                for args in writers:
                    run = _rmds(args, env)
                    _, err = run.communicate(timeout=600)
                    assert run.returncode == 0, (args, err)
                with Lake(lake_path, read_only=True) as lake:
                    end = lake.snapshot_id()
                deadline = time.monotonic() + 180   # the mart of it read first
                while time.monotonic() < deadline and not any(
                        a[3] == end for a in answers[-8:]):
                    time.sleep(0.2)
                time.sleep(0.5)
            finally:
                stop.set()
                poller.join(timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert answers, "the client made requests"
    served = (tmp_path / "serve.log").read_text()[-4000:]
    failed = [(route, status, body) for _, route, status, _, body in answers if status != 200]
    assert failed == [], served
    seen = [snap for _, _, _, snap, _ in answers]
    assert seen[0] == start and seen[-1] == end > start, (start, end, seen[-8:], served)
    assert all(b >= a for a, b in itertools.pairwise(seen)), "never goes back"
    # each batch list is exactly the batch list of the snapshot it says it came from
    expected: dict[int, list[int]] = {}
    for _, _route, _, snap, body in answers:
        if not isinstance(body, list):
            continue
        if snap not in expected:
            with Lake(lake_path, snapshot=snap) as lake:
                expected[snap] = [b["batch_id"] for b in lake.batches()]
        assert [b["batch_id"] for b in body] == expected[snap]
    assert len(set(expected)) >= 2


def test_a_postgresql_catalog_for_a_multi_host_lake(
        state: Path, pack: ReferencePack, tmp_path: Path) -> None:
    """The same lake with its catalog in PostgreSQL (data files in the shared folder):
    loads, supersession and time travel work the same."""
    import sqlalchemy as sa

    from rmds.lake.store import metadata_schema

    server = os.environ.get("RMDS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
    url = f"{server}/test"
    lake_path = tmp_path / "lago compartilhado"
    new_file, new_rows = _republished(state, tmp_path / "corrigido")
    try:
        with Lake(lake_path, catalog=url) as lake:
            [first] = ingest(lake, [state / "SIH" / JANUARY], pack)
            before = lake.snapshot_id()
            [second] = ingest(lake, [new_file], pack)
            assert second.status == "carregado"
        assert not (lake_path / "catalogo.sqlite").exists()
        with Lake(lake_path, catalog=url, read_only=True) as lake:
            assert lake.counts()["hospitalisations"] == second.batch["rows_accepted"]  # type: ignore[index]
            assert second.batch["rows_read"] == new_rows  # type: ignore[index]
            statuses = [b["status"] for b in lake.batches()]
            assert statuses == ["substituído", "ativo"]
        with Lake(lake_path, catalog=url, snapshot=before) as past:
            assert past.counts()["hospitalisations"] == first.batch["rows_accepted"]  # type: ignore[index]
    finally:
        engine = sa.create_engine(url)
        with engine.begin() as c:
            c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{metadata_schema(lake_path)}" CASCADE'))
        engine.dispose()


def test_expiring_snapshots_keeps_what_the_retained_ones_need(
        state: Path, pack: ReferencePack, tmp_path: Path) -> None:
    new_file, _ = _republished(state, tmp_path / "corrigido")
    lake_path = tmp_path / "lago"
    with Lake(lake_path) as lake:
        ingest(lake, [state / "SIH" / JANUARY], pack)
        first = lake.snapshot_id()
        ingest(lake, [new_file], pack)
        counts = lake.counts()
    files_before = set((lake_path / "dados").rglob("*.parquet"))
    result = CliRunner().invoke(cli, ["snapshots", "expire", "--lake", str(lake_path),
                                      "--days", "0", "--keep-last", "1"])
    assert result.exit_code == 0, result.output
    with Lake(lake_path, read_only=True) as lake:
        assert lake.counts() == counts                 # the current state is whole
        assert len(lake.snapshots()) == 1
        kept = {f["arquivo"] for t in TABLES for f in lake.current_files(t.name)}
    files_after = set((lake_path / "dados").rglob("*.parquet"))
    assert files_after < files_before                  # the superseded batch's files went
    assert {str(p) for p in files_after} >= kept       # what the kept snapshot reads stayed
    from rmds.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match="snapshot"):
        Lake(lake_path, snapshot=first)


def test_a_lake_folder_can_be_moved_or_restored_elsewhere(
        state: Path, pack: ReferencePack, tmp_path: Path) -> None:
    with Lake(tmp_path / "lago") as lake:
        ingest(lake, [state / "SIH" / JANUARY], pack)
        counts = lake.counts()
    shutil.move(tmp_path / "lago", tmp_path / "backup" / "lago restaurado")
    moved = tmp_path / "backup" / "lago restaurado"
    with Lake(moved, read_only=True) as lake:
        assert lake.counts() == counts
        files = lake.current_files("hospitalisations")
    assert files and all(f["arquivo"].startswith(str(moved)) for f in files)
