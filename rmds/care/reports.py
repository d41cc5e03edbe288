"""A citizen's report that a record of theirs is wrong ("este registro não é meu", a wrong
date, a dose not given): it reaches the review queue of the municipality where they live,
which whoever cares for them there (and the administrator) reads. The report names the
person by their index number; its text is theirs, kept in the operational store, never in
a log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rmds.access import AccessDenied, DataClass, Decision, Place, Scope, decide
from rmds.store import Store
from rmds.store.db import RECORD_REPORTS

__all__ = ["MAX_REPORT", "Report", "open_reports", "submit_report"]

MAX_REPORT = 2000


@dataclass(frozen=True)
class Report:
    id: int
    created_at: str
    person_id: int
    municipality: str | None
    text: str
    status: str


def submit_report(store: Store, username: str, person_id: int, municipality: str | None,
                  text: str) -> int:
    cleaned = " ".join(text.split())
    if not 10 <= len(cleaned) <= MAX_REPORT:
        raise ValueError(f"descreva o problema em 10 a {MAX_REPORT} caracteres")
    with store.engine.begin() as c:
        result = c.execute(RECORD_REPORTS.insert().values(
            created_at=dt.datetime.now(dt.UTC), username=username, person_id=person_id,
            municipality=municipality, text=cleaned, status="aberta"))
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def open_reports(store: Store, scope: Scope) -> list[Report]:
    """The open reports ``scope`` reviews: those of residents of the municipalities where
    the policy lets it open care records without breaking the glass."""
    if not any(decide(scope.role, place, DataClass.CARE) is Decision.ALLOW
               for place in Place):
        raise AccessDenied("a fila de revisão é de quem cuida dos pacientes do município",
                           signed_in=scope.signed_in)
    query = RECORD_REPORTS.select().where(RECORD_REPORTS.c.status == "aberta")
    towns = scope.municipalities
    if towns is not None and decide(scope.role, Place.OUTSIDE, DataClass.CARE) \
            is not Decision.ALLOW:
        query = query.where(RECORD_REPORTS.c.municipality.in_(sorted(towns)))
    with store.engine.connect() as c:
        rows = c.execute(query.order_by(RECORD_REPORTS.c.id)).fetchall()
    return [Report(int(r.id), str(r.created_at)[:16], int(r.person_id), r.municipality,
                   str(r.text), str(r.status)) for r in rows]
