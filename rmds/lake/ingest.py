"""``rmds ingest``: load files into the lake, atomically and idempotently.

For each file: its SHA-256 decides whether it was loaded already (then it is skipped);
otherwise it is read (only the columns the mappers use are decoded), mapped to canonical
rows and quarantine, and written inside a transaction with its row in ``batches``; the
commit is a new snapshot of the lake. A file is also identified by what it is (system and
name: ``RDMG2301`` is SIH's January 2023 for MG, whatever its extension or folder): a new
version of a file already loaded supersedes the earlier batch, whose rows leave the lake in
the same commit (the batch stays in the registry, marked ``substituído``). A consortium
report is identified by its consortium and period, so a report re-sent for the same period
supersedes the earlier one; a FHIR resource that arrives again with the same type and id
replaces the earlier version when its ``meta.lastUpdated`` is newer and is quarantined
otherwise (:mod:`rmds.lake.versions`).
A file that fails — a truncated DBC, a wrong header — leaves nothing of itself; a crash or a
kill rolls the open transaction back: the lake stays as it was before those files, and the
next run loads them. Identification fields go to the protected ``identity_records`` table
only.

Why this module is long: the whole loading pipeline (reader threads, worker processes,
grouped transactions, supersession, interruption) shares one set of invariants (rows read
= accepted + quarantined; a batch lands whole or not at all) that is easier to check in
one place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rmds.engine.sql import ident
from rmds.exceptions import FileFormatError, Problem, RmdsError, UnknownSourceError
from rmds.lake.population import POPULATION_FILE, record_population
from rmds.lake.store import Lake
from rmds.lake.versions import VersionIndex, Versions, apply_pending
from rmds.sources.consortium import CONSORTIUM_COLUMNS, report_key
from rmds.sources.csvfile import CsvReader
from rmds.sources.datasus.dbc import dbf_size
from rmds.sources.datasus.dbf import DbfReader
from rmds.sources.fhir import Validator, detect_fhir, open_fhir
from rmds.sources.fhir.parallel import WorkerPool
from rmds.sources.fhir.reader import Chunk
from rmds.sources.mapping import MapContext
from rmds.systems.identity import identity_rows
from rmds.systems.registry import SYSTEMS, open_source, used_columns
from rmds.territory import ReferencePack

__all__ = ["FileOutcome", "expand_paths", "ingest"]

FAULT_ENV = "RMDS_FAULT_KILL_AFTER_CHUNKS"  # tests: SIGKILL this process mid-batch
FAULT_SIGNAL_ENV = "RMDS_FAULT_SIGNAL"  # tests: another signal than KILL (INT: Ctrl-C)
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


def identity_key(path: Path, system: str, kind: str,
                 content: _Counts | None = None) -> str | None:
    """What a file is, beyond its bytes: its system and its name without extension
    (``SIH:RDMG2301``, ``SIM:DOMG2019``, ``SIA:PAMG2301A`` for part a). DATASUS republishes
    corrected files under the same name, in the same or another folder (preliminary, final),
    as .dbc or .dbf. A consortium report is its consortium and period
    (``CONSORCIO:CISMARG:2023``, from the rows' ``consorcio`` and the period in the name or,
    failing that, the months of the requests), whatever the name it is re-sent under.
    FHIR files carry resources, which are identified by their own ids: no file key."""
    if kind == "FHIR":
        return None
    if system == "CONSORCIO" and content is not None:
        key = report_key(path.name, content.consortia, content.first, content.last)
        if key:
            return key
    stem = path.name.split(".", 1)[0].strip().upper()
    return f"{system}:{stem}" if stem else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class _Opened:
    """A file open for reading: its parts (record batches, or FHIR chunks) come in order
    from ``parts``; ``convert`` maps one part to canonical rows and quarantine. Parts are
    read one after the other; converting them may run in parallel."""

    kind: str
    system: str
    layout: str
    parts: Iterator[Any]
    convert: Callable[[Any], Chunk]
    # the parts are NDJSON blocks, which worker processes can convert (Python-bound work)
    ndjson: bool = False

    def chunks(self) -> Iterator[Chunk]:
        return (self.convert(part) for part in self.parts)


def _open(path: Path, pack: ReferencePack, municipalities: dict[str, str],
          validator: Validator, batch_rows: int) -> _Opened:
    """Open one file for ingestion; raises for unreadable files."""
    if detect_fhir(path):
        fhir = open_fhir(path, validator, municipalities)
        if fhir.kind == "ndjson":
            return _Opened("FHIR", "FHIR", fhir.layout, fhir.blocks(),
                           lambda block: fhir.convert_block(*block), ndjson=True)
        return _Opened("FHIR", "FHIR", fhir.layout, fhir.chunks(), lambda chunk: chunk)
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
    if isinstance(source.reader, DbfReader):
        source.reader.select(used_columns(system.code, source.columns))

    def batches() -> Iterator[tuple[pa.RecordBatch, pa.Array]]:
        with source:
            yield from source.batches()
            reader = source.reader
            if isinstance(reader, DbfReader) and reader.truncated:
                # a lake batch is the whole file or nothing: never load part of a file
                raise FileFormatError(f"{path.name}: arquivo truncado", [Problem(
                    path.name, reader.records_in_file + 1, None,
                    f"cabeçalho anuncia {reader.header.records} registros; o arquivo tem "
                    f"{reader.records_in_file}")])

    def convert(part: tuple[pa.RecordBatch, pa.Array]) -> Chunk:
        batch, rows = part
        context = MapContext(pa.Table.from_batches([batch]), rows, path.name, system.code,
                             source.layout)
        result = system.mapper(context, municipalities)
        tables = {result.table: result.accepted}
        ident = identity_rows(context.source, rows, path.name, system.code, source.layout,
                              municipalities, result.accepted.column("source_row"),
                              decoded=context.decoded)
        if ident is not None and ident.num_rows:
            tables["identity_records"] = ident
        return Chunk(result.rows_in, tables, result.quarantine, result.rows_quarantined)

    return _Opened(kind, system.code, source.layout, batches(), convert)


WHOLE_FILE_BYTES = 256 << 20   # files up to this decoded size are read whole, in parallel
PROCESS_BYTES = 64 << 20       # FHIR NDJSON from this size is converted in worker processes
GROUP_ROWS = 1_000_000          # files share a transaction up to this many rows
GROUP_FILES = 1_000
STAGE_ROWS = 250_000            # rows of small files gathered before one insert per table


@dataclass
class _Prepared:
    """A file read and mapped whole in memory, ready to be written."""

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


def decoded_size(path: Path) -> int:
    """The bytes a file occupies once decoded: a DBC's DBF size from its header, else the
    file size."""
    size = path.stat().st_size
    announced = dbf_size(path) if path.suffix.lower() == ".dbc" else None
    return announced if announced is not None else size


def cores() -> int:
    """The cores this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def reader_workers() -> int:
    """Threads that read, decode and map files: one per core, at most 4."""
    return max(1, min(4, cores()))


