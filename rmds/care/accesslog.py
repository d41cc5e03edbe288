"""Who looked at a person's data: their entries in the audit chain ("Min Log").

The entries are those whose resource is the person (:func:`rmds.care.opening.person_resource`)
— record openings, break-the-glass openings, FHIR summaries. The list proves complete by
the chain: :func:`rmds.store.audit.verify` is run with it, and every sequence number absent
from the chain is listed as a missing entry (it may have been an access to this person's
data: a deleted entry cannot say whose it was, so it is shown to everyone it may concern).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from rmds.care.opening import ACTION_BREAK_GLASS, person_resource
from rmds.store import Store
from rmds.store.audit import VerifyResult, verify
from rmds.store.db import AUDIT

__all__ = ["AccessEntry", "AccessLog", "access_log"]


@dataclass(frozen=True)
class AccessEntry:
    seq: int
    at: str
    username: str
    role: str
    action: str
    purpose: str | None
    break_glass: bool
    justification: str | None
    origin: str | None


@dataclass(frozen=True)
class AccessLog:
    person_id: int
    entries: list[AccessEntry]
    missing: list[int]          # sequence numbers absent from the chain
    chain: VerifyResult

    @property
    def complete(self) -> bool:
        return self.chain.ok and not self.missing


def _parse(reason: str | None) -> tuple[str | None, str | None]:
    """(purpose, justification) from an entry's reason (:attr:`CareGrant.reason`)."""
    if reason and reason.startswith("lista="):      # a work list downloaded with them on it
        return reason, None
    if not reason or not reason.startswith("finalidade="):
        return None, None
    head, _, glass = reason.partition("; quebra_de_vidro: ")
    return head.removeprefix("finalidade="), glass or None


def access_log(store: Store, person_id: int) -> AccessLog:
    with store.engine.connect() as c:
        rows = c.execute(AUDIT.select().where(AUDIT.c.resource == person_resource(person_id))
                         .order_by(AUDIT.c.seq)).fetchall()
        seqs = {int(s) for (s,) in c.execute(sa.select(AUDIT.c.seq))}
    entries = []
    for row in rows:
        m = row._mapping
        purpose, justification = _parse(m["reason"])
        entries.append(AccessEntry(int(m["seq"]), str(m["at"]), str(m["username"]),
                                   str(m["role"]), str(m["action"]), purpose,
                                   m["action"] == ACTION_BREAK_GLASS, justification,
                                   m["origin"]))
    top = max(seqs, default=0)
    chain = verify(store)
    if not chain.ok and chain.broken_at is not None and chain.broken_at > top:
        top = chain.broken_at      # entries cut from the end, found by the checkpoints
    missing = sorted(set(range(1, top + 1)) - seqs)
    return AccessLog(person_id, entries, missing, chain)
