"""The pregnant women's list (gestantes com pré-natal abaixo do esperado) against the
generator's truth: the rule applied by hand to the true persons behind the lake's FHIR
pregnancies, consultations, births and delivery admissions gives the lake's list,
municipality by municipality, on days across the year."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from rmds.care.worklists import compute, counts, load_worklists
from rmds.lake.store import Lake

LIST = "gestantes_pre_natal_abaixo"


def _owners(state: Path) -> dict[tuple[str, str, str], int]:
    """(system, record, role) → the true person (a birth declaration names two)."""
    return {(r["source"], r["record"], r["role"]): r["person_id"] for r in pq.read_table(
        state / "verdade" / "registros.parquet",
        columns=["source", "record", "role", "person_id"]).to_pylist()}


def _expected(milestones: list[list[int]], weeks: int) -> int | None:
    reached = [n for week, n in milestones if week <= weeks]
    return max(reached) if reached else None


def _by_hand(lake: Lake, owner: dict[tuple[str, str, str], int], day: dt.date,
             params: dict[str, Any]) -> dict[int, tuple[int, int, int | dt.date]]:
    """True person → (weeks, consultations, expected) for each woman the rule lists; for a
    pregnancy registered without the DUM, (-1, consultations, the first of them)."""
    def fhir(key: object) -> int:
        return owner.get(("FHIR", str(key), "paciente"), -1)

    lmp: dict[int, dt.date] = {}
    undated: set[int] = set()
    for key, code, ciap, onset in lake.run(
            "SELECT patient_key, code, ciap2_code, onset_date FROM conditions "
            "WHERE source_system = 'FHIR'"):
        pregnant = (code or "")[:3] in ("Z34", "Z35") or ciap in ("W78", "W84")
        if pregnant and onset is None:
            undated.add(fhir(key))
        if pregnant and onset is not None and onset <= day:
            person = fhir(key)
            lmp[person] = max(lmp.get(person, onset), onset)
    ended: dict[int, list[dt.date]] = {}
    for dn, born in lake.run("SELECT record_id, birth_date FROM births "
                             "WHERE source_system = 'SINASC'"):
        ended.setdefault(owner.get(("SINASC", str(dn), "mae"), -1), []).append(born)
    for aih, admitted, cid in lake.run("SELECT aih_number, admission_date, main_diagnosis "
                                       "FROM hospitalisations WHERE source_system = 'SIH'"):
        if cid and ("O60" <= cid < "O85" or "O00" <= cid < "O09"):
            ended.setdefault(owner.get(("SIH", str(aih), "paciente"), -1), []).append(admitted)
    visits: Counter[int] = Counter()
    longest = params["max_dias_gestacao"]
    going = {p: start for p, start in lmp.items()
             if (day - start).days <= longest
             and not any(start < end <= day for end in ended.get(p, []) if end)}
    # without the DUM: the consultations of the longest gestation before the day, after
    # the last delivery or abortion
    after = {p: max((end for end in ended.get(p, []) if end and end <= day),
                    default=dt.date.min) for p in undated - set(going)}
    undated_visits: dict[int, list[dt.date]] = {}
    for key, _eid, when in set(lake.run(
            "SELECT patient_key, encounter_id, encounter_date FROM encounters WHERE "
            "source_system = 'FHIR' AND encounter_class = 'AMB' "
            "AND left(reason_code, 3) IN ('Z34', 'Z35')")):
        person = fhir(key)
        if person in going and going[person] <= when <= day:
            visits[person] += 1
        if person in after and after[person] < when <= day and (day - when).days <= longest:
            undated_visits.setdefault(person, []).append(when)
    out: dict[int, tuple[int, int, int | dt.date]] = {}
    for person, start in going.items():
        weeks = (day - start).days // 7
        expected = _expected(params["marcos"], weeks)
        if expected is not None and visits[person] < expected:
            out[person] = (weeks, visits[person], expected)
    for person, days in undated_visits.items():
        out[person] = (-1, len(days), min(days))
    return out


def _written_by_other_tests(lake: Lake, owner: dict[tuple[str, str, str], int]
                            ) -> tuple[set[int], set[int]]:
    """The lake's persons holding a record the generator did not write (tests of the API
    write FHIR resources into the shared lake), and the true persons behind their other
    records: both left out of the comparison."""
    rows = lake.run(
        "SELECT l.person_id, r.source_system, r.record_key, r.role FROM person_links l "
        "JOIN identity_records r ON l.record_uid = r.source_system || '|' || r.source_file "
        "|| '|' || coalesce(r.record_key, CAST(r.source_row AS VARCHAR)) || '|' || r.role")
    foreign = {int(p) for p, system, key, role in rows
               if (system, str(key), role) not in owner}
    true = {owner[(system, str(key), role)] for p, system, key, role in rows
            if p in foreign and (system, str(key), role) in owner}
    return foreign, true


@pytest.mark.parametrize("day", [dt.date(2023, 4, 30), dt.date(2023, 9, 15), None])
def test_the_pregnant_women_list_equals_the_generators_truth(service_lake: Path,
                                                            day: dt.date | None) -> None:
    people = {r["person_id"]: r["municipality"] for r in pq.read_table(
        service_lake.parent / "estado" / "verdade" / "pessoas.parquet",
        columns=["person_id", "municipality"]).to_pylist()}
    owner = _owners(service_lake.parent / "estado")
    wl = load_worklists()[LIST]
    with Lake(service_lake, read_only=True) as lake:
        as_of = day or lake.scalar("SELECT max(encounter_date) FROM encounters "
                                   "WHERE left(reason_code, 3) IN ('Z34', 'Z35')")
        foreign, behind = _written_by_other_tests(lake, owner)
        entries = [e for e in compute(lake.con, wl, as_of=day) if e.person_id not in foreign]
        truth = {p: v for p, v in _by_hand(lake, owner, as_of, wl.params).items()
                 if p >= 0 and p not in behind}
    expected = Counter(str(people[p]) for p in truth)
    got = counts(entries)
    assert sum(expected.values()) >= (1 if day is None else 20)
    assert got == {k: v for k, v in sorted(expected.items())}
    # each reason says the weeks, the consultations held and those expected
    reasons = Counter(e.reason for e in entries)
    assert reasons == Counter(
        f"{w} semanas de gestação, {n} consulta(s) de pré-natal; {x} esperada(s)"
        if w >= 0 else f"gestação sem DUM registrada (idade gestacional desconhecida), "
        f"{n} consulta(s) de pré-natal desde {x:%d/%m/%Y}" for w, n, x in truth.values())
    # pregnancies registered without the DUM are on the list (the generator writes some)
    assert any(w < 0 for w, _, _ in truth.values()) or day == dt.date(2023, 4, 30)


def test_a_pregnant_woman_is_on_the_list_exactly_while_she_meets_its_rule(
        service_lake: Path) -> None:
    """A woman whose first consultation came late: off the list before the 12th week (no
    consultation expected yet), on it from the day the 12th week is complete, off once her
    first consultation is held (one expected); and a woman listed on the eve of her
    delivery leaves the list the day her child is born (her birth declaration ends it)."""
    wl = load_worklists()[LIST]
    with Lake(service_lake, read_only=True) as lake:
        def listed(person: int, day: dt.date) -> bool:
            return person in {e.person_id for e in compute(lake.con, wl, as_of=day)}

        uid = ("r.source_system || '|' || r.source_file || '|' || r.record_key || '|' "
               "|| r.role")
        late = lake.run(
            "WITH p AS (SELECT l.person_id, c.onset_date AS lmp, min(e.encounter_date) "
            "AS first FROM conditions c JOIN identity_records r ON r.source_system = 'FHIR' "
            "AND r.record_key = c.patient_key JOIN person_links l ON l.record_uid = " + uid
            + " JOIN encounters e ON e.patient_key = c.patient_key "
            "AND left(e.reason_code, 3) = 'Z34' AND e.encounter_date >= c.onset_date "
            "WHERE c.ciap2_code = 'W78' AND c.onset_date >= DATE '2023-01-01' "
            "GROUP BY ALL) SELECT person_id, lmp, first FROM p "
            "WHERE first > lmp + INTERVAL 100 DAY AND first < lmp + INTERVAL 140 DAY "
            "AND person_id IN (SELECT person_id "
            "FROM p GROUP BY ALL HAVING count(*) = 1) ORDER BY lmp, person_id LIMIT 1")
        assert late, "the synthetic state has first consultations after the 12th week"
        person, lmp, first = late[0]
        twelve = lmp + dt.timedelta(days=84)
        assert not listed(person, twelve - dt.timedelta(days=1))
        assert listed(person, twelve)
        assert listed(person, first - dt.timedelta(days=1))
        assert not listed(person, first)

        eve = dt.date(2023, 8, 31)
        births = lake.run(
            "SELECT l.person_id, min(b.birth_date) FROM births b JOIN identity_records r "
            "ON r.source_system = 'SINASC' AND r.role = 'mae' AND r.record_key = b.record_id "
            "AND r.source_file = b.source_file JOIN person_links l ON l.record_uid = " + uid
            + " WHERE b.birth_date > ? GROUP BY ALL ORDER BY 2, 1", [eve])
        on = {e.person_id for e in compute(lake.con, wl, as_of=eve)}
        mothers = [(p, born) for p, born in births
                   if p in on and listed(p, born - dt.timedelta(days=1))]
        assert mothers, "women listed on the eve of their delivery"
        person, born = mothers[0]
        assert not listed(person, born)


def test_a_pregnancy_without_the_dum_is_listed_from_its_first_consultation_to_its_end(
        service_lake: Path) -> None:
    """A pregnancy registered without the DUM (idade gestacional desconhecida): off the
    list the day before her first prenatal consultation, on it from that day ("sem DUM",
    with the consultations so far), and off the day her delivery is recorded (the birth,
    or the admission for it)."""
    wl = load_worklists()[LIST]
    uid = ("r.source_system || '|' || r.source_file || '|' || r.record_key || '|' "
           "|| r.role")
    with Lake(service_lake, read_only=True) as lake:
        found = lake.run(
            "WITH u AS (SELECT DISTINCT l.person_id FROM conditions c JOIN identity_records r"
            " ON r.source_system = 'FHIR' AND r.record_key = c.patient_key JOIN person_links"
            " l ON l.record_uid = " + uid + " WHERE c.ciap2_code = 'W78' AND c.onset_date "
            "IS NULL AND l.person_id NOT IN (SELECT l2.person_id FROM conditions c2 JOIN "
            "identity_records r2 ON r2.source_system = 'FHIR' AND r2.record_key = "
            "c2.patient_key JOIN person_links l2 ON l2.record_uid = r2.source_system || '|' "
            "|| r2.source_file || '|' || r2.record_key || '|' || r2.role "
            "WHERE c2.onset_date IS NOT NULL)), "
            "v AS (SELECT l.person_id, min(e.encounter_date) AS first FROM encounters e "
            "JOIN identity_records r ON r.source_system = 'FHIR' AND r.record_key = "
            "e.patient_key JOIN person_links l ON l.record_uid = " + uid
            + " WHERE left(e.reason_code, 3) = 'Z34' GROUP BY ALL), "
            "b AS (SELECT l.person_id, min(x.day) AS born FROM (SELECT b.birth_date AS day, "
            "b.record_id AS k, b.source_file AS f, 'SINASC' AS s, 'mae' AS ro FROM births b "
            "UNION ALL SELECT h.admission_date, h.aih_number, h.source_file, 'SIH', "
            "'paciente' FROM hospitalisations h WHERE h.main_diagnosis >= 'O60' AND "
            "h.main_diagnosis < 'O85') x JOIN identity_records r ON r.source_system = x.s "
            "AND r.role = x.ro AND r.record_key = x.k AND r.source_file = x.f "
            "JOIN person_links l ON l.record_uid = " + uid + " GROUP BY ALL) "
            "SELECT u.person_id, v.first, b.born FROM u JOIN v USING (person_id) "
            "JOIN b USING (person_id) WHERE b.born > v.first + INTERVAL 30 DAY "
            "AND v.first >= DATE '2023-01-01' ORDER BY v.first, u.person_id LIMIT 1")
        assert found, "the synthetic state has pregnancies registered without the DUM"
        person, first, born = found[0]

        def reason(day: dt.date) -> str | None:
            return next((e.reason for e in compute(lake.con, wl, as_of=day)
                         if e.person_id == person), None)

        assert reason(first - dt.timedelta(days=1)) is None
        assert reason(first) == ("gestação sem DUM registrada (idade gestacional "
                                 f"desconhecida), 1 consulta(s) de pré-natal desde "
                                 f"{first:%d/%m/%Y}")
        assert (reason(born - dt.timedelta(days=1)) or "").startswith("gestação sem DUM")
        assert reason(born) is None
