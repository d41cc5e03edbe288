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
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from rmds.exceptions import FileFormatError, Problem, RmdsError, UnknownSourceError
from rmds.lake.store import Lake
from rmds.sources.consortium import CONSORTIUM_COLUMNS
from rmds.sources.csvfile import CsvReader
from rmds.sources.datasus.dbf import DbfReader
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
        raise UnknownSourceError(
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
            reader = source.reader
            if isinstance(reader, DbfReader) and reader.truncated:
                # a lake batch is the whole file or nothing: never load part of a file
                raise FileFormatError(f"{path.name}: arquivo truncado", [Problem(
                    path.name, reader.records_in_file + 1, None,
                    f"cabeçalho anuncia {reader.header.records} registros; o arquivo tem "
                    f"{reader.records_in_file}")])
    return kind, system.code, source.layout, generate()


SMALL_FILE_BYTES = 4 << 20      # files up to this size are read whole before writing
GROUP_ROWS = 250_000            # small files share a transaction up to this many rows
GROUP_FILES = 1_000


@dataclass
class _Prepared:
    """A small file read and mapped in memory, ready to be written."""

    path: Path
    digest: str
    kind: str
    system: str
    layout: str
    chunks: list[Chunk]
    seconds: float
    started: dt.datetime

    @property
    def rows(self) -> int:
        return sum(c.rows_in for c in self.chunks)


@dataclass
class _Large:
    """A large file opened for streaming: its chunks arrive one by one."""

    path: Path
    digest: str
    kind: str
    system: str
    layout: str
    started: dt.datetime
    clock: float


_END = object()


def _produce(paths: list[Path], named: set[Path], loaded: dict[str, dict[str, Any]],
             pack: ReferencePack, batch_rows: int, out: queue.Queue[Any],
             stop: threading.Event) -> None:
    """Read, decode and map files ahead of the writer (a second core works while DuckDB
    writes). Puts FileOutcome, _Prepared, or _Large followed by its chunks and _END."""
    municipalities = pack.ibge6_to_7_table()
    validator = Validator(pack)
    seen: set[str] = set()

    def put(item: Any) -> None:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise _Stopped

    try:
        for path in expand_paths(paths):
            from_folder = path not in named
            if not path.is_file():
                put(FileOutcome(path, "erro", error=f"arquivo não encontrado: {path}"))
                continue
            digest = sha256_of(path)
            if digest in loaded or digest in seen:
                put(FileOutcome(path, "ignorado", loaded.get(digest)))
                continue
            seen.add(digest)
            started, clock = dt.datetime.now(), time.perf_counter()
            small = path.stat().st_size <= SMALL_FILE_BYTES
            streaming = False
            try:
                kind, system, layout, chunks = _chunks(path, pack, municipalities, validator,
                                                       batch_rows)
                if small:
                    put(_Prepared(path, digest, kind, system, layout, list(chunks),
                                  time.perf_counter() - clock, started))
                    continue
                put(_Large(path, digest, kind, system, layout, started, clock))
                streaming = True
                for chunk in chunks:
                    put(chunk)
                put(_END)
            except RmdsError as error:
                if streaming:  # the writer rolls the file's transaction back
                    put(error)
                    continue
                status = ("não reconhecido" if from_folder and isinstance(
                    error, UnknownSourceError) else "erro")
                put(FileOutcome(path, status, error=str(error),
                                problems=list(getattr(error, "problems", []) or [])))
        put(None)
    except _Stopped:
        return
    except BaseException as error:  # handed to the writer, which re-raises it
        if not stop.is_set():
            out.put(error)


class _Stopped(Exception):
    pass


def ingest(lake: Lake, paths: Iterable[Path], pack: ReferencePack, *,
           batch_rows: int = 65_536,
           progress: Callable[[Path, int], None] | None = None,
           done: Callable[[FileOutcome], None] | None = None) -> list[FileOutcome]:
    """Load files (and the files under folders) into the lake; one batch per file.

    Large files are streamed, each in its own transaction. Small files (FHIR bundles, CSV
    reports) are read and validated whole first, then written a few hundred to a
    transaction, each still its own batch: a failure loses no committed batch and leaves
    no partial one. Files found under a folder that are not a known source are reported as
    ``não reconhecido`` and skipped; a file named explicitly that cannot be read is an error.
    Reading and mapping run in a second thread, ahead of the writer.
    """
    outcomes: list[FileOutcome] = []
    group: list[_Prepared] = []
    group_rows = 0

    def add(outcome: FileOutcome) -> None:
        outcomes.append(outcome)
        if done:
            done(outcome)

    def flush() -> None:
        nonlocal group_rows
        group_rows = 0
        if group:
            for outcome in _write_group(lake, group):
                add(outcome)
            group.clear()

    given = list(paths)
    loaded = {b["sha256"]: b for b in lake.batches()}
    items: queue.Queue[Any] = queue.Queue(maxsize=4)
    stop = threading.Event()
    producer = threading.Thread(target=_produce, name="rmds-ingest-reader", daemon=True,
                                args=(given, set(given), loaded, pack, batch_rows, items,
                                      stop))
    producer.start()

    def take() -> Any:
        """The reader's next item; an error it hands over is raised here."""
        item = items.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def chunks_of_current() -> Iterator[Chunk]:
        while (item := take()) is not _END:
            yield item

    try:
        while (item := take()) is not None:
            if isinstance(item, FileOutcome):
                add(item)
            elif isinstance(item, _Prepared):
                if progress:
                    progress(item.path, item.rows)
                group.append(item)
                group_rows += item.rows
                if group_rows >= GROUP_ROWS or len(group) >= GROUP_FILES:
                    flush()
            else:
                flush()
                large: _Large = item
                add(_stream_file(lake, large.path, large.digest, large.kind, large.system,
                                 large.layout, chunks_of_current(), large.started,
                                 large.clock, progress))
        flush()
    finally:
        stop.set()
        producer.join(timeout=5)
    return outcomes


def _kill_point(count: int) -> None:
    """Fault injection for the crash test: SIGKILL after ``count`` chunks were written."""
    limit = int(os.environ.get(FAULT_ENV, "0") or 0)
    if limit and count >= limit:
        os.kill(os.getpid(), signal.SIGKILL)


def _next_batch_id(lake: Lake) -> int:
    return int(lake.scalar("SELECT coalesce(max(batch_id), 0) + 1 FROM batches"))


@dataclass
class _Counts:
    read: int = 0
    quarantined: int = 0
    identity: int = 0
    tables: set[str] = field(default_factory=set)

    def add(self, chunk: Chunk) -> None:
        self.read += chunk.rows_in
        self.quarantined += chunk.rows_quarantined
        for name, data in chunk.tables.items():
            if name == "identity_records":
                self.identity += data.num_rows
            elif data.num_rows:
                self.tables.add(name)


def _batch_row(batch_id: int, path: Path, digest: str, kind: str, system: str, layout: str,
               counts: _Counts, started: dt.datetime, seconds: float) -> dict[str, Any]:
    return {"batch_id": batch_id, "file_name": path.name, "file_path": str(path),
            "sha256": digest, "size_bytes": path.stat().st_size, "source_type": kind,
            "system": system, "layout": layout, "tables": ",".join(sorted(counts.tables)),
            "rows_read": counts.read, "rows_accepted": counts.read - counts.quarantined,
            "rows_quarantined": counts.quarantined, "identity_rows": counts.identity,
            "started_at": started, "finished_at": dt.datetime.now(),
            "seconds": round(seconds, 3)}


def _record_batches(lake: Lake, rows: list[dict[str, Any]]) -> None:
    data = pa.Table.from_pylist(rows)
    lake.insert("batches", data)


def _write_group(lake: Lake, group: list[_Prepared]) -> list[FileOutcome]:
    lake.run("BEGIN TRANSACTION")
    try:
        first = _next_batch_id(lake)
        pending: dict[str, list[pa.Table]] = {}
        for k, prepared in enumerate(group):
            for chunk in prepared.chunks:
                for name, data in [*chunk.tables.items(), ("quarantine", chunk.quarantine)]:
                    if data.num_rows:
                        pending.setdefault(name, []).append(_with_batch(data, first + k))
        for count, (name, parts) in enumerate(pending.items(), start=1):
            lake.insert(name, pa.concat_tables(parts, promote_options="none"))
            _kill_point(count)
        rows = []
        for k, prepared in enumerate(group):
            counts = _Counts()
            for chunk in prepared.chunks:
                counts.add(chunk)
            rows.append(_batch_row(first + k, prepared.path, prepared.digest, prepared.kind,
                                   prepared.system, prepared.layout, counts, prepared.started,
                                   prepared.seconds))
        _record_batches(lake, rows)
        lake.run("COMMIT")
    except BaseException:
        lake.run("ROLLBACK")
        raise
    return [FileOutcome(p.path, "carregado", row) for p, row in zip(group, rows, strict=True)]


def _stream_file(lake: Lake, path: Path, digest: str, kind: str, system: str, layout: str,
                 chunks: Iterator[Chunk], started: dt.datetime, clock: float,
                 progress: Callable[[Path, int], None] | None) -> FileOutcome:
    lake.run("BEGIN TRANSACTION")
    try:
        batch_id = _next_batch_id(lake)
        counts = _Counts()
        for n, chunk in enumerate(chunks, start=1):
            for name, data in [*chunk.tables.items(), ("quarantine", chunk.quarantine)]:
                if data.num_rows:
                    lake.insert(name, _with_batch(data, batch_id))
            counts.add(chunk)
            if progress:
                progress(path, chunk.rows_in)
            _kill_point(n)
        row = _batch_row(batch_id, path, digest, kind, system, layout, counts, started,
                         time.perf_counter() - clock)
        _record_batches(lake, [row])
        lake.run("COMMIT")
    except RmdsError as error:
        lake.run("ROLLBACK")
        return FileOutcome(path, "erro", error=str(error),
                           problems=list(getattr(error, "problems", []) or []))
    except BaseException:
        lake.run("ROLLBACK")
        raise
    return FileOutcome(path, "carregado", row)


def _with_batch(data: pa.Table, batch_id: int) -> pa.Table:
    column = pa.repeat(pa.scalar(batch_id, pa.int64()), data.num_rows)
    if "batch_id" in data.column_names:
        return data.set_column(data.column_names.index("batch_id"), "batch_id", column)
    return data.append_column("batch_id", column)
