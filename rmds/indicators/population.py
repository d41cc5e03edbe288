"""Resident population by municipality, year, sex and 5-year age group: the denominator of
rates, read from a file in the layout of the reference pack's ``populacao_sexo_faixa5.csv``
(the synthetic state writes one) without SQL, so the file's path never meets a query."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from rmds.engine import Engine
from rmds.engine.duck import DuckDBEngine
from rmds.exceptions import ConfigurationError, InputError, Problem

__all__ = ["load_population", "read_population"]

_POPULATION_REQUIRED = ("cod_ibge7", "ano", "sexo", "pop_00_04", "pop_80_mais")


def read_population(path: Path) -> pa.Table:
    """``(municipality, year, sex, age_low, pop)`` from a file in the layout of the reference
    pack's ``populacao_sexo_faixa5.csv`` (the synthetic state writes one): one row per
    municipality, year and sex, one ``pop_AA_BB`` column per 5-year age group. Every
    problem is reported at once, by line (the header is line 1) and column."""
    if not path.is_file():
        raise ConfigurationError(f"arquivo de população não encontrado: {path}")
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise InputError(f"arquivo de população ilegível: {path}",
                         [Problem(str(path), None, None, str(error).splitlines()[0])]
                         ) from None
    if not header:
        raise InputError(f"arquivo de população vazio: {path}")
    names = [h.strip() for h in header]
    missing = sorted(set(_POPULATION_REQUIRED) - set(names))
    if missing:
        raise InputError(f"arquivo de população sem colunas obrigatórias: {path}",
                         [Problem(str(path), 1, c, "coluna ausente") for c in missing])
    groups = [(i, n) for i, n in enumerate(names) if n.startswith("pop_") and n != "pop_total"]
    at = {n: i for i, n in enumerate(names)}
    out: dict[str, list[Any]] = {"municipality": [], "year": [], "sex": [], "age_low": [],
                                 "pop": []}
    problems: list[Problem] = []

    def number(line: int, field: str, text: str) -> float | None:
        if text.strip() == "":
            return None
        try:
            return float(text)
        except ValueError:
            problems.append(Problem(str(path), line, field, f"valor não numérico: {text!r}"))
            return None

    for line, row in enumerate(rows, start=2):
        if not row:
            continue
        if len(row) != len(names):
            problems.append(Problem(str(path), line, None,
                                    f"{len(row)} campos; o cabeçalho tem {len(names)}"))
            continue
        year = number(line, "ano", row[at["ano"]])
        sex = {"1": "M", "2": "F"}.get(row[at["sexo"]].strip())
        for i, name in groups:
            value = number(line, name, row[i])
            out["municipality"].append(row[at["cod_ibge7"]].strip())
            out["year"].append(None if year is None else int(year))
            out["sex"].append(sex)
            out["age_low"].append(int(name[4:6]))
            out["pop"].append(value)
    if problems:
        raise InputError(f"arquivo de população com valores inválidos: {path}", problems[:50])
    return pa.table({"municipality": pa.array(out["municipality"], pa.string()),
                     "year": pa.array(out["year"], pa.int32()),
                     "sex": pa.array(out["sex"], pa.string()),
                     "age_low": pa.array(out["age_low"], pa.int32()),
                     "pop": pa.array(out["pop"], pa.float64())})


def load_population(engine: Engine | duckdb.DuckDBPyConnection, path: Path) -> None:
    """``ind_population`` on the engine (or a DuckDB connection), from
    :func:`read_population`."""
    target = DuckDBEngine(engine) if isinstance(engine, duckdb.DuckDBPyConnection) else engine
    target.register("ind_population", read_population(path))
