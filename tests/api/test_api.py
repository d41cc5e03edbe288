"""The REST API: one error shape, public suppression, scopes per endpoint, the audit log."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient

from rmds.cli import cli
from rmds.store import Store
from rmds.store.audit import verify
from rmds.store.db import AUDIT, SESSIONS
from rmds.territory import ReferencePack
from tests.service_fixtures import token

BH, UDI = "3106200", "3170206"
CELL_KEYS = {"indicador", "nivel", "unidade", "nome_unidade", "recorte", "tipo_periodo",
             "periodo", "ano", "numerador", "denominador", "valor", "ic_inferior",
             "ic_superior", "suavizado", "suprimido"}
PERSONAL = ("cns", "cpf", "mother_name", "address", "nome_mae", "endereco")


def _audit_count(store: Store) -> int:
    with store.engine.connect() as c:
        return int(c.execute(sa.select(sa.func.count()).select_from(AUDIT)).scalar_one())


def _suppressed_municipal_cell(client: TestClient, municipality: str) -> tuple[str, str]:
    """An (indicator, period) whose cell for ``municipality`` is suppressed."""
    cursor = client.app.state.data.cursor()  # type: ignore[attr-defined]
    rows = cursor.execute("SELECT indicator_id, period FROM indicator_values WHERE "
                          "level = 'municipio' AND unit_code = ? AND suppressed "
                          "AND period_type = 'ano' ORDER BY 1 LIMIT 1",
                          [municipality]).fetchall()
    assert rows, f"the fixture has no small cell in {municipality}"
    return rows[0][0], rows[0][1]


def test_health_openapi_and_one_error_shape(client: TestClient) -> None:
    assert client.get("/api/saude").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    assert "/api/indicadores/{indicador}/valores" in spec["paths"]
    for method, url, status in (
            ("get", "/api/indicadores/nao_existe/valores", 404),
            ("get", "/api/indicadores/mortalidade_infantil/valores?nivel=bairro", 422),
            ("get", "/api/indicadores/mortalidade_infantil/valores?periodo=23", 422),
            ("get", "/api/cargas", 401),
            ("get", "/api/nada", 404),
            ("delete", "/api/saude", 405),
            ("post", "/api/sessao", 422),
            ("get", "/api/eu", 401)):
        headers = {"Authorization": "Bearer falso"} if url == "/api/eu" else {}
        r = client.request(method, url, headers=headers)
        assert r.status_code == status, (url, r.text)
        body = r.json()
        assert set(body) == {"erro"}
        assert body["erro"]["status"] == status
        assert body["erro"]["mensagem"] and body["erro"]["tipo"]


def _public_calls(client: TestClient) -> list[dict[str, Any]]:
    out = []
    for level in ("municipio", "regiao", "macrorregiao", "urs", "consorcio", "estado"):
        for ind in ("mortalidade_infantil", "partos_cesareos", "cobertura_bcg"):
            out.append(client.get(f"/api/indicadores/{ind}/valores?nivel={level}").json())
            out.append(client.get(f"/api/indicadores/{ind}/ranking?nivel={level}"
                                  "&limite=1000").json())
    out.append(client.get(f"/api/indicadores/mortalidade_infantil/serie?nivel=municipio"
                          f"&unidade={BH}&tipo=mes").json())
    return out


def test_the_public_never_sees_a_suppressed_cell_or_a_personal_field(
        client: TestClient) -> None:
    answers = _public_calls(client)
    hidden = 0
    for answer in answers:
        assert answer["forma"] == "publica"
        for cell in answer["valores"]:
            assert set(cell) - {"posicao"} == CELL_KEYS
            if cell["suprimido"]:
                hidden += 1
                assert all(cell[k] is None for k in ("numerador", "denominador", "valor",
                                                      "ic_inferior", "ic_superior",
                                                      "suavizado"))
    assert hidden > 0, "the fixture has small cells"
    mapa = client.get("/api/mapa/mortalidade_infantil?nivel=municipio").json()
    assert all(m["valor"] is None for m in mapa["municipios"].values() if m["suprimido"])
    text = json.dumps(answers).lower() + json.dumps(client.get("/api/qualidade").json())
    assert not any(f'"{field}"' in text for field in PERSONAL)
    for page in ("/", "/?nivel=regiao&indicador=partos_cesareos", "/qualidade",
                 f"/municipio/{BH}"):
        assert client.get(page).status_code == 200


def test_a_municipal_manager_reads_restricted_data_only_of_their_municipality(
        client: TestClient, service_lake: Path, store: Store) -> None:
    headers = token(client, "bh")
    own_ind, own_period = _suppressed_municipal_cell(client, BH)
    other_ind, other_period = _suppressed_municipal_cell(client, UDI)
    base = "/api/indicadores"
    # values
    mine = client.get(f"{base}/{own_ind}/valores?nivel=municipio&periodo={own_period}"
                      f"&unidade={BH}", headers=headers).json()
    assert mine["forma"] == "restrita" and mine["valores"][0]["valor"] is not None
    theirs = client.get(f"{base}/{other_ind}/valores?nivel=municipio&periodo={other_period}"
                        f"&unidade={UDI}", headers=headers).json()
    assert theirs["forma"] == "publica" and theirs["valores"][0]["valor"] is None
    # ranking and map: only Belo Horizonte's small cells are open
    ranking = client.get(f"{base}/{other_ind}/ranking?nivel=municipio&periodo={other_period}"
                         "&limite=1000", headers=headers).json()["valores"]
    assert all(r["valor"] is None for r in ranking if r["suprimido"] and r["unidade"] != BH)
    assert any(r["unidade"] == UDI and r["valor"] is None for r in ranking)
    mapa = client.get(f"/api/mapa/{other_ind}?nivel=municipio&periodo={other_period}",
                      headers=headers).json()["municipios"]
    assert mapa[UDI]["valor"] is None
    # series
    serie = client.get(f"{base}/{other_ind}/serie?nivel=municipio&unidade={UDI}&tipo=ano",
                       headers=headers).json()["valores"]
    assert all(c["valor"] is None for c in serie if c["suprimido"])
    # quality detail, loads, quarantine, FHIR
    assert client.get(f"/api/qualidade/{BH}", headers=headers).status_code == 200
    assert client.get(f"/api/qualidade/{UDI}", headers=headers).status_code == 403
    assert client.get("/api/cargas", headers=headers).status_code == 403
    assert client.get("/api/quarentena", headers=headers).status_code == 403
    assert client.post("/fhir", json={"resourceType": "Bundle", "type": "collection",
                                      "entry": []}, headers=headers).status_code == 403
    # the Uberlândia manager is the mirror image
    other = token(client, "udi")
    assert client.get(f"/api/qualidade/{BH}", headers=other).status_code == 403
    theirs = client.get(f"{base}/{other_ind}/valores?nivel=municipio&periodo={other_period}"
                        f"&unidade={UDI}", headers=other).json()
    assert theirs["forma"] == "restrita"
    # the regional manager sees Belo Horizonte (in the URS), not Uberlândia
    regional = token(client, "urs")
    assert client.get(f"/api/qualidade/{BH}", headers=regional).status_code == 200
    assert client.get(f"/api/qualidade/{UDI}", headers=regional).status_code == 403


def test_every_restricted_read_and_write_leaves_an_audit_entry(
        client: TestClient, service_lake: Path, store: Store) -> None:
    analyst = token(client, "ana")
    ind, period = _suppressed_municipal_cell(client, BH)
    calls = [
        ("get", f"/api/indicadores/{ind}/valores?nivel=municipio&periodo={period}", None),
        ("get", f"/api/indicadores/{ind}/ranking?nivel=municipio&periodo={period}", None),
        ("get", f"/api/mapa/{ind}?nivel=municipio&periodo={period}", None),
        ("get", f"/api/qualidade/{BH}", None),
        ("get", "/api/cargas", None),
        ("get", "/api/quarentena", None),
    ]
    for method, url, body in calls:
        before = _audit_count(store)
        r = client.request(method, url, headers={**analyst, "X-Motivo": "teste"}, json=body)
        assert r.status_code == 200, (url, r.text)
        assert _audit_count(store) == before + 1, url
        with store.engine.connect() as c:
            last = c.execute(sa.select(AUDIT).order_by(AUDIT.c.id.desc()).limit(1)).one()
        assert last._mapping["username"] == "ana" and last._mapping["resource"].startswith(
            url.split("?")[0])
        assert last._mapping["reason"] == "teste"
    # public reads of aggregates are not restricted and are not logged
    before = _audit_count(store)
    client.get(f"/api/indicadores/{ind}/valores?nivel=estado")
    assert _audit_count(store) == before
    assert verify(store).ok


def test_fhir_bundle_goes_through_the_ingest_path(client: TestClient, store: Store) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:p1", "resource": {
            "resourceType": "Patient", "id": "api-p1", "gender": "female",
            "birthDate": "1980-02-03",
            "address": [{"city": "3106200"}]}},
        {"fullUrl": "urn:uuid:c1", "resource": {
            "resourceType": "Condition", "id": "api-c1", "subject": {"reference": "urn:uuid:p1"},
            "code": {"coding": [{"system": "http://www.saude.gov.br/fhir/r4/CodeSystem/"
                                 "BRCID10", "code": "I10"}]},
            "onsetDateTime": "2023-05-05"}},
        {"fullUrl": "urn:uuid:c2", "resource": {"resourceType": "Condition", "id": "api-c2"}},
    ]}
    assert client.post("/fhir", json=bundle).status_code == 401
    before = _audit_count(store)
    r = client.post("/fhir", json=bundle, headers=token(client, "prof"))
    assert r.status_code == 200, r.text
    [batch] = r.json()["lotes"]
    assert batch["situacao"] in ("carregado", "ignorado")
    if batch["situacao"] == "carregado":
        assert batch["lidas"] == batch["aceitas"] + batch["quarentena"]
        assert batch["quarentena"] >= 1
    assert _audit_count(store) == before + 2        # login + write
    bad = client.post("/fhir", json={"resourceType": "Patient"}, headers=token(client, "ana"))
    assert bad.status_code == 422 and bad.json()["erro"]["tipo"] == "requisicao_invalida"


def test_sessions_expire(client: TestClient, store: Store,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A session ended outside this process (here: its expiry rewritten in the store) stops
    working once the session is read again, at most ``session_recheck_seconds`` later."""
    from rmds.store import auth

    headers = token(client, "ana")
    assert client.get("/api/eu", headers=headers).json()["usuario"] == "ana"
    with store.engine.begin() as c:
        c.execute(SESSIONS.update().values(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))
    later = auth._clock() + 2 + 0.001          # the default window (2 s) has passed
    monkeypatch.setattr(auth, "_clock", lambda: later)
    assert client.get("/api/eu", headers=headers).status_code == 401


