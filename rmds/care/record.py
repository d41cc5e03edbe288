"""The care record of one person: who the sources say they are, and one timeline.

The person index (``rmds link``: ``person_links`` → ``identity_records``) says which
source records are one person. Each identity record names its event by its own key:

========== ==================== =========================================================
system     role                 events
========== ==================== =========================================================
FHIR       paciente             encounters, conditions, observations, procedures,
                                immunisations and referrals whose ``patient_key`` is the
                                Patient id
SIH        paciente             the hospitalisation with that AIH number
SINASC     recem_nascido / mae  the birth with that DN number (as born / as mother)
SIM        falecido             the death with that DO number
PNI        vacinado             the dose with that ``id_documento``
CONSORCIO  paciente             the referral with that request id (and its queue place)
========== ==================== =========================================================

Every event is matched on its key *and* its source file, so that two systems (or two
years) reusing a number never mix. Each timeline item carries its source system, facility
(CNES) and the lake batch it was loaded in. Conflicts between sources (two birth dates, two
names) are listed, not resolved: the professional sees what each source recorded.

The module reads; it does not decide who may read (:meth:`rmds.access.AccessPolicy.care`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb
import orjson

from rmds.engine.sql import ident
from rmds.lake.store import existing_tables, table_exists
from rmds.schema.keys import RECORD_UID as RECORD_UID_SQL

__all__ = ["READS", "SOURCES", "WAITING", "CareItem", "CareRecord", "Identification",
           "PersonNotFound", "Projection", "Source", "assemble", "care_record",
           "own_cpf_holders", "resolve_person"]

#: identification fields compared across sources (a conflict: two different values)
ID_FIELDS = ("name", "mother_name", "birth_date", "sex", "cns", "cpf",
             "residence_municipality")


class PersonNotFound(LookupError):
    """No person in the index for the key given."""


@dataclass(frozen=True)
class Identification:
    """One source record's identification of the person."""

    source_system: str
    role: str
    record_key: str | None
    source_file: str
    batch_id: int | None
    name: str | None
    mother_name: str | None
    birth_date: dt.date | None
    sex: str | None
    cns: str | None
    cpf: str | None
    residence_municipality: str | None


@dataclass(frozen=True)
class CareItem:
    """One event of the timeline."""

    date: dt.date | None
    kind: str               # atendimento, condicao, observacao, vacina, internacao, ...
    description: str
    code: str | None
    source_system: str
    facility_cnes: str | None
    batch_id: int | None
    source_file: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class CareRecord:
    person_id: int
    identifications: list[Identification]
    conflicts: dict[str, list[str]]
    residence_municipality: str | None
    timeline: list[CareItem]
    #: :meth:`as_dict` as JSON, when the record was read whole (kept so by the projection)
    document: bytes | None = field(default=None, compare=False, repr=False)

    def as_json(self, **extra: Any) -> bytes:
        """:meth:`as_dict` and ``extra`` as one JSON object (the kept document, when there
        is one, is not written again)."""
        if self.document is None:
            return orjson.dumps({**self.as_dict(), **extra})
        return self.document[:-1] + b"," + orjson.dumps(extra)[1:] if extra else self.document

    def as_dict(self) -> dict[str, Any]:
        # the fields copied one level down (what dataclasses.asdict gives here, without its
        # deep copy of every value: a tenth of the time for a record of hundreds of items)
        return {"pessoa": self.person_id,
                "municipio_residencia": self.residence_municipality,
                "identificacao": [dict(vars(i)) for i in self.identifications],
                "conflitos": {k: list(v) for k, v in self.conflicts.items()},
                "linha_do_tempo": [{**vars(i), "details": dict(i.details)}
                                   for i in self.timeline]}

    def items(self, kind: str) -> list[CareItem]:
        return [i for i in self.timeline if i.kind == kind]


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]
          ) -> list[dict[str, Any]]:
    result = con.execute(sql, params)
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


_PERSON_BY = {
    "cns": f"SELECT DISTINCT l.person_id FROM person_links l JOIN (SELECT {RECORD_UID_SQL} AS uid "
           "FROM identity_records WHERE cns = ?) r ON l.record_uid = r.uid",
    "cpf": f"SELECT DISTINCT l.person_id FROM person_links l JOIN (SELECT {RECORD_UID_SQL} AS uid "
           "FROM identity_records WHERE cpf = ?) r ON l.record_uid = r.uid",
    "id": "SELECT DISTINCT person_id FROM person_links WHERE person_id = ?",
}


