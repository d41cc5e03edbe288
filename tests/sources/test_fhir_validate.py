"""FHIR R4 validation (primitives, datatypes all the way down) and the worker processes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from rmds.exceptions import WorkerError
from rmds.sources.fhir import Validator
from rmds.sources.fhir.parallel import WorkerPool
from rmds.territory import ReferencePack

VALID_DATES = ["1980", "1980-02", "1980-02-29", "2000-02-29", "2023-12-31", "0001-01-01"]
INVALID_DATES = ["1980-02-30", "2023-02-29", "1900-02-29", "2023-04-31", "2023-13-01",
                 "2023-00-10", "0000", "80-01-01", "1980-1-1", "١٩٨٠-01-01",
                 "1980-01-01\n", " 1980-01-01", "1980-01-01T10:00:00Z", "", 19800101, None]
VALID_DATETIMES = ["2023", "2023-05", "2023-05-01", "2023-05-01T10:00:00-03:00",
                   "2024-02-29T23:59:60Z", "2023-05-01T10:00:00.123+14:00"]
INVALID_DATETIMES = ["2023-02-30T10:00:00Z", "2023-02-29", "2023-05-01T10:00:00",
                     "2023-05-01T24:00:00Z", "2023-05-01T10:00Z", "2023-05-01 10:00:00Z",
                     "2023-05-01T10:00:00+15:00", "2023-05-01T10:00:00Z\n"]


def _problems(validator: Validator, resource: dict[str, object]) -> list[str]:
    return [f"{p.path}: {p.reason}" for p in validator.check(resource)]


@pytest.mark.parametrize("value", VALID_DATES + INVALID_DATES)
def test_patient_birth_date_must_be_a_real_date(pack: ReferencePack, value: object) -> None:
    problems = _problems(Validator(pack), {"resourceType": "Patient", "id": "p1",
                                           "birthDate": value})
    birth = [p for p in problems if p.startswith("Patient.birthDate")]
    assert bool(birth) == (value in INVALID_DATES), problems


@pytest.mark.parametrize("value", VALID_DATETIMES + INVALID_DATETIMES)
def test_condition_recorded_date_time_must_be_a_real_instant(pack: ReferencePack,
                                                             value: str) -> None:
    problems = _problems(Validator(pack), {
        "resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
        "recordedDate": value})
    recorded = [p for p in problems if p.startswith("Condition.recordedDate")]
    assert bool(recorded) == (value in INVALID_DATETIMES), problems


ENCOUNTER: dict[str, object] = {"resourceType": "Encounter", "id": "e1", "status": "finished",
             "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                       "code": "AMB"},
             "subject": {"reference": "Patient/p1"},
             "period": {"start": "2023-05-01", "end": "2023-05-01"},
             "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10",
                                         "code": "I10"}]}],
             "_status": {"extension": [{"url": "http://example.org/origem"}]}}
OBSERVATION: dict[str, object] = {"resourceType": "Observation", "id": "o1", "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
               "subject": {"reference": "Patient/p1"},
               "component": [{"code": {"text": "sistólica"},
                              "valueQuantity": {"value": 120, "unit": "mmHg"}}]}
PATIENT: dict[str, object] = {"resourceType": "Patient", "id": "p1", "gender": "female",
           "name": [{"use": "official", "given": ["MARIA"], "family": "SILVA"}],
           "telecom": [{"system": "phone", "value": "3199999999", "use": "mobile"}],
           "address": [{"city": "Belo Horizonte", "line": ["RUA A, 1"]}]}


def _with(resource: dict[str, object], **changes: object) -> dict[str, object]:
    return {**resource, **changes}


@pytest.mark.parametrize(("resource", "expected"), [
    (ENCOUNTER, []),
    (OBSERVATION, []),
    (PATIENT, []),
    (_with(ENCOUNTER, **{"class": "AMB"}), ["Encounter.class: Coding deve ser um objeto "
                                            "não vazio"]),
    (_with(ENCOUNTER, period={"start": "ontem"}),
     ["Encounter.period.start: valor dateTime inválido: 'ontem'"]),
    (_with(ENCOUNTER, period={"start": "2023-05-02", "end": "2023-05-01"}),
     ["Encounter.period: fim anterior ao início (per-1)"]),
    (_with(ENCOUNTER, period={"start": "2023-05-01", "inicio": "2023-05-01"}),
     ["Encounter.period.inicio: elemento desconhecido em R4"]),
    (_with(ENCOUNTER, subject={"reference": 5}),
     ["Encounter.subject.reference: valor string inválido"]),
    (_with(ENCOUNTER, subject={}), ["Encounter.subject: Reference deve ser um objeto não "
                                    "vazio"]),
    (_with(ENCOUNTER, reasonCode=[{"coding": {"code": "I10"}}]),
     ["Encounter.reasonCode[0].coding: deve ser uma lista não vazia (0..*)"]),
    (_with(ENCOUNTER, length={"value": 2, "comparator": "~"}),
     ["Encounter.length.comparator: código fora do conjunto obrigatório: '~'"]),
    (_with(ENCOUNTER, serviceProvider=None), ["Encounter.serviceProvider: valor nulo não é "
                                              "permitido"]),
    (_with(PATIENT, name=[{"given": "MARIA"}]),
     ["Patient.name[0].given: deve ser uma lista não vazia (0..*)"]),
    (_with(PATIENT, telecom=[{"system": "fone", "value": 3199999999}]),
     ["Patient.telecom[0].system: código fora do conjunto obrigatório: 'fone'",
      "Patient.telecom[0].value: valor string inválido"]),
    (_with(PATIENT, address={"city": "Belo Horizonte"}),
     ["Patient.address: deve ser uma lista não vazia (0..*)"]),
    (_with(PATIENT, address=[{"city": ""}]), ["Patient.address[0].city: valor string "
                                              "inválido"]),
    (_with(OBSERVATION, valueQuantity={"value": "120"}),
     ["Observation.valueQuantity.value: valor decimal inválido: '120'"]),
    (_with(OBSERVATION, valueQuantity={"value": True}),
     ["Observation.valueQuantity.value: valor decimal inválido: True"]),
    (_with(OBSERVATION, component=[{"valueQuantity": {"value": 80}}]),
     ["Observation.component[0].code: elemento obrigatório ausente (cardinalidade "
      "mínima 1)"]),
    (_with(OBSERVATION, note=[{"time": "2023-05-01"}]),
     ["Observation.note[0].text: elemento obrigatório ausente (cardinalidade mínima 1)"]),
    (_with(OBSERVATION, meta={"lastUpdated": "2023-05-01"}),
     ["Observation.meta.lastUpdated: valor instant inválido: '2023-05-01'"]),
])
def test_datatypes_are_checked_all_the_way_down(pack: ReferencePack,
                                                resource: dict[str, object],
                                                expected: list[str]) -> None:
    assert _problems(Validator(pack), resource) == expected


def test_text_values_never_reach_the_reason(pack: ReferencePack) -> None:
    """Names and addresses are personal data: a wrong one is located, not repeated."""
    problems = _problems(Validator(pack), _with(PATIENT, name=[{"family": ["SILVA"]}],
                                                address=[{"city": ["Belo Horizonte"]}]))
    assert problems == ["Patient.name[0].family: cardinalidade máxima 1, recebida uma lista",
                        "Patient.address[0].city: cardinalidade máxima 1, recebida uma lista"]
    assert not any("SILVA" in p or "Belo" in p for p in problems)


def test_values_seen_before_are_judged_the_same(pack: ReferencePack) -> None:
    """Valid codings and periods are remembered by content (they repeat across resources);
    an invalid one is reported every time it appears, and a valid one stays valid."""
    validator = Validator(pack)
    reversed_period = {"start": "2023-05-02", "end": "2023-05-01"}
    for _ in range(3):
        assert _problems(validator, _with(ENCOUNTER, period=reversed_period)) == [
            "Encounter.period: fim anterior ao início (per-1)"]
        assert _problems(validator, ENCOUNTER) == []
        assert _problems(validator, _with(ENCOUNTER, **{"class": {"code": "AMB ", "x": 1}})) \
            == ["Encounter.class.code: valor code inválido: 'AMB '",
                "Encounter.class.x: elemento desconhecido em R4"]


def test_worker_pool_converts_blocks_and_reports_a_dead_worker(reference_dir: Path) -> None:
    """The worker processes answer as FhirFile.convert_block does; when a worker is killed
    (out of memory, say), its block and every later one fail with WorkerError instead of
    waiting forever."""
    lines = [b'{"resourceType": "Patient", "id": "p1", "gender": "female"}\n', b"\n",
             b'{"resourceType": "Patient", "id": "p2", "birthDate": "1980-02-30"}\n']
    pool = WorkerPool(1, reference_dir)
    try:
        chunk = pool.submit(Path("Patient.ndjson"), (10, lines)).result(timeout=120)
        assert chunk.rows_in == 2 and chunk.rows_quarantined == 1
        assert chunk.quarantine.column("source_row").to_pylist() == [12]
        assert chunk.tables["identity_records"].column("record_key").to_pylist() == ["p1"]
        os.kill(pool._processes[0].pid, signal.SIGKILL)
        for _ in range(2):
            with pytest.raises(WorkerError, match=r"Patient\.ndjson: .*processo auxiliar"):
                pool.submit(Path("Patient.ndjson"), (1, lines)).result(timeout=120)
    finally:
        pool.shutdown()
