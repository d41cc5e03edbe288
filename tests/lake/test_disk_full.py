"""A full disk during ``rmds ingest`` or ``rmds indicators compute`` (issue 20): a clear
Portuguese message, a non-zero exit, no traceback, and the lake as it was (the open
DuckLake transaction is not committed). The full disk is simulated at the lake's write."""

from __future__ import annotations

import errno
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from click.testing import CliRunner

from rmds.cli import cli, disk_full
from rmds.lake.store import Lake
from rmds.synth import SynthConfig, generate
from rmds.territory import ReferencePack


@pytest.fixture(scope="module")
def state(pack: ReferencePack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("disco") / "estado"
    generate(SynthConfig(0.002, (2023,), 23, out), pack)
    return out


def _as_before(lake_path: Path) -> tuple[int, dict[str, int]]:
    with Lake(lake_path, read_only=True) as lake:
        return lake.snapshot_id(), lake.counts()


def _fill_the_disk(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> list[str]:
    tried: list[str] = []

    def full(self: Lake, name: str, data: pa.Table) -> None:
        tried.append(name)
        raise error

    monkeypatch.setattr(Lake, "insert", full)
    return tried


def test_disk_full_errors_are_recognised() -> None:
    assert disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert disk_full(duckdb.IOException('IO Error: Could not write file "x.parquet": '
                                        "No space left on device"))
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("ao gravar") from inner
    except RuntimeError as outer:
        assert disk_full(outer)
    assert disk_full(OSError(errno.EACCES, "Permission denied")) is None
    assert disk_full(duckdb.IOException("IO Error: file is locked")) is None


@pytest.mark.slow
def test_a_full_disk_leaves_the_lake_as_before_with_a_clear_message(
        state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lake_path = tmp_path / "lago"
    base = ["--store", f"sqlite:///{tmp_path / 'op.db'}"]
    runner = CliRunner()
    loaded = runner.invoke(cli, [*base, "ingest", str(state / "SIM"), "--lake", str(lake_path)])
    assert loaded.exit_code == 0, loaded.output
    before = _as_before(lake_path)
    assert before[1]["deaths"] > 0

    with monkeypatch.context() as m:
        tried = _fill_the_disk(m, OSError(errno.ENOSPC, "No space left on device",
                                          str(lake_path / "data" / "x.parquet")))
        result = runner.invoke(cli, [*base, "ingest", str(state / "SIH"),
                                     "--lake", str(lake_path)])
    assert tried, "the simulated disk was never written"
    assert result.exit_code == 2
    assert "disco cheio ao gravar" in result.output
    assert "nada dela foi confirmado no lago" in result.output
    assert "Traceback" not in result.output
    assert _as_before(lake_path) == before

    with monkeypatch.context() as m:
        tried = _fill_the_disk(m, duckdb.IOException(
            'IO Error: Could not write file "x.parquet": No space left on device'))
        result = runner.invoke(cli, [*base, "indicators", "compute", "--lake", str(lake_path),
                                     "--population", str(state / "populacao.csv")])
    assert tried == ["indicator_values"]
    assert result.exit_code == 2 and "disco cheio:" in result.output, result.output
    assert _as_before(lake_path) == before
    with Lake(lake_path, read_only=True) as lake:
        assert not lake.run("SELECT table_name FROM information_schema.tables WHERE "
                            "table_name = 'indicator_values' AND table_catalog = 'lake'")