#: a connection, or what opens one when it is needed: a request's cursor on the lake costs
#: milliseconds, and the snapshot's projection answers most records without one
Connection = duckdb.DuckDBPyConnection | Callable[[], duckdb.DuckDBPyConnection]


def connection(con: Connection) -> duckdb.DuckDBPyConnection:
    return con() if callable(con) else con


def resolve_person(con: Connection, key: str, projection: Projection | None = None) -> int:
    """The ``person_id`` for a person id, a CNS (15 digits) or a CPF (11 digits). A CNS or
    CPF recorded for two persons (a linkage error) is refused with both ids. With the
    snapshot's ``projection``, a person id is taken as given: :func:`care_record` says when
    the index has nobody under it."""
    text = key.strip()
    if text.isdigit() and len(text) == 15:
        kind, value = "cns", text
    elif text.isdigit() and len(text) == 11:
        kind, value = "cpf", text
    elif text.isdigit() and len(text) < 15:
        kind, value = "id", text
    else:
        raise PersonNotFound("informe o número da pessoa no índice, um CNS (15 dígitos) ou "
                             "um CPF (11 dígitos)")
    if projection is not None and kind == "id":
        return int(text)
    # the snapshot's projection knows every CNS and CPF: no lake cursor needed
    found = projection.persons(value) if projection is not None else None
    if found is None:
        con = connection(con)
        if not table_exists(con, "person_links"):
            raise PersonNotFound("o índice de pessoas ainda não foi construído (rmds link)")
        found = sorted(int(r[0]) for r in con.execute(
            _PERSON_BY[kind], [int(value) if kind == "id" else value]).fetchall())
    if not found:
        raise PersonNotFound(f"nenhuma pessoa no índice com este {kind.upper()}"
                             if kind != "id" else f"nenhuma pessoa nº {value} no índice")
    if len(found) > 1:
        raise PersonNotFound(f"o {kind.upper()} está em {len(found)} pessoas do índice "
                             f"({', '.join(map(str, found))}): revise a vinculação")
    return found[0]


def own_cpf_holders(con: duckdb.DuckDBPyConnection, municipality: str, limit: int = 2
                    ) -> list[tuple[int, str]]:
    """(person_id, CPF) of people of ``municipality`` whose CPF is theirs alone in the
    index (who can sign in to "Meus dados"), those with the most records first: the
    demo's citizen and the tests' citizens."""
    return [(int(p), str(c)) for p, c in con.execute(f"""
        WITH r AS (SELECT l.person_id, i.cpf, i.residence_municipality AS m
                   FROM person_links l JOIN (SELECT *, {RECORD_UID_SQL} AS uid
                                             FROM identity_records) i ON l.record_uid = i.uid),
        owners AS (SELECT any_value(person_id) AS pid, cpf FROM r WHERE cpf IS NOT NULL
                   GROUP BY cpf HAVING count(DISTINCT person_id) = 1 AND bool_and(m = ?)),
        n AS (SELECT person_id, count(*) AS k FROM r GROUP BY person_id)
        SELECT o.pid, o.cpf FROM owners o JOIN n ON n.person_id = o.pid
        ORDER BY n.k DESC, o.cpf LIMIT ?""", [municipality, limit]).fetchall()]


def children_of(con: duckdb.DuckDBPyConnection, person_id: int
                ) -> list[tuple[int, dt.date | None]]:
    """(person_id, birth date) of the children a birth record (SINASC) names ``person_id``
    the mother of: the newborn of each declaration whose mother's record the index links
    to them. The birth date is the declaration's."""
    return [(int(c), b) for c, b in con.execute(f"""
        WITH sinasc AS (SELECT *, {RECORD_UID_SQL} AS uid FROM identity_records
                        WHERE source_system = 'SINASC'),
        mine AS (SELECT r.source_file, r.record_key FROM person_links l
                 JOIN sinasc r ON l.record_uid = r.uid
                 WHERE l.person_id = ? AND r.role = 'mae')
        SELECT l.person_id, max(r.birth_date) FROM sinasc r
        JOIN mine m ON m.source_file = r.source_file AND m.record_key = r.record_key
        JOIN person_links l ON l.record_uid = r.uid
        WHERE r.role = 'recem_nascido' AND l.person_id <> ?
        GROUP BY l.person_id ORDER BY 2 DESC NULLS LAST, 1""",
        [person_id, person_id]).fetchall()]


