"""Reads shared by the API routers and the pages, each decided by the access policy.

A page and its API route call the same function here (or the same :class:`DataService`
method), so they cannot disagree on what a caller may see.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rmds.access import AccessPolicy, DataClass, Scope
from rmds.api.service import DataService
from rmds.territory import Level

__all__ = ["consortium", "quality_detail", "queue_summary"]


def consortium(data: DataService, scope: Scope, sigla: str, year: int | None = None
               ) -> tuple[dict[str, Any], bool]:
    """A consortium's overview in the form the policy gives ``scope`` (``forma`` says
    which); and whether a small count is shown (a restricted read, to audit)."""
    from rmds.consortia.report import consortium_overview

    policy = data.policy
    policy.require(scope, DataClass.SMALL_CELL, Level.CONSORTIUM.value, sigla)
    overview = consortium_overview(data.cursor(), data.pack, sigla, year)
    return policy.consortium_form(overview, scope)


def queue_summary(data: DataService, scope: Scope, consortium_code: str | None = None,
                  municipality: str | None = None, limit: int = 500) -> dict[str, Any]:
    """The referrals waiting (no patient identification) in the municipalities ``scope``
    holds, optionally of one consortium or municipality; record-level data, so a unit
    named outside the scope is refused."""
    from rmds.consortia.queues import data_date, queue, queue_items

    policy: AccessPolicy = data.policy
    if municipality is not None:
        policy.require(scope, DataClass.RECORD, Level.MUNICIPALITY.value, municipality)
    elif consortium_code is not None and any(level == Level.CONSORTIUM.value
                                             for level, _ in scope.units):
        # a consortium manager names a unit of their own level: it must be theirs
        policy.require(scope, DataClass.RECORD, Level.CONSORTIUM.value, consortium_code)
    elif scope.units:
        # their own units only (below): inside by definition
        policy.require(scope, DataClass.RECORD, *min(scope.units))
    else:
        policy.require(scope, DataClass.RECORD)     # the whole state
    allowed = scope.municipalities
    chosen: set[str] | None = None if allowed is None else set(allowed)
    if municipality is not None:
        chosen = {municipality}
    if consortium_code is not None:
        members = {m.municipality for m in data.memberships()
                   if m.consortium == consortium_code}
        chosen = members if chosen is None else chosen & members
    cursor = data.cursor()
    at = data_date(cursor) or dt.date.today()
    return {"data_de_referencia": at.isoformat(), "resumo": queue(cursor, at, chosen),
            "itens": queue_items(cursor, at, chosen, limit)}


def quality_detail(data: DataService, scope: Scope, municipality: str
                   ) -> dict[str, Any] | None:
    """A municipality's full diagnosis (rules and counts): record-level data."""
    data.policy.require(scope, DataClass.RECORD, Level.MUNICIPALITY.value, municipality)
    return data.quality_detail(municipality)
