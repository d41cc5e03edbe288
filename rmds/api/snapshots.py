"""Which snapshot of the lake a request reads.

The service reads the lake through *views*: one DuckDB connection per snapshot, attached
read-only and pinned to that snapshot. Every request is pinned, at its start, to one view:
the newest (``current``) or the one it asks for with ``?snapshot=N``; all its queries read
that view, so an answer never mixes two snapshots, and a load committed meanwhile shows in
the next request. Every response says which snapshot it came from (``X-Rmds-Snapshot``).
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import duckdb
import orjson

if TYPE_CHECKING:
    from rmds.api.service import DataService
    from rmds.care.projection import CareProjection

__all__ = ["SNAPSHOT_HEADER", "SnapshotMiddleware", "View", "pinned"]

SNAPSHOT_HEADER = "X-Rmds-Snapshot"


@dataclass
class View:
    """One snapshot of the lake, open for reading."""

    snapshot: int
    con: duckdb.DuckDBPyConnection
    _care: CareProjection | None = None
    _care_read: bool = False
    _care_lock: threading.Lock = field(default_factory=threading.Lock)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        cur = self.con.cursor()
        cur.execute("USE lake")
        return cur

    def care(self) -> CareProjection | None:
        """The snapshot's care records by person (:mod:`rmds.care.projection`), read on
        first use; ``None`` when the snapshot has none current (records are then read from
        the tables)."""
        with self._care_lock:
            if not self._care_read:
                from rmds.care.projection import load

                self._care = load(self.cursor(), self.snapshot)
                self._care_read = True
            return self._care

    def close(self) -> None:
        self.con.close()


pinned: ContextVar[View | None] = ContextVar("rmds_snapshot_view", default=None)


class SnapshotMiddleware:
    """Pins each HTTP request to one snapshot (pure ASGI, so that the pin reaches the
    endpoint, sync or async, and the page views)."""

    def __init__(self, app: Any, data: DataService) -> None:
        self.app = app
        self.data = data

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        asked = query.get("snapshot", [None])[-1]
        try:
            view = self.data.view(None if asked in (None, "") else int(str(asked)))
        except (ValueError, LookupError):
            body = orjson.dumps({"erro": {
                "status": 422, "tipo": "requisicao_invalida",
                "mensagem": f"snapshot inválido: {str(asked)[:40]} (veja 'rmds snapshots')",
                "detalhes": []}})
            await send({"type": "http.response.start", "status": 422, "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_snapshot(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((SNAPSHOT_HEADER.lower().encode(),
                                str(view.snapshot).encode()))
                message = {**message, "headers": headers}
            await send(message)

        token = pinned.set(view)
        try:
            await self.app(scope, receive, send_with_snapshot)
        finally:
            pinned.reset(token)
