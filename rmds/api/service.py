"""What the API and the pages read: the lake's mart and diagnosis, as the policy allows.

The service reads the lake through read-only views pinned to one snapshot each
(:mod:`rmds.api.snapshots`): a request reads one snapshot from start to end, through its own
DuckDB cursor; when a writer (``rmds ingest``, ``rmds link``, ``rmds indicators compute``,
in any process) commits a new snapshot, the service opens it, reads the mart of it ahead
(``follow``) and then moves to it, without a restart and without making anyone wait.
Indicator cells are read from the mart in the restricted form (the computation, kept in
memory) and masked per request by the access policy (:mod:`rmds.access`): a suppressed
cell keeps its numbers only for users whose territorial scope covers that unit.
"""

from __future__ import annotations

import datetime as dt
import gc
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb

from rmds.access import AccessPolicy, Scope
from rmds.api.snapshots import View, pinned
from rmds.care.listcounts import Published, published
from rmds.care.projection import CareProjection
from rmds.indicators.catalog import Catalog, load_catalog
from rmds.indicators.mart import has_mart, select_sql
from rmds.lake.store import Lake, attach, connect_engine, table_exists
from rmds.territory import Level, ReferencePack, Vintage

__all__ = ["DataService"]


@dataclass
class DataService:
    lake_path: Path
    pack: ReferencePack
    catalog: Catalog = field(default_factory=load_catalog)
    threshold: int = 5
    _cache: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    _run: tuple[float, int] = (0.0, -1)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not self.lake_path.is_dir() or not any(self.lake_path.iterdir()):
            with Lake(self.lake_path):   # an empty lake, so that the site can start
                pass
        self._names: list[str] = []
        self.ready = False
        self._views_lock = threading.Lock()
        self._probe = self._connect(None)
        self._current = self._open(self._newest())
        self._older: dict[int, View] = {}     # snapshots asked for with ?snapshot=N
        self._checked = time.monotonic()
        self._following: threading.Event | None = None

    def _connect(self, snapshot: int | None) -> duckdb.DuckDBPyConnection:
        con = connect_engine()
        attach(con, self.lake_path, read_only=True, snapshot=snapshot)
        return con

    def _newest(self) -> int:
        with self._views_lock:
            return int(self._probe.execute("SELECT id FROM lake.current_snapshot()"
                                           ).fetchall()[0][0])

    def _open(self, snapshot: int) -> View:
        return View(snapshot, self._connect(snapshot))

    def close(self) -> None:
        if self._following is not None:
            self._following.set()
        for view in [self._current, *self._older.values()]:
            view.close()
        self._probe.close()

    def writer(self) -> Lake:
        """The lake open for writing (a load through the API): waits for other writers."""
        return Lake(self.lake_path)

    def view(self, snapshot: int | None = None) -> View:
        """The view a request reads: the newest snapshot, or snapshot ``N`` (LookupError
        when the lake has no such snapshot)."""
        if snapshot is None:
            if self._following is None and time.monotonic() - self._checked > 1.0:
                self.refresh()
            return self._current
        if snapshot == self._current.snapshot:
            return self._current
        with self._views_lock:
            found = self._older.get(snapshot)
        if found is None:
            if snapshot < 0 or snapshot > self._newest():
                raise LookupError(snapshot)
            try:
                found = self._open(snapshot)
            except Exception as error:
                raise LookupError(snapshot) from error
            with self._views_lock:
                while len(self._older) >= 4:   # a few past snapshots stay open
                    self._older.pop(next(iter(self._older))).close()
                self._older[snapshot] = found
        return found

    def refresh(self, warm: bool = False) -> bool:
        """Move to the newest snapshot if there is one (reading its mart first when
        ``warm``); whether it moved."""
        self._checked = time.monotonic()
        newest = self._newest()
        if newest == self._current.snapshot:
            return False
        view = self._open(newest)
        if warm:
            token = pinned.set(view)
            try:
                self._read_mart()
            finally:
                pinned.reset(token)
        old, self._current = self._current, view
        with self._views_lock:
            self._older[old.snapshot] = old   # requests still reading it finish on it
            while len(self._older) > 4:
                self._older.pop(next(iter(self._older))).close()
        stale = [k for k in self._cache if old.snapshot in k and isinstance(k, tuple)]
        for key in stale:
            self._cache.pop(key, None)
        return True

    def follow(self, every: float = 1.0) -> None:
        """Watch for new snapshots in a background thread and move to each one once its
        mart has been read (``rmds serve``)."""
        stop = threading.Event()
        self._following = stop

        def loop() -> None:
            from rmds.log import get_logger

            log = get_logger("api")
            while not stop.wait(every):
                try:
                    if self.refresh(warm=True):
                        log.info("servindo o snapshot %s do lago", self._current.snapshot)
                except Exception as error:  # the next round tries again
                    log.warning("não foi possível ler o snapshot mais novo: %s", error)

        threading.Thread(target=loop, name="rmds-snapshots", daemon=True).start()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the snapshot this request reads."""
        return (pinned.get() or self.view()).cursor()

    def care(self) -> CareProjection | None:
        """The care records by person of the snapshot this request reads (``None``: read
        them from the tables)."""
        return (pinned.get() or self.view()).care()

    # ------------------------------------------------------------------ territory
    @cached_property
    def municipalities(self) -> dict[str, str]:
        return {code: m.name for code, m in self.pack.municipalities.items()}

    def memberships(self) -> list[Any]:
        from rmds.consortia.roster import memberships

        key = ("memberships", self.run_id())
        if key not in self._cache:
            self._cache[key] = memberships(self.cursor(), self.pack)
        result: list[Any] = self._cache[key]
        return result

    def parent_of(self, level: str, vintage: Vintage, year: int | None = None
                  ) -> dict[str, list[str]]:
        """municipality → codes of the units of ``level`` it belongs to (consortia: in
        ``year``, or ever when no year is given)."""
        key = ("parent", level, vintage, year, self.run_id())
        if key not in self._cache:
            # here, not at the top: the computation's module brings scipy (a second of
            # start-up) and the server needs only this function of it
            from rmds.indicators.compute import placements

            consortia: dict[str, list[Any]] = {}
            for m in self.memberships():
                if year is None or m.valid_in(dt.date(year, 1, 1), dt.date(year, 12, 31)):
                    consortia.setdefault(m.municipality, []).append(m)
            self._cache[key] = {
                code: sorted({unit for lvl, unit, _, _ in placements(
                    m, vintage, consortia.get(code, [])) if lvl.value == level})
                for code, m in self.pack.municipalities.items()}
        result: dict[str, list[str]] = self._cache[key]
        return result

    @cached_property
    def policy(self) -> AccessPolicy:
        """The access policy, over this lake's territory and consortium roster."""
        return AccessPolicy(self.parent_of, self.threshold, self.pack.vintages)

    def units(self, level: str, vintage: Vintage | None = None) -> list[dict[str, str]]:
        return [{"codigo": u.code, "nome": u.name}
                for u in self.pack.units(Level(level), vintage).values()]

    # ---------------------------------------------------------------------- mart
    def run_id(self) -> int:
        """The snapshot this request reads: what every cached answer is keyed by."""
        return (pinned.get() or self.view()).snapshot

    def periods(self, period_type: str = "ano") -> list[str]:
        key = ("periods", self.run_id(), period_type)
        if key not in self._cache:
            cur = self.cursor()
            rows = cur.execute("SELECT DISTINCT period FROM indicator_values WHERE "
                               "period_type = ? ORDER BY 1", [period_type]).fetchall() \
                if has_mart(cur) else []
            self._cache[key] = [r[0] for r in rows]
        result: list[str] = self._cache[key]
        return result

    def _indicator_table(self, indicator: str) -> dict[tuple[str, str], list[tuple[Any, ...]]]:
        """All restricted cells of one indicator, read in one query and kept as tuples,
        indexed by (level, period)."""
        key = ("indicator", self.run_id(), indicator)
        table = self._cache.get(key)
        if table is None:
            with self._lock:
                table = self._cache.get(key)
                if table is None:
                    cur = self.cursor()
                    table = {}
                    if has_mart(cur):
                        result = cur.execute(select_sql(False, "v.indicator_id = ?")
                                             + " ORDER BY v.unit_code", [indicator])
                        self._names = [d[0] for d in result.description]
                        level_at = self._names.index("level")
                        period_at = self._names.index("period")
                        for values in result.fetchall():
                            table.setdefault((values[level_at], values[period_at]),
                                             []).append(values)
                    self._cache[key] = table
        result_table: dict[tuple[str, str], list[tuple[Any, ...]]] = table
        return result_table

    def _restricted(self, indicator: str, level: str, period: str) -> list[dict[str, Any]]:
        rows = self._indicator_table(indicator).get((level, period), [])
        return [dict(zip(self._names, r, strict=True)) for r in rows]

    def _read_mart(self) -> None:
        """Every indicator's restricted cells, in one query of the mart (of the snapshot
        this thread reads), into the cache."""
        run = self.run_id()
        cur = self.cursor()
        tables: dict[str, dict[tuple[str, str], list[tuple[Any, ...]]]] = {
            i.id: {} for i in self.catalog}
        if has_mart(cur):
            result = cur.execute(select_sql(False) + " ORDER BY v.indicator_id, v.unit_code")
            names = [d[0] for d in result.description]
            at = names.index("indicator_id"), names.index("level"), names.index("period")
            while batch := result.fetchmany(50_000):
                for values in batch:
                    table = tables.get(values[at[0]])
                    if table is not None:
                        table.setdefault((values[at[1]], values[at[2]]), []).append(values)
            self._names = names
        with self._lock:
            for indicator, table in tables.items():
                self._cache.setdefault(("indicator", run, indicator), table)

    def warm(self, freeze: bool = True) -> None:
        """Read every indicator of the mart ahead of the first requests."""
        self._read_mart()
        # hundreds of thousands of long-lived tuples: keep them out of the cyclic garbage
        # collector's scans, which otherwise pause every request now and then
        if freeze:
            gc.collect()
            gc.freeze()
        self.ready = True

    def cells(self, indicator: str, level: str, period: str, scope: Scope,
              unit: str | None = None) -> tuple[list[dict[str, Any]], bool]:
        """Cells of one indicator, level and period, masked for ``scope``; and whether any
        restricted (suppressed but shown) cell is in the answer."""
        self.catalog.get(indicator)
        rows = self._restricted(indicator, level, period)
        if unit is not None:
            rows = [r for r in rows if r["unit_code"] == unit]
        return self.policy.mask_cells(rows, level, scope)

    def unit_cells(self, level: str, unit: str, scope: Scope
                   ) -> tuple[dict[tuple[str, str], dict[str, Any]], bool]:
        """Every cell of one unit (all indicators and periods), masked for ``scope``:
        (indicator, period) → cell."""
        key = ("unit", self.run_id(), level, unit)
        rows = self._cache.get(key)
        if rows is None:
            cur = self.cursor()
            if not has_mart(cur):
                return {}, False
            result = cur.execute(select_sql(False, "v.level = ? AND v.unit_code = ?"),
                                 [level, unit])
            names = [d[0] for d in result.description]
            rows = [dict(zip(names, r, strict=True)) for r in result.fetchall()]
            self._cache[key] = rows
        masked, restricted = self.policy.mask_cells(rows, level, scope)
        return {(row["indicator_id"], row["period"]): row for row in masked}, restricted

    def series(self, indicator: str, level: str, unit: str, period_type: str,
               scope: Scope) -> tuple[list[dict[str, Any]], bool]:
        self.catalog.get(indicator)
        restricted = False
        out = []
        for period in self.periods(period_type):
            rows, shown = self.cells(indicator, level, period, scope, unit)
            restricted |= shown
            out += rows
        return out, restricted

    def ranking(self, indicator: str, level: str, period: str, scope: Scope
                ) -> tuple[list[dict[str, Any]], bool]:
        rows, restricted = self.cells(indicator, level, period, scope)
        best_first = self.catalog.get(indicator).higher_is_better
        known = [r for r in rows if r["value"] is not None]
        known.sort(key=lambda r: r["value"], reverse=best_first)
        hidden = [r for r in rows if r["value"] is None]
        return [{**r, "posicao": i + 1} for i, r in enumerate(known)] + hidden, restricted

    def by_municipality(self, indicator: str, level: str, period: str, scope: Scope
                        ) -> dict[str, dict[str, Any]]:
        """Each municipality's cell of the unit it belongs to (for the map)."""
        rows, _ = self.cells(indicator, level, period, scope)
        by_unit = {r["unit_code"]: r for r in rows}
        year = int(period[:4])
        parents = self.parent_of(level, self.pack.vintage_for_year(year), year)
        out = {}
        for muni, codes in parents.items():
            for code in codes:
                if code in by_unit:
                    out[muni] = by_unit[code]
                    break
        return out

    # ------------------------------------------------------------------- quality
    def quality_ranking(self) -> list[dict[str, Any]]:
        cur = self.cursor()
        if not table_exists(cur, "quality_scores"):
            return []
        rows = cur.execute("SELECT municipality, name, score, level, explanation FROM "
                           "quality_scores ORDER BY score NULLS LAST, municipality").fetchall()
        import json

        out = []
        for code, name, score, level, explanation in rows:
            reasons = json.loads(explanation)
            out.append({"municipio": code, "nome": name, "nota": score, "nivel": level,
                        "o_que_mais_pesa": [r["nome"] for r in reasons[:3]]})
        return out

    def quality_detail(self, code: str) -> dict[str, Any] | None:
        from rmds.quality.report import municipality_report

        cur = self.cursor()
        if not table_exists(cur, "quality_scores"):
            return None
        rows = municipality_report(cur, code)
        return rows[0] if rows else None

    # --------------------------------------------------------------------- loads
    def batches(self) -> list[dict[str, Any]]:
        cur = self.cursor()
        result = cur.execute("SELECT * FROM batches ORDER BY batch_id")
        names = [d[0] for d in result.description]
        return [dict(zip(names, r, strict=True)) for r in result.fetchall()]

    def quarantine(self, limit: int = 200) -> list[dict[str, Any]]:
        cur = self.cursor()
        result = cur.execute("SELECT * FROM quarantine ORDER BY batch_id, source_row LIMIT ?",
                             [limit])
        names = [d[0] for d in result.description]
        return [dict(zip(names, r, strict=True)) for r in result.fetchall()]

    def latest_year(self) -> str | None:
        years = self.periods("ano")
        return years[-1] if years else None

    def worklist_counts(self) -> Published | None:
        """The work lists' counts per municipality as last published in the snapshot this
        request reads (:mod:`rmds.care.listcounts`)."""
        key = ("listas", self.run_id())
        if key not in self._cache:
            self._cache[key] = published(self.cursor())
        found: Published | None = self._cache[key]
        return found
