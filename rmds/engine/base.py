"""The interface every engine implements, and how a computation gets one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from rmds.exceptions import ConfigurationError

__all__ = ["ENGINES", "Engine", "LakeSource", "open_engine", "source_tables"]

ENGINES = ("duckdb", "spark")


class LakeSource(Protocol):
    """What an engine needs of a lake (:class:`rmds.lake.store.Lake` is one): its
    connection, its tables, their schemas and their current data files."""

    con: duckdb.DuckDBPyConnection

    def table_names(self) -> list[str]: ...

    def schema_of(self, name: str) -> pa.Schema: ...

    def current_files(self, name: str) -> list[dict[str, Any]]: ...


class Engine(Protocol):
    """Where a computation runs. Queries are DuckDB SQL whose values and names were
    rendered by :mod:`rmds.engine.sql`; each engine writes them in its own dialect."""

    name: str
    dialect: str

    def register(self, name: str, data: pa.Table) -> None:
        """Make an Arrow table a named relation (replacing one of that name)."""

    def register_parquet(self, name: str, paths: Sequence[str], schema: pa.Schema) -> None:
        """Make Parquet files (with this schema; none: an empty relation) a relation."""

    def create(self, name: str, sql: str) -> None:
        """Materialise a query as a named relation, for the steps that follow."""

    def query(self, sql: str) -> pa.Table:
        """Run a query; the result as Arrow."""

    def write_parquet(self, sql: str, path: Path) -> None:
        """Write a query's result as Parquet at ``path`` (a file on DuckDB, a folder of
        part files on Spark)."""

    def write_partitioned(self, sql: str, path: Path, partition_by: Sequence[str]) -> None:
        """Write a query's result as Hive-partitioned Parquet under the folder ``path``
        (``col=value/…``), replacing what is there."""

    def render(self, sql: str) -> str:
        """The query as this engine runs it."""

    def close(self) -> None:
        """Release what the engine holds (never the lake)."""


def source_tables() -> tuple[str, ...]:
    """The lake tables computations read: the canonical tables (identity included) and the
    person index; never the marts they write."""
    from rmds.schema import TABLES

    return (*(t.name for t in TABLES), "person_links")


def open_engine(kind: str, lake: LakeSource, tables: Sequence[str] | None = None) -> Engine:
    """An engine of ``kind`` that sees the lake's ``tables`` (default:
    :func:`source_tables`) at the lake's snapshot."""
    tables = source_tables() if tables is None else tables
    if kind == "duckdb":
        from rmds.engine.duck import DuckDBEngine

        return DuckDBEngine(lake.con)
    if kind == "spark":
        from rmds.engine.spark import SparkEngine

        return SparkEngine.for_lake(lake, tables)
    raise ConfigurationError(f"motor desconhecido {kind!r}; conhecidos: {', '.join(ENGINES)}")
