"""The care records of a snapshot, kept by person: what makes opening a record fast.

A record gathers one person's rows from a dozen tables (:data:`rmds.care.record.SOURCES`);
read from those tables it costs a dozen queries over the lake (hundreds of milliseconds).
:func:`project` writes, after each linkage, one lake table, ``care_timeline``, with every
person's identifications and events in the shape :func:`rmds.care.record.assemble` takes
(the events' details as JSON), sorted by ``person_id`` into small Parquet row groups.
:func:`load` reads, once per snapshot, which row groups hold which persons (their
``person_id`` range, from the Parquet statistics); opening a record then reads one or two
row groups of one file: a few milliseconds whatever the size of the state.

The projection is used only while it is **current**: built at snapshot ``S`` (kept in
``lake_meta``), it stands for a later snapshot only when no snapshot since ``S`` wrote to a
table a record reads (:data:`rmds.care.record.READS`). A load committed after the last
linkage makes it stale; records are then read from the tables (the same rows, slower) until
the next ``rmds link`` projects again. Tests check both ways give the same record for every
person.

A second table, ``care_keys``, written in the same commit, holds each CNS and CPF the index's
records carry with the person it belongs to, sorted by the number: finding the person a
professional types the CNS of reads one row group too.

The tables hold identification (names, CNS, CPF): they are read only by the care record,
never exported with the public tables.
"""

from __future__ import annotations

import bisect
import datetime as dt
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rmds.care.html import record_html
from rmds.care.record import (
    READS,
    SOURCES,
    WAITING,
    CareItem,
    CareRecord,
    Identification,
    Source,
    assemble,
)
from rmds.care.summary import KEPT_STAMP, patient_summary
from rmds.engine.sql import ident, lit
from rmds.schema.keys import RECORD_UID as RECORD_UID_SQL

if TYPE_CHECKING:
    from rmds.lake.store import Lake

__all__ = ["PROJECTION", "CareProjection", "KeptRecord", "keep_whole", "load", "project",
           "record_from_document"]

PROJECTION = "care_timeline"
KEYS = "care_keys"
META_KEY = "care_timeline_snapshot"
#: rows per Parquet row group (DuckDB writes multiples of 2,048): one person's record is
#: read as one or two of them
ROW_GROUP = 2048
#: a person with at least this many timeline items has their record kept whole (see
#: :func:`keep_whole`); lighter records are assembled from their rows when opened
WHOLE_FROM_ITEMS = 40
#: at most this many persons kept whole, the heaviest first: keeping one costs ~3 ms of
#: CPU at each projection (a record of 200 items), so this bounds what it adds to a
#: ``rmds link`` (~5 minutes); the others are assembled from their rows when opened
WHOLE_MAX = 100_000
#: the file beside the projection's first data file that keeps the records whole; the
#: number is its layout's (a file of another layout is not read: the rows answer)
WHOLE_SUFFIX = ".prontuarios-1"
_COLUMNS_SQL = ("person_id BIGINT, part VARCHAR, role VARCHAR, date DATE, kind VARCHAR, "
                "code VARCHAR, facility_cnes VARCHAR, source_system VARCHAR, batch_id BIGINT, "
                "source_file VARCHAR, record_key VARCHAR, details VARCHAR")
_ID_FIELDS = ("name", "mother_name", "birth_date", "sex", "cns", "cpf",
              "residence_municipality")


def _json_sql(names: list[str], prefix: str) -> str:
    pairs_sql = ", ".join(f"{lit(n)}, {ident(prefix)}.{ident(n)}" for n in names)
    return f"CAST(json_object({pairs_sql}) AS VARCHAR)"


