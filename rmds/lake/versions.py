"""FHIR resources that arrive again: the newest ``meta.lastUpdated`` wins.

A FHIR resource is identified by its type and id (``Patient/123``); every row it brings to
the lake carries both (``fhir_resource``) and its ``meta.lastUpdated`` in UTC
(``last_updated``). When a resource already in the lake arrives again — in a later file,
later in the same file, or twice in one file:

- a **newer** version replaces the earlier one: the earlier version's rows (in its own
  table, and, for a Patient, in the protected ``identity_records``) leave the lake in the
  same commit as the new rows go in;
- an **older or the same** version is not loaded: it goes to quarantine (field
  ``meta.lastUpdated``, with the reason), so rows read = accepted + quarantined still holds.

A version without ``meta.lastUpdated`` is older than any dated one; between two undated
versions the later arrival wins (as with a file published again). Resources without an id
(entries of a Bundle known only by their ``urn:uuid``) cannot arrive again and are loaded
as they come.

The rows of other batches that a file's resources replace are noted only once the whole file
has been read (:meth:`Versions.settle`), and leave at the load's commit, one ``DELETE`` per
table (:func:`apply_pending`): a file that fails midway leaves the lake as it was. Earlier
versions are looked up in a :class:`VersionIndex` the load keeps, not queried per file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rmds.engine.sql import ident
from rmds.lake.store import Lake
from rmds.schema import TABLES
from rmds.sources.fhir.reader import Chunk
from rmds.sources.mapping import QUARANTINE_SCHEMA

__all__ = ["FHIR_TABLES", "VersionIndex", "Versions", "apply_pending"]

KEY, STAMP = "fhir_resource", "last_updated"
FIELD = "meta.lastUpdated"
#: the canonical tables FHIR resources feed
FHIR_TABLES = tuple(t.name for t in TABLES if KEY in {c.name for c in t.columns})
_KEYS = "rmds_versions"


def newer(stamp: str | None, than: str | None) -> bool:
    """Whether a version stamped ``stamp`` (arriving later) replaces one stamped ``than``
    (stamps are UTC text that sorts in time order; None: no ``meta.lastUpdated``)."""
    if stamp is None:
        return than is None
    return than is None or stamp > than


def _reason(key: str, stamp: str | None, other: str | None, where: str) -> str:
    if stamp is None and other is None:
        return f"recurso {key} repetido sem meta.lastUpdated: vale {where}"
    if stamp == other:
        return f"mesma versão do recurso {key} (meta.lastUpdated {stamp}) que {where}"
    return (f"versão mais antiga do recurso {key} (meta.lastUpdated "
            f"{stamp or 'ausente'}) que {where} ({other or 'sem meta.lastUpdated'})")


@dataclass
class _Seen:
    stamp: str | None
    row: int
    table: str


@dataclass
class VersionIndex:
    """The FHIR resources a load sees in the lake, per table: read with one query the first
    time a load meets the table, then kept up to date by the load itself (what it writes,
    what it deletes), so that a file costs no query to find its resources' earlier
    versions. Forgotten when the load's transaction is rolled back or a file is dropped
    from it (:meth:`forget`)."""

    lake: Lake
    tables: dict[str, dict[str, tuple[str | None, set[int]]]] = field(default_factory=dict)

    def of(self, name: str) -> dict[str, tuple[str | None, set[int]]]:
        if name not in self.tables:
            rows = self.lake.run(
                f"SELECT {ident(KEY)}, max({ident(STAMP)}), list(DISTINCT batch_id) "
                f"FROM {ident(name)} WHERE {ident(KEY)} IS NOT NULL GROUP BY {ident(KEY)}")
            self.tables[name] = {str(k): (s, {int(b) for b in batches})
                                 for k, s, batches in rows}
        return self.tables[name]

    def forget(self) -> None:
        self.tables.clear()


@dataclass
class Versions:
    """The versions of the FHIR resources of one file being loaded as batch ``batch_id``:
    :meth:`admit` each chunk before writing it, :meth:`settle` once the file is read."""

    lake: Lake
    batch_id: int
    file: str
    index: VersionIndex
    # the writer's staged rows go into the lake (before rows of this file are deleted)
    flush: Callable[[], None]
    # where the load collects the deletions of earlier versions, to run them once per table
    # at commit ({table: {resource: winning batch}}, see :func:`apply_pending`)
    pending: dict[str, dict[str, int]]
    # per table, the resources whose rows of other batches leave when the file lands
    deferred: dict[str, set[str]] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)   # tables that lost rows
    replaced: int = 0                                # resources replaced in other batches

    def admit(self, chunk: Chunk) -> Chunk:
        """The chunk without the versions that lose (to a newer one in the chunk or in
        the lake), which go to its quarantine instead. Rows of this file that a newer
        version in this chunk replaces leave the lake now (and are quarantined here)."""
        best: dict[str, _Seen] = {}
        losers: dict[str, set[int]] = {}
        quarantine: list[dict[str, Any]] = []

        def lose(key: str, loser: _Seen, reason: str) -> None:
            losers.setdefault(loser.table, set()).add(loser.row)
            quarantine.append({"source_file": self.file, "source_row": loser.row,
                               "source_system": "FHIR", "field": FIELD,
                               "value": loser.stamp, "reason": reason})

        for name, data in chunk.tables.items():
            if KEY not in data.column_names or not data.num_rows:
                continue
            for key, stamp, row in zip(data.column(KEY).to_pylist(),
                                       data.column(STAMP).to_pylist(),
                                       data.column("source_row").to_pylist(), strict=True):
                current = best.get(key) if key is not None else None
                if key is None or (current is not None and current.row == row):
                    continue    # no id, or another row of the same resource (components)
                seen = _Seen(stamp, int(row), name)
                if current is None:
                    best[key] = seen
                elif newer(stamp, current.stamp):
                    lose(key, current, _reason(key, current.stamp, stamp,
                                               f"a da linha {row} do mesmo arquivo"))
                    best[key] = seen
                else:
                    lose(key, seen, _reason(key, stamp, current.stamp,
                                            f"a da linha {current.row} do mesmo arquivo"))
        by_table: dict[str, list[str]] = {}
        for key, seen in best.items():
            by_table.setdefault(seen.table, []).append(key)
        lost_to_lake: set[str] = set()
        for name, keys in sorted(by_table.items()):
            for key, stamp, here, elsewhere in self._loaded(name, keys):
                seen = best[key]
                if not newer(seen.stamp, stamp):
                    lose(key, seen, _reason(key, seen.stamp, stamp, "a já carregada"))
                    lost_to_lake.add(key)
                    continue
                if here:   # an earlier version read earlier in this file
                    quarantine += self._drop_here(name, key, seen)
                if elsewhere and key not in self.deferred.setdefault(name, set()):
                    self.deferred[name].add(key)
                    self.replaced += 1
        for key, seen in best.items():   # what this chunk writes, as the index sees it
            if key in lost_to_lake:
                continue
            entries = self.index.of(seen.table)
            _, batches = entries.get(key, (None, set()))
            entries[key] = (seen.stamp, batches | {self.batch_id})
        if not quarantine:
            return chunk
        tables = {}
        for name, data in chunk.tables.items():
            rows = losers.get(name)
            tables[name] = data if not rows else data.filter(pc.invert(pc.is_in(
                data.column("source_row"), pa.array(sorted(rows), pa.int64()))))
        extra = pa.Table.from_pylist(quarantine, schema=QUARANTINE_SCHEMA)
        return Chunk(chunk.rows_in, tables, pa.concat_tables([chunk.quarantine, extra]),
                     chunk.rows_quarantined + len(quarantine))

    def _loaded(self, name: str, keys: list[str]
                ) -> list[tuple[str, str | None, bool, bool]]:
        """For the resources in ``keys`` already in table ``name``: (resource, newest
        stamp, whether this batch has rows of it, whether other batches do)."""
        entries = self.index.of(name)
        found = []
        for key in keys:
            if key in entries:
                stamp, batches = entries[key]
                found.append((key, stamp, self.batch_id in batches,
                              bool(batches - {self.batch_id})))
        return found

    def _drop_here(self, name: str, key: str, winner: _Seen) -> list[dict[str, Any]]:
        """Remove the rows of an earlier version of ``key`` read earlier in this file;
        their quarantine rows."""
        self.flush()
        where_sql = f"WHERE batch_id = ? AND {ident(KEY)} = ?"
        earlier = self.lake.run(f"SELECT source_row, {ident(STAMP)} FROM {ident(name)} "
                                f"{where_sql}", [self.batch_id, key])
        self.lake.run(f"DELETE FROM {ident(name)} {where_sql}", [self.batch_id, key])
        self.touched.add(name)
        reason = f"a da linha {winner.row} do mesmo arquivo"
        return [{"source_file": self.file, "source_row": int(row), "source_system": "FHIR",
                 "field": FIELD, "value": stamp,
                 "reason": _reason(key, stamp, winner.stamp, reason)}
                for row, stamp in sorted(set(earlier))]

    def settle(self) -> None:
        """The file is read whole: the rows of other batches that its resources replace
        leave the lake at the load's commit (:func:`apply_pending`)."""
        for name, keys in sorted(self.deferred.items()):
            if not keys:
                continue
            entries = self.index.of(name)
            for key in keys:
                if key in entries:
                    entries[key] = (entries[key][0], {self.batch_id})
            self.touched.add(name)
            self.pending.setdefault(name, {}).update(dict.fromkeys(keys, self.batch_id))
        self.deferred = {}


def apply_pending(lake: Lake, pending: dict[str, dict[str, int]]) -> None:
    """Delete, with one statement per table, the rows of every resource whose newer
    version a load wrote in another batch (``{table: {resource: winning batch}}``)."""
    for name, winners in sorted(pending.items()):
        if not winners:
            continue
        lake.con.register(_KEYS, pa.table({
            KEY: pa.array(list(winners), pa.string()),
            "winner": pa.array(list(winners.values()), pa.int64())}))
        try:
            lake.run(f"DELETE FROM {ident(name)} WHERE EXISTS (SELECT 1 FROM {ident(_KEYS)} v "
                     f"WHERE v.{ident(KEY)} = {ident(name)}.{ident(KEY)} "
                     f"AND v.winner <> {ident(name)}.batch_id)")
        finally:
            lake.con.unregister(_KEYS)
    pending.clear()
