"""SQL values and identifiers rendered by sqlglot: the only way a value, a path or a
declared name enters SQL text in rmds.

Text may be assembled from fragments, but every interpolated piece is either one of these
renderings (or ``rmds.lake.store.literal``), a constant written in the source, or another
fragment built the same way (by convention a name, attribute or function ending in ``_sql``
or ``_SQL``). ``tests/test_sql_safety.py`` reads the source of ``rmds/`` and fails on any
other interpolation (f-string, ``%``, ``.format``, ``+``) into text that looks like SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlglot import exp

__all__ = ["col", "ident", "lit", "lit_list"]

Value = str | int | float | bool | dt.date | None


def lit(value: Value) -> str:
    """A value as a SQL literal (strings quoted and escaped; dates as ``DATE 'YYYY-MM-DD'``)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return "DATE " + exp.Literal.string(value.isoformat()).sql(dialect="duckdb")
    if isinstance(value, int | float):
        return exp.Literal.number(value).sql(dialect="duckdb")
    return exp.Literal.string(str(value)).sql(dialect="duckdb")


def lit_list(values: Iterable[Value]) -> str:
    """``'a', 'b', …`` for an ``IN (…)`` list (at least one value)."""
    rendered = [lit(v) for v in values]
    if not rendered:
        raise ValueError("lista vazia em IN (…)")
    return ", ".join(rendered)


def ident(name: str) -> str:
    """A table or column name, quoted when it needs to be."""
    return exp.to_identifier(name).sql(dialect="duckdb")


def col(table: str, name: str) -> str:
    """``table.column`` with both parts rendered by :func:`ident`."""
    return f"{ident(table)}.{ident(name)}"
