"""Prenatal care in the synthetic state: the consultations primary care records (FHIR) for
each delivery are the ones its birth declaration counts, and pregnancies still in course
when the window closes carry the consultations held so far."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from rmds.synth import SynthConfig, generate
from rmds.systems.registry import map_file, open_source
from rmds.territory import ReferencePack

YEAR = 2023


@pytest.fixture(scope="module")
def state(pack: ReferencePack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prenatal") / "estado"
    generate(SynthConfig(0.003, (YEAR,), 5, out), pack)
    return out


def _resources(state: Path) -> Iterator[dict[str, Any]]:
    for path in sorted((state / "FHIR" / "ndjson").glob("*.ndjson")):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                yield json.loads(line)
    for path in sorted((state / "FHIR" / "bundles").rglob("*.json")):
        bundle = json.loads(path.read_text(encoding="utf-8"))
        ids = {e["fullUrl"]: e["resource"].get("id") for e in bundle["entry"]}
        for entry in bundle["entry"]:
            resource = entry["resource"]
            subject = resource.get("subject", {}).get("reference", "")
            if subject in ids:        # urn:uuid → the Patient's id, as in the ndjson
                resource["subject"]["reference"] = f"Patient/{ids[subject]}"
            yield resource


def test_each_delivery_has_the_consultations_its_declaration_counts(
        state: Path, pack: ReferencePack) -> None:
    owner = {(r["source"], r["record"], r["role"]): r["person_id"] for r in pq.read_table(
        state / "verdade" / "registros.parquet",
        columns=["source", "record", "role", "person_id"]).to_pylist()}
    lmp: dict[int, list[dt.date]] = {}
    visits: dict[int, list[dt.date]] = {}
    undated: set[int] = set()
    for res in _resources(state):
        patient = res.get("subject", {}).get("reference", "").removeprefix("Patient/")
        person = owner.get(("FHIR", patient, "paciente"))
        codes = {c["code"] for c in res.get("code", res.get("reasonCode", [{}])[0])
                 .get("coding", [])} if res["resourceType"] in ("Condition", "Encounter") \
            else set()
        if res["resourceType"] == "Condition" and "W78" in codes:
            assert person is not None
            if "onsetDateTime" not in res:    # registered without the DUM
                undated.add(person)
                continue
            lmp.setdefault(person, []).append(dt.date.fromisoformat(res["onsetDateTime"]))
        if res["resourceType"] == "Encounter" and "Z349" in codes:
            assert person is not None
            visits.setdefault(person, []).append(
                dt.date.fromisoformat(res["period"]["start"]))
    checked = 0
    delivered: set[int] = set()
    with open_source(state / "SINASC" / f"DNMG{YEAR}.dbc") as source:
        for result, _ in map_file(source, pack.ibge6_to_7_table()):
            for row in result.accepted.select(["record_id", "birth_date",
                                               "prenatal_visits"]).to_pylist():
                mother = owner[("SINASC", row["record_id"], "mae")]
                born = row["birth_date"]
                starts = [d for d in lmp.get(mother, []) if d < born]
                if not starts:
                    continue           # no consultation recorded: none in primary care
                delivered.add(mother)
                start = max(starts)
                if start < dt.date(YEAR, 1, 1) or row["prenatal_visits"] is None:
                    continue           # consultations before the window are not in it
                held = sum(start <= d < born for d in visits.get(mother, []))
                assert held == row["prenatal_visits"], row["record_id"]
                checked += 1
    assert checked >= 50
    # pregnancies in course at the close: consultations so far, none after the window
    going = [p for p in lmp if p not in delivered]
    assert going
    assert all(d < dt.date(YEAR + 1, 1, 1) for p in going for d in visits.get(p, []))
    # some pregnancies are registered without the DUM, and keep their consultations
    assert undated and all(visits.get(p) for p in undated)
