"""FHIR writes are scoped like reads (issue 20): a professional of Belo Horizonte cannot
write a Bundle about a patient resident elsewhere; the refusal is a 403 in Portuguese and
is audited; the state's analysts may write anywhere."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from rmds.access import AccessDenied, AccessPolicy, Scope
from rmds.sources.fhir.residence import bundle_residences
from rmds.store import Store
from rmds.store.auth import Role
from rmds.store.db import AUDIT
from rmds.territory import ReferencePack
from tests.service_fixtures import token

BH, MOC = "3106200", "3143302"


def _bundle(tag: str, city: str | None, *, foreign_subject: bool = False) -> dict[str, Any]:
    patient: dict[str, Any] = {"resourceType": "Patient", "id": f"esc-{tag}",
                               "gender": "female", "birthDate": "1980-02-03"}
    if city is not None:
        patient["address"] = [{"city": city}]
    subject = "Patient/nao-esta-no-pacote" if foreign_subject else "urn:uuid:p"
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:p", "resource": patient},
        {"fullUrl": "urn:uuid:c", "resource": {
            "resourceType": "Condition", "id": f"esc-c-{tag}",
            "subject": {"reference": subject},
            "code": {"coding": [{"system": "http://www.saude.gov.br/fhir/r4/CodeSystem/"
                                 "BRCID10", "code": "I10"}]},
            "onsetDateTime": "2023-05-05"}}]}


def _refusals(store: Store) -> list[tuple[str, str]]:
    with store.engine.connect() as c:
        rows = c.execute(sa.select(AUDIT.c.username, AUDIT.c.reason)
                         .where(AUDIT.c.action == "escrita_recusada")).all()
    return [(str(u), str(r)) for u, r in rows]


def test_bundle_residences_place_every_patient(pack: ReferencePack) -> None:
    table = pack.ibge6_to_7_table()
    assert bundle_residences(_bundle("a", MOC[:6]), table) == [MOC]
    assert bundle_residences(_bundle("b", None), table) == [None]
    assert bundle_residences(_bundle("c", BH, foreign_subject=True), table) == [BH, None]


def test_the_policy_scopes_identity_writes(pack: ReferencePack) -> None:
    policy = AccessPolicy(None)
    professional = Scope(Role.PROFESSIONAL, False, frozenset({("municipio", BH)}))
    policy.require_write(professional, [BH])
    for residences in ([MOC], [BH, MOC], [None]):
        try:
            policy.require_write(professional, residences)
        except AccessDenied as refused:
            assert refused.status == 403
        else:
            raise AssertionError(f"escrita aceita para {residences}")
    policy.require_write(Scope(Role.STATE_ANALYST, True), [MOC, None])
    municipal = Scope(Role.MUNICIPAL, False, frozenset({("municipio", BH)}))
    try:
        policy.require_write(municipal, [BH])
    except AccessDenied:
        pass
    else:
        raise AssertionError("gestor municipal escreveu dados de identificação")


def test_a_professional_cannot_write_a_patient_of_another_municipality(
        client: TestClient, store: Store) -> None:
    prof = token(client, "prof")
    before = len(_refusals(store))
    for bundle in (_bundle("moc", MOC), _bundle("sem", None),
                   _bundle("ref", BH, foreign_subject=True)):
        r = client.post("/fhir", json=bundle, headers=prof)
        assert r.status_code == 403, r.text
        message = r.json()["erro"]["mensagem"]
        assert "recusada" in message or "sem município" in message
    assert r.json()["erro"]["mensagem"].startswith("o pacote traz paciente")
    refusals = _refusals(store)
    assert len(refusals) == before + 3
    assert all(user == "prof" for user, _ in refusals[before:])
    assert MOC in refusals[before][1]
    # within the scope, and for a state analyst anywhere, the write goes through
    assert client.post("/fhir", json=_bundle("bh", BH), headers=prof).status_code == 200
    analyst = client.post("/fhir", json=_bundle("moc-ana", MOC), headers=token(client, "ana"))
    assert analyst.status_code == 200, analyst.text
    assert len(_refusals(store)) == before + 3
