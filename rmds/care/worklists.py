"""Work lists (listas nominais) for primary-care teams, declared as data.

:file:`worklists.toml` declares each list: its rule (one of :data:`RULES`), parameters, and
the indicator it moves. A rule is one SQL query over the person index (``person_links`` →
``identity_records``) and the canonical tables, with every value bound as a parameter; it
returns one row per person on the list, with the municipality of residence (the one most
of the person's records give) and why they are on it. A person is on a list exactly while
they meet its rule: the list is recomputed from the lake, never stored.

Counts per municipality are aggregates (no one named); the list itself names people and is
a care record (:data:`rmds.access.DataClass.CARE`): its download writes one audit entry per
person on it (:func:`export_csv`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tomllib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb

from rmds.codes.vaccines import CALENDAR
from rmds.engine.sql import ident
from rmds.exceptions import ConfigurationError
from rmds.schema.keys import RECORD_UID as RECORD_UID_SQL

__all__ = ["RULES", "SHARED", "Entry", "Worklist", "audit_list", "audited_export", "compute",
           "compute_all", "counts", "export_csv", "load_worklists"]

CATALOG = Path(__file__).with_name("worklists.toml")


@dataclass(frozen=True)
class Worklist:
    id: str
    title: str
    indicator: str
    rule: str
    definition: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    person_id: int
    municipality: str | None
    reason: str
    flag: bool = False           # ICSAP admission, on the discharge list
    #: the primary-care facility that follows the person (CNES of their latest primary-care
    #: encounter); None when no primary-care record says
    facility: str | None = None


# person → residence (the most frequent; ties: the latest batch) and birth date (likewise;
# then the later date, so that the choice never depends on the order rows are read in)
_IDS_SQL = f"""SELECT l.person_id, r.source_system, r.source_file, r.record_key, r.role,
                     r.residence_municipality, r.birth_date, r.batch_id
              FROM person_links l
              JOIN (SELECT *, {RECORD_UID_SQL} AS uid FROM identity_records) r
                ON l.record_uid = r.uid"""
_RESIDENTS_SQL = """SELECT person_id,
                      arg_max(residence_municipality, n_m * 1000000 + b_m) AS municipality,
                      arg_max(birth_date, (n_b * 1000000 + b_b) * 100000
                              + date_diff('day', DATE '1900-01-01', birth_date))
                          AS birth_date
               FROM (SELECT person_id, residence_municipality, birth_date,
                            count(residence_municipality) OVER (PARTITION BY person_id,
                                residence_municipality) AS n_m,
                            max(batch_id) OVER (PARTITION BY person_id,
                                residence_municipality) AS b_m,
                            count(birth_date) OVER (PARTITION BY person_id, birth_date) AS n_b,
                            max(batch_id) OVER (PARTITION BY person_id, birth_date) AS b_b
                     FROM ids)
               GROUP BY person_id"""
_FHIR_PAT_SQL = ("SELECT DISTINCT person_id, record_key AS patient_key FROM ids "
                 "WHERE source_system = 'FHIR'")
#: the relations every rule reads: ``ids`` (the index's records), ``people`` (residence and
#: birth date per person), ``fhir_pat`` (each person's FHIR Patient ids) — as CTEs of one
#: list's query, or as temporary tables shared by all (:func:`compute_all`)
SHARED = {"ids": _IDS_SQL, "people": _RESIDENTS_SQL, "fhir_pat": _FHIR_PAT_SQL}
_PEOPLE_SQL = ", ".join(f"{name} AS ({select_sql})" for name, select_sql in SHARED.items())
# with the shared relations already temporary tables: a CTE that nothing reads
_PREPARED_SQL = "_rmds_shared AS (SELECT 1)"

_VACCINES_SQL = """
    doses AS (
        SELECT i.person_id, m.vaccine_code, m.dose_code FROM ids i JOIN immunisations m
          ON i.source_system = 'PNI' AND m.source_system = 'PNI'
         AND m.record_id = i.record_key AND m.source_file = i.source_file
        UNION
        SELECT f.person_id, m.vaccine_code, m.dose_code FROM fhir_pat f JOIN immunisations m
          ON m.source_system = 'FHIR' AND m.patient_key = f.patient_key),
    calendar AS (SELECT unnest(?::VARCHAR[]) AS vaccine_code, unnest(?::VARCHAR[]) AS dose_code,
                        unnest(?::INTEGER[]) AS age_days, unnest(?::VARCHAR[]) AS label),
    slots AS (SELECT DISTINCT label, age_days FROM calendar)
    SELECT p.person_id, p.municipality,
           string_agg(c.label, ', ' ORDER BY c.age_days, c.label) AS reason
    FROM people p CROSS JOIN slots c
    WHERE p.birth_date IS NOT NULL AND p.birth_date <= ?
      AND date_diff('day', p.birth_date, ?) < ?
      AND date_diff('day', p.birth_date, ?) >= c.age_days + ?
      AND NOT EXISTS (SELECT 1 FROM doses d JOIN calendar k
                        ON k.vaccine_code = d.vaccine_code AND k.dose_code = d.dose_code
                      WHERE d.person_id = p.person_id AND k.label = c.label)
    GROUP BY p.person_id, p.municipality"""

_CHRONIC_SQL = """
    cond AS (SELECT f.person_id,
                    bool_or(c.code >= 'I10' AND c.code < 'I16') AS hypertension,
                    bool_or(c.code >= 'E10' AND c.code < 'E15') AS diabetes
             FROM fhir_pat f JOIN conditions c ON c.patient_key = f.patient_key
             WHERE c.source_system = 'FHIR' AND (c.onset_date IS NULL OR c.onset_date <= ?)
             GROUP BY f.person_id),
    obs AS (SELECT f.person_id, bool_or(o.component_code = '8480-6') AS bp,
                   bool_or(o.component_code = '4548-4') AS hba1c
            FROM fhir_pat f JOIN observations o ON o.patient_key = f.patient_key
            WHERE o.source_system = 'FHIR' AND o.effective_date > ? AND o.effective_date <= ?
            GROUP BY f.person_id)
    SELECT p.person_id, p.municipality,
           concat_ws('; ', CASE WHEN c.hypertension AND NOT coalesce(o.bp, false)
                                THEN 'hipertensão sem pressão arterial aferida' END,
                           CASE WHEN c.diabetes AND NOT coalesce(o.hba1c, false)
                                THEN 'diabetes sem hemoglobina glicada' END) AS reason
    FROM cond c JOIN people p USING (person_id) LEFT JOIN obs o USING (person_id)
    WHERE (c.hypertension AND NOT coalesce(o.bp, false))
       OR (c.diabetes AND NOT coalesce(o.hba1c, false))"""

_DISCHARGE_SQL = """
    stays AS (SELECT i.person_id, h.discharge_date, h.main_diagnosis
              FROM ids i JOIN hospitalisations h
                ON i.source_system = 'SIH' AND h.source_system = 'SIH'
               AND h.aih_number = i.record_key AND h.source_file = i.source_file
              WHERE h.discharge_date > ? AND h.discharge_date <= ? AND NOT coalesce(h.died, false)),
    last AS (SELECT person_id, max(discharge_date) AS discharge_date,
                    arg_max(main_diagnosis, discharge_date) AS diagnosis
             FROM stays GROUP BY person_id),
    seen AS (SELECT f.person_id, max(e.encounter_date) AS last_contact
             FROM fhir_pat f JOIN encounters e ON e.patient_key = f.patient_key
             WHERE e.source_system = 'FHIR' AND e.encounter_class = 'AMB'
             GROUP BY f.person_id)
    SELECT p.person_id, p.municipality,
           'alta em ' || strftime(l.discharge_date, '%d/%m/%Y') || ', diagnóstico '
             || coalesce(l.diagnosis, '—') AS reason,
           (list_contains(?, l.diagnosis) OR list_contains(?, left(l.diagnosis, 3))) AS flag
    FROM last l JOIN people p USING (person_id) LEFT JOIN seen s USING (person_id)
    WHERE s.last_contact IS NULL OR s.last_contact < l.discharge_date"""


# the woman's latest pregnancy begun by the day (its onset is the last menstrual period),
# not yet ended by a birth she is the mother of (SINASC) or an admission for a delivery or
# an abortion (SIH, CID-10 O60–O84, O00–O08) nor past the longest gestation; her prenatal
# consultations since (AMB encounters for the pregnancy); those expected by her weeks.
# A pregnancy registered without the DUM has no weeks: the woman is listed while she has
# prenatal consultations in the longest gestation before the day, after her last delivery
# or abortion, and no dated pregnancy in course (the team records the DUM)
_PRENATAL_SQL = """
    milestones AS (SELECT unnest(?::INTEGER[]) AS week, unnest(?::INTEGER[]) AS expected),
    preg AS (SELECT f.person_id, max(c.onset_date) AS lmp
             FROM fhir_pat f JOIN conditions c ON c.patient_key = f.patient_key
             WHERE c.source_system = 'FHIR' AND c.onset_date <= ?
               AND (left(c.code, 3) IN ('Z34', 'Z35') OR c.ciap2_code IN ('W78', 'W84'))
             GROUP BY f.person_id),
    ended AS (SELECT i.person_id, b.birth_date AS day FROM ids i JOIN births b
                ON i.source_system = 'SINASC' AND i.role = 'mae'
               AND b.source_system = 'SINASC' AND b.record_id = i.record_key
               AND b.source_file = i.source_file
              UNION ALL
              SELECT i.person_id, h.admission_date FROM ids i JOIN hospitalisations h
                ON i.source_system = 'SIH' AND h.source_system = 'SIH'
               AND h.aih_number = i.record_key AND h.source_file = i.source_file
              WHERE (h.main_diagnosis >= 'O00' AND h.main_diagnosis < 'O09')
                 OR (h.main_diagnosis >= 'O60' AND h.main_diagnosis < 'O85')),
    going AS (SELECT g.person_id, g.lmp, date_diff('day', g.lmp, ?) // 7 AS weeks
              FROM preg g
              WHERE date_diff('day', g.lmp, ?) <= ?
                AND NOT EXISTS (SELECT 1 FROM ended e WHERE e.person_id = g.person_id
                                  AND e.day > g.lmp AND e.day <= ?)),
    visits AS (SELECT g.person_id, count(DISTINCT (e.patient_key, e.encounter_id)) AS n
               FROM going g JOIN fhir_pat f USING (person_id)
               JOIN encounters e ON e.patient_key = f.patient_key
               WHERE e.source_system = 'FHIR' AND e.encounter_class = 'AMB'
                 AND left(e.reason_code, 3) IN ('Z34', 'Z35')
                 AND e.encounter_date >= g.lmp AND e.encounter_date <= ?
               GROUP BY g.person_id),
    due AS (SELECT g.person_id, g.weeks, coalesce(v.n, 0) AS n,
                   (SELECT max(m.expected) FROM milestones m WHERE m.week <= g.weeks) AS expected
            FROM going g LEFT JOIN visits v USING (person_id)),
    undated AS (SELECT DISTINCT f.person_id
                FROM fhir_pat f JOIN conditions c ON c.patient_key = f.patient_key
                WHERE c.source_system = 'FHIR' AND c.onset_date IS NULL
                  AND (left(c.code, 3) IN ('Z34', 'Z35') OR c.ciap2_code IN ('W78', 'W84'))
                  AND f.person_id NOT IN (SELECT person_id FROM going)),
    last_end AS (SELECT person_id, max(day) AS day FROM ended WHERE day <= ?
                 GROUP BY person_id),
    undated_visits AS (
        SELECT u.person_id, min(e.encounter_date) AS since,
               count(DISTINCT (e.patient_key, e.encounter_id)) AS n
        FROM undated u JOIN fhir_pat f USING (person_id)
        JOIN encounters e ON e.patient_key = f.patient_key
        LEFT JOIN last_end l ON l.person_id = u.person_id
        WHERE e.source_system = 'FHIR' AND e.encounter_class = 'AMB'
          AND left(e.reason_code, 3) IN ('Z34', 'Z35')
          AND e.encounter_date <= ? AND date_diff('day', e.encounter_date, ?) <= ?
          AND (l.day IS NULL OR e.encounter_date > l.day)
        GROUP BY u.person_id)
    SELECT p.person_id, p.municipality,
           d.weeks || ' semanas de gestação, ' || d.n || ' consulta(s) de pré-natal; '
             || d.expected || ' esperada(s)' AS reason
    FROM due d JOIN people p USING (person_id)
    WHERE d.n < d.expected
    UNION ALL
    SELECT p.person_id, p.municipality,
           'gestação sem DUM registrada (idade gestacional desconhecida), ' || v.n
             || ' consulta(s) de pré-natal desde ' || strftime(v.since, '%d/%m/%Y')
             AS reason
    FROM undated_visits v JOIN people p USING (person_id)"""


# referrals waiting at the reference day (requested, neither done nor cancelled by then),
# by person: the consortium's own records and FHIR ServiceRequests
_QUEUE_SQL = """
    targets AS (SELECT unnest(?::VARCHAR[]) AS service_type, unnest(?::INTEGER[]) AS days),
    mine AS (SELECT i.person_id, r.* FROM ids i JOIN referrals r
               ON i.source_system = 'CONSORCIO' AND r.source_system = 'CONSORCIO'
              AND r.referral_id = i.record_key AND r.source_file = i.source_file
             UNION ALL BY NAME
             SELECT f.person_id, r.* FROM fhir_pat f JOIN referrals r
               ON r.source_system = 'FHIR' AND r.patient_key = f.patient_key),
    waiting AS (
        SELECT m.person_id, m.consortium, m.service_type, t.days AS target,
               date_diff('day', CASE WHEN m.service_type = 'oncologia'
                                     THEN coalesce(m.diagnosis_date, m.requested_date)
                                     ELSE m.requested_date END, ?) AS waited
        FROM mine m JOIN targets t ON t.service_type = m.service_type
        WHERE m.requested_date <= ?
          AND NOT coalesce(m.performed_date <= ?, false)
          AND NOT coalesce(m.cancelled_date <= ?, false)
          AND NOT (m.status IN ('realizado', 'cancelado') AND m.performed_date IS NULL
                   AND m.cancelled_date IS NULL))
    SELECT p.person_id, p.municipality,
           string_agg(w.service_type || coalesce(' (' || w.consortium || ')', '') || ' há '
                      || w.waited || ' dias, meta ' || w.target,
                      '; ' ORDER BY w.waited DESC, w.service_type) AS reason
    FROM waiting w JOIN people p USING (person_id)
    WHERE w.waited > w.target
    GROUP BY p.person_id, p.municipality"""


# each listed person's primary-care facility: the CNES of their latest ambulatory
# encounter (the team that sees them); ties: the larger code, so the answer never depends
# on the order rows are read in
_FACILITY_SQL = """
    SELECT f.person_id, arg_max(e.facility_cnes, (e.encounter_date, e.facility_cnes))
    FROM fhir_pat f
    JOIN encounters e ON e.source_system = 'FHIR' AND e.patient_key = f.patient_key
     AND e.encounter_class = 'AMB' AND e.facility_cnes IS NOT NULL
    WHERE f.person_id IN (SELECT unnest(?::BIGINT[]))
    GROUP BY f.person_id"""


def _with(body_sql: str, prepared: bool) -> str:
    """A rule's query: the shared relations as CTEs, or read from the temporary tables."""
    prelude_sql = _PREPARED_SQL if prepared else _PEOPLE_SQL
    return f"WITH {prelude_sql} {body_sql}" if body_sql.lstrip().startswith("SELECT") \
        else f"WITH {prelude_sql}, {body_sql}"