def _source_sql(source: Source) -> str:
    """The items of one source for every person, in the projection's columns."""
    details = [name for name, _ in source.columns[4:]]
    table_sql = ident(source.table)
    if source.table == "referrals":
        # the place in the queue: 1 + the waiting referrals of the same consortium,
        # service and specialty requested before (as rmds.care.record._queue_places)
        waiting_sql = ", ".join(lit(w) for w in WAITING)
        table_sql = f"""(SELECT *, CASE WHEN status IN ({waiting_sql}) THEN
            CASE WHEN requested_date IS NULL THEN 1 ELSE rank() OVER (
              PARTITION BY consortium, service_type, specialty,
                           status IN ({waiting_sql}) AND requested_date IS NOT NULL
              ORDER BY requested_date) END END AS posicao_fila FROM referrals)"""
        details.append("posicao_fila")
        extra_sql = ", posicao_fila"
    else:
        extra_sql = ""
    system_sql = lit(source.system)
    events_sql = (f"SELECT {source.columns_sql}{extra_sql}, source_system, batch_id, "
                  f"source_file, CAST({ident(source.key)} AS VARCHAR) AS _key "
                  f"FROM {table_sql} WHERE source_system = {system_sql}")
    if source.by_patient:
        keys_sql = (f"SELECT DISTINCT person_id, 'paciente' AS role, "
                    f"CAST(record_key AS VARCHAR) AS record_key FROM ids "
                    f"WHERE source_system = {system_sql} AND record_key IS NOT NULL")
        on_sql = "e._key = k.record_key"
    else:
        keys_sql = (f"SELECT DISTINCT person_id, role, CAST(record_key AS VARCHAR) AS "
                    f"record_key, source_file FROM ids WHERE source_system = {system_sql} "
                    f"AND record_key IS NOT NULL")
        on_sql = "e._key = k.record_key AND e.source_file = k.source_file"
    return f"""
        SELECT k.person_id, 'item', k.role, CAST(e.date AS DATE), e.kind,
               CAST(e.code AS VARCHAR), CAST(e.facility_cnes AS VARCHAR), e.source_system,
               CAST(e.batch_id AS BIGINT), e.source_file, NULL, {_json_sql(details, 'e')}
        FROM ({keys_sql}) k JOIN ({events_sql}) e ON {on_sql}"""


def project(lake: Lake) -> int:
    """Write the projection of the lake's current snapshot (one commit); the rows written.
    Run after each linkage (``rmds link`` does)."""
    from rmds.lake.store import existing_tables

    tables = existing_tables(lake.con)
    if "person_links" not in tables:
        return 0
    lake.run(f"CREATE TABLE IF NOT EXISTS {ident(PROJECTION)} ({_COLUMNS_SQL})")
    lake.run(f"CREATE TABLE IF NOT EXISTS {ident(KEYS)} (key VARCHAR, person_id BIGINT)")
    for table in (PROJECTION, KEYS):
        lake.run("CALL lake.set_option('parquet_row_group_size', ?, table_name => ?)",
                 [ROW_GROUP, table])
    basis = lake.snapshot_id()
    parts_sql = " UNION ALL ".join(
        [f"""SELECT person_id, 'id', role, NULL, NULL, NULL, NULL, source_system,
                    CAST(batch_id AS BIGINT), source_file, CAST(record_key AS VARCHAR),
                    {_json_sql(list(_ID_FIELDS), 'ids')} FROM ids"""]
        + [_source_sql(s) for s in SOURCES if s.table in tables])
    ids_sql = f"""ids AS (SELECT l.person_id, r.* FROM person_links l
                         JOIN (SELECT *, {RECORD_UID_SQL} AS uid FROM identity_records) r
                         ON l.record_uid = r.uid)"""
    lake.run("BEGIN TRANSACTION")
    try:
        lake.run(f"DELETE FROM {ident(PROJECTION)}")
        lake.run(f"DELETE FROM {ident(KEYS)}")
        lake.run(f"""
            INSERT INTO {ident(PROJECTION)}
            WITH {ids_sql}
            SELECT * FROM ({parts_sql}) ORDER BY 1""")
        lake.run(f"""
            INSERT INTO {ident(KEYS)}
            WITH {ids_sql}
            SELECT DISTINCT key, person_id FROM (
                SELECT cns AS key, person_id FROM ids WHERE cns IS NOT NULL
                UNION ALL SELECT cpf, person_id FROM ids WHERE cpf IS NOT NULL)
            ORDER BY 1, 2""")
        rows = int(lake.scalar(f"SELECT count(*) FROM {ident(PROJECTION)}"))
        lake.run("DELETE FROM lake_meta WHERE key = ?", [META_KEY])
        lake.run("INSERT INTO lake_meta VALUES (?, ?)", [META_KEY, str(basis)])
        lake.commit("prontuários por pessoa", linhas=rows, base=basis)
    except BaseException:
        lake.run("ROLLBACK")
        raise
    keep_whole(lake)
    return rows


