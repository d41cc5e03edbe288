"""The same declarations on both engines: DuckDB (the lake's connection) and Spark (local
mode, reading the lake's Parquet files) give the same indicator cells and the same data
quality diagnosis on one small synthetic state."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rmds.indicators.catalog import load_catalog
from rmds.indicators.compute import compute
from rmds.lake.ingest import ingest
from rmds.lake.store import Lake
from rmds.linkage.run import link
from rmds.quality.report import quality_report
from rmds.quality.rules import load_rules
from rmds.synth import SynthConfig, generate
from rmds.territory import ReferencePack

pytestmark = pytest.mark.spark

KEY = ("indicator_id", "level", "unit_code", "vintage", "period_type", "period")


@pytest.fixture(scope="module")
def state(pack: ReferencePack, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[Path, Path]]:
    # a folder with a quote in its name: paths never enter SQL text on either engine
    folder = tmp_path_factory.mktemp("paridade") / "Pingo d'Água"
    out = generate(SynthConfig(0.003, (2023,), 29, folder / "estado"), pack).out
    with Lake(folder / "lago") as lake:
        ingest(lake, [out], pack)
        link(lake)
    yield folder / "lago", out


def _rows(lake: Lake, sql: str) -> list[dict[str, Any]]:
    cursor = lake.con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


def _by_engine(path: Path, pack: ReferencePack, population: Path, what: str
               ) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for engine in ("duckdb", "spark"):
        with Lake(path) as lake:
            if what == "indicators":
                compute(lake, pack, population=population, engine=engine)
                out[engine] = _rows(lake, "SELECT * EXCLUDE (run_id) FROM indicator_values "
                                    "ORDER BY " + ", ".join(KEY))
            else:
                quality_report(lake, pack, population=population, engine=engine)
                out[engine] = (_rows(lake, "SELECT * FROM quality_values "
                                     "ORDER BY rule_id, municipality")
                               + _rows(lake, "SELECT * FROM quality_scores "
                                       "ORDER BY municipality"))
    return out


def test_every_indicator_cell_is_the_same_on_duckdb_and_spark(
        state: tuple[Path, Path], pack: ReferencePack) -> None:
    path, out = state
    found = _by_engine(path, pack, out / "populacao.csv", "indicators")
    duck, spark = found["duckdb"], found["spark"]
    assert len(duck) == len(spark) > 0
    # every indicator of the catalog is in the mart, with events counted
    assert {r["indicator_id"] for r in duck} == {i.id for i in load_catalog()}
    assert sum(r["numerator"] for r in duck if r["level"] == "estado") > 0
    exact = ("numerator", "denominator", "suppressed", *KEY, "year")
    for a, b in zip(duck, spark, strict=True):
        assert {k: a[k] for k in exact} == {k: b[k] for k in exact}
        for column in ("value", "ci_low", "ci_high", "smoothed"):
            assert _close(a[column], b[column]), (a, b, column)


def test_the_quality_diagnosis_is_the_same_on_duckdb_and_spark(
        state: tuple[Path, Path], pack: ReferencePack) -> None:
    path, out = state
    found = _by_engine(path, pack, out / "populacao.csv", "quality")
    duck, spark = found["duckdb"], found["spark"]
    assert len(duck) == len(spark) > 0
    measured = {r["rule_id"] for r in duck if "rule_id" in r}
    # every rule measured, the duplicate-record rules included (the lake is linked)
    assert measured == {r.id for r in load_rules()}
    for a, b in zip(duck, spark, strict=True):
        assert a.keys() == b.keys()
        for column in a:
            assert _close(a[column], b[column]), (a, b, column)


def test_the_cli_computes_on_spark_when_told(state: tuple[Path, Path]) -> None:
    from click.testing import CliRunner

    from rmds.cli import cli

    path, out = state
    result = CliRunner().invoke(cli, [
        "--engine", "spark", "--lake", str(path), "indicators", "compute",
        "--population", str(out / "populacao.csv"), "--only", "baixo_peso_ao_nascer",
        "--json"])
    assert result.exit_code == 0, result.output
    with Lake(path, read_only=True) as lake:
        last = lake.snapshots()[-1]
    assert last.message == "indicadores" and last.extra["motor"] == "spark"


def test_the_parquet_export_is_the_same_from_both_engines(state: tuple[Path, Path]) -> None:
    import pyarrow.dataset as ds
    from click.testing import CliRunner

    from rmds.cli import cli

    path, _ = state
    out = path.parent / "exportação d'água"
    for engine in ("duckdb", "spark"):
        result = CliRunner().invoke(cli, ["--engine", engine, "--lake", str(path), "export",
                                          "parquet", str(out / engine)])
        assert result.exit_code == 0, result.output
    with Lake(path, read_only=True) as lake:
        counts = lake.counts()
    tables = sorted(p.name for p in (out / "duckdb").iterdir())
    assert tables == sorted(p.name for p in (out / "spark").iterdir())
    assert "identity_records" not in tables and "hospitalisations" in tables
    for name in tables:
        found = {}
        for engine in ("duckdb", "spark"):
            data = ds.dataset(out / engine / name, format="parquet",
                              partitioning="hive").to_table()
            found[engine] = data
        assert found["duckdb"].num_rows == found["spark"].num_rows == counts[name]
        # the same partitions: (system, year) pairs with their row counts
        assert (found["duckdb"].group_by(["source_system", "ano"]).aggregate(
                    [([], "count_all")]).sort_by([("source_system", "ascending"),
                                                  ("ano", "ascending")]).to_pylist()
                == found["spark"].group_by(["source_system", "ano"]).aggregate(
                    [([], "count_all")]).sort_by([("source_system", "ascending"),
                                                  ("ano", "ascending")]).to_pylist())
