"""A citizen's report that a record of theirs is wrong ("este registro não é meu", a wrong
date, a dose not given): it reaches the review queue of the municipality where they live,
which whoever cares for them there (and the administrator) reads. The report names the
person by their index number; its text is theirs, kept in the operational store, never in
a log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from rmds.access import AccessDenied, DataClass, Decision, Place, Scope, decide
from rmds.store import Store
from rmds.store.db import AUDIT, RECORD_REPORTS

__all__ = ["ACTION_VERDICT", "MAX_REPORT", "VERDICTS", "GlassEntry", "Report", "broken_glass",
           "judge_glass", "open_reports", "resolve_report", "submit_report"]

MAX_REPORT = 2000
#: the municipality's written verdict on an opening by breaking the glass, kept in the
#: audit chain itself (tamper-evident, and shown in the citizen's access log)
ACTION_VERDICT = "parecer_quebra_de_vidro"
VERDICTS = ("justificada", "injustificada")
MAX_VERDICT_NOTE = 300


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


@dataclass(frozen=True)
class GlassEntry:
    seq: int
    at: str
    username: str
    role: str
    resource: str
    municipality: str | None
    justification: str
    #: the municipality's verdict (``justificada`` / ``injustificada``), who gave it, and
    #: its note; None while unreviewed
    verdict: str | None = None
    verdict_by: str | None = None
    verdict_note: str = ""


def _towns(scope: Scope) -> list[str] | None:
    """The municipalities whose reviews ``scope`` does (``None``: all of them)."""
    if not any(decide(scope.role, place, DataClass.CARE) is Decision.ALLOW
               for place in Place):
        raise AccessDenied("a fila de revisão é de quem cuida dos pacientes do município",
                           signed_in=scope.signed_in)
    towns = scope.municipalities
    if towns is not None and decide(scope.role, Place.OUTSIDE, DataClass.CARE) \
            is not Decision.ALLOW:
        return sorted(towns)
    return None


def broken_glass(store: Store, scope: Scope, limit: int = 200) -> list[GlassEntry]:
    """The latest openings of residents' records by breaking the glass (from the audit
    chain: the municipality of residence is the entry's territory), for the municipality's
    review."""
    towns = _towns(scope)
    query = AUDIT.select().where(AUDIT.c.action == "quebra_de_vidro")
    if towns is not None:
        query = query.where(AUDIT.c.territory.in_(towns))
    with store.engine.connect() as c:
        rows = c.execute(query.order_by(AUDIT.c.seq.desc()).limit(limit)).fetchall()
        judged = _verdicts(c, [int(r.seq) for r in rows])
    return [GlassEntry(int(r.seq), str(r.at)[:16], str(r.username), str(r.role),
                       str(r.resource), r.territory,
                       str(r.reason or "").partition("quebra_de_vidro: ")[2],
                       *judged.get(int(r.seq), (None, None, "")))
            for r in rows]


def _verdicts(c: sa.Connection, seqs: list[int]) -> dict[int, tuple[str, str, str]]:
    """seq of a break-glass opening → (verdict, who, note), from the verdict entries."""
    if not seqs:
        return {}
    wanted = [f"quebra={s};" for s in seqs]
    found = c.execute(sa.select(AUDIT.c.username, AUDIT.c.reason).where(
        AUDIT.c.action == ACTION_VERDICT,
        sa.or_(*(AUDIT.c.reason.startswith(w) for w in wanted)))).fetchall()
    out: dict[int, tuple[str, str, str]] = {}
    for who, reason in found:
        parts = [*str(reason).split(";", 2), "", ""]
        head, verdict, note = (part.strip() for part in parts[:3])
        out[int(head.removeprefix("quebra="))] = (verdict.removeprefix("parecer="), str(who),
                                                  note)
    return out


def judge_glass(store: Store, scope: Scope, seq: int, verdict: str, note: str, *,
                username: str, origin: str | None) -> None:
    """Record the municipality's written verdict on the break-glass opening ``seq`` (once):
    only whoever reviews the municipality of residence. Raises AccessDenied, ValueError
    (an unknown verdict or a note too long), or LookupError (no such opening in the scope,
    or already judged)."""
    from rmds.store.audit import record

    towns = _towns(scope)        # who may judge, before anything about the request
    if verdict not in VERDICTS:
        raise ValueError(f"parecer deve ser {' ou '.join(VERDICTS)}")
    cleaned = " ".join(note.split())
    if len(cleaned) > MAX_VERDICT_NOTE:
        raise ValueError(f"observação de até {MAX_VERDICT_NOTE} caracteres")
    if verdict == "injustificada" and len(cleaned) < 10:
        raise ValueError("diga por que a abertura não se justifica (ao menos 10 caracteres)")
    with store.engine.connect() as c:
        row = c.execute(AUDIT.select().where(AUDIT.c.seq == seq,
                                             AUDIT.c.action == "quebra_de_vidro")).first()
        if row is None or (towns is not None and row.territory not in towns):
            raise LookupError(f"nenhuma abertura por quebra de vidro nº {seq} no seu "
                              "território")
        if _verdicts(c, [seq]):
            raise LookupError(f"a abertura nº {seq} já tem parecer")
    record(store, username=username, role=scope.role.value, action=ACTION_VERDICT,
           resource=str(row.resource), territory=row.territory, origin=origin,
           reason=f"quebra={seq}; parecer={verdict}; {cleaned}".strip())


def _reviewed_by(scope: Scope) -> Any:
    """The condition on reports ``scope`` reviews: those of residents of the municipalities
    where the policy lets it open care records without breaking the glass."""
    towns = _towns(scope)
    return sa.true() if towns is None else RECORD_REPORTS.c.municipality.in_(towns)


def resolve_report(store: Store, scope: Scope, report_id: int, username: str) -> Report:
    """Mark a report reviewed (``resolvida``); only whoever may review it. Raises
    AccessDenied, or LookupError when there is no such open report in the scope."""
    where = _reviewed_by(scope)
    with store.engine.begin() as c:
        done = c.execute(RECORD_REPORTS.update().where(
            RECORD_REPORTS.c.id == report_id, RECORD_REPORTS.c.status == "aberta", where
        ).values(status="resolvida", resolved_by=username,
                 resolved_at=dt.datetime.now(dt.UTC))).rowcount
        row = c.execute(RECORD_REPORTS.select().where(RECORD_REPORTS.c.id == report_id,
                                                      where)).first()
    if not done or row is None:
        raise LookupError(f"nenhum aviso aberto nº {report_id} no seu território")
    return Report(int(row.id), str(row.created_at)[:16], int(row.person_id), row.municipality,
                  str(row.text), str(row.status))


def open_reports(store: Store, scope: Scope) -> list[Report]:
    """The open reports ``scope`` reviews (:func:`_reviewed_by`)."""
    query = RECORD_REPORTS.select().where(RECORD_REPORTS.c.status == "aberta",
                                          _reviewed_by(scope))
    with store.engine.connect() as c:
        rows = c.execute(query.order_by(RECORD_REPORTS.c.id)).fetchall()
    return [Report(int(r.id), str(r.created_at)[:16], int(r.person_id), r.municipality,
                   str(r.text), str(r.status)) for r in rows]