class _Reader:
    """Reads whole files for the writer, on the pool's threads (the decoders and Arrow's
    kernels release the GIL, so each core works on a file)."""

    def __init__(self, pack: ReferencePack, loaded: dict[str, dict[str, Any]],
                 batch_rows: int, stop: threading.Event) -> None:
        self.pack = pack
        self.municipalities = pack.ibge6_to_7_table()
        self.validator = Validator(pack)
        self.loaded = loaded
        self.batch_rows = batch_rows
        self.stop = stop

    def failure(self, path: Path, error: RmdsError, from_folder: bool) -> FileOutcome:
        status = ("não reconhecido" if from_folder and isinstance(error, UnknownSourceError)
                  else "erro")
        return FileOutcome(path, status, error=str(error),
                           problems=list(getattr(error, "problems", []) or []))

    def whole(self, path: Path, from_folder: bool) -> FileOutcome | _Prepared:
        """Read, validate and map a whole file (runs on a pool thread)."""
        digest = sha256_of(path)
        if digest in self.loaded:
            return FileOutcome(path, "ignorado", self.loaded[digest])
        started, clock = dt.datetime.now(), time.perf_counter()
        try:
            opened = _open(path, self.pack, self.municipalities, self.validator,
                           self.batch_rows)
            chunks = []
            for chunk in opened.chunks():
                if self.stop.is_set():  # the load was interrupted: stop within a chunk
                    raise _Stopped
                chunks.append(chunk)
            return _Prepared(path, digest, opened.kind, opened.system, opened.layout,
                             chunks, time.perf_counter() - clock, started)
        except RmdsError as error:
            return self.failure(path, error, from_folder)


