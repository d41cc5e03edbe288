"""The Spark engine: the same queries on Apache Spark, transpiled by sqlglot.

Local mode (``local[*]``) on one machine for development and CI; on a cluster, rmds runs
under ``spark-submit`` with ``RMDS_SPARK_MASTER`` (or the master ``spark-submit`` sets)
pointing at it. Spark reads the lake's current Parquet data files directly, as any Parquet
reader would (the files a snapshot lists in the DuckLake catalog; deletions are compacted
away at every load, so none carries a delete file).
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlglot

from rmds.engine.base import LakeSource
from rmds.exceptions import ConfigurationError

__all__ = ["SparkEngine", "session"]

_LOCK = threading.Lock()


def session() -> Any:
    """The process's Spark session (created once): local mode unless ``RMDS_SPARK_MASTER``
    or ``spark-submit`` says otherwise; Splink's similarity functions on its classpath."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover - pyspark is a dependency
        raise ConfigurationError("o motor Spark precisa do pacote pyspark instalado") from None
    with _LOCK:
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        builder = SparkSession.builder.appName("rmds")
        master = os.environ.get("RMDS_SPARK_MASTER")
        if master:
            builder = builder.master(master)
        elif "spark.master" not in os.environ.get("PYSPARK_SUBMIT_ARGS", ""):
            builder = builder.master("local[*]")
        jars = _splink_jar()
        config = {
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.session.timeZone": "UTC",
            # DuckDB's semantics: x / 0 is NULL, not an error
            "spark.sql.ansi.enabled": "false",
            "spark.sql.shuffle.partitions": os.environ.get("RMDS_SPARK_PARTITIONS", "8"),
            "spark.driver.memory": os.environ.get("RMDS_SPARK_MEMORY", "2g"),
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            "spark.jars": jars,
            # not ./spark-warehouse wherever rmds happens to run
            "spark.sql.warehouse.dir": tempfile.mkdtemp(prefix="rmds-spark-"),
        }
        for key, value in config.items():
            if value:
                builder = builder.config(key, value)
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        return spark


def _splink_jar() -> str:
    try:
        from splink.internals.spark.jar_location import similarity_jar_location
    except ImportError:  # pragma: no cover
        return ""
    return str(similarity_jar_location())


class SparkEngine:
    """Runs on a Spark session; relations are temporary views (cached when materialised)."""

    name = "spark"
    dialect = "spark"

    def __init__(self, spark: Any | None = None) -> None:
        self.spark = spark if spark is not None else session()
        self._cached: dict[str, Any] = {}

    @classmethod
    def for_lake(cls, lake: LakeSource, tables: Sequence[str]) -> SparkEngine:
        """An engine that sees ``tables`` of the lake as they are at the lake's snapshot,
        read from their Parquet data files (not through rmds)."""
        engine = cls()
        present = set(lake.table_names())
        for name in tables:
            if name not in present:
                continue
            files = lake.current_files(name)
            if any(f["exclusoes"] for f in files):
                raise ConfigurationError(
                    f"a tabela {name} do lago tem arquivos de exclusão: rode 'rmds snapshots "
                    "compact' antes de ler o lago com o Spark")
            engine.register_parquet(name, [f["arquivo"] for f in files],
                                    lake.schema_of(name))
        return engine

    def register(self, name: str, data: pa.Table) -> None:
        # one chunk per column: PySpark 4.0's createDataFrame silently drops rows of an
        # Arrow table made of many record batches (208,415 rows in 86 batches arrived as
        # 5,317; found by the parity test)
        frame = self.spark.createDataFrame(data.combine_chunks())
        self._replace(name, frame)

    def register_parquet(self, name: str, paths: Sequence[str], schema: pa.Schema) -> None:
        from pyspark.sql.pandas.types import from_arrow_schema

        spark_schema = from_arrow_schema(schema)
        if paths:
            frame = self.spark.read.schema(spark_schema).parquet(*paths)
        else:
            frame = self.spark.createDataFrame([], spark_schema)
        frame.createOrReplaceTempView(name)

    def create(self, name: str, sql: str) -> None:
        frame = self.spark.sql(self.render(sql)).cache()
        self._replace(name, frame)

    def _replace(self, name: str, frame: Any) -> None:
        old = self._cached.pop(name, None)
        frame.createOrReplaceTempView(name)
        self._cached[name] = frame
        if old is not None:
            old.unpersist()

    def query(self, sql: str) -> pa.Table:
        table: pa.Table = self.spark.sql(self.render(sql)).toArrow()
        return table

    def write_parquet(self, sql: str, path: Path) -> None:
        self.spark.sql(self.render(sql)).write.mode("overwrite").parquet(str(path))

    def write_partitioned(self, sql: str, path: Path, partition_by: Sequence[str]) -> None:
        (self.spark.sql(self.render(sql)).write.mode("overwrite")
         .partitionBy(*partition_by).parquet(str(path)))

    def render(self, sql: str) -> str:
        return ";\n".join(sqlglot.transpile(sql, read="duckdb", write="spark"))

    def close(self) -> None:
        for name, frame in self._cached.items():
            frame.unpersist()
            self.spark.catalog.dropTempView(name)
        self._cached.clear()
