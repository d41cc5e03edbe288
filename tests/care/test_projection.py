"""The care records kept by person (rmds.care.projection) are the records the tables give,
and are used only while no load has changed what a record reads."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import orjson
import pytest

from rmds.care.html import record_html
from rmds.care.projection import PROJECTION, KeptRecord, keep_whole, load, project
from rmds.care.record import WAITING, PersonNotFound, assemble, care_record, resolve_person
from rmds.care.summary import patient_summary, summary_json
from rmds.lake.ingest import ingest
from rmds.lake.store import Lake
from rmds.territory import ReferencePack

NOW = dt.datetime(2026, 12, 5, 13, 30, 7, tzinfo=dt.UTC)
# persons whose records cross the most systems and roles, and every one waiting in a queue
VARIED_SQL = """
    WITH r AS (SELECT l.person_id, split_part(l.record_uid, '|', 1) AS system,
                      split_part(l.record_uid, '|', 4) AS role FROM person_links l)
    SELECT person_id FROM r GROUP BY person_id
    ORDER BY count(DISTINCT system || role) DESC, count(*) DESC, person_id LIMIT ?"""
WAITING_SQL = """
    SELECT DISTINCT l.person_id FROM person_links l
    JOIN referrals f ON split_part(l.record_uid, '|', 3) = f.referral_id
    WHERE f.status IN (?, ?) ORDER BY 1 LIMIT ?"""


@pytest.fixture(scope="module")
def projected(service_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the service lake, projected now (other tests load records into the shared
    lake through the API, which leaves its projection stale)."""
    copy = tmp_path_factory.mktemp("projecao") / "lago"
    shutil.copytree(service_lake, copy)
    with Lake(copy) as lake:
        assert project(lake) > 0
    return copy


def test_the_projection_gives_the_record_the_tables_give(projected: Path) -> None:
    with Lake(projected, read_only=True) as lake:
        projection = load(lake.con, lake.snapshot_id())
        assert projection is not None
        people = [int(p) for (p,) in lake.run(VARIED_SQL, [40])]
        people += [int(p) for (p,) in lake.run(WAITING_SQL, [*WAITING, 10])]
        assert len(set(people)) >= 45
        kinds: set[str] = set()
        places = 0
        for pid in sorted(set(people)):
            from_tables = care_record(lake.con, pid)
            from_projection = care_record(lake.con, pid, projection)
            assert from_projection == from_tables, pid
            kinds |= {i.kind for i in from_tables.timeline}
            places += sum("posicao_fila" in i.details for i in from_tables.timeline)
        # the sample reaches every kind of event the lake has, and queue places
        assert {"atendimento", "observacao", "condicao", "vacina", "internacao",
                "nascimento", "encaminhamento"} <= kinds
        assert places > 0


def test_a_record_kept_whole_is_the_record_its_rows_give(projected: Path,
                                                         tmp_path: Path) -> None:
    """Every person of the sample kept whole (threshold 1 item): the record read whole is
    the one assembled from the projection's rows, and the route's JSON is the same bytes;
    with a threshold nobody reaches, nobody is kept and the rows answer."""
    copy = tmp_path / "lago"
    shutil.copytree(projected, copy)
    with Lake(copy) as lake:
        people = sorted({int(p) for (p,) in lake.run(VARIED_SQL, [40])}
                        | {int(p) for (p,) in lake.run(WAITING_SQL, [*WAITING, 10])})
        kept = keep_whole(lake, from_items=1)
        items = int(lake.scalar(f"SELECT count(DISTINCT person_id) FROM {PROJECTION} "
                                "WHERE part = 'item'"))
    assert kept == items > len(people)
    with Lake(copy, read_only=True) as lake:
        projection = load(lake.con, lake.snapshot_id())
        assert projection is not None and projection.whole_file is not None
        assert projection.whole_file.stat().st_mode & 0o077 == 0
        for pid in people:
            whole = projection.whole(pid)
            assert whole is not None and whole.document is not None, pid
            rows = assemble(pid, *projection.read(pid))
            assert whole == rows, pid
            assert care_record(lake.con, pid, projection) == care_record(lake.con, pid), pid
            access = {"finalidade": "cuidado", "auditoria": 7}
            assert whole.as_json(acesso=access) == orjson.dumps(
                {**rows.as_dict(), "acesso": access}) == rows.as_json(acesso=access)
            assert isinstance(whole, KeptRecord) and whole.html == record_html(rows)
            assert summary_json(whole, whole.summary, now=NOW) == orjson.dumps(
                patient_summary(rows, now=NOW)) == summary_json(rows, now=NOW)
    with Lake(copy) as lake:        # the heaviest first, when not all may be kept
        counts = dict(lake.run(f"SELECT person_id, count(*) FROM {PROJECTION} WHERE "
                               "part = 'item' GROUP BY 1"))
        assert keep_whole(lake, from_items=1, most=5) == 5
        heaviest = sorted(counts, key=lambda p: (-counts[p], p))[:5]
    with Lake(copy, read_only=True) as lake:
        projection = load(lake.con, lake.snapshot_id())
        assert projection is not None
        assert {p for p in counts if projection.whole(p) is not None} == set(heaviest)
    with Lake(copy) as lake:
        assert keep_whole(lake, from_items=10**9) == 0
    with Lake(copy, read_only=True) as lake:
        projection = load(lake.con, lake.snapshot_id())
        assert projection is not None and projection.whole(people[0]) is None


