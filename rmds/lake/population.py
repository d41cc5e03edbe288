"""The resident population a lake was built with.

A synthetic state carries its own population (``populacao.csv``, in the layout of the
reference pack's ``populacao_sexo_faixa5.csv``); rates computed on a lake loaded from it must
divide by that population, not by the reference pack's. :func:`ingest
<rmds.lake.ingest.ingest>` records it in the lake (table ``lake_population`` and the
``population_source`` key of ``lake_meta``) when a folder it loads holds one, and the
indicators use it unless told otherwise. The file is read without SQL, so its path never
meets a query.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pyarrow as pa

from rmds.engine.duck import fetch_arrow
from rmds.engine.sql import ident
from rmds.exceptions import ConfigurationError, InputError, Problem
from rmds.lake.store import Lake, table_exists

__all__ = ["POPULATION_FILE", "POPULATION_TABLE", "read_population", "record_population",
           "recorded_population"]

#: the population file a synthetic state writes at its root
POPULATION_FILE = "populacao.csv"
POPULATION_TABLE = "lake_population"
_META_KEY = "population_source"

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



def record_population(lake: Lake, path: Path) -> int:
    """Record the population of ``path`` as the lake's (replacing any earlier one), in one
    snapshot; the number of rows (municipality × year × sex × age group)."""
    people = read_population(path)
    recorded = recorded_population(lake)
    if recorded is not None and recorded[1] == str(path) and _same(recorded[0], people):
        return int(people.num_rows)     # the same population again: no new snapshot
    lake.run("BEGIN TRANSACTION")
    try:
        lake.run(f"CREATE TABLE IF NOT EXISTS {ident(POPULATION_TABLE)} (municipality VARCHAR, "
                 "year INTEGER, sex VARCHAR, age_low INTEGER, pop DOUBLE)")
        lake.run(f"DELETE FROM {ident(POPULATION_TABLE)}")
        lake.insert(POPULATION_TABLE, people)
        lake.run("DELETE FROM lake_meta WHERE key = ?", [_META_KEY])
        lake.run("INSERT INTO lake_meta VALUES (?, ?)", [_META_KEY, str(path)])
        lake.commit("população", arquivo=str(path), linhas=people.num_rows)
    except BaseException:
        lake.run("ROLLBACK")
        raise
    return int(people.num_rows)


def _same(a: pa.Table, b: pa.Table) -> bool:
    keys = [(name, "ascending") for name in ("municipality", "year", "sex", "age_low", "pop")]
    return bool(a.num_rows == b.num_rows and a.sort_by(keys).equals(b.sort_by(keys)))


def recorded_population(lake: Lake) -> tuple[pa.Table, str] | None:
    """The population the lake was built with and the file it came from, or ``None`` when
    none was recorded (the reference pack's is then the one to use)."""
    if not table_exists(lake.con, "lake_meta") or not table_exists(lake.con, POPULATION_TABLE):
        return None
    source = lake.scalar("SELECT value FROM lake_meta WHERE key = ?", [_META_KEY])
    if source is None:
        return None
    people = fetch_arrow(lake.con, "SELECT municipality, year, sex, age_low, pop FROM "
                         + ident(POPULATION_TABLE))
    return people, str(source)
