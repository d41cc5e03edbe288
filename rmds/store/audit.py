"""The append-only, hash-chained audit log.

Every entry stores the hash of the previous one and its own:
``sha256(prev_hash | at | username | role | action | resource | territory | origin | reason)``.
Editing, deleting or inserting a past entry breaks the chain from there on, which
:func:`verify` finds. Entries are only ever inserted; writes are serialised so the chain
has no forks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from dataclasses import dataclass

import sqlalchemy as sa

from rmds.store.db import AUDIT, Store

__all__ = ["GENESIS", "VerifyResult", "record", "verify"]

GENESIS = "0" * 64
_LOCK = threading.Lock()
_FIELDS = ("at", "username", "role", "action", "resource", "territory", "origin", "reason")


def _digest(prev: str, values: dict[str, object]) -> str:
    text = "|".join([prev, *("" if values.get(f) is None else str(values[f])
                              for f in _FIELDS)])
    return hashlib.sha256(text.encode()).hexdigest()


def record(store: Store, *, username: str, role: str, action: str, resource: str,
           territory: str | None = None, origin: str | None = None,
           reason: str | None = None) -> None:
    values: dict[str, object] = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
        "username": username, "role": role, "action": action, "resource": resource[:400],
        "territory": territory, "origin": origin, "reason": reason}
    with _LOCK, store.engine.begin() as c:
        if c.dialect.name == "postgresql":
            c.execute(sa.text("LOCK TABLE audit_log IN EXCLUSIVE MODE"))
        last = c.execute(sa.select(AUDIT.c.hash).order_by(AUDIT.c.id.desc()).limit(1)).first()
        prev = last[0] if last else GENESIS
        c.execute(AUDIT.insert().values(**values, prev_hash=prev, hash=_digest(prev, values)))


@dataclass(frozen=True)
class VerifyResult:
    entries: int
    broken_at: int | None
    message: str

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify(store: Store) -> VerifyResult:
    prev = GENESIS
    count = 0
    with store.engine.connect() as c:
        for row in c.execute(AUDIT.select().order_by(AUDIT.c.id)):
            m = row._mapping
            count += 1
            if m["prev_hash"] != prev:
                return VerifyResult(count, int(m["id"]),
                                    f"entrada {m['id']}: não segue a anterior (removida ou "
                                    "inserida fora de ordem)")
            if _digest(prev, dict(m)) != m["hash"]:
                return VerifyResult(count, int(m["id"]),
                                    f"entrada {m['id']}: conteúdo alterado depois de gravado")
            prev = m["hash"]
    return VerifyResult(count, None, f"{count} entradas íntegras")