def _latest(con: duckdb.DuckDBPyConnection, sql: str) -> dt.date:
    value = con.execute(sql).fetchall()[0][0]
    return value if isinstance(value, dt.date) else dt.date.today()


def _vaccines(con: duckdb.DuckDBPyConnection, wl: Worklist, as_of: dt.date | None,
              icsap: frozenset[str], prepared: bool = False) -> list[Entry]:
    day = as_of or _latest(con, "SELECT max(vaccination_date) FROM immunisations")
    p = wl.params
    # each calendar dose with every (vaccine, dose) that stands for it (hexavalent for
    # pentavalent and VIP, and so on: rmds.codes.vaccines)
    slots = [(code, dose, d.age_days, f"{d.vaccine.acronym} {d.dose_label}")
             for d in CALENDAR for code, dose in d.counted]
    rows = con.execute(_with(_VACCINES_SQL, prepared), [
        [s[0] for s in slots], [s[1] for s in slots], [s[2] for s in slots],
        [s[3] for s in slots],
        day, day, int(p["max_idade_dias"]), day, int(p["tolerancia_dias"])]).fetchall()
    return [Entry(int(r[0]), r[1], str(r[2])) for r in rows]


def _chronic(con: duckdb.DuckDBPyConnection, wl: Worklist, as_of: dt.date | None,
             icsap: frozenset[str], prepared: bool = False) -> list[Entry]:
    day = as_of or _latest(con, "SELECT max(effective_date) FROM observations")
    start = day - dt.timedelta(days=int(wl.params["janela_dias"]))
    rows = con.execute(_with(_CHRONIC_SQL, prepared), [day, start, day]).fetchall()
    return [Entry(int(r[0]), r[1], str(r[2])) for r in rows]


