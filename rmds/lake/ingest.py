"""``rmds ingest``: load files into the lake, atomically and idempotently.

For each file: its SHA-256 decides whether it was loaded already (then it is skipped);
otherwise it is read batch by batch, mapped to canonical rows and quarantine, and written
inside one DuckDB transaction with its row in ``batches``. A failure — a truncated DBC, a
wrong header, a crash, a kill — rolls the transaction back: the lake stays as it was before
that file. Identification fields go to the protected ``identity_records`` table only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from rmds.exceptions import FileFormatError, Problem, RmdsError
from rmds.lake.store import Lake
from rmds.sources.consortium import CONSORTIUM_COLUMNS
from rmds.sources.csvfile import CsvReader
from rmds.sources.fhir import Validator, detect_fhir, open_fhir
from rmds.sources.fhir.reader import Chunk
from rmds.sources.identity import identity_rows
from rmds.sources.mapping import MapContext
from rmds.sources.registry import SYSTEMS, open_source
from rmds.territory import ReferencePack

__all__ = ["FileOutcome", "expand_paths", "ingest"]

FAULT_ENV = "RMDS_FAULT_KILL_AFTER_CHUNKS"  # tests: SIGKILL this process mid-batch
_SUFFIXES = {".dbc", ".dbf", ".csv", ".json", ".ndjson", ".txt"}


@dataclass
class FileOutcome:
    path: Path
    status: str                  # carregado, ignorado (já carregado), erro
    batch: dict[str, Any] | None = None
    error: str | None = None
    problems: list[Problem] = field(default_factory=list)


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files given, and the files under folders given (sorted, data files only)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file()
                            and p.suffix.lower() in _SUFFIXES and not p.name.startswith("."))
        else:
            found.append(path)
    return found


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _chunks(path: Path, pack: ReferencePack, municipalities: dict[str, str],
            validator: Validator, batch_rows: int) -> tuple[str, str, str, Iterator[Chunk]]:
    """(source type, system, layout, chunks) of one file; raises for unreadable files."""
    if detect_fhir(path):
        fhir = open_fhir(path, validator, municipalities)
        return "FHIR", "FHIR", fhir.layout, fhir.chunks()
    source = open_source(path, batch_rows=batch_rows)
    if source.system is None:
        columns = ", ".join(source.columns[:12])
        source.close()
        raise FileFormatError(
            f"{path.name}: tipo de arquivo não reconhecido pelo nome nem pelo cabeçalho "
            f"(colunas: {columns})",
            [Problem(path.name, 1 if isinstance(source.reader, CsvReader) else None, None,
                     "cabeçalho não reconhecido")])
    system = SYSTEMS[source.system]
    if isinstance(source.reader, CsvReader):
        required = CONSORTIUM_COLUMNS if system.code == "CONSORCIO" else system.signature
        missing = [c for c in required if c not in source.columns]
        if missing:
            source.close()
            raise FileFormatError(
                f"{path.name}: cabeçalho inválido para {system.code}; faltam as colunas "
                f"{', '.join(missing)}", [Problem(path.name, 1, c, "coluna ausente no "
                                                  "cabeçalho") for c in missing])
    kind = "CSV" if isinstance(source.reader, CsvReader) else "DATASUS"

    def generate() -> Iterator[Chunk]:
        with source:
            for batch, rows in source.batches():
                context = MapContext(pa.Table.from_batches([batch]), rows, path.name,
                                     system.code, source.layout)
                result = system.mapper(context, municipalities)
                tables = {result.table: result.accepted}
                ident = identity_rows(context.source, rows, path.name, system.code,
                                      source.layout, municipalities,
                                      result.accepted.column("source_row"))
                if ident is not None and ident.num_rows:
                    tables["identity_records"] = ident
                yield Chunk(result.rows_in, tables, result.quarantine,
                            result.rows_quarantined)
    return kind, system.code, source.layout, generate()


def ingest(lake: Lake, paths: Iterable[Path], pack: ReferencePack, *,
           batch_rows: int = 65_536,
           progress: Callable[[Path, int], None] | None = None) -> list[FileOutcome]:
    municipalities = pack.ibge6_to_7_table()
    validator = Validator(pack)
    outcomes = []
    for path in expand_paths(paths):
        outcomes.append(_ingest_file(lake, path, pack, municipalities, validator, batch_rows,
                                     progress))
    return outcomes


def _ingest_file(lake: Lake, path: Path, pack: ReferencePack, municipalities: dict[str, str],
                 validator: Validator, batch_rows: int,
                 progress: Callable[[Path, int], None] | None) -> FileOutcome:
    if not path.is_file():
        return FileOutcome(path, "erro", error=f"arquivo não encontrado: {path}")
    digest = sha256_of(path)
    existing = lake.batch_by_hash(digest)
    if existing is not None:
        return FileOutcome(path, "ignorado", existing)
    started = dt.datetime.now()
    clock = time.perf_counter()
    kill_after = int(os.environ.get(FAULT_ENV, "0") or 0)
    con = lake.con
    con.execute("BEGIN TRANSACTION")
    try:
        kind, system, layout, chunks = _chunks(path, pack, municipalities, validator,
                                               batch_rows)
        row = con.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM batches").fetchone()
        batch_id = int(row[0]) if row else 1
        rows_read = accepted = quarantined = identity = 0
        tables: set[str] = set()
        for n, chunk in enumerate(chunks, start=1):
            for name, data in chunk.tables.items():
                if data.num_rows == 0:
                    continue
                _insert(lake, name, data, batch_id)
                if name == "identity_records":
                    identity += data.num_rows
                else:
                    tables.add(name)
            if chunk.quarantine.num_rows:
                _insert(lake, "quarantine", chunk.quarantine, batch_id)
            rows_read += chunk.rows_in
            quarantined += chunk.rows_quarantined
            accepted += chunk.rows_in - chunk.rows_quarantined
            if progress:
                progress(path, chunk.rows_in)
            if kill_after and n >= kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
        finished = dt.datetime.now()
        con.execute(
            "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [batch_id, path.name, str(path), digest, path.stat().st_size, kind, system, layout,
             ",".join(sorted(tables)), rows_read, accepted, quarantined, identity, started,
             finished, round(time.perf_counter() - clock, 3)])
        con.execute("COMMIT")
    except RmdsError as error:
        con.execute("ROLLBACK")
        return FileOutcome(path, "erro", error=str(error),
                           problems=list(getattr(error, "problems", []) or []))
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return FileOutcome(path, "carregado", lake.batch_by_hash(digest))


def _insert(lake: Lake, name: str, data: pa.Table, batch_id: int) -> None:
    if "batch_id" in data.column_names:
        data = data.set_column(data.column_names.index("batch_id"), "batch_id",
                               pa.repeat(pa.scalar(batch_id, pa.int64()), data.num_rows))
    else:
        data = data.append_column("batch_id", pa.repeat(pa.scalar(batch_id, pa.int64()),
                                                        data.num_rows))
    lake.con.register("incoming", data)
    try:
        lake.con.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM incoming')
    finally:
        lake.con.unregister("incoming")