def keep_whole(lake: Lake, from_items: int = WHOLE_FROM_ITEMS, most: int = WHOLE_MAX
               ) -> int:
    """Keep whole, beside the projection just written, the records of the persons with at
    least ``from_items`` timeline items (the ``most`` heaviest): each as the JSON the
    record route answers with (and its IPS summary and page part), in
    a SQLite file keyed by ``person_id`` (one indexed read, instead of reading, decoding and
    assembling a few hundred rows). The records a snapshot keeps are those of its
    projection's data file, so they never outlive it or mix with another's; the file is
    written whole and renamed into place (a crash leaves none, and the rows still serve),
    and goes when its data file does (:meth:`rmds.lake.store.Lake.expire`). The persons
    kept."""
    projection = load(lake.con, lake.snapshot_id())
    if projection is None or not projection.groups:
        return 0
    target = _whole_file(projection.groups)
    heavy = sorted(int(pid) for (pid,) in lake.con.execute(
        f"SELECT person_id FROM {ident(PROJECTION)} WHERE part = 'item' GROUP BY 1 "
        "HAVING count(*) >= ? ORDER BY count(*) DESC, 1 LIMIT ?", [from_items, most]
    ).fetchall())
    partial = target.with_name(target.name + ".parcial")
    partial.unlink(missing_ok=True)
    db = sqlite3.connect(partial)
    try:
        db.execute("CREATE TABLE documents (person_id INTEGER PRIMARY KEY, "
                   "residence TEXT, document BLOB NOT NULL, summary BLOB NOT NULL, "
                   "html TEXT NOT NULL)")
        for start in range(0, len(heavy), 1000):
            made = [assemble(pid, *projection.read(pid)) for pid in heavy[start:start + 1000]]
            db.executemany("INSERT INTO documents VALUES (?, ?, ?, ?, ?)", [
                (r.person_id, r.residence_municipality, orjson.dumps(r.as_dict()),
                 orjson.dumps(patient_summary(r, now=KEPT_STAMP)), record_html(r))
                for r in made])
        db.commit()
    finally:
        db.close()
    os.chmod(partial, 0o600)
    os.replace(partial, target)
    return len(heavy)


def _whole_file(groups: list[tuple[str, int, Any, Any]]) -> Path:
    first = Path(min(path for path, _, _, _ in groups))
    return first.with_name(first.name + WHOLE_SUFFIX)


class KeptRecord(CareRecord):
    """A record kept whole (:func:`keep_whole`): its JSON is answered as it was kept, and
    its parts are read from it only when asked for (opening it as JSON needs none: the
    policy asks only the municipality of residence, kept beside it)."""

    def __init__(self, person_id: int, residence: str | None, document: bytes,
                 summary: bytes, html: str) -> None:
        # the parts are not set here: __getattr__ reads them from the document on first use
        self.person_id = person_id
        self.residence_municipality = residence
        self.document = self._kept = document
        self.summary = summary      # the IPS Bundle (rmds.care.summary.summary_json)
        self.html = html            # the person's part of the page (rmds.care.html)

    def __getattr__(self, name: str) -> Any:
        if name not in ("identifications", "conflicts", "timeline"):
            raise AttributeError(name)
        full = record_from_document(self._kept)
        self.identifications = full.identifications
        self.conflicts = full.conflicts
        self.timeline = full.timeline
        return getattr(self, name)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CareRecord):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in (
            "person_id", "identifications", "conflicts", "residence_municipality",
            "timeline"))

    __hash__ = None  # type: ignore[assignment]


def record_from_document(document: bytes) -> CareRecord:
    """The record :meth:`CareRecord.as_dict` wrote as ``document`` (dates back to dates, as
    :meth:`CareProjection.read` gives them)."""
    d = orjson.loads(document)
    ids = [Identification(**{**i, "birth_date": _date(i["birth_date"])})
           for i in d["identificacao"]]
    timeline = [CareItem(**{**i, "date": _date(i["date"]), "details": {
        k: _date(v) if k.endswith("_date") else v for k, v in i["details"].items()}})
        for i in d["linha_do_tempo"]]
    return CareRecord(d["pessoa"], ids, d["conflitos"], d["municipio_residencia"], timeline,
                      document)