def _produce(paths: list[Path], named: set[Path], loaded: dict[str, dict[str, Any]],
             pack: ReferencePack, batch_rows: int, whole_file_bytes: int,
             process_bytes: int | None, out: queue.Queue[Any],
             stop: threading.Event) -> None:
    """Read, decode and map files ahead of the writer, in file order. Puts FileOutcome,
    _Prepared, or _Large followed by its chunks and _END."""
    reader = _Reader(pack, loaded, batch_rows, stop)
    seen: set[str] = set()
    workers = reader_workers()
    processes: list[WorkerPool] = []  # started on the first file that needs it

    def in_processes(path: Path) -> bool:
        return (process_bytes is not None and workers > 1 and detect_fhir(path) == "ndjson"
                and path.stat().st_size >= process_bytes)

    def process_pool() -> WorkerPool:
        if not processes:
            processes.append(WorkerPool(workers, pack.directory))
        return processes[0]

    def put(item: Any) -> None:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise _Stopped

    def emit(item: FileOutcome | _Prepared) -> None:
        if isinstance(item, _Prepared):
            if item.digest in seen:  # the same content twice in this run
                item = FileOutcome(item.path, "ignorado", None)
            else:
                seen.add(item.digest)
        put(item)

    def stream(path: Path, from_folder: bool, pool: ThreadPoolExecutor) -> None:
        """A large file: its parts read in turn, converted on the pool (on worker processes
        for Python-bound conversions of large files), put in order."""
        digest = sha256_of(path)
        if digest in loaded or digest in seen:
            put(FileOutcome(path, "ignorado", loaded.get(digest)))
            return
        seen.add(digest)
        started, clock = dt.datetime.now(), time.perf_counter()
        streaming = False
        converting: deque[Future[Chunk]] = deque()
        try:
            opened = _open(path, pack, reader.municipalities, reader.validator, batch_rows)
            put(_Large(path, digest, opened.kind, opened.system, opened.layout, started,
                       clock))
            streaming = True
            workers_pool = process_pool() if opened.ndjson and in_processes(path) else None
            ahead = 2 * workers if workers_pool else workers
            for part in opened.parts:
                converting.append(workers_pool.submit(path, part) if workers_pool
                                  else pool.submit(opened.convert, part))
                while len(converting) > ahead:
                    put(converting.popleft().result())
            while converting:
                put(converting.popleft().result())
            put(_END)
        except RmdsError as error:
            # streaming: the writer drops what it wrote of the file
            put(error if streaming else reader.failure(path, error, from_folder))
        finally:
            for future in converting:
                future.cancel()

    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="rmds-ingest-read") as pool:
            pending: deque[Future[FileOutcome | _Prepared]] = deque()
            try:
                for path in expand_paths(paths):
                    from_folder = path not in named
                    if not path.is_file():
                        while pending:
                            emit(pending.popleft().result())
                        put(FileOutcome(path, "erro", error=f"arquivo não encontrado: {path}"))
                    elif decoded_size(path) <= whole_file_bytes and not in_processes(path):
                        pending.append(pool.submit(reader.whole, path, from_folder))
                        while len(pending) > 2 * workers:
                            emit(pending.popleft().result())
                    else:
                        while pending:
                            emit(pending.popleft().result())
                        stream(path, from_folder, pool)
                while pending:
                    emit(pending.popleft().result())
            finally:
                for future in pending:
                    future.cancel()
                for workers_pool in processes:
                    workers_pool.shutdown()
        put(None)
    except _Stopped:
        return
    except BaseException as error:  # handed to the writer, which re-raises it
        if not stop.is_set():
            out.put(error)


class _Stopped(Exception):
    pass


