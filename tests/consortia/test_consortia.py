"""Consortia and referrals: waits and queues by hand, the roster with validity dates, and
who sees which queue."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from rmds.cli import cli
from rmds.consortia.queues import data_date, queue, queue_items, waits
from rmds.consortia.roster import import_roster, roster_status
from rmds.indicators.compute import compute
from rmds.indicators.mart import values
from rmds.lake.store import Lake
from rmds.store import Store
from rmds.store.auth import Role, add_user
from rmds.territory import ReferencePack
from tests.indicators.helpers import ALFENAS, ALTEROSA, d, insert, write_population
from tests.service_fixtures import PASSWORD, token

A, B = ALFENAS, ALTEROSA


def _ref(n: int, service: str, requested: str, *, performed: str | None = None,
         cancelled: str | None = None, municipality: str = A) -> dict[str, Any]:
    status = "realizado" if performed else "cancelado" if cancelled else "solicitado"
    return {"referral_id": f"R{n}", "consortium": "TESTE", "requesting_municipality":
            municipality, "service_type": service, "status": status,
            "requested_date": d(requested), "performed_date": d(performed) if performed
            else None, "cancelled_date": d(cancelled) if cancelled else None}


REFERRALS = [
    # consultations done in 2023, waits of 10, 20, 30, 40 and 100 days
    _ref(1, "consulta", "2023-01-01", performed="2023-01-11"),
    _ref(2, "consulta", "2023-01-01", performed="2023-01-21"),
    _ref(3, "consulta", "2023-02-01", performed="2023-03-03"),
    _ref(4, "consulta", "2023-03-01", performed="2023-04-10"),
    _ref(5, "consulta", "2023-03-01", performed="2023-06-09"),
    # exams: one done after 5 days; one still waiting since 1 Nov; one cancelled on 1 Dec
    _ref(6, "exame", "2023-06-01", performed="2023-06-06"),
    _ref(7, "exame", "2023-11-01"),
    _ref(8, "exame", "2023-10-01", cancelled="2023-12-01"),
    # surgeries waiting since 1 Sep and 1 Dec; one done on 20 Dec after 2 months
    _ref(9, "cirurgia", "2023-09-01"),
    _ref(10, "cirurgia", "2023-12-01"),
    _ref(11, "cirurgia", "2023-10-20", performed="2023-12-20"),
    # Alterosa's consultation, still waiting
    _ref(12, "consulta", "2023-12-21", municipality=B),
]


@pytest.fixture()
def referral_lake(tmp_path: Path) -> Path:
    path = tmp_path / "lago"
    with Lake(path) as lake:
        insert(lake, "referrals", REFERRALS)
    return path


def test_waits_and_queues_by_hand(referral_lake: Path) -> None:
    with Lake(referral_lake, read_only=True) as lake:
        con = lake.con
        at = data_date(con)
        assert at == dt.date(2023, 12, 21)          # the latest date in the data
        done = {w["tipo"]: w for w in waits(con, dt.date(2023, 1, 1), dt.date(2023, 12, 31))}
        # consultations: 10, 20, 30, 40, 100 → median 30; p90 = 40 + 0.6 × (100 − 40) = 76
        assert done["consulta"]["realizados"] == 5
        assert done["consulta"]["espera_mediana_dias"] == 30.0
        assert done["consulta"]["espera_p90_dias"] == pytest.approx(76.0)
        assert done["exame"]["espera_mediana_dias"] == 5.0
        assert done["cirurgia"]["espera_mediana_dias"] == 61.0    # 20 Oct → 20 Dec
        # only Alfenas: the same (Alterosa's consultation is still waiting)
        assert waits(con, dt.date(2023, 1, 1), dt.date(2023, 12, 31), {A}) == list(
            done.values())
        # queue on 21 Dec: exam R7 (50 days); R8 was cancelled on 1 Dec; surgeries R9
        # (111 days) and R10 (20 days); R11 was done on 20 Dec; Alterosa's R12 (0 days)
        line = {q["tipo"]: q for q in queue(con, at)}
        assert line["exame"]["na_fila"] == 1 and line["exame"]["mais_antigo_dias"] == 50
        assert line["cirurgia"]["na_fila"] == 2
        assert line["cirurgia"]["idade_mediana_dias"] == pytest.approx((111 + 20) / 2)
        # p90 of [20, 111] = 20 + 0.9 × 91
        assert line["cirurgia"]["idade_p90_dias"] == pytest.approx(20 + 0.9 * 91)
        assert line["consulta"]["na_fila"] == 1
        # on 15 Nov the cancelled exam was still waiting, and the second surgery not asked
        earlier = {q["tipo"]: q for q in queue(con, dt.date(2023, 11, 15))}
        assert earlier["exame"]["na_fila"] == 2
        assert earlier["cirurgia"]["na_fila"] == 2        # R9 and R11
        # Alterosa's manager's queue holds only R12; items carry no patient identifier
        items = queue_items(con, at, {B})
        assert [i["solicitacao"] for i in items] == ["R12"]
        assert "patient_key" not in items[0]


def test_roster_import_refuses_bad_rows_and_dates_count(pack: ReferencePack,
                                                        tmp_path: Path) -> None:
    roster = tmp_path / "rol.csv"
    roster.write_text(
        "sigla;nome;cod_ibge7;inicio;fim\n"
        f"TESTE;Consórcio de teste;{A};01/07/2023;\n"
        f"TESTE;Consórcio de teste;{B};01/01/2020;30/06/2023\n"
        "TESTE;Consórcio de teste;9999999;01/01/2020;\n"
        f"TESTE;Consórcio de teste;{A};31/02/2023;\n"
        f"TESTE;Consórcio de teste;{B};01/01/2023;01/01/2022\n", encoding="utf-8")
    population = tmp_path / "populacao.csv"
    write_population(population, {A: 100, B: 100})
    with Lake(tmp_path / "lago") as lake:
        insert(lake, "referrals", [
            {**_ref(1, "consulta", "2023-01-01", performed="2023-02-01"),
             "requesting_municipality": B},
            {**_ref(2, "consulta", "2023-01-01", performed="2023-08-01")},
            {**_ref(3, "consulta", "2023-01-01", performed="2023-09-01"),
             "requesting_municipality": B}])
        result = import_roster(lake, roster, pack)
        assert (result.accepted, result.consortia) == (2, ["TESTE"])
        assert [(p.row, p.field) for p in result.refused] == [
            (4, "cod_ibge7"), (5, "inicio"), (6, "fim")]
        assert "desconhecido" in result.refused[0].message
        status = roster_status(lake.con, pack)
        assert "TESTE" in status["consorcios_com_membros"] and not status["completo"]
        assert "incompleto" in status["aviso"]
        compute(lake, pack, years=(2023,), population=population, only=["consorcio_producao"])
        # first quarter: only Alterosa was a member (its February consultation counts)
        q1 = values(lake.con, "consorcio_producao", "consorcio", "2023-T1", unit_code="TESTE")
        assert q1[0]["numerator"] == 1
        # third quarter: only Alfenas (its August consultation; Alterosa's September one
        # no longer counts for the consortium)
        q3 = values(lake.con, "consorcio_producao", "consorcio", "2023-T3", unit_code="TESTE")
        assert q3[0]["numerator"] == 1
        assert q3[0]["denominator"] == pytest.approx(3400 * 3 / 12)
        # the year: a municipality belongs to a period's consortium when its membership
        # overlaps the period, so both count for 2023 and all three consultations do
        year = values(lake.con, "consorcio_producao", "consorcio", "2023", unit_code="TESTE")
        assert year[0]["numerator"] == 3


def test_roster_command_reports_refused_rows(tmp_path: Path) -> None:
    roster = tmp_path / "rol.csv"
    roster.write_text(f"sigla,cod_ibge7,inicio\nXYZ,{A},2023-01-01\nXYZ,123,2023-01-01\n",
                      encoding="utf-8")
    result = CliRunner().invoke(cli, ["consortia", "import", str(roster), "--lake",
                                      str(tmp_path / "lago")])
    assert result.exit_code == 1
    assert "1 vínculos importados" in result.output and "linha 3" in result.output
    bad = tmp_path / "ruim.csv"
    bad.write_text("sigla,municipio\nX,1\n", encoding="utf-8")
    refused = CliRunner().invoke(cli, ["consortia", "import", str(bad), "--lake",
                                       str(tmp_path / "lago")])
    assert refused.exit_code == 2 and "cod_ibge7" in refused.output


def test_synthetic_referrals_load_for_every_consortium_with_members(
        client: TestClient, pack: ReferencePack) -> None:
    listing = client.get("/api/consorcios").json()
    assert listing["rol"]["aviso"]            # the pack's roster is partial, and it says so
    known = {c["sigla"] for c in listing["consorcios"] if c["municipios_conhecidos"]}
    # the consortia whose members the reference pack knows, read from the pack itself
    assert known == {sigla for sigla, members in pack.consortium_members.items() if members}
    assert known, "the pack knows the members of at least one consortium"
    for sigla in known:
        overview = client.get(f"/api/consorcios/{sigla}").json()
        assert overview["membros"] and overview["esperas"]
        assert overview["rol"]["aviso"]
    page = client.get("/consorcio/CISMARG")
    assert page.status_code == 200 and "Rol de consórcios incompleto" in page.text
    assert "Rol de consórcios incompleto" in client.get("/?nivel=consorcio").text


def test_each_manager_sees_only_their_queue(client: TestClient, store: Store,
                                            pack: ReferencePack) -> None:
    members = set(pack.consortium_members["CISMARG"])
    municipality = sorted(members)[0]
    suffix = store.engine.dialect.name
    add_user(store, f"cismarg-{suffix}", PASSWORD, Role.CONSORTIUM, "CISMARG")
    add_user(store, f"mun-{suffix}", PASSWORD, Role.MUNICIPAL, municipality)
    assert client.get("/api/filas").status_code == 401
    everything = client.get("/api/filas?limite=5000", headers=token(client, "ana")).json()
    assert {i["municipio"] for i in everything["itens"]} - members, "the fixture has others"
    consortium = client.get("/api/filas?limite=5000",
                            headers=token(client, f"cismarg-{suffix}")).json()
    assert consortium["itens"] and {i["municipio"] for i in consortium["itens"]} <= members
    assert client.get("/api/filas?consorcio=CONVALES",
                      headers=token(client, f"cismarg-{suffix}")).status_code == 403
    own = client.get("/api/filas?limite=5000", headers=token(client, f"mun-{suffix}")).json()
    assert {i["municipio"] for i in own["itens"]} <= {municipality}
    other = sorted(members - {municipality})[0]
    assert client.get(f"/api/filas?municipio={other}",
                      headers=token(client, f"mun-{suffix}")).status_code == 403
    # public consortium overview: counts under the threshold are suppressed
    public = client.get("/api/consorcios/CISMARG").json()
    for item in public["fila"]:
        assert item.get("suprimido") or item["na_fila"] >= 5


def _bundle(*resources: dict[str, Any]) -> str:
    import json

    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in resources]})


def test_fhir_service_request_and_appointments_make_one_referral(
        pack: ReferencePack, tmp_path: Path) -> None:
    from rmds.lake.ingest import ingest

    patient = {"resourceType": "Patient", "id": "pac-1", "gender": "female",
               "birthDate": "1970-01-01", "address": [{"city": A}]}

    def request(rid: str, authored: str) -> dict[str, Any]:
        return {"resourceType": "ServiceRequest", "id": rid, "status": "active",
                "intent": "order", "subject": {"reference": "Patient/pac-1"},
                "category": [{"coding": [{"code": "consulta"}]}], "authoredOn": authored}

    def appointment(aid: str, based: str, status: str, start: str) -> dict[str, Any]:
        return {"resourceType": "Appointment", "id": aid, "status": status,
                "basedOn": [{"reference": f"ServiceRequest/{based}"}], "start": start,
                "participant": [{"actor": {"reference": "Patient/pac-1"},
                                 "status": "accepted"}]}

    first = tmp_path / "lote1.json"
    first.write_text(_bundle(patient, request("sr-1", "2023-05-01"),
                             request("sr-2", "2023-05-02"),
                             appointment("ap-1", "sr-1", "booked", "2023-06-10T09:00:00Z"),
                             appointment("ap-2", "sr-2", "cancelled", "2023-06-11T09:00:00Z")),
                     encoding="utf-8")
    second = tmp_path / "lote2.json"
    second.write_text(_bundle(appointment("ap-3", "sr-1", "fulfilled", "2023-06-10T09:00:00Z")),
                      encoding="utf-8")
    with Lake(tmp_path / "lago") as lake:
        ingest(lake, [first], pack)
        # sr-1 booked for 10 June; sr-2's appointment was cancelled: still waiting, unbooked
        items = {i["solicitacao"]: i for i in queue_items(lake.con, dt.date(2023, 6, 1))}
        assert set(items) == {"sr-1", "sr-2"}
        assert items["sr-1"]["agendada_para"] == dt.date(2023, 6, 10)
        assert items["sr-2"]["agendada_para"] is None
        assert items["sr-1"]["municipio"] == A          # from the Patient's residence
        ingest(lake, [second], pack)
        # sr-1 was done on 10 June, 40 days after the request; sr-2 keeps waiting
        done = waits(lake.con, dt.date(2023, 1, 1), dt.date(2023, 12, 31))
        assert done == [{"tipo": "consulta", "realizados": 1, "espera_mediana_dias": 40.0,
                         "espera_p90_dias": 40.0}]
        assert [i["solicitacao"] for i in queue_items(lake.con, dt.date(2023, 6, 30))] == [
            "sr-2"]