def _date(value: Any) -> Any:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _records(table: pa.Table | None) -> list[dict[str, Any]]:
    """The rows of ``table`` as dicts, converted column by column (``Table.to_pylist``
    builds each row through a struct: several times slower for a record's few hundred
    rows)."""
    if table is None or not table.num_rows:
        return []
    names = table.column_names
    columns = [_values(table.column(name)) for name in names]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


class _Ranges:
    """Which row groups may hold a value: the groups sorted by their lowest value, with the
    running maximum of their highest, so a lookup is a bisection and a short walk back (the
    groups of one sorted file do not overlap) instead of a scan of every group of the
    state."""

    def __init__(self, groups: list[tuple[str, int, Any, Any]]) -> None:
        self.groups = sorted(groups, key=lambda g: (g[2], g[0], g[1]))
        self.lows = [g[2] for g in self.groups]
        self.reach: list[Any] = []
        for _, _, _, high in self.groups:
            self.reach.append(high if not self.reach or high > self.reach[-1]
                              else self.reach[-1])

    def holding(self, value: Any) -> dict[str, list[int]]:
        wanted: dict[str, list[int]] = {}
        at = bisect.bisect_right(self.lows, value) - 1
        while at >= 0 and self.reach[at] >= value:
            path, group, _, high = self.groups[at]
            if high >= value:
                wanted.setdefault(path, []).insert(0, group)
            at -= 1
        return wanted


def _values(column: pa.ChunkedArray) -> list[Any]:
    """A column's values as Python objects; dates through numpy (pyarrow converts dates one
    by one, ~30 times slower), nulls as ``None``."""
    if pa.types.is_date32(column.type):
        days: list[Any] = column.to_numpy().tolist()   # datetime64[D]: date, NaT → None
        if not any(type(day) is int for day in days):  # numpy gives int out of date's range
            return days
    values: list[Any] = column.to_pylist()
    return values


@dataclass
class CareProjection:
    """Which row groups of which files hold which persons, at one snapshot."""

    snapshot: int
    #: (file, row group, lowest person_id, highest person_id)
    groups: list[tuple[str, int, int, int]]
    #: the same for the CNS and CPF of ``care_keys`` (lowest, highest number); ``None``
    #: when the snapshot has no such table (a lake projected before it existed)
    key_groups: list[tuple[str, int, str, str]] | None = None
    #: where the records kept whole (:func:`keep_whole`) are, once written: the file is
    #: written just after the projection's commit, so a service may see it come
    whole_file: Path | None = None
    _whole_seen: bool = False
    _whole_look: float = 0.0        # when to look for the file next (monotonic)
    # each thread reads through its own handles: no request waits for another's read
    _local: threading.local = field(default_factory=threading.local)

    def __post_init__(self) -> None:
        self._ranges = {"person_id": _Ranges(self.groups),
                        "key": _Ranges(self.key_groups or [])}

    def _rows(self, column: str, value: Any) -> pa.Table | None:
        """The rows whose ``column`` is ``value``, from the row groups whose range holds it."""
        files: dict[str, pq.ParquetFile] = self._local.__dict__.setdefault("files", {})
        parts = []
        for path, numbers in self._ranges[column].holding(value).items():
            handle = files.get(path)
            if handle is None:
                handle = files[path] = pq.ParquetFile(path, memory_map=True)
            table = handle.read_row_groups(numbers, use_threads=False)
            parts.append(table.filter(pc.equal(table[column], value)))
        return pa.concat_tables(parts) if parts else None

    def _table(self, person_id: int) -> pa.Table | None:
        return self._rows("person_id", person_id)

    def persons(self, number: str) -> list[int] | None:
        """The persons whose records carry ``number`` (a CNS or a CPF), in order; ``None``
        when this projection cannot say (the caller asks the tables)."""
        if self.key_groups is None:
            return None
        table = self._rows("key", number)
        return [] if table is None else sorted(set(table["person_id"].to_pylist()))

    def whole(self, person_id: int) -> CareRecord | None:
        """The person's record kept whole, or ``None`` (then :meth:`read` the rows)."""
        if self.whole_file is None or not self._whole_present():
            return None
        db = self._local.__dict__.get("whole")
        if db is None:
            db = self._local.whole = sqlite3.connect(
                self.whole_file.as_uri() + "?mode=ro", uri=True, check_same_thread=False)
        found = db.execute("SELECT residence, document, summary, html FROM documents "
                           "WHERE person_id = ?", (person_id,)).fetchone()
        return None if found is None else KeptRecord(person_id, found[0], bytes(found[1]),
                                                     bytes(found[2]), str(found[3]))

    def _whole_present(self) -> bool:
        if not self._whole_seen and time.monotonic() >= self._whole_look:
            self._whole_look = time.monotonic() + 1.0     # a look a second at most
            self._whole_seen = self.whole_file is not None and self.whole_file.exists()
        return self._whole_seen

    def read(self, person_id: int
             ) -> tuple[list[Identification], list[tuple[dict[str, Any], str]]]:
        table = self._table(person_id)
        ids: list[Identification] = []
        rows: list[tuple[dict[str, Any], str]] = []
        for r in _records(table):
            details = orjson.loads(r["details"]) if r["details"] else {}
            if r["part"] == "id":
                details["birth_date"] = _date(details.get("birth_date"))
                ids.append(Identification(
                    source_system=r["source_system"], role=r["role"],
                    record_key=r["record_key"], source_file=r["source_file"],
                    batch_id=r["batch_id"], **details))
                continue
            item = {"date": r["date"], "kind": r["kind"], "code": r["code"],
                    "facility_cnes": r["facility_cnes"]}
            item |= {k: _date(v) if k.endswith("_date") else v for k, v in details.items()}
            item |= {"source_system": r["source_system"], "batch_id": r["batch_id"],
                     "source_file": r["source_file"]}
            rows.append((item, r["role"]))
        return ids, rows


