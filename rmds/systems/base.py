"""What a data system declares, once: :class:`SystemDeclaration`.

A declaration names everything rmds must know about one source system — how its files are
recognised, its layouts by year, the mapper to its canonical table, the identification
fields that feed linkage, its quality rules and its synthetic writer. The registry
(:mod:`rmds.systems.registry`), the identity extraction (:mod:`rmds.systems.identity`), the
quality rules, the CLI choices and the docs are derived from the declarations, and
``tests/test_declarations.py`` fails when one of them disagrees.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rmds.sources.datasus.dbf_writer import FieldSpec
from rmds.sources.mapping import MapContext, MapResult

__all__ = ["IdentitySpec", "LayoutVersion", "Mapper", "SyntheticWriter", "SystemDeclaration"]

Mapper = Callable[[MapContext, dict[str, str]], MapResult]


@dataclass(frozen=True)
class IdentitySpec:
    """The identification columns of one person's role in a source record."""

    role: str
    record_key: str
    name: str | None
    mother_name: str | None
    birth_date: str | None
    date_format: str
    sex: str | None
    cns: str | None
    cpf: str | None
    municipality: str | None
    cep: str | None
    address: str | None
    female_codes: tuple[str, ...] = ("2", "F")
    fixed_sex: str | None = None
    #: the date of the event the record is about (a dose): a birth date after it is
    #: impossible, and is left out of the identity as the mapper leaves it out of the row
    event_date: str | None = None


@dataclass(frozen=True)
class LayoutVersion:
    """A file layout valid from ``first_year`` to ``last_year`` (inclusive; None: still
    valid). ``fields`` are written by the synthetic generator and documented; readers never
    need them (a DBF describes itself)."""

    first_year: int
    last_year: int | None
    fields: tuple[FieldSpec, ...]
    note: str = ""

    def covers(self, year: int) -> bool:
        return self.first_year <= year and (self.last_year is None or year <= self.last_year)


class SyntheticWriter(Protocol):
    """Writes a system's files into a synthetic state: ``out`` the state's folder,
    ``municipalities`` (IBGE 6 digits), their (scaled) populations and whether their data
    quality is degraded, the state's ``years``, a seed, DBC or DBF. Returns the files
    written, relative to ``out``."""

    def __call__(self, out: Path, municipalities: list[str], populations: list[int],
                 years: tuple[int, ...], seed: int, *, dbc: bool = False,
                 degraded: list[bool] | None = None) -> list[str]: ...


@dataclass(frozen=True)
class SystemDeclaration:
    code: str
    name: str                       # pt-BR, shown to users
    table: str                      # the canonical table its mapper fills
    file_pattern: re.Pattern[str]   # the names of its files (DOMG2019.dbc, DENGBR24.dbc)
    signature: tuple[str, ...]      # columns that identify it in a CSV header
    mapper: Mapper
    identity: tuple[IdentitySpec, ...] = ()
    layouts: tuple[LayoutVersion, ...] = ()
    rules: Path | None = None       # its quality rules (TOML, as rmds/quality/rules.toml)
    indicators: Path | None = None  # its indicators (TOML, as rmds/indicators/catalog.toml)
    synthetic: SyntheticWriter | None = None
    sample_prefixes: tuple[str, ...] = ()  # names of the reference samples (sim_do_sample)

    def layout_for(self, year: int) -> LayoutVersion | None:
        return next((layout for layout in self.layouts if layout.covers(year)), None)
