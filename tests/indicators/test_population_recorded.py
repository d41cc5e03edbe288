"""A lake loaded from a synthetic state records the state's population, and the indicators
divide by it unless another is given: before, a hospitalisation rate computed on such a lake
silently divided by the reference pack's (the whole real state), a rate some 200 times too
small (0.34 ‰ instead of 66.85 ‰ in the audit)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rmds.cli import cli
from rmds.indicators.mart import values
from rmds.lake.ingest import ingest
from rmds.lake.population import recorded_population
from rmds.lake.store import Lake
from rmds.synth import SynthConfig, generate
from rmds.territory import ReferencePack

YEAR = 2023


def _state_population(path: Path, year: int) -> float:
    """The state's residents in ``year``, summed by hand from the synthetic file."""
    total = 0.0
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if int(row["ano"]) == year:
                total += sum(float(v) for k, v in row.items()
                             if k.startswith("pop_") and k != "pop_total")
    return total


def test_compute_divides_by_the_population_the_lake_was_built_with(
        pack: ReferencePack, tmp_path: Path) -> None:
    state = generate(SynthConfig(0.002, (YEAR,), 31, tmp_path / "estado"), pack).out
    residents = _state_population(state / "populacao.csv", YEAR)
    with Lake(tmp_path / "lago") as lake:
        ingest(lake, [state], pack)
        recorded = recorded_population(lake)
        assert recorded is not None and recorded[1] == str(state / "populacao.csv")
        snapshots = len(lake.snapshots())
        ingest(lake, [state], pack)          # the same state again: no new population
        assert len(lake.snapshots()) == snapshots
    # no --population: the CLI takes the lake's
    result = CliRunner().invoke(cli, ["--lake", str(tmp_path / "lago"), "indicators",
                                      "compute", "--only", "taxa_internacao", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["indicadores"] == 1
    with Lake(tmp_path / "lago", read_only=True) as lake:
        [row] = values(lake.con, "taxa_internacao", "estado", str(YEAR))
        source = lake.scalar("SELECT population_source FROM indicator_runs "
                             "ORDER BY run_id DESC LIMIT 1")
    assert row["denominator"] == residents
    assert row["value"] == pytest.approx(row["numerator"] / residents * 100)
    assert "populacao.csv" in source and "registrada no lago" in source
    # the reference pack's population, asked for by name, is many times larger
    result = CliRunner().invoke(cli, [
        "--lake", str(tmp_path / "lago"), "indicators", "compute", "--only",
        "taxa_internacao", "--population", str(pack.directory / "populacao_sexo_faixa5.csv")])
    assert result.exit_code == 0, result.output
    with Lake(tmp_path / "lago", read_only=True) as lake:
        [pack_row] = values(lake.con, "taxa_internacao", "estado", str(YEAR))
    assert pack_row["denominator"] > 100 * residents
