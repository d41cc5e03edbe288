"""The inventory of the lake's canonical tables: for each, what places a row in time, what
identifies it, where it happens, and whether it is protected.

This is the one declaration the other places derive from: the export partitions
(``rmds.lake.store.PERIOD_COLUMNS`` / ``COMPETENCE_COLUMNS``), the protected set, the
record keys of the quality rules and the reference in ``docs/schema.md``. Every canonical
table must have an entry, with its period stated — a column, or explicitly none — so that a
new table cannot fall silently into the ``ano=0`` partition; :func:`check_inventory` runs at
import and ``tests/test_declarations.py`` compares every derived place with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from rmds.exceptions import SchemaError
from rmds.schema.tables import TABLES, Table, table

__all__ = ["INVENTORY", "PROTECTED", "LakeTable", "PeriodKind", "check_inventory",
           "period_columns", "record_keys"]


class PeriodKind(Enum):
    """How a table's rows are placed in time."""

    DATE = "data"              # a DATE column
    COMPETENCE = "competencia"  # an AAAAMM text column
    NONE = "nenhum"            # not placed in time (registers, identity)


@dataclass(frozen=True)
class LakeTable:
    name: str
    period_kind: PeriodKind
    period: str | None           # the column, None exactly when period_kind is NONE
    key: tuple[str, ...]         # columns identifying a source record (may be empty)
    territory: tuple[str, ...]   # municipality columns (IBGE 7), first = attribution
    protected: bool = False

    @property
    def table(self) -> Table:
        return table(self.name)


_D, _C, _N = PeriodKind.DATE, PeriodKind.COMPETENCE, PeriodKind.NONE

INVENTORY: dict[str, LakeTable] = {t.name: t for t in (
    LakeTable("deaths", _D, "death_date", ("record_id",),
              ("residence_municipality", "occurrence_municipality")),
    LakeTable("births", _D, "birth_date", ("record_id",),
              ("residence_municipality", "birth_municipality")),
    LakeTable("hospitalisations", _D, "admission_date", ("aih_number",),
              ("residence_municipality", "facility_municipality")),
    LakeTable("outpatient_production", _C, "competence", (),
              ("residence_municipality", "facility_municipality")),
    LakeTable("facilities", _C, "competence", ("cnes", "competence"), ("municipality",)),
    LakeTable("immunisations", _D, "vaccination_date", ("record_id",),
              ("residence_municipality", "facility_municipality")),
    LakeTable("notifications", _D, "notification_date", ("record_id",),
              ("residence_municipality", "notification_municipality")),
    LakeTable("identity_records", _N, None, ("record_key",), ("residence_municipality",),
              protected=True),
    LakeTable("encounters", _D, "encounter_date", ("encounter_id",), ()),
    LakeTable("conditions", _D, "onset_date", ("condition_id",), ()),
    LakeTable("observations", _D, "effective_date", ("observation_id",), ()),
    LakeTable("procedures", _D, "performed_date", ("procedure_id",), ()),
    LakeTable("referrals", _D, "requested_date", ("referral_id",),
              ("requesting_municipality",)),
    LakeTable("organizations", _N, None, ("resource_id",), ("municipality",)),
)}


def check_inventory() -> list[str]:
    """What disagrees between the inventory and the canonical tables (empty when none)."""
    problems = []
    declared = {t.name for t in TABLES}
    problems += [f"tabela {name} sem entrada no inventário" for name in
                 sorted(declared - set(INVENTORY))]
    problems += [f"inventário cita a tabela inexistente {name}" for name in
                 sorted(set(INVENTORY) - declared)]
    for entry in INVENTORY.values():
        if entry.name not in declared:
            continue
        columns = {c.name: c for c in entry.table.columns}
        if (entry.period is None) != (entry.period_kind is PeriodKind.NONE):
            problems.append(f"{entry.name}: período {entry.period!r} incoerente com "
                            f"{entry.period_kind.value}")
        named = [*([entry.period] if entry.period else []), *entry.key, *entry.territory]
        problems += [f"{entry.name}: coluna {c} não existe" for c in named if c not in columns]
        if entry.period_kind is PeriodKind.DATE and entry.period in columns and \
                str(columns[entry.period].type) != "date32[day]":
            problems.append(f"{entry.name}: {entry.period} não é uma data")
    return problems


def period_columns(kind: PeriodKind) -> dict[str, str]:
    """Table → the column of its period, for the tables whose period is of ``kind``."""
    return {t.name: t.period for t in INVENTORY.values()
            if t.period_kind is kind and t.period is not None}


def record_keys() -> dict[str, str]:
    """Table → its single record-key column, for the tables identified by one column."""
    return {t.name: t.key[0] for t in INVENTORY.values() if len(t.key) == 1}


_problems = check_inventory()
if _problems:  # a declaration error: fail at import, naming every problem
    raise SchemaError("inventário das tabelas do lago inválido: " + "; ".join(_problems))

PROTECTED: frozenset[str] = frozenset(t.name for t in INVENTORY.values() if t.protected)