def _discharge(con: duckdb.DuckDBPyConnection, wl: Worklist, as_of: dt.date | None,
               icsap: frozenset[str], prepared: bool = False) -> list[Entry]:
    day = as_of or _latest(con, "SELECT max(discharge_date) FROM hospitalisations")
    start = day - dt.timedelta(days=int(wl.params["ultimos_dias"]))
    codes = sorted(icsap)
    rows = con.execute(_with(_DISCHARGE_SQL, prepared), [start, day, codes, codes]).fetchall()
    return [Entry(int(r[0]), r[1], str(r[2]), bool(r[3])) for r in rows]


def _queue(con: duckdb.DuckDBPyConnection, wl: Worklist, as_of: dt.date | None,
           icsap: frozenset[str], prepared: bool = False) -> list[Entry]:
    day = as_of or _latest(con, "SELECT max(requested_date) FROM referrals")
    targets = {str(k): int(v) for k, v in wl.params["meta_dias"].items()}
    rows = con.execute(_with(_QUEUE_SQL, prepared), [list(targets), list(targets.values()),
                                    day, day, day, day]).fetchall()
    return [Entry(int(r[0]), r[1], str(r[2])) for r in rows]


def _prenatal(con: duckdb.DuckDBPyConnection, wl: Worklist, as_of: dt.date | None,
              icsap: frozenset[str], prepared: bool = False) -> list[Entry]:
    day = as_of or _latest(con, "SELECT max(encounter_date) FROM encounters "
                                "WHERE left(reason_code, 3) IN ('Z34', 'Z35')")
    marks = sorted((int(week), int(n)) for week, n in wl.params["marcos"])
    rows = con.execute(_with(_PRENATAL_SQL, prepared), [
        [m[0] for m in marks], [m[1] for m in marks], day, day, day,
        int(wl.params["max_dias_gestacao"]), day, day,
        day, day, day, int(wl.params["max_dias_gestacao"])]).fetchall()
    return [Entry(int(r[0]), r[1], str(r[2])) for r in rows]