def test_a_session_ended_in_this_process_stops_at_once(client: TestClient) -> None:
    """Logging out here is not delayed by the window in which a checked session is
    trusted (nor is disabling the user or changing their password: the same call)."""
    headers = token(client, "ana")
    assert client.get("/api/eu", headers=headers).status_code == 200
    assert client.delete("/api/sessao", headers=headers).status_code == 200
    assert client.get("/api/eu", headers=headers).status_code == 401


def test_users_and_audit_commands(store: Store) -> None:
    runner = CliRunner()
    base = ["--store", store.url]
    added = runner.invoke(cli, [*base, "users", "add", "carla", "--role", "gestor_municipal",
                                "--territorio", "Montes Claros"],
                          env={"RMDS_NEW_PASSWORD": "outra-senha-boa-1"})
    assert added.exit_code == 0, added.output
    listed = json.loads(runner.invoke(cli, [*base, "users", "list", "--json"]).output)
    carla = next(u for u in listed if u["usuario"] == "carla")
    assert carla["escopo"] == "municipio:3143302" and carla["ativo"]
    assert runner.invoke(cli, [*base, "users", "disable", "carla"]).exit_code == 0
    assert not next(u for u in json.loads(runner.invoke(
        cli, [*base, "users", "list", "--json"]).output) if u["usuario"] == "carla")["ativo"]
    bad = runner.invoke(cli, [*base, "users", "add", "x", "--role", "gestor_municipal"],
                        env={"RMDS_NEW_PASSWORD": "outra-senha-boa-1"})
    assert bad.exit_code == 2 and "território" in bad.output
    assert runner.invoke(cli, [*base, "audit", "verify"]).exit_code == 0
    # editing a past entry breaks the chain
    with store.engine.begin() as c:
        first = c.execute(sa.select(sa.func.min(AUDIT.c.seq))).scalar_one()
        original = c.execute(sa.select(AUDIT.c.resource).where(AUDIT.c.seq == first)
                             ).scalar_one()
        c.execute(AUDIT.update().where(AUDIT.c.seq == first).values(resource="/adulterado"))
    try:
        broken = runner.invoke(cli, [*base, "audit", "verify"])
        assert broken.exit_code == 1
        assert f"entrada nº {first}:" in broken.output
    finally:
        with store.engine.begin() as c:
            c.execute(AUDIT.update().where(AUDIT.c.seq == first).values(resource=original))
    assert verify(store).ok


