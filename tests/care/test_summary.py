"""GET /fhir/Patient/{id}/$summary: an IPS-shaped document Bundle that the project's FHIR
validator accepts, with CNS/CPF in the RNDS systems and every item traced to its batch."""

from __future__ import annotations

import copy
import re

from fastapi.testclient import TestClient

from rmds.care.summary import CNS_SYSTEM, CPF_SYSTEM
from rmds.sources.fhir.validate import Validator
from rmds.territory import ReferencePack
from tests.care.test_care_api import BH, _resident
from tests.service_fixtures import token

SOURCE = re.compile(r"urn:rmds:lote:(\d+)#([A-Z]+)/(.+)")


def test_the_summary_validates_and_traces_every_item_to_its_batch(
        client: TestClient, users: dict[str, str], pack: ReferencePack) -> None:
    pid, cns = _resident(client, BH)
    prof = token(client, "prof")
    url = f"/fhir/Patient/{pid}/$summary"
    assert client.get(url, headers=prof).status_code == 403          # no purpose
    assert client.get(url, params={"finalidade": "cuidado"},
                      headers=token(client, "ana")).status_code == 403
    r = client.get(url, params={"finalidade": "cuidado"}, headers=prof)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    bundle = r.json()
    validator = Validator(pack)
    assert validator.check_document(bundle) == []
    resources = [e["resource"] for e in bundle["entry"]]
    assert resources[0]["resourceType"] == "Composition"
    [patient] = [x for x in resources if x["resourceType"] == "Patient"]
    assert {"system": CNS_SYSTEM, "value": cns} in patient["identifier"]
    assert all(i["system"] in (CNS_SYSTEM, CPF_SYSTEM) for i in patient["identifier"])
    # every clinical item says its batch, system and file, and they are the record's
    record = client.post("/api/prontuario", json={"pessoa": str(pid), "finalidade": "cuidado"},
                         headers=prof).json()
    traced = [SOURCE.fullmatch(x["meta"]["source"]) for x in resources
              if x["resourceType"] not in ("Composition", "Patient", "Organization")]
    assert traced and all(traced)
    items = {(i["batch_id"], i["source_system"]) for i in record["linha_do_tempo"]}
    assert {(int(m.group(1)), m.group(2)) for m in traced if m} <= items
    # the validator is not a rubber stamp: a broken document is refused
    broken = copy.deepcopy(bundle)
    broken["entry"][0]["resource"]["section"][0].pop("emptyReason", None)
    broken["entry"][0]["resource"]["section"][0].pop("entry", None)
    broken["entry"][1]["resource"]["identifier"] = [{"system": CNS_SYSTEM,
                                                     "value": "123456789012345"}]
    broken["type"] = "collection"
    reasons = " | ".join(p.reason for p in validator.check_document(broken))
    assert "CNS inválido" in reasons and "cmp-2" in reasons and "document" in reasons
    # nothing is quarantined in a document going out: the reading's wording is not used
    assert "recurso mantido" not in reasons


def test_the_written_out_uuid5_is_the_standard_one() -> None:
    import uuid

    from rmds.care.summary import _NS, uuid5

    for name in ("", "ips|1", "Immunization|pessoa-7|2023-01-02|Pingo d'Água", "ç" * 300):
        assert uuid5(name) == str(uuid.uuid5(_NS, name))
        assert uuid.UUID(uuid5(name)).version == 5
