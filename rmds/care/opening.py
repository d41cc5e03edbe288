"""Opening a care record: resolve the person, ask the policy, write the audit entry.

The one path by which the API, the pages and the command line open a record, so that no
way out can open one without a purpose, or without the entry in the audit chain that the
citizen's access log (``rmds access-log``) reads. The entry names the person by their
``person_id`` in the index only (never a name, CNS or CPF), the municipality of residence
as territory, and the purpose (with the justification when the glass was broken).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import duckdb

from rmds.access import AccessDenied, AccessPolicy, CareGrant, Scope
from rmds.age import completed_years_date
from rmds.care.record import (
    CareRecord,
    Connection,
    Projection,
    care_record,
    children_of,
    resolve_person,
)
from rmds.store import Store
from rmds.store.audit import record
from rmds.store.auth import User

__all__ = ["ACTION_BREAK_GLASS", "ACTION_GUARDIAN", "ACTION_OPEN", "ACTION_OWN", "Opened",
           "open_child_record", "open_own_record", "open_record", "person_resource"]

ACTION_OPEN = "abrir_prontuario"
ACTION_BREAK_GLASS = "quebra_de_vidro"
ACTION_OWN = "titular_consultou"      # the citizen read their own data
OWN_REASON = "finalidade=titular"
ACTION_GUARDIAN = "responsavel_consultou"   # a parent read their child's data
GUARDIAN_REASON = "finalidade=responsavel_legal (mãe na declaração de nascido vivo)"


def person_resource(person_id: int) -> str:
    """The audit entry's resource for a person: how the access log finds their entries."""
    return f"pessoa:{person_id}"


@dataclass(frozen=True)
class Opened:
    record: CareRecord
    grant: CareGrant
    audit_seq: int


def open_record(con: Connection, store: Store, policy: AccessPolicy,
                scope: Scope, *, username: str, key: str, purpose: str | None,
                justification: str | None = None, origin: str | None = None,
                projection: Projection | None = None) -> Opened:
    """The record of the person ``key`` (person id, CNS or CPF) for ``scope``, audited.
    Raises :class:`rmds.access.AccessDenied` (before anything is read beyond the person's
    municipality) or :class:`rmds.care.record.PersonNotFound`."""
    if callable(con):   # one cursor at most, opened only if the projection cannot answer
        con = functools.cache(con)
    person_id = resolve_person(con, key, projection)
    found = care_record(con, person_id, projection)
    grant = policy.care(scope, found.residence_municipality, purpose, justification)
    seq = record(store, username=username, role=scope.role.value,
                 action=ACTION_BREAK_GLASS if grant.break_glass else ACTION_OPEN,
                 resource=person_resource(person_id),
                 territory=found.residence_municipality, origin=origin, reason=grant.reason)
    return Opened(found, grant, seq)


def open_own_record(con: duckdb.DuckDBPyConnection, store: Store, policy: AccessPolicy,
                    user: User, *, action: str = ACTION_OWN, origin: str | None = None,
                    projection: Projection | None = None) -> tuple[CareRecord, int]:
    """The citizen's own record (:meth:`AccessPolicy.own_record_key`), audited like any
    opening, so that their access log shows their own reads too. A CPF the index holds for
    two persons is refused (:func:`rmds.care.record.resolve_person`): nobody is shown a
    record that may be someone else's."""
    person_id = resolve_person(con, policy.own_record_key(user))
    found = care_record(con, person_id, projection)
    seq = record(store, username=user.username, role=user.role.value, action=action,
                 resource=person_resource(person_id),
                 territory=found.residence_municipality, origin=origin, reason=OWN_REASON)
    return found, seq


def open_child_record(con: duckdb.DuckDBPyConnection, store: Store, policy: AccessPolicy,
                      user: User, child: int, *, origin: str | None = None,
                      today: dt.date | None = None, projection: Projection | None = None
                      ) -> tuple[CareRecord, int]:
    """A child's record, opened by the citizen a birth record names the mother of, while
    the child is a minor (:meth:`AccessPolicy.guardian_may_open`); audited on the child,
    so that the child's access log shows it."""
    own = resolve_person(con, policy.own_record_key(user))
    births = dict(children_of(con, own))
    if child not in births:
        raise AccessDenied("esta pessoa não é filho(a) seu(sua) segundo as declarações de "
                           "nascido vivo que a rede recebeu", signed_in=True)
    born = births[child]
    policy.guardian_may_open(user, None if born is None else completed_years_date(
        born, today or dt.date.today()))
    found = care_record(con, child, projection)
    seq = record(store, username=user.username, role=user.role.value, action=ACTION_GUARDIAN,
                 resource=person_resource(child), territory=found.residence_municipality,
                 origin=origin, reason=GUARDIAN_REASON)
    return found, seq