@pytest.mark.parametrize("path", ["/", "/qualidade", f"/municipio/{BH}", "/entrar"])
def test_pages_render_in_portuguese(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert '<html lang="pt-BR">' in r.text
    assert "https://" not in r.text.split("<main>")[0]   # nothing fetched from elsewhere


def test_the_warmed_service_answers_the_same(client: TestClient) -> None:
    url = "/api/indicadores/partos_cesareos/valores?nivel=regiao"
    cold = client.get(url).json()
    data = client.app.state.data  # type: ignore[attr-defined]
    data.warm(freeze=False)
    assert data.ready
    assert client.get(url + "&unidade=31016").json()["valores"] == [
        r for r in cold["valores"] if r["unidade"] == "31016"]
    assert client.get("/api/saude").json()["aquecido"] is True


def test_territory_units_by_regionalisation(client: TestClient, pack: ReferencePack) -> None:
    """Regions and macro-regions of a regionalisation named by its code (the current one
    by default); an unknown code is a 422 naming the ones known."""
    current = client.get("/api/territorio/macrorregiao")
    older = client.get("/api/territorio/macrorregiao", params={"vintage": "dtsus_2019_22"})
    assert (current.status_code, older.status_code) == (200, 200)
    assert {u["codigo"] for u in current.json()} == set(pack.macros())
    assert {u["codigo"] for u in older.json()} == set(pack.macros(pack.vintages[0]))
    assert set(pack.macros()) != set(pack.macros(pack.vintages[0]))
    wrong = client.get("/api/territorio/macrorregiao", params={"vintage": "pdr_1900"})
    assert wrong.status_code == 422 and "pdr_atual" in wrong.text