def _marks_sql(values: list[Any]) -> str:
    """``?, ?, ?``: SQL text of one bind parameter per value (a constant IN list, which
    DuckDB pushes down into the Parquet scan; the values themselves are never in the SQL
    text)."""
    return ", ".join("?" * len(values))


def _identifications(con: duckdb.DuckDBPyConnection, person_id: int) -> list[Identification]:
    # the person's records from the index first (a narrow table), then only their files'
    # rows of identity_records: the record key is computed for those, not for the state
    uids = sorted(str(u) for (u,) in con.execute(
        "SELECT record_uid FROM person_links WHERE person_id = ?", [person_id]).fetchall())
    if not uids:
        return []
    files = sorted({u.split("|", 1)[1].rsplit("|", 2)[0] for u in uids})
    rows = _rows(con, f"""
        SELECT r.source_system, r.role, r.record_key, r.source_file, r.batch_id, r.name,
               r.mother_name, r.birth_date, r.sex, r.cns, r.cpf, r.residence_municipality
        FROM (SELECT *, {RECORD_UID_SQL} AS uid FROM identity_records
              WHERE source_file IN ({_marks_sql(files)})) r
        WHERE r.uid IN ({_marks_sql(uids)})
        ORDER BY r.source_system, r.batch_id, r.record_key""", [*files, *uids])
    return [Identification(**row) for row in rows]


