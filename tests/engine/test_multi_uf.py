"""A multi-UF slice on Spark local mode: the pipeline is UF-agnostic.

Minas Gerais and two copies of its territory under the codes of ES and RJ
(``rmds reference replicate``) make one synthetic "country" of three UFs; the generator
writes one DATASUS file per UF; the lake loads them side by side; the linkage runs on
Spark over every UF's records; the indicators and the quality diagnosis run on Spark and
give exactly DuckDB's cells, with one state per UF whose numerators are the sums of its
own municipalities'."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rmds.indicators.catalog import load_catalog
from rmds.indicators.compute import compute
from rmds.lake.ingest import ingest
from rmds.lake.store import Lake
from rmds.linkage.run import evaluate_against_truth, link
from rmds.quality.report import quality_report
from rmds.synth import SynthConfig, generate
from rmds.territory import ReferencePack
from rmds.territory.replicate import replicate_pack
from tests.engine.test_parity import KEY, _close, _rows

# several minutes on two cores: run alone with -m slow
pytestmark = [pytest.mark.spark, pytest.mark.slow]

UFS = {"31": "MG", "32": "ES", "33": "RJ"}


@pytest.fixture(scope="module")
def slice_(pack: ReferencePack, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[ReferencePack, Path, Path]]:
    folder = tmp_path_factory.mktemp("multi-uf")
    multi = ReferencePack(replicate_pack(pack.directory, folder / "pacote", ["ES", "RJ"]))
    state = generate(SynthConfig(0.001, (2023,), 17, folder / "estado"), multi).out
    with Lake(folder / "lago") as lake:
        outcomes = ingest(lake, [state], multi)
        assert not [o for o in outcomes if o.status == "erro"]
    yield multi, folder / "lago", state


def test_the_lake_holds_every_ufs_files_side_by_side(
        slice_: tuple[ReferencePack, Path, Path]) -> None:
    _, path, _ = slice_
    with Lake(path, read_only=True) as lake:
        files = {r["file_name"][:4] for r in _rows(
            lake, "SELECT file_name FROM batches WHERE system = 'SIM'")}
        deaths = {r["uf"]: r["n"] for r in _rows(
            lake, "SELECT substr(residence_municipality, 1, 2) AS uf, count(*) AS n "
            "FROM deaths GROUP BY 1")}
    assert files == {f"DO{uf}" for uf in UFS.values()}
    assert set(deaths) == set(UFS) and min(deaths.values()) > 0


def test_spark_links_the_persons_of_every_uf(
        slice_: tuple[ReferencePack, Path, Path]) -> None:
    _, path, state = slice_
    with Lake(path) as lake:
        summary = link(lake, engine="spark")
        scores = evaluate_against_truth(lake, state / "verdade" / "registros.parquet")
        # people admitted to another UF's hospital (the AIH number begins with the code of
        # the UF that issued it) who have other records too: the linkage must follow them
        # across the border
        crossing = lake.con.execute("""
            WITH home AS (
              SELECT person_id AS true_id, substr(municipality, 1, 2) AS uf
              FROM read_parquet(?)),
            linked AS (
              SELECT t.person_id AS true_id, t.source, t.record, l.person_id, home.uf
              FROM read_parquet(?) t JOIN home ON home.true_id = t.person_id
              JOIN person_links l
                ON l.record_uid = t.source || '|' || regexp_extract(t.file, '[^/]+$')
                                  || '|' || t.record || '|' || t.role),
            crossing AS (
              SELECT true_id FROM linked GROUP BY true_id
              HAVING count(*) > 1
                 AND bool_or(source = 'SIH' AND substr(record, 1, 2) <> uf))
            SELECT count(*), count(*) FILTER (WHERE n = 1) FROM (
              SELECT true_id, count(DISTINCT person_id) AS n
              FROM linked JOIN crossing USING (true_id) GROUP BY true_id)""",
            [str(state / "verdade" / "pessoas.parquet"),
             str(state / "verdade" / "registros.parquet")]).fetchone()
    assert summary.records > 10_000
    assert crossing is not None and crossing[0] > 0
    assert crossing[1] >= crossing[0] - 1         # one person on both sides of the border
    assert scores.precision > 0.999 and scores.f1 > 0.97


def test_indicators_and_quality_on_spark_have_one_state_per_uf(
        slice_: tuple[ReferencePack, Path, Path]) -> None:
    multi, path, state = slice_
    population = state / "populacao.csv"
    cells: dict[str, list[dict[str, Any]]] = {}
    for engine in ("duckdb", "spark"):
        with Lake(path) as lake:
            compute(lake, multi, population=population, engine=engine)
            cells[engine] = _rows(lake, "SELECT * EXCLUDE (run_id) FROM indicator_values "
                                  "ORDER BY " + ", ".join(KEY))
    duck, spark = cells["duckdb"], cells["spark"]
    assert len(duck) == len(spark) > 0
    exact = ("numerator", "denominator", "suppressed", *KEY, "year")
    for a, b in zip(duck, spark, strict=True):
        assert {k: a[k] for k in exact} == {k: b[k] for k in exact}
        for column in ("value", "ci_low", "ci_high", "smoothed"):
            assert _close(a[column], b[column]), (a, b, column)
    catalog = {i.id for i in load_catalog()}
    annual = [r for r in spark if r["period"] == "2023"]
    vintage = annual[0]["vintage"]
    states = {(r["indicator_id"], r["unit_code"]): r["numerator"] for r in annual
              if r["level"] == "estado" and r["vintage"] == vintage}
    assert {uf for _, uf in states} == set(UFS)
    assert {i for i, _ in states} == catalog
    summed: dict[tuple[str, str], int] = {}
    for r in annual:
        if r["level"] == "municipio" and r["vintage"] == vintage:
            key = (r["indicator_id"], r["unit_code"][:2])
            summed[key] = summed.get(key, 0) + (r["numerator"] or 0)
    assert {k: v or 0 for k, v in states.items()} == summed
    for uf in UFS:
        assert states[("mortalidade_infantil", uf)] is not None
        assert sum(v or 0 for (_, u), v in states.items() if u == uf) > 0
    with Lake(path) as lake:
        quality_report(lake, multi, population=population, engine="spark")
        scored = {r["uf"]: r["n"] for r in _rows(
            lake, "SELECT substr(municipality, 1, 2) AS uf, count(*) AS n "
            "FROM quality_scores GROUP BY 1")}
    assert scored == {uf: len(multi.members(multi.states[uf])) for uf in UFS}
