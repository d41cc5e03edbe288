"""Resident population by municipality, year, sex and 5-year age group: the denominator of
rates, read from a file in the layout of the reference pack's ``populacao_sexo_faixa5.csv``
(the synthetic state writes one) without SQL, so the file's path never meets a query."""

from __future__ import annotations

from pathlib import Path

import duckdb

from rmds.engine import Engine
from rmds.engine.duck import DuckDBEngine
from rmds.lake.population import read_population

__all__ = ["load_population", "read_population"]


def load_population(engine: Engine | duckdb.DuckDBPyConnection, path: Path) -> None:
    """``ind_population`` on the engine (or a DuckDB connection), from
    :func:`read_population`."""
    target = DuckDBEngine(engine) if isinstance(engine, duckdb.DuckDBPyConnection) else engine
    target.register("ind_population", read_population(path))