def ingest(lake: Lake, paths: Iterable[Path], pack: ReferencePack, *,
           batch_rows: int = 65_536, whole_file_bytes: int = WHOLE_FILE_BYTES,
           process_bytes: int | None = PROCESS_BYTES,
           progress: Callable[[Path, int], None] | None = None,
           done: Callable[[FileOutcome], None] | None = None) -> list[FileOutcome]:
    """Load files (and the files under folders) into the lake; one batch per file.

    Files are read, validated and mapped on a pool of threads, ahead of the writer, in
    order: whole when their decoded size is at most ``whole_file_bytes``, else streamed in
    batches of ``batch_rows`` (bounded memory). FHIR NDJSON files of ``process_bytes`` or
    more (``None``: never) are converted in blocks on worker processes, since validating and
    mapping FHIR is Python work that threads cannot spread. Several files share a transaction (up to
    ``GROUP_ROWS`` rows), each still its own batch: a file that fails has its rows removed
    before the commit, and a crash or kill rolls the whole transaction back, so no batch is
    ever partly in the lake and no committed batch is lost. Files found under a folder that
    are not a known source are reported as ``não reconhecido`` and skipped; a file named
    explicitly that cannot be read is an error.
    """
    outcomes: list[FileOutcome] = []

    def add(outcome: FileOutcome) -> None:
        outcomes.append(outcome)
        if done:
            done(outcome)

    given = list(paths)
    active = lake.batches(active_only=True)
    loaded = {b["sha256"]: b for b in active}
    items: queue.Queue[Any] = queue.Queue(maxsize=4)
    stop = threading.Event()
    producer = threading.Thread(target=_produce, name="rmds-ingest-reader", daemon=True,
                                args=(given, set(given), loaded, pack, batch_rows,
                                      whole_file_bytes, process_bytes, items, stop))
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

    writer = _Writer(lake, add, progress, {b["identity_key"]: b for b in active
                                           if b.get("identity_key")})
    try:
        while (item := take()) is not None:
            if isinstance(item, FileOutcome):
                writer.outcome(item)
            elif isinstance(item, _Prepared):
                writer.prepared(item)
            else:
                writer.stream(item, chunks_of_current())
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    finally:
        stop.set()
        producer.join(timeout=5)
    # a synthetic state's own population: the lake records it, and rates divide by it
    for path in given:
        if path.is_dir() and (path / POPULATION_FILE).is_file():
            record_population(lake, path / POPULATION_FILE)
    return outcomes


def _kill_point(count: int) -> None:
    """Fault injection for the crash tests: SIGKILL (or the signal named in
    ``FAULT_SIGNAL_ENV``) after ``count`` inserts."""
    limit = int(os.environ.get(FAULT_ENV, "0") or 0)
    if limit and count >= limit:
        os.kill(os.getpid(), getattr(signal, "SIG" + os.environ.get(FAULT_SIGNAL_ENV, "KILL")))


def _next_batch_id(lake: Lake) -> int:
    return int(lake.scalar("SELECT coalesce(max(batch_id), 0) + 1 FROM batches"))


@dataclass
class _Counts:
    read: int = 0
    quarantined: int = 0
    identity: int = 0
    tables: set[str] = field(default_factory=set)
    # what a consortium report is about: the consortia and request dates of its rows
    consortia: set[str] = field(default_factory=set)
    first: dt.date | None = None
    last: dt.date | None = None

    def add(self, chunk: Chunk) -> None:
        self.read += chunk.rows_in
        self.quarantined += chunk.rows_quarantined
        for name, data in chunk.tables.items():
            if name == "identity_records":
                self.identity += data.num_rows
            elif data.num_rows:
                self.tables.add(name)
        referrals = chunk.tables.get("referrals")
        if referrals is not None and referrals.num_rows:
            self.consortia |= {c for c in pc.unique(referrals.column("consortium"))
                               .to_pylist() if c}
            span = pc.min_max(referrals.column("requested_date")).as_py()
            if span["min"] is not None:
                self.first = min(self.first or span["min"], span["min"])
                self.last = max(self.last or span["max"], span["max"])


def _batch_row(batch_id: int, path: Path, digest: str, kind: str, system: str, layout: str,
               counts: _Counts, started: dt.datetime, seconds: float) -> dict[str, Any]:
    return {"batch_id": batch_id, "identity_key": identity_key(path, system, kind, counts),
            "status": "ativo", "superseded_by": None,
            "file_name": path.name, "file_path": str(path),
            "sha256": digest, "size_bytes": path.stat().st_size, "source_type": kind,
            "system": system, "layout": layout, "tables": ",".join(sorted(counts.tables)),
            "rows_read": counts.read, "rows_accepted": counts.read - counts.quarantined,
            "rows_quarantined": counts.quarantined, "identity_rows": counts.identity,
            "started_at": started, "finished_at": dt.datetime.now(),
            "seconds": round(seconds, 3)}