def _conflicts(ids: list[Identification]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name in ID_FIELDS:
        values = sorted({str(getattr(i, name)) for i in ids if getattr(i, name) is not None})
        if len(values) > 1:
            out[name] = values
    return out


def _residence(ids: list[Identification]) -> str | None:
    """The municipality most sources record; a tie goes to the latest batch."""
    counts = Counter(i.residence_municipality for i in ids if i.residence_municipality)
    if not counts:
        return None
    latest = {i.residence_municipality: i.batch_id or 0 for i in
              sorted(ids, key=lambda i: i.batch_id or 0) if i.residence_municipality}
    return max(counts, key=lambda m: (counts[m], latest[m]))


@dataclass(frozen=True)
class Source:
    """One table of events and how a person's record names them. ``by_patient``: a FHIR
    Patient's resources come in other files than the Patient itself, so they are matched
    on the Patient id only; the others on the record's key *and* its source file."""

    table: str
    system: str
    key: str
    by_patient: bool
    #: (name, SQL expression) of the item's columns: date, kind, code, facility_cnes first,
    #: then the details (constants of this module, never data)
    columns: tuple[tuple[str, str], ...]

    @property
    def columns_sql(self) -> str:
        return ", ".join(f"{expr_sql} AS {ident(name)}" for name, expr_sql in self.columns)


def _cols(date_sql: str, kind: str, code_sql: str, facility_sql: str,
          *details: str | tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return (("date", date_sql), ("kind", f"'{kind}'"), ("code", code_sql),
            ("facility_cnes", facility_sql),
            *((d, d) if isinstance(d, str) else d for d in details))


# the same columns whichever system recorded a dose or a referral
_DOSE = _cols("vaccination_date", "vacina", "vaccine_code", "facility_cnes", "vaccine_acronym",
              "dose")
_REFERRAL = _cols("requested_date", "encaminhamento", "procedure", "provider_cnes",
                  "referral_id", "consortium", "service_type", "specialty", "status",
                  "scheduled_date", "performed_date")
SOURCES: tuple[Source, ...] = (
    Source("encounters", "FHIR", "patient_key", True, _cols(
        "encounter_date", "atendimento", "reason_code", "facility_cnes", "encounter_class",
        "status")),
    Source("conditions", "FHIR", "patient_key", True, _cols(
        "onset_date", "condicao", "code", "NULL", "clinical_status")),
    Source("observations", "FHIR", "patient_key", True, _cols(
        "effective_date", "observacao", "component_code", "NULL", "value", "unit",
        ("observation_code", "code"))),
    Source("procedures", "FHIR", "patient_key", True, _cols(
        "performed_date", "procedimento", "code", "facility_cnes", "status")),
    Source("immunisations", "FHIR", "patient_key", True, _DOSE),
    Source("referrals", "FHIR", "patient_key", True, _REFERRAL),
    Source("hospitalisations", "SIH", "aih_number", False, _cols(
        "admission_date", "internacao", "main_diagnosis", "facility_cnes", "discharge_date",
        "procedure_performed", "secondary_diagnosis", "length_of_stay", "died",
        "admission_character")),
    Source("births", "SINASC", "record_id", False, _cols(
        "birth_date", "nascimento", "NULL", "facility_cnes", "birth_weight_g",
        "gestational_weeks", "prenatal_visits", "delivery_type")),
    Source("deaths", "SIM", "record_id", False, _cols(
        "death_date", "obito", "underlying_cause", "facility_cnes", "place_of_occurrence")),
    Source("immunisations", "PNI", "record_id", False, _DOSE),
    Source("referrals", "CONSORCIO", "referral_id", False, _REFERRAL),
)
#: the tables a care record reads: a change to any of them changes records
READS = frozenset({"person_links", "identity_records", *(s.table for s in SOURCES)})
_COMMON = ("date", "kind", "code", "facility_cnes", "source_system", "batch_id", "source_file")
#: the waiting statuses of a referral (its place in the queue is shown)
WAITING = ("solicitado", "agendado")


def _select(con: duckdb.DuckDBPyConnection, source: Source, keys: list[tuple[str, str]],
            tables: frozenset[str]) -> list[dict[str, Any]]:
    if not keys or source.table not in tables:
        return []
    codes = sorted({k for k, _ in keys})
    if source.by_patient:
        # matched on the Patient id only (the resources come in other files)
        return _rows(con, f"""
            SELECT {source.columns_sql}, source_system, batch_id, source_file
            FROM {ident(source.table)}
            WHERE source_system = ? AND {ident(source.key)} IN ({_marks_sql(codes)})""",
                     [source.system, *codes])
    files = sorted({f for _, f in keys})
    wanted = set(keys)
    found = _rows(con, f"""
        SELECT {source.columns_sql}, t.source_system, t.batch_id, t.source_file,
               t.{ident(source.key)} AS _key
        FROM {ident(source.table)} t
        WHERE t.source_system = ? AND t.source_file IN ({_marks_sql(files)})
          AND t.{ident(source.key)} IN ({_marks_sql(codes)})""",
                  [source.system, *files, *codes])
    return [{k: v for k, v in r.items() if k != "_key"} for r in found
            if (str(r["_key"]), r["source_file"]) in wanted]


def _describe(row: dict[str, Any], role: str) -> str:
    kind = row["kind"]
    if kind == "internacao":
        return (f"Internação, diagnóstico {row['code'] or '—'}, "
                f"{row.get('length_of_stay') or 0} dia(s)")
    if kind == "nascimento":
        return "Parto (como mãe)" if role == "mae" else "Nascimento"
    if kind == "obito":
        return f"Óbito, causa básica {row['code'] or '—'}"
    if kind == "vacina":
        return f"Vacina {row.get('vaccine_acronym') or row['code']} — {row.get('dose') or ''}"
    if kind == "encaminhamento":
        return (f"Encaminhamento ({row.get('service_type') or ''} "
                f"{row.get('specialty') or ''}) — {row.get('status') or ''}")
    if kind == "observacao":
        return f"Observação {row['code']}: {row.get('value')} {row.get('unit') or ''}"
    if kind == "condicao":
        return f"Condição {row['code']} ({row.get('clinical_status') or ''})"
    if kind == "atendimento":
        return f"Atendimento {row.get('encounter_class') or ''}, motivo {row['code'] or '—'}"
    return f"{kind} {row['code'] or ''}"


def _queue_places(con: duckdb.DuckDBPyConnection, items: list[dict[str, Any]]) -> None:
    """For each waiting referral, its place in its consortium's queue for the same
    service and specialty: 1 + the waiting referrals requested before it."""
    for row in items:
        if row["kind"] != "encaminhamento" or row.get("status") not in WAITING:
            continue
        ahead = con.execute("""
            SELECT count(*) FROM referrals
            WHERE consortium IS NOT DISTINCT FROM ? AND service_type IS NOT DISTINCT FROM ?
              AND specialty IS NOT DISTINCT FROM ? AND status IN ('solicitado', 'agendado')
              AND requested_date < ?""",
                            [row.get("consortium"), row.get("service_type"),
                             row.get("specialty"), row["date"]]).fetchall()[0][0]
        row["posicao_fila"] = int(ahead) + 1


def _event_rows(con: duckdb.DuckDBPyConnection, ids: list[Identification]
                ) -> list[tuple[dict[str, Any], str]]:
    """The person's events read from the lake's tables (``projection`` absent or stale)."""
    rows: list[tuple[dict[str, Any], str]] = []
    tables = existing_tables(con)
    for source in SOURCES:
        if source.by_patient:
            keys = sorted({(str(i.record_key), i.source_file) for i in ids
                           if i.source_system == source.system and i.record_key})
            rows += [(r, "paciente") for r in _select(con, source, keys, tables)]
            continue
        for role in sorted({i.role for i in ids if i.source_system == source.system}):
            keys = sorted({(str(i.record_key), i.source_file) for i in ids
                           if i.source_system == source.system and i.role == role
                           and i.record_key})
            rows += [(r, role) for r in _select(con, source, keys, tables)]
    _queue_places(con, [r for r, _ in rows])
    return rows


def _item_key(item: CareItem) -> tuple[Any, ...]:
    """Newest first; items of one day in a fixed order, however they were read."""
    return (item.date or dt.date.min, item.kind, item.source_system, item.source_file,
            item.batch_id or 0, item.code or "", item.description)


def _details_key(item: CareItem) -> str:
    """The last tie-breaker (two items alike in everything :func:`_item_key` compares)."""
    return repr(sorted(item.details.items()))


def _ordered(timeline: list[CareItem]) -> None:
    """Sort ``timeline`` by :func:`_item_key` then :func:`_details_key`, newest first; the
    details are compared only within runs of items tied on everything else (rare), as a
    sort on the whole key would, at a fraction of the cost."""
    keys = [_item_key(item) for item in timeline]
    order = sorted(range(len(timeline)), key=keys.__getitem__, reverse=True)
    timeline[:] = [timeline[i] for i in order]
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and keys[order[end]] == keys[order[start]]:
            end += 1
        if end - start > 1:
            timeline[start:end] = sorted(timeline[start:end], key=_details_key, reverse=True)
        start = end


def _id_key(i: Identification) -> tuple[Any, ...]:
    return (i.source_system, i.batch_id is None, i.batch_id or 0, i.record_key or "",
            i.role, i.source_file)


def assemble(person_id: int, ids: list[Identification],
             rows: list[tuple[dict[str, Any], str]]) -> CareRecord:
    """The record from the person's identifications and event rows (``(row, role)``)."""
    timeline = [CareItem(date=r["date"], kind=r["kind"], description=_describe(r, role),
                         code=r["code"], source_system=r["source_system"],
                         facility_cnes=r["facility_cnes"], batch_id=r["batch_id"],
                         source_file=r["source_file"],
                         details={k: v for k, v in r.items()
                                  if k not in _COMMON and v is not None} | (
                             {"papel": role} if r["kind"] == "nascimento" else {}))
                for r, role in rows]
    _ordered(timeline)
    ids = sorted(ids, key=_id_key)
    return CareRecord(person_id, ids, _conflicts(ids), _residence(ids), timeline)


class Projection(Protocol):
    """The care records of one snapshot, kept by person (:mod:`rmds.care.projection`)."""

    def read(self, person_id: int
             ) -> tuple[list[Identification], list[tuple[dict[str, Any], str]]]: ...

    def whole(self, person_id: int) -> CareRecord | None: ...

    def persons(self, number: str) -> list[int] | None: ...


def care_record(con: Connection, person_id: int,
                projection: Projection | None = None) -> CareRecord:
    """The whole care record of ``person_id`` (see the module's docstring): read from the
    snapshot's ``projection`` when it has one (a few rows of one file), else from the
    lake's tables (the same rows)."""
    if projection is not None:
        kept = projection.whole(person_id)
        if kept is not None:
            return kept
        ids, rows = projection.read(person_id)
    else:
        con = connection(con)
        ids = _identifications(con, person_id)
        rows = _event_rows(con, ids) if ids else []
    if not ids:
        raise PersonNotFound(f"nenhuma pessoa nº {person_id} no índice")
    return assemble(person_id, ids, rows)
