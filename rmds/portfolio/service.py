"""Keeping the portfolio: load the plan, weekly status, milestones, critical points,
deliveries, and the weekly monitoring report. Every change is checked against the user's
role (project managers edit their own project; the strategy office and administrators edit
all) and written to the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from rmds.exceptions import ConfigurationError, RmdsError
from rmds.portfolio.plan import Plan, load_plan
from rmds.store import Store
from rmds.store.audit import record
from rmds.store.auth import Role, User
from rmds.store.db import CRITICAL_POINTS, DELIVERIES, MILESTONES, PROJECTS, STATUS_UPDATES

__all__ = ["STATUSES", "PortfolioError", "add_critical_point", "add_delivery", "add_status",
           "board", "can_edit", "escalate", "load_into_store", "project", "resolve",
           "set_milestone", "week_of", "weekly_report"]

STATUSES = {"no_prazo": "No prazo", "atencao": "Atenção", "atrasado": "Atrasado",
            "concluido": "Concluído", "suspenso": "Suspenso"}
SEVERITIES = ("baixa", "media", "alta")


class PortfolioError(RmdsError, PermissionError):
    """A change the user may not make, or one that names nothing known."""


def week_of(day: dt.date) -> dt.date:
    """The Monday of a date's week (the portfolio's weekly cycle)."""
    return day - dt.timedelta(days=day.weekday())


def can_edit(user: User, project_id: str) -> bool:
    if user.role in (Role.ADMIN, Role.STRATEGY_OFFICE):
        return True
    return user.role is Role.PROJECT_MANAGER and user.scope_code == project_id


def _require_edit(store: Store, user: User, project_id: str) -> None:
    with store.engine.connect() as c:
        exists = c.execute(sa.select(PROJECTS.c.id).where(PROJECTS.c.id == project_id)).first()
    if exists is None:
        raise ConfigurationError(f"projeto desconhecido: {project_id}")
    if not can_edit(user, project_id):
        raise PortfolioError(f"{user.username} não pode alterar o projeto {project_id}")


def _audit(store: Store, user: User, what: str, project_id: str) -> None:
    record(store, username=user.username, role=user.role.value, action="escrita",
           resource=f"carteira/{project_id}: {what}", territory=f"projeto:{project_id}",
           origin="rmds")


def load_into_store(store: Store, plan: Plan | None = None) -> dict[str, int]:
    """Write the plan's projects and milestones (idempotent: known ones are updated, dates
    and status already recorded are kept)."""
    plan = plan or load_plan()
    added = 0
    with store.engine.begin() as c:
        for p in plan.projects:
            values = {"name": p.name, "unit": p.unit, "challenge": p.challenge,
                      "scope": p.scope, "objectives": ",".join(p.objectives),
                      "indicators": ",".join(p.indicators)}
            if c.execute(sa.select(PROJECTS.c.id).where(PROJECTS.c.id == p.id)).first():
                c.execute(PROJECTS.update().where(PROJECTS.c.id == p.id).values(**values))
            else:
                c.execute(PROJECTS.insert().values(id=p.id, **values))
            for name in p.milestones:
                known = c.execute(sa.select(MILESTONES.c.id).where(
                    (MILESTONES.c.project_id == p.id) & (MILESTONES.c.name == name))).first()
                if known is None:
                    c.execute(MILESTONES.insert().values(project_id=p.id, name=name))
                    added += 1
    return {"projetos": len(plan.projects), "marcos_novos": added}


def _dict(row: sa.Row[Any]) -> dict[str, Any]:
    # plain ``str`` keys (SQLAlchemy may hand back str subclasses, which JSON encoders refuse)
    return {str(k): v for k, v in row._mapping.items()}


def _rows(c: sa.Connection, query: Any) -> list[dict[str, Any]]:
    return [_dict(r) for r in c.execute(query)]


def project(store: Store, project_id: str, today: dt.date | None = None) -> dict[str, Any]:
    today = today or dt.date.today()
    with store.engine.connect() as c:
        found = c.execute(PROJECTS.select().where(PROJECTS.c.id == project_id)).first()
        if found is None:
            raise ConfigurationError(f"projeto desconhecido: {project_id}")
        item = _dict(found)
        item["objectives"] = [o for o in item["objectives"].split(",") if o]
        item["indicators"] = [i for i in item["indicators"].split(",") if i]
        item["milestones"] = _rows(c, MILESTONES.select().where(
            MILESTONES.c.project_id == project_id).order_by(MILESTONES.c.id))
        for m in item["milestones"]:
            m["late"] = bool(m["due_date"] and not m["done_on"] and m["due_date"] < today)
        item["status"] = _rows(c, STATUS_UPDATES.select().where(
            STATUS_UPDATES.c.project_id == project_id).order_by(
            STATUS_UPDATES.c.week.desc(), STATUS_UPDATES.c.id.desc()))
        item["critical_points"] = _rows(c, CRITICAL_POINTS.select().where(
            CRITICAL_POINTS.c.project_id == project_id).order_by(CRITICAL_POINTS.c.id))
        item["deliveries"] = _rows(c, DELIVERIES.select().where(
            DELIVERIES.c.project_id == project_id).order_by(DELIVERIES.c.id))
    latest = item["status"][0] if item["status"] else None
    item["current_status"] = latest["status"] if latest else None
    item["percent"] = latest["percent"] if latest else None
    item["late_milestones"] = sum(1 for m in item["milestones"] if m["late"])
    return item


def board(store: Store, today: dt.date | None = None) -> list[dict[str, Any]]:
    with store.engine.connect() as c:
        ids = [r[0] for r in c.execute(sa.select(PROJECTS.c.id).order_by(PROJECTS.c.name))]
    return [project(store, i, today) for i in ids]


def add_status(store: Store, user: User, project_id: str, status: str, percent: int,
               note: str, week: dt.date | None = None) -> None:
    _require_edit(store, user, project_id)
    if status not in STATUSES:
        raise ConfigurationError(f"situação inválida: {status} ({', '.join(STATUSES)})")
    if not 0 <= percent <= 100:
        raise ConfigurationError("percentual deve estar entre 0 e 100")
    with store.engine.begin() as c:
        c.execute(STATUS_UPDATES.insert().values(
            project_id=project_id, week=week_of(week or dt.date.today()), status=status,
            percent=percent, note=note[:1000], username=user.username,
            at=dt.datetime.now(dt.UTC)))
    _audit(store, user, f"status {status} {percent}%", project_id)


def set_milestone(store: Store, user: User, milestone_id: int, *,
                  due: dt.date | None = None, done: dt.date | None = None) -> None:
    with store.engine.connect() as c:
        row = c.execute(MILESTONES.select().where(MILESTONES.c.id == milestone_id)).first()
    if row is None:
        raise ConfigurationError(f"marco desconhecido: {milestone_id}")
    project_id = row._mapping["project_id"]
    _require_edit(store, user, project_id)
    values: dict[str, Any] = {}
    if due is not None:
        values["due_date"] = due
    if done is not None:
        values["done_on"] = done
    if values:
        with store.engine.begin() as c:
            c.execute(MILESTONES.update().where(MILESTONES.c.id == milestone_id)
                      .values(**values))
        _audit(store, user, f"marco {milestone_id} {values}", project_id)


def add_critical_point(store: Store, user: User, project_id: str, description: str,
                       owner_unit: str, severity: str, opened: dt.date | None = None) -> int:
    _require_edit(store, user, project_id)
    if severity not in SEVERITIES:
        raise ConfigurationError(f"gravidade inválida: {severity} ({', '.join(SEVERITIES)})")
    with store.engine.begin() as c:
        result = c.execute(CRITICAL_POINTS.insert().values(
            project_id=project_id, description=description[:1000], owner_unit=owner_unit,
            severity=severity, opened_on=opened or dt.date.today()))
        point = int((result.inserted_primary_key or [0])[0])
    _audit(store, user, f"ponto crítico {point}", project_id)
    return point


def _point_project(store: Store, point: int) -> str:
    with store.engine.connect() as c:
        row = c.execute(sa.select(CRITICAL_POINTS.c.project_id).where(
            CRITICAL_POINTS.c.id == point)).first()
    if row is None:
        raise ConfigurationError(f"ponto crítico desconhecido: {point}")
    return str(row[0])


def escalate(store: Store, user: User, point: int, on: dt.date | None = None) -> None:
    """Take a critical point to the collegiate's shared agenda."""
    project_id = _point_project(store, point)
    _require_edit(store, user, project_id)
    with store.engine.begin() as c:
        c.execute(CRITICAL_POINTS.update().where(CRITICAL_POINTS.c.id == point)
                  .values(escalated_on=on or dt.date.today()))
    _audit(store, user, f"ponto crítico {point} escalado ao colegiado", project_id)