def _record_batches(lake: Lake, rows: list[dict[str, Any]]) -> None:
    data = pa.Table.from_pylist(rows)
    lake.insert("batches", data)


class _Writer:
    """Writes batches into the lake, several files to a transaction.

    Outcomes are reported in file order once their transaction commits: a file reported
    ``carregado`` is in the lake."""

    def __init__(self, lake: Lake, add: Callable[[FileOutcome], None],
                 progress: Callable[[Path, int], None] | None,
                 current: dict[str, dict[str, Any]] | None = None) -> None:
        self.lake = lake
        # the active batch of each file identity, committed or in the open transaction
        self.current: dict[str, dict[str, Any]] = dict(current or {})
        self.superseded: list[tuple[int, int]] = []   # (old, new) in the open transaction
        self.touched: set[str] = set()
        self.replaced = 0   # FHIR resources whose earlier version left, in the transaction
        self.add = add
        self.progress = progress
        self.open = False
        self.next_id = 0
        self.rows = 0
        self.files = 0
        self.inserts = 0   # for the fault injection of the crash test
        self.staged: dict[str, list[pa.Table]] = {}
        self.staged_rows = 0
        self.records: list[dict[str, Any]] = []
        self.outcomes: list[FileOutcome] = []
        self.index = VersionIndex(lake)
        self.pending: dict[str, dict[str, int]] = {}   # earlier FHIR versions to delete

    def _begin(self) -> None:
        if not self.open:
            self.lake.run("BEGIN TRANSACTION")
            self.open = True
            self.next_id = _next_batch_id(self.lake)

    def outcome(self, outcome: FileOutcome) -> None:
        if self.open:
            self.outcomes.append(outcome)
        else:
            self.add(outcome)

    def _insert(self, name: str, data: pa.Table) -> None:
        self.lake.insert(name, data)
        self.inserts += 1
        _kill_point(self.inserts)

    def _flush_staged(self) -> None:
        for name, parts in self.staged.items():
            self._insert(name, pa.concat_tables(parts, promote_options="none"))
        self.staged.clear()
        self.staged_rows = 0

    def _supersede(self, row: dict[str, Any]) -> None:
        """A new version of a file already in the lake: the earlier batch's rows leave in
        this transaction; the earlier batch stays in the registry, marked superseded."""
        key = row.get("identity_key")
        if not key:
            return
        old = self.current.get(key)
        self.current[key] = row
        if old is None:
            return
        old_id, new_id = int(old["batch_id"]), int(row["batch_id"])
        self._flush_staged()
        tables = {t for t in str(old.get("tables") or "").split(",") if t}
        tables |= {"identity_records", "quarantine"}
        self.index.forget()   # the earlier batch's resources leave with it
        for name in sorted(tables):
            deleted = self.lake.run(f"DELETE FROM {ident(name)} WHERE batch_id = ?", [old_id])
            if deleted and deleted[0][0]:
                self.touched.add(name)
        pending = next((r for r in self.records if r["batch_id"] == old_id), None)
        if pending is not None:  # superseded within this transaction, before its commit
            pending["status"], pending["superseded_by"] = "substituído", new_id
        else:
            self.lake.run("UPDATE batches SET status = 'substituído', superseded_by = ? "
                          "WHERE batch_id = ?", [new_id, old_id])
            self.touched.add("batches")
        self.superseded.append((old_id, new_id))
        for outcome in self.outcomes:
            if outcome.batch is not None and outcome.batch.get("batch_id") == old_id:
                outcome.batch["status"] = "substituído"
        row["supersedes"] = old_id

    def _settle(self, versions: Versions) -> None:
        """A FHIR file read whole: the earlier versions of its resources leave the lake."""
        versions.settle()
        self.touched |= versions.touched
        self.replaced += versions.replaced

    def _landed(self, path: Path, row: dict[str, Any]) -> None:
        self._supersede(row)
        self.records.append(row)
        self.outcomes.append(FileOutcome(path, "carregado", row))
        self.rows += int(row["rows_read"])
        self.files += 1
        if self.rows >= GROUP_ROWS or self.files >= GROUP_FILES:
            self.commit()

    def prepared(self, item: _Prepared) -> None:
        self._begin()
        batch_id = self.next_id
        self.next_id += 1
        counts = _Counts()
        versions = None
        if item.kind == "FHIR":
            # resources are compared with the load's index of what the lake holds; their
            # rows are staged like any others (flushed first if a resource repeats)
            versions = Versions(self.lake, batch_id, item.path.name, self.index,
                                self._flush_staged, self.pending)
        for chunk in item.chunks:
            if versions is not None:
                chunk = versions.admit(chunk)
            counts.add(chunk)
            for name, data in [*chunk.tables.items(), ("quarantine", chunk.quarantine)]:
                if not data.num_rows:
                    continue
                self.staged.setdefault(name, []).append(_with_batch(data, batch_id))
                self.staged_rows += data.num_rows
        if versions is not None:
            self._settle(versions)
        if self.progress:
            self.progress(item.path, counts.read)
        if self.staged_rows >= STAGE_ROWS:
            self._flush_staged()
        self._landed(item.path, _batch_row(batch_id, item.path, item.digest, item.kind,
                                           item.system, item.layout, counts, item.started,
                                           item.seconds))

    def stream(self, item: _Large, chunks: Iterator[Chunk]) -> None:
        self._begin()
        self._flush_staged()
        batch_id = self.next_id
        counts = _Counts()
        touched: set[str] = set()
        versions = (Versions(self.lake, batch_id, item.path.name, self.index,
                             self._flush_staged, self.pending)
                    if item.kind == "FHIR" else None)
        try:
            for chunk in chunks:
                if versions is not None:
                    chunk = versions.admit(chunk)
                for name, data in [*chunk.tables.items(), ("quarantine", chunk.quarantine)]:
                    if data.num_rows:
                        touched.add(name)
                        self._insert(name, _with_batch(data, batch_id))
                counts.add(chunk)
                if self.progress:
                    self.progress(item.path, chunk.rows_in)
        except RmdsError as error:
            # the file's rows leave the open transaction; the other files stay
            for name in sorted(touched):
                self.lake.run(f"DELETE FROM {ident(name)} WHERE batch_id = ?", [batch_id])
            self.index.forget()
            self.outcomes.append(FileOutcome(item.path, "erro", error=str(error), problems=list(
                getattr(error, "problems", []) or [])))
            return
        if versions is not None:
            self._settle(versions)
        self.next_id += 1
        self._landed(item.path, _batch_row(batch_id, item.path, item.digest, item.kind,
                                           item.system, item.layout, counts, item.started,
                                           time.perf_counter() - item.clock))

    def commit(self) -> None:
        if not self.open:
            return
        self._flush_staged()
        apply_pending(self.lake, self.pending)
        if self.records:
            _record_batches(self.lake, [{k: v for k, v in r.items() if k != "supersedes"}
                                        for r in self.records])
        extra: dict[str, Any] = {"recursos_fhir_substituidos": self.replaced} \
            if self.replaced else {}
        self.lake.commit("carga", lotes=[r["batch_id"] for r in self.records],
                         arquivos=[r["file_name"] for r in self.records],
                         substituidos=[{"lote": old, "por": new}
                                       for old, new in self.superseded], **extra)
        self.open = False
        if self.touched:
            # the current data files stay plain Parquet, with no delete files
            self.lake.compact(sorted(self.touched))
        self.superseded, self.touched, self.replaced = [], set(), 0
        outcomes, self.outcomes, self.records = self.outcomes, [], []
        self.rows = self.files = 0
        for outcome in outcomes:
            self.add(outcome)

    def abort(self) -> None:
        self.index.forget()
        self.pending.clear()
        if self.open:
            self.lake.run("ROLLBACK")
            self.open = False
            self.superseded, self.touched, self.replaced = [], set(), 0


def _with_batch(data: pa.Table, batch_id: int) -> pa.Table:
    column = pa.repeat(pa.scalar(batch_id, pa.int64()), data.num_rows)
    if "batch_id" in data.column_names:
        return data.set_column(data.column_names.index("batch_id"), "batch_id", column)
    return data.append_column("batch_id", column)
