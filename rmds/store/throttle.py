"""Failed logins kept in the operational store (table ``login_throttle``), for the login
guard of every server process (:class:`rmds.api.security.LoginGuard` with ``shared``).

A failure is counted by one ``INSERT … ON CONFLICT DO UPDATE SET failures = failures + 1``
(SQLite and PostgreSQL alike), so two processes failing at once both count; rows older
than their key's ``forget`` seconds restart at one, and the oldest rows go first beyond
``max_keys``."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from rmds.store.db import LOGIN_THROTTLE, Store

__all__ = ["throttle_clear", "throttle_entries", "throttle_failed"]

T = LOGIN_THROTTLE


def _matching(keys: list[tuple[str, str]]) -> sa.ColumnElement[bool]:
    return sa.or_(*(sa.and_(T.c.kind == kind, T.c.key == key) for kind, key in keys))


def throttle_entries(store: Store, keys: list[tuple[str, str]]
                     ) -> dict[tuple[str, str], tuple[int, float]]:
    """(kind, key) → (failures, last failure) for those of ``keys`` with failures."""
    with store.engine.connect() as c:
        rows = c.execute(sa.select(T.c.kind, T.c.key, T.c.failures, T.c.last_at)
                         .where(_matching(keys))).all()
    return {(r.kind, r.key): (int(r.failures), float(r.last_at)) for r in rows}


def throttle_failed(store: Store, keys: list[tuple[str, str, float]], now: float,
                    max_keys: int) -> None:
    """One more failure at ``now`` for each (kind, key, forget seconds)."""
    with store.engine.begin() as c:
        upsert = postgresql.insert if c.dialect.name == "postgresql" else sqlite.insert
        for kind, key, forget in keys:
            statement = upsert(T).values(kind=kind, key=key, failures=1, last_at=now)
            c.execute(statement.on_conflict_do_update(
                index_elements=[T.c.kind, T.c.key],
                set_={"failures": sa.case((T.c.last_at < now - forget, 1),
                                          else_=T.c.failures + 1),
                      "last_at": now}))
        oldest = max(forget for _, _, forget in keys)
        c.execute(sa.delete(T).where(T.c.last_at < now - oldest))
        if int(c.execute(sa.select(sa.func.count()).select_from(T)).scalar_one()) > max_keys:
            cut = c.execute(sa.select(T.c.last_at).order_by(T.c.last_at.desc())
                            .offset(max_keys).limit(1)).scalar_one_or_none()
            if cut is not None:
                c.execute(sa.delete(T).where(T.c.last_at <= cut))


def throttle_clear(store: Store, keys: list[tuple[str, str]] | None) -> None:
    """Forget ``keys`` (every key when ``None``)."""
    with store.engine.begin() as c:
        c.execute(sa.delete(T) if keys is None else sa.delete(T).where(_matching(keys)))
