"""The DuckDB engine: the lake's own connection (one machine, the default)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from rmds.engine.sql import ident, lit, lit_list

__all__ = ["DuckDBEngine", "fetch_arrow"]


def fetch_arrow(con: duckdb.DuckDBPyConnection, sql: str,
                params: list[object] | None = None) -> pa.Table:
    """The result of a DuckDB query as an Arrow table (DuckDB 1.x and 2.x method names)."""
    relation = con.execute(sql, params) if params else con.sql(sql)
    method = getattr(relation, "to_arrow_table", None) or getattr(relation, "arrow", None)
    if method is None:  # pragma: no cover - older DuckDB
        method = relation.fetch_arrow_table
    table = method()
    if isinstance(table, pa.RecordBatchReader):
        table = table.read_all()
    return table


class DuckDBEngine:
    """Runs on a DuckDB connection; relations are the connection's temporary tables."""

    name = "duckdb"
    dialect = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def register(self, name: str, data: pa.Table) -> None:
        self.con.register("rmds_incoming", data)
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(name)} AS "
                             "SELECT * FROM rmds_incoming").fetchall()
        finally:
            self.con.unregister("rmds_incoming")

    def register_parquet(self, name: str, paths: Sequence[str], schema: pa.Schema) -> None:
        if not paths:
            self.register(name, schema.empty_table())
            return
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {ident(name)} AS SELECT * FROM "
                         f"read_parquet([{lit_list(paths)}], union_by_name = true)"
                         ).fetchall()

    def create(self, name: str, query_sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(name)} AS {query_sql}"
                         ).fetchall()

    def query(self, sql: str) -> pa.Table:
        return fetch_arrow(self.con, sql)

    def write_parquet(self, query_sql: str, path: Path) -> None:
        self.con.execute(f"COPY ({query_sql}) TO {lit(str(path))} (FORMAT parquet)"
                         ).fetchall()

    def write_partitioned(self, query_sql: str, path: Path, partition_by: Sequence[str]
                          ) -> None:
        columns_sql = ", ".join(ident(c) for c in partition_by)
        self.con.execute(f"COPY ({query_sql}) TO {lit(str(path))} (FORMAT PARQUET, "
                         f"PARTITION_BY ({columns_sql}), OVERWRITE_OR_IGNORE)").fetchall()

    def render(self, sql: str) -> str:
        return sql

    def close(self) -> None:
        """The connection is the lake's: it stays open."""
