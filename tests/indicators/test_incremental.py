"""Recompute what a change touched: after a republished SIH file, only the indicators that
read admissions are stale, and recomputing just those gives the mart a full computation
gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rmds.cli import cli
from rmds.indicators.catalog import load_catalog
from rmds.indicators.compute import compute, inputs_of
from rmds.indicators.incremental import stale_indicators
from rmds.lake.ingest import ingest
from rmds.lake.store import Lake
from rmds.synth import SynthConfig, generate
from rmds.territory import ReferencePack
from tests.lake.test_live import _republished


def _mart(lake: Lake) -> list[tuple[Any, ...]]:
    return lake.run("SELECT * EXCLUDE (run_id) FROM indicator_values ORDER BY ALL")


def test_only_what_a_republished_file_touched_is_recomputed(
        pack: ReferencePack, tmp_path: Path) -> None:
    state = generate(SynthConfig(0.002, (2023,), 31, tmp_path / "estado"), pack).out
    population = state / "populacao.csv"
    catalog = load_catalog()
    reads_admissions = {i.id for i in catalog if "hospitalisations" in inputs_of([i])}
    assert reads_admissions and len(reads_admissions) < len(catalog)
    new_file, _ = _republished(state, tmp_path / "corrigido")
    with Lake(tmp_path / "lago") as lake:
        ingest(lake, [state], pack)
        assert set(stale_indicators(lake)) == {i.id for i in catalog}   # never computed
        compute(lake, pack, population=population)
        assert stale_indicators(lake) == {}
        ingest(lake, [new_file], pack)
        stale = stale_indicators(lake)
        assert set(stale) == reads_admissions
        assert all("hospitalisations" in why for why in stale.values())
    # the CLI is another writer: the lake is closed first (one writer at a time)
    result = CliRunner().invoke(cli, [
        "--lake", str(tmp_path / "lago"), "indicators", "compute", "--changed",
        "--population", str(population), "--json"])
    assert result.exit_code == 0, result.output
    with Lake(tmp_path / "lago") as lake:
        assert stale_indicators(lake) == {}
        incremental = _mart(lake)
        compute(lake, pack, population=population)
        assert _mart(lake) == incremental
    nothing = CliRunner().invoke(cli, ["--lake", str(tmp_path / "lago"), "indicators",
                                       "compute", "--changed", "--population",
                                       str(population)])
    assert nothing.exit_code == 0 and "nada a recalcular" in nothing.output


@pytest.mark.parametrize("missing", ["indicator_values"])
def test_a_lake_never_computed_has_every_indicator_stale(
        pack: ReferencePack, tmp_path: Path, missing: str) -> None:
    with Lake(tmp_path / "vazio") as lake:
        assert len(stale_indicators(lake)) == len(load_catalog())
        assert missing not in lake.table_names()
