"""Spark reads the lake's current Parquet data files as they are, without rmds, and finds
the same rows rmds does (ingestion compacts what a load deleted, so no delete file is left
for a reader that does not know DuckLake)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rmds.engine.spark import SparkEngine
from rmds.engine.sql import ident
from rmds.lake.ingest import ingest
from rmds.lake.store import Lake
from rmds.schema import TABLES
from rmds.synth import SynthConfig, generate
from rmds.territory import ReferencePack

pytestmark = pytest.mark.spark


def test_spark_counts_the_rows_rmds_counts(pack: ReferencePack, tmp_path: Path) -> None:
    out = generate(SynthConfig(0.002, (2023,), 5, tmp_path / "estado"), pack).out
    with Lake(tmp_path / "lago d'água") as lake:
        ingest(lake, [out], pack)
        expected = lake.counts()
        engine = SparkEngine.for_lake(lake, [t.name for t in TABLES])
        try:
            found = {t.name: int(engine.query("SELECT count(*) AS n FROM " + ident(t.name))
                                 .column("n")[0].as_py()) for t in TABLES}
        finally:
            engine.close()
    assert found == {t.name: expected[t.name] for t in TABLES}
    assert sum(found.values()) > 1000