def test_the_records_kept_whole_go_with_their_data_file(projected: Path,
                                                        tmp_path: Path) -> None:
    """A new projection keeps its own file; the old one stays while a retained snapshot
    reads its data file, and goes when the retention deletes that file."""
    copy = tmp_path / "lago"
    shutil.copytree(projected, copy)
    with Lake(copy, read_only=True) as lake:
        before = load(lake.con, lake.snapshot_id())
    assert before is not None and before.whole_file is not None
    assert before.whole_file.exists()
    with Lake(copy) as lake:
        project(lake)
        after = load(lake.con, lake.snapshot_id())
    assert after is not None and after.whole_file is not None
    assert after.whole_file != before.whole_file and after.whole_file.exists()
    assert before.whole_file.exists()
    with Lake(copy) as lake:
        lake.expire(keep_days=0, keep_last=1)
    assert not before.whole_file.with_name(before.whole_file.stem).exists()
    assert not before.whole_file.exists() and after.whole_file.exists()


def _resolved(lake: Lake, number: str, projection: object) -> object:
    try:
        return resolve_person(lake.con, number, projection)  # type: ignore[arg-type]
    except PersonNotFound as refused:
        return str(refused)


def test_a_cns_or_cpf_finds_the_person_the_tables_find(projected: Path) -> None:
    """One in 30 of the index's CNS and CPF, every number two persons share, and a few
    nobody has: the projection's answer (the person, or the refusal naming the two persons
    a shared number belongs to) is the tables' answer."""
    with Lake(projected, read_only=True) as lake:
        projection = load(lake.con, lake.snapshot_id())
        assert projection is not None and projection.key_groups
        numbers = [str(n) for (n,) in lake.run(
            "SELECT DISTINCT cns FROM identity_records WHERE cns IS NOT NULL UNION "
            "SELECT DISTINCT cpf FROM identity_records WHERE cpf IS NOT NULL ORDER BY 1")]
        # numbers the index holds under two persons (a mother's CNS on her child's record)
        two = [str(n) for (n,) in lake.run(
            "SELECT n FROM (SELECT l.person_id, unnest([i.cns, i.cpf]) AS n "
            "FROM person_links l JOIN identity_records i ON l.record_uid = i.source_system "
            "|| '|' || i.source_file || '|' || i.record_key || '|' || i.role) "
            "WHERE n IS NOT NULL GROUP BY n HAVING count(DISTINCT person_id) > 1 "
            "ORDER BY n LIMIT 20")]
        unknown = ["000000000000000", "99999999999", "799999999999999"]
        shared = 0
        for number in numbers[::30] + two + unknown:
            from_projection = _resolved(lake, number, projection)
            assert from_projection == _resolved(lake, number, None), number
            shared += isinstance(from_projection, str) and "revise" in from_projection
        assert len(numbers) > 1000 and shared > 0


def test_a_load_after_the_linkage_makes_it_stale_until_projected_again(
        projected: Path, pack: ReferencePack, tmp_path: Path) -> None:
    copy = tmp_path / "lago"
    shutil.copytree(projected, copy)
    with Lake(copy, read_only=True) as lake:
        before = lake.snapshot_id()
        [(pid, patient)] = lake.run(
            "SELECT l.person_id, i.record_key FROM identity_records i JOIN person_links l "
            "ON l.record_uid = i.source_system || '|' || i.source_file || '|' || "
            "i.record_key || '|' || i.role WHERE i.source_system = 'FHIR' "
            "ORDER BY 1, 2 LIMIT 1")
        assert load(lake.con, before) is not None
        events = len(care_record(lake.con, pid).timeline)
    extra = tmp_path / "fhir" / "novo.ndjson"
    extra.parent.mkdir()
    extra.write_text(json.dumps({
        "resourceType": "Observation", "id": "obs-projecao-1", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
        "subject": {"reference": f"Patient/{patient}"}, "effectiveDateTime": "2023-12-30",
        "valueQuantity": {"value": 7.1, "unit": "%"}}) + "\n", encoding="utf-8")
    with Lake(copy) as lake:
        ingest(lake, [extra], pack)
        loaded = lake.snapshot_id()
        # the new observation is the patient's, but the projection predates it: not used
        assert load(lake.con, loaded) is None
        assert len(care_record(lake.con, pid).timeline) == events + 1
        assert project(lake) > 0
        now = lake.snapshot_id()
        projection = load(lake.con, now)
        assert projection is not None
        assert care_record(lake.con, pid, projection) == care_record(lake.con, pid)
        assert len(care_record(lake.con, pid, projection).timeline) == events + 1
        # the earlier snapshot still reads its own projection, without the observation
        earlier = load(lake.con, before)
        assert earlier is not None
        assert len(care_record(lake.con, pid, earlier).timeline) == events
        # the projection's files are plain Parquet, no delete files
        assert not any(f["exclusoes"] for f in lake.current_files(PROJECTION))
