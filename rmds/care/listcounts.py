"""The work lists' counts per municipality, published for the pages.

Computing the lists for the whole state takes a minute or two at full scale: too long for a
page. ``rmds worklists compute`` (and the demo) computes them once per load with
:func:`publish`, which stores only the counts per municipality of residence, in one lake
snapshot; the indicators page and the municipality page read them (:func:`published`)
beside the indicator each list moves, for the viewers whose scope holds that territory.
Nobody is named here: the people of a list are computed again when a team asks for it
(:func:`rmds.care.worklists.compute`), and that is audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from rmds.care.worklists import Entry, Worklist, compute_all, counts, load_worklists
from rmds.engine.sql import ident

if TYPE_CHECKING:
    from rmds.lake.store import Lake

__all__ = ["COUNTS_TABLE", "Published", "publish", "published"]

#: the lake table of the lists' counts per municipality; never a person
COUNTS_TABLE = "worklist_counts"
_COUNTS_COLUMNS_SQL = ("list_id VARCHAR, indicator_id VARCHAR, municipality VARCHAR, "
                       "persons BIGINT, as_of DATE, snapshot_read BIGINT, "
                       "computed_at TIMESTAMP")


def publish(lake: Lake, icsap: frozenset[str], *, as_of: dt.date | None = None,
            worklists: Sequence[Worklist] | None = None) -> dict[str, list[Entry]]:
    """Compute every list and store its counts per municipality of residence in the lake
    (:data:`COUNTS_TABLE`, replacing the last ones, in one snapshot): what the indicators
    page and the municipality page show beside the indicator each list moves. Only counts
    are stored; the people are computed again when a team asks for its list."""
    lists = list(worklists if worklists is not None else load_worklists().values())
    read = lake.snapshot_id()
    results = compute_all(lake.con, lists, as_of=as_of, icsap=icsap)
    rows: dict[str, list[Any]] = {k: [] for k in ("list_id", "indicator_id", "municipality",
                                                 "persons")}
    for wl in lists:
        for municipality, n in counts(results[wl.id]).items():
            for key, value in zip(rows, (wl.id, wl.indicator, municipality or None, n),
                                  strict=True):
                rows[key].append(value)
    table = pa.table({**rows, "persons": pa.array(rows["persons"], pa.int64())})
    lake.run("BEGIN TRANSACTION")
    try:
        lake.run(f"CREATE TABLE IF NOT EXISTS {ident(COUNTS_TABLE)} ({_COUNTS_COLUMNS_SQL})")
        lake.run(f"DELETE FROM {ident(COUNTS_TABLE)}")
        lake.con.register("rmds_counts", table)
        try:
            lake.run(f"INSERT INTO {ident(COUNTS_TABLE)} SELECT list_id, indicator_id, "
                     "municipality, persons, ?, ?, current_timestamp FROM rmds_counts",
                     [as_of, read])
        finally:
            lake.con.unregister("rmds_counts")
        lake.commit("listas nominais", listas=len(lists),
                    pessoas=sum(len(v) for v in results.values()), snapshot_lido=read,
                    data_de_referencia=as_of)
    except BaseException:
        lake.run("ROLLBACK")
        raise
    return results


@dataclass(frozen=True)
class Published:
    """The lists' counts as last published (:func:`publish`)."""
    #: list id → municipality (``""``: none recorded) → persons
    persons: dict[str, dict[str, int]]
    as_of: dt.date | None         # None: each list's latest date in the lake
    snapshot_read: int            # -1: nothing published yet (the table is empty)
    computed_at: dt.datetime | None


def published(con: duckdb.DuckDBPyConnection) -> Published | None:
    """The counts :func:`publish` stored (None: never published in this lake)."""
    from rmds.lake.store import table_exists

    if not table_exists(con, COUNTS_TABLE):
        return None
    rows = con.execute(f"SELECT list_id, municipality, persons, as_of, snapshot_read, "
                       f"computed_at FROM {ident(COUNTS_TABLE)}").fetchall()
    persons: dict[str, dict[str, int]] = {}
    for list_id, municipality, n, *_ in rows:
        persons.setdefault(str(list_id), {})[municipality or ""] = int(n)
    if not rows:
        return Published({}, None, -1, None)
    _, _, _, as_of, read, at = rows[0]
    return Published(persons, as_of, int(read), at)


def for_unit(found: Published | None, indicator: str | None,
             municipalities: frozenset[str] | None) -> list[tuple[Worklist, int]]:
    """The lists that move ``indicator`` (every list, when None), each with its persons
    summed over ``municipalities`` (None: the whole state, with those whose residence no
    record gives); nothing when the counts were never published."""
    if found is None:
        return []
    return [(wl, sum(n for m, n in found.persons.get(wl.id, {}).items()
                     if municipalities is None or m in municipalities))
            for wl in load_worklists().values()
            if indicator is None or wl.indicator == indicator]