Rule = Callable[[duckdb.DuckDBPyConnection, Worklist, dt.date | None, frozenset[str], bool],
                list[Entry]]
#: rule name → how it is computed (the declarations name one of these)
RULES: dict[str, Rule] = {"vacinas_atrasadas": _vaccines,
                          "cronicos_sem_acompanhamento": _chronic,
                          "alta_sem_aps": _discharge,
                          "fila_consorcio_acima_da_meta": _queue,
                          "gestantes_pre_natal": _prenatal}


def load_worklists(path: Path = CATALOG) -> dict[str, Worklist]:
    """The declared lists; every problem reported at once."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out: dict[str, Worklist] = {}
    problems = []
    for n, item in enumerate(data.get("list", []), 1):
        try:
            wl = Worklist(**item)
        except TypeError as error:
            problems.append(f"{path.name}: lista nº {n}: {error}")
            continue
        if wl.rule not in RULES:
            problems.append(f"{path.name}: lista {wl.id}: regra desconhecida {wl.rule!r}")
        if wl.id in out:
            problems.append(f"{path.name}: lista {wl.id} repetida")
        out[wl.id] = wl
    if problems:
        raise ConfigurationError("\n".join(problems))
    return out


def compute(con: duckdb.DuckDBPyConnection, worklist: Worklist, *,
            as_of: dt.date | None = None, icsap: frozenset[str] = frozenset(),
            municipality: str | None = None, facilities: Sequence[str] = (),
            prepared: bool = False) -> list[Entry]:
    """Who is on ``worklist`` (in ``municipality``, when given), by person id, each with
    the primary-care facility that follows them. ``facilities`` (a professional's CNES)
    narrows the list to the people those facilities follow and the people no facility
    follows yet (nobody falls between teams)."""
    entries = sorted((e for e in RULES[worklist.rule](con, worklist, as_of, icsap, prepared)
                      if municipality is None or e.municipality == municipality),
                     key=lambda e: e.person_id)
    if not entries:
        return entries
    found = dict(con.execute(_with(_FACILITY_SQL, prepared),
                             [[e.person_id for e in entries]]).fetchall())
    entries = [replace(e, facility=found.get(e.person_id)) for e in entries]
    if facilities:
        mine = set(facilities)
        entries = [e for e in entries if e.facility is None or e.facility in mine]
    return entries


def compute_all(con: duckdb.DuckDBPyConnection, worklists: Sequence[Worklist], *,
                as_of: dt.date | None = None, icsap: frozenset[str] = frozenset(),
                municipality: str | None = None, facilities: Sequence[str] = ()
                ) -> dict[str, list[Entry]]:
    """Every list of ``worklists`` (as :func:`compute`), reading the person index once:
    its records, each person's residence and birth date and FHIR Patients become
    temporary tables that every rule reads, instead of each list deriving them again."""
    names = list(SHARED)
    try:
        for name, select_sql in SHARED.items():
            con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(name)} AS {select_sql}")
        return {wl.id: compute(con, wl, as_of=as_of, icsap=icsap, municipality=municipality,
                               facilities=facilities, prepared=True) for wl in worklists}
    finally:
        for name in reversed(names):
            con.execute(f"DROP TABLE IF EXISTS temp.main.{ident(name)}")


def counts(entries: list[Entry]) -> dict[str, int]:
    """Persons on a list per municipality of residence (``""``: none recorded)."""
    return dict(sorted(Counter(e.municipality or "" for e in entries).items()))


def export_csv(entries: list[Entry], worklist: Worklist) -> bytes:
    """The team's download: ``;``-separated, UTF-8 with BOM (opens in a Brazilian
    spreadsheet as it is). The caller audits it, one entry per person."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["lista", "pessoa", "municipio", "estabelecimento_aps", "motivo",
                     "icsap"])
    for e in entries:
        writer.writerow([worklist.id, e.person_id, e.municipality or "", e.facility or "",
                         e.reason, "sim" if e.flag else ""])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def audit_list(store: Any, entries: list[Entry], worklist: Worklist, *, username: str,
               role: str, territory: str | None, origin: str | None) -> None:
    """One audit entry per person on a list handed out (``baixar_lista``, shown in that
    person's access log): nothing leaves unaudited, as a download or as JSON."""
    from rmds.care.opening import person_resource
    from rmds.store.audit import record

    for e in entries:
        record(store, username=username, role=role, action="baixar_lista",
               resource=person_resource(e.person_id), territory=territory, origin=origin,
               reason=f"lista={worklist.id}")


def audited_export(store: Any, entries: list[Entry], worklist: Worklist, *, username: str,
                   role: str, territory: str | None, origin: str | None) -> bytes:
    """The team's download, after :func:`audit_list`. The one way out for the command line
    and the page."""
    audit_list(store, entries, worklist, username=username, role=role, territory=territory,
               origin=origin)
    return export_csv(entries, worklist)
