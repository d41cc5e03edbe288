"""FHIR R4 primitive checks: dates must exist on the calendar, not only look like dates."""

from __future__ import annotations

import pytest

from rmds.sources.fhir import Validator
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