def resolve(store: Store, user: User, point: int, resolution: str,
            on: dt.date | None = None) -> None:
    project_id = _point_project(store, point)
    _require_edit(store, user, project_id)
    with store.engine.begin() as c:
        c.execute(CRITICAL_POINTS.update().where(CRITICAL_POINTS.c.id == point)
                  .values(resolution=resolution[:1000], resolved_on=on or dt.date.today()))
    _audit(store, user, f"ponto crítico {point} resolvido", project_id)


def add_delivery(store: Store, user: User, project_id: str, description: str,
                 milestone_id: int | None = None, on: dt.date | None = None) -> None:
    _require_edit(store, user, project_id)
    with store.engine.begin() as c:
        c.execute(DELIVERIES.insert().values(
            project_id=project_id, milestone_id=milestone_id, description=description[:1000],
            delivered_on=on or dt.date.today(), reviewed=False))
    _audit(store, user, "entrega", project_id)


def weekly_report(store: Store, week: dt.date | None = None) -> dict[str, Any]:
    """The week's monitoring: status given that week, late milestones, critical points open
    or escalated to the collegiate, deliveries of the week."""
    monday = week_of(week or dt.date.today())
    sunday = monday + dt.timedelta(days=6)
    projects = board(store, sunday)
    # one status per project and week: a status given again in the same week corrects the
    # earlier one (statuses come newest first)
    updates = [{"project": p["name"], "project_id": p["id"], **s} for p in projects
               for s in [next((s for s in p["status"] if s["week"] == monday), None)]
               if s is not None]
    late = [{"project": p["name"], "project_id": p["id"], **m}
            for p in projects for m in p["milestones"] if m["late"]]
    agenda = [{"project": p["name"], "project_id": p["id"], **cp}
              for p in projects for cp in p["critical_points"]
              if cp["escalated_on"] and not cp["resolved_on"]]
    open_points = [{"project": p["name"], "project_id": p["id"], **cp}
                   for p in projects for cp in p["critical_points"]
                   if not cp["escalated_on"] and not cp["resolved_on"]]
    delivered = [{"project": p["name"], "project_id": p["id"], **d}
                 for p in projects for d in p["deliveries"] if monday <= d["delivered_on"]
                 <= sunday]
    # each project's situation as of that week: its newest status given up to that week
    # (a status entered for a later week does not rewrite an earlier report)
    as_of = [next((s["status"] for s in p["status"] if s["week"] <= monday), None)
             for p in projects]
    return {"semana": monday, "ate": sunday, "projetos": len(projects),
            "por_situacao": {k: sum(1 for status in as_of if status == k) for k in STATUSES},
            "sem_status": sum(1 for status in as_of if status is None),
            "atualizacoes": updates, "marcos_atrasados": late, "pauta_colegiado": agenda,
            "pontos_criticos_abertos": open_points, "entregas": delivered}