def load(con: duckdb.DuckDBPyConnection, snapshot: int) -> CareProjection | None:
    """The projection for ``snapshot`` of the lake attached as ``lake`` on ``con``, or
    ``None`` when there is none or it is stale (see the module's docstring)."""
    names = {str(tid): str(name) for name, tid in con.execute(
        "SELECT table_name, table_id FROM ducklake_table_info('lake')").fetchall()}
    if PROJECTION not in names.values():
        return None
    built = con.execute("SELECT value FROM lake.lake_meta AT (VERSION => ?) WHERE key = ?",
                        [snapshot, META_KEY]).fetchall()
    if not built:
        return None
    for (changes,) in con.execute(
            "SELECT changes FROM lake.snapshots() WHERE snapshot_id > ? AND "
            "snapshot_id <= ?", [int(built[0][0]), snapshot]).fetchall():
        for values in (changes or {}).values():
            for value in values:
                text = str(value)
                name = names.get(text) if text.isdigit() else text.rsplit(".", 1)[-1]
                if name in READS:
                    return None
    groups = _groups(con, PROJECTION, "person_id", snapshot, int)
    if groups is None:
        return None
    try:   # a projection written before care_keys existed has none
        keys = (_groups(con, KEYS, "key", snapshot, _text) if KEYS in names.values()
                else None)
    except duckdb.Error:
        keys = None
    return CareProjection(snapshot, groups, keys, _whole_file(groups) if groups else None)


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _groups(con: duckdb.DuckDBPyConnection, table: str, column_name: str, snapshot: int,
            kind: Callable[[Any], Any]) -> list[tuple[str, int, Any, Any]] | None:
    """(file, row group, lowest, highest) of ``table``'s sort column at ``snapshot``, from
    the Parquet statistics; ``None`` when a file has deletes or a group no statistics."""
    files = con.execute(
        "SELECT data_file, delete_file FROM ducklake_list_files('lake', ?, "
        "snapshot_version => ?)", [table, snapshot]).fetchall()
    if any(delete for _, delete in files):
        return None
    groups: list[tuple[str, int, Any, Any]] = []
    for path, _ in files:
        meta = pq.ParquetFile(path).metadata
        column = meta.schema.names.index(column_name)
        for g in range(meta.num_row_groups):
            stats = meta.row_group(g).column(column).statistics
            if stats is None or not stats.has_min_max:
                return None
            groups.append((str(path), g, kind(stats.min), kind(stats.max)))
    return groups
