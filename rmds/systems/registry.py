"""Which system a file belongs to, how to open it, and its mapper to canonical rows (the
systems are the declarations of :mod:`rmds.systems`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from rmds.exceptions import FileFormatError, Problem
from rmds.sources.csvfile import CsvReader
from rmds.sources.datasus.common import layout_id
from rmds.sources.datasus.dbc import DbcReader
from rmds.sources.datasus.dbf import DbfReader
from rmds.sources.mapping import MapContext, MapResult
from rmds.sources.pni import PNI_COLUMNS
from rmds.systems import DECLARATIONS
from rmds.systems.base import SystemDeclaration
from rmds.systems.identity import identity_rows

__all__ = ["SYSTEMS", "SourceFile", "System", "detect_system", "map_file", "open_source",
           "used_columns"]


System = SystemDeclaration
# the declarations themselves (rmds.systems), in their order: nothing to keep in step
SYSTEMS: dict[str, System] = DECLARATIONS

_SAMPLE_NAMES = {prefix: d.code for d in DECLARATIONS.values() for prefix in d.sample_prefixes}


def detect_system(path: Path, columns: tuple[str, ...] = ()) -> str | None:
    """The system of a file, from its name (``DOMG2019.dbc``, ``RDMG2301.dbc``) or, for
    CSVs, from the columns of its header."""
    name = path.name
    for system in SYSTEMS.values():
        if system.file_pattern.match(name):
            return system.code
    lowered = name.lower()
    for prefix, code in _SAMPLE_NAMES.items():
        if lowered.startswith(prefix):
            return code
    present = set(columns)
    for system in SYSTEMS.values():
        if set(system.signature) <= present:
            return system.code
    if len(present & set(PNI_COLUMNS)) >= 3:
        return "PNI"
    return None


Reader = DbfReader | CsvReader


@dataclass
class SourceFile:
    """An open source file: its reader, system and layout."""

    path: Path
    reader: Reader
    system: str | None
    columns: tuple[str, ...]

    @property
    def layout(self) -> str:
        return layout_id(self.system or "?", self.columns)

    def batches(self) -> Iterator[tuple[pa.RecordBatch, pa.Array]]:
        if isinstance(self.reader, DbfReader):
            yield from self.reader.iter_batches_with_rows()
            return
        start = 1
        for batch in self.reader.iter_batches():
            rows = pa.array(np.arange(start, start + batch.num_rows, dtype=np.int64))
            start += batch.num_rows
            yield batch, rows

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> SourceFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(path: Path, system: str | None = None, *, encoding: str | None = None,
                batch_rows: int = 65_536) -> SourceFile:
    """Open a DATASUS DBC/DBF or CSV file and detect its system when not given."""
    if not path.is_file():
        raise FileFormatError(f"arquivo não encontrado: {path}",
                              [Problem(str(path), None, None, "arquivo não encontrado")])
    if system is not None and system.upper() not in SYSTEMS:
        raise FileFormatError(f"sistema desconhecido: {system}", [Problem(
            path.name, None, None, f"sistemas aceitos: {', '.join(SYSTEMS)}")])
    suffix = path.suffix.lower()
    if suffix not in (".dbc", ".dbf", ".csv", ".txt"):
        with path.open("rb") as handle:  # no telling extension: a DBF starts with its version
            suffix = ".dbf" if handle.read(1) in (b"\x03", b"\x83", b"\x30", b"\xf5") else ".csv"
    reader: Reader
    if suffix == ".dbc":
        reader = DbcReader(path, encoding=encoding, batch_rows=batch_rows)
    elif suffix == ".dbf":
        reader = DbfReader(path, encoding=encoding, batch_rows=batch_rows)
    else:
        reader = CsvReader(path, encoding=encoding)
    columns = tuple(f.name for f in reader.schema)
    detected = system.upper() if system else detect_system(path, columns)
    return SourceFile(path, reader, detected, columns)


@lru_cache(maxsize=256)
def used_columns(system: str, columns: tuple[str, ...]) -> frozenset[str]:
    """The columns of a file of ``system`` with ``columns`` that its mapper and the identity
    extraction read: found by running both on an empty batch, so it cannot drift from the
    mappers. Readers decode only these."""
    empty = pa.schema([(c, pa.string()) for c in columns]).empty_table()
    rows = pa.array([], pa.int64())
    accessed: set[str] = set()
    context = MapContext(empty, rows, "", system, "", accessed=accessed)
    result = SYSTEMS[system].mapper(context, {})
    identity_rows(empty, rows, "", system, "", {}, result.accepted.column("source_row"),
                  accessed=accessed)
    return frozenset(accessed & set(columns))


def map_file(source: SourceFile, municipalities: dict[str, str]
             ) -> Iterator[tuple[MapResult, pa.RecordBatch]]:
    """Canonical rows and quarantine for each batch of a source file."""
    if source.system is None:
        raise FileFormatError(f"{source.path.name}: sistema não reconhecido", [Problem(
            source.path.name, None, None,
            "não foi possível detectar o sistema pelo nome ou pelas colunas; use --system")])
    system = SYSTEMS[source.system]
    for batch, rows in source.batches():
        context = MapContext(pa.Table.from_batches([batch]), rows, source.path.name,
                             system.code, source.layout)
        yield system.mapper(context, municipalities), batch
