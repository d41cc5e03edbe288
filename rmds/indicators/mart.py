"""Reading the indicator mart: one indicator's values, and exports, public or restricted.

Public output (``public=True``) is what anyone may see: the counts, value, interval and
smoothed value of a suppressed cell are blank (NULL), and the cell says it was suppressed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from rmds.access import CELL_MASKED
from rmds.engine.sql import col, ident, lit
from rmds.exceptions import ConfigurationError
from rmds.indicators.catalog import PERIOD_TYPES
from rmds.lake.store import table_exists

__all__ = ["PUBLIC_MASKED", "export", "has_mart", "latest_period", "select_sql", "values"]

#: the columns blanked in the public form of a small cell (the access policy's rule)
PUBLIC_MASKED = CELL_MASKED


def has_mart(con: duckdb.DuckDBPyConnection) -> bool:
    return table_exists(con, "indicator_values")


def _require(con: duckdb.DuckDBPyConnection) -> None:
    if not has_mart(con):
        raise ConfigurationError("o lago ainda não tem indicadores calculados: rode "
                                 "'rmds indicators compute'")


def _masked_sql(name: str, public: bool) -> str:
    """Column ``name`` of the mart, blank in a suppressed cell of the public form."""
    if public:
        return f"CASE WHEN v.suppressed THEN NULL ELSE {col('v', name)} END AS {ident(name)}"
    return col("v", name)


def select_sql(public: bool, where_sql: str = "TRUE") -> str:
    """The mart with unit names; in public form, suppressed cells are blank. ``where_sql``
    is a condition on ``v`` (the values) and ``u`` (the units), with ``?`` parameters."""
    masked_sql = ", ".join(_masked_sql(c, public) for c in PUBLIC_MASKED)
    return (
        "SELECT v.indicator_id, v.level, v.unit_code, u.name AS unit_name, v.vintage, "
        f"v.period_type, v.period, v.year, {masked_sql}, v.suppressed "
        "FROM indicator_values v LEFT JOIN indicator_units u ON u.level = v.level "
        "AND u.unit_code = v.unit_code AND u.vintage = v.vintage "
        f"WHERE {where_sql}")


def latest_period(con: duckdb.DuckDBPyConnection, period_type: str = "ano") -> str | None:
    _require(con)
    rows = con.execute("SELECT max(period) FROM indicator_values WHERE period_type = ?",
                       [period_type]).fetchall()
    return str(rows[0][0]) if rows and rows[0][0] is not None else None


def period_type_of(period: str) -> str:
    if "-T" in period:
        return "trimestre"
    return "mes" if "-" in period else "ano"


def values(con: duckdb.DuckDBPyConnection, indicator_id: str, level: str,
           period: str | None = None, *, public: bool = False,
           unit_code: str | None = None) -> list[dict[str, Any]]:
    """One indicator's cells at one level and period (default: the latest year)."""
    _require(con)
    period = period or latest_period(con)
    if period is None:
        return []
    if period_type_of(period) not in PERIOD_TYPES:
        raise ConfigurationError(f"período inválido: {period!r}")
    where_sql = "v.indicator_id = ? AND v.level = ? AND v.period = ?"
    params: list[Any] = [indicator_id, level, period]
    if unit_code is not None:
        where_sql += " AND v.unit_code = ?"
        params.append(unit_code)
    cursor = con.execute(select_sql(public, where_sql) + " ORDER BY v.value DESC NULLS LAST, "
                         "v.unit_code", params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def export(con: duckdb.DuckDBPyConnection, target: Path, fmt: str, *,
           public: bool = True) -> int:
    """The whole mart as one CSV or Parquet file; public form unless asked otherwise."""
    _require(con)
    if fmt not in ("csv", "parquet"):
        raise ConfigurationError(f"formato desconhecido: {fmt} (use csv ou parquet)")
    target.parent.mkdir(parents=True, exist_ok=True)
    options_sql = "FORMAT PARQUET" if fmt == "parquet" else "FORMAT CSV, HEADER"
    query_sql = select_sql(public) + " ORDER BY indicator_id, level, unit_code, period"
    con.execute(f"COPY ({query_sql}) TO {lit(str(target))} ({options_sql})").fetchall()
    return int(con.execute("SELECT count(*) FROM indicator_values").fetchall()[0][0])
