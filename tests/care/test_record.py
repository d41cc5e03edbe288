"""The care record against the generator's truth: a person's timeline holds exactly the
events of their source records, each traced to its batch."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rmds.care.record import PersonNotFound, care_record, resolve_person
from rmds.lake.store import Lake

UID_SQL = ("SELECT l.person_id, r.source_system, r.record_key, r.role, r.source_file "
           "FROM person_links l JOIN (SELECT *, source_system || '|' || source_file || '|' "
           "|| coalesce(record_key, CAST(source_row AS VARCHAR)) || '|' || role AS uid "
           "FROM identity_records) r ON l.record_uid = r.uid")


@pytest.fixture(scope="module")
def truth_people(service_lake: Path) -> list[tuple[int, set[tuple[str, str, str]]]]:
    """Linked persons whose records are exactly one true person's, with SIH and PNI."""
    truth = pq.read_table(service_lake.parent / "estado" / "verdade" / "registros.parquet")
    true_sets: dict[int, set[tuple[str, str, str]]] = {}
    for row in truth.select(["source", "record", "role", "person_id"]).to_pylist():
        true_sets.setdefault(row["person_id"], set()).add(
            (row["source"], row["record"], row["role"]))
    with Lake(service_lake, read_only=True) as lake:
        linked: dict[int, set[tuple[str, str, str]]] = {}
        for pid, system, key, role, _ in lake.run(UID_SQL):
            linked.setdefault(pid, set()).add((system, key, role))
    exact = {frozenset(s) for s in true_sets.values()}
    out = [(pid, s) for pid, s in sorted(linked.items()) if frozenset(s) in exact
           and {"SIH", "PNI"} <= {x[0] for x in s}]
    assert len(out) >= 3, "the fixture has persons linked exactly with SIH and PNI records"
    return out[:5]


def test_the_timeline_holds_exactly_the_events_of_the_persons_records(
        service_lake: Path, truth_people: list[tuple[int, set[tuple[str, str, str]]]]
) -> None:
    with Lake(service_lake, read_only=True) as lake:
        batches = {b["batch_id"]: b for b in lake.batches()}
        for pid, records in truth_people:
            found = care_record(lake.con, pid)
            kinds = Counter((i.source_system, i.kind) for i in found.timeline)
            by_system = Counter(system for system, _, _ in records)
            assert kinds["SIH", "internacao"] == by_system["SIH"]
            assert kinds["PNI", "vacina"] == by_system["PNI"]
            assert kinds["SIM", "obito"] == by_system["SIM"]
            assert kinds["SINASC", "nascimento"] == by_system["SINASC"]
            assert kinds["CONSORCIO", "encaminhamento"] == by_system["CONSORCIO"]
            patients = [key for system, key, _ in records if system == "FHIR"]
            encounters = lake.scalar(
                "SELECT count(*) FROM encounters WHERE list_contains(?, patient_key)",
                [patients]) if patients else 0
            assert kinds["FHIR", "atendimento"] == encounters
            # every item traced to the batch (and file) it was loaded in
            for item in found.timeline:
                assert batches[item.batch_id]["file_name"].endswith(item.source_file)
            stays = [i for i in found.items("internacao")]
            assert all("length_of_stay" in i.details for i in stays)
            assert {i.source_system for i in found.identifications} == set(by_system)


def test_a_person_by_cns_or_cpf_and_conflicts_shown(service_lake: Path) -> None:
    with Lake(service_lake, read_only=True) as lake:
        [(pid, cns)] = lake.run(
            "SELECT l.person_id, any_value(r.cns) FROM person_links l JOIN (SELECT *, "
            "source_system || '|' || source_file || '|' || coalesce(record_key, "
            "CAST(source_row AS VARCHAR)) || '|' || role AS uid FROM identity_records) r "
            "ON l.record_uid = r.uid WHERE r.cns IS NOT NULL GROUP BY 1 "
            "HAVING count(DISTINCT r.name) > 1 AND count(DISTINCT r.cns) = 1 "
            "ORDER BY 1 LIMIT 1")
        assert resolve_person(lake.con, cns) == pid
        assert resolve_person(lake.con, str(pid)) == pid
        found = care_record(lake.con, pid)
        assert len(found.conflicts["name"]) > 1        # each source's spelling, none hidden
        with pytest.raises(PersonNotFound):
            resolve_person(lake.con, "9" * 15)
        with pytest.raises(PersonNotFound):
            resolve_person(lake.con, "nome de alguém")
