"""Supersession beyond DATASUS files: a FHIR resource that arrives again (the newest
``meta.lastUpdated`` wins; an older or equal one is quarantined) and a consortium report
re-sent for the same period (it replaces the earlier batch)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rmds.lake.ingest import ingest
from rmds.lake.store import Lake
from rmds.sources.fhir.reader import FhirFile
from rmds.territory import ReferencePack

CID10 = "http://www.saude.gov.br/fhir/r4/CodeSystem/BRCID10"


def _patient(pid: str, updated: str, name: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "meta": {"lastUpdated": updated},
            "name": [{"text": name}], "gender": "female", "birthDate": "1980-05-17"}


def _condition(cid: str, patient: str, code: str, updated: str | None,
               status: str = "active") -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition", "id": cid, "subject": {"reference": f"Patient/{patient}"},
        "code": {"coding": [{"system": CID10, "code": code}]},
        "clinicalStatus": {"coding": [{"code": status}]}}
    if updated is not None:
        resource["meta"] = {"lastUpdated": updated}
    return resource


def _ndjson(path: Path, resources: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    return path


def _counts(batch: dict[str, Any] | None) -> tuple[int, int, int]:
    assert batch is not None
    assert batch["rows_read"] == batch["rows_accepted"] + batch["rows_quarantined"]
    return batch["rows_read"], batch["rows_accepted"], batch["rows_quarantined"]


@pytest.mark.parametrize("streamed", [False, True], ids=["inteiro", "em-partes"])
def test_a_fhir_resource_arriving_again_keeps_only_its_newest_version(
        pack: ReferencePack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        streamed: bool) -> None:
    options: dict[str, Any] = {}
    if streamed:   # files read in parts of two lines, written part by part
        monkeypatch.setattr(FhirFile.__init__, "__defaults__", (2,))
        options = {"whole_file_bytes": 0, "process_bytes": None}
    first = _ndjson(tmp_path / "rnds-1.ndjson", [
        _patient("p1", "2024-01-01T10:00:00Z", "MARIA DA SILVA"),
        _patient("p2", "2024-01-01T10:00:00Z", "ANA SOUZA"),
        _condition("c1", "p1", "I10", "2024-01-01T10:00:00Z"),
        _condition("c2", "p2", "E119", "2024-01-01T10:00:00Z"),
    ])
    second = _ndjson(tmp_path / "rnds-2.ndjson", [
        # 10:00 in Brasília is 13:00 UTC: newer than the first file's 10:00 UTC
        _patient("p1", "2024-02-01T10:00:00-03:00", "MARIA DA SILVA SANTOS"),
        _condition("c1", "p1", "I10", "2024-01-15T00:00:00Z", "active"),
        _condition("c1", "p1", "I10", "2024-02-01T09:00:00Z", "resolved"),  # newest
        _condition("c3", "p1", "J450", "2024-02-01T09:00:00Z"),
    ])
    third = _ndjson(tmp_path / "rnds-3.ndjson", [
        _patient("p1", "2024-01-20T10:00:00Z", "MARIA ANTIGA"),       # older: ignored
        _condition("c2", "p2", "E119", "2024-01-01T10:00:00Z"),        # the same: ignored
        _patient("p3", "2023-12-01T08:00:00Z", "CLARA REIS"),          # new
    ])
    lake_path = tmp_path / "lago"
    with Lake(lake_path) as lake:
        [one] = ingest(lake, [first], pack, **options)
        [two] = ingest(lake, [second], pack, **options)
        after_two = lake.snapshot_id()
        [three] = ingest(lake, [third], pack, **options)
    assert [one.status, two.status, three.status] == ["carregado"] * 3
    assert _counts(one.batch) == (4, 4, 0)
    assert _counts(two.batch) == (4, 3, 1)     # c1's older line in the same file
    assert _counts(three.batch) == (3, 1, 2)
    with Lake(lake_path, read_only=True) as lake:
        people = lake.run("SELECT fhir_resource, name, last_updated, batch_id "
                          "FROM identity_records ORDER BY record_key")
        conditions = lake.run("SELECT condition_id, code, clinical_status, batch_id "
                              "FROM conditions ORDER BY condition_id")
        reasons = lake.run("SELECT batch_id, source_row, field, value, reason "
                           "FROM quarantine ORDER BY batch_id, source_row")
        loaded = lake.run("SELECT batch_id, rows_accepted FROM batches ORDER BY batch_id")
        loads = {tuple(s.extra["lotes"]): s.extra for s in lake.snapshots()
                 if s.message == "carga"}
    b1, b2, b3 = (o.batch["batch_id"] for o in (one, two, three) if o.batch)
    assert people == [
        ("Patient/p1", "MARIA DA SILVA SANTOS", "2024-02-01T13:00:00.000000Z", b2),
        ("Patient/p2", "ANA SOUZA", "2024-01-01T10:00:00.000000Z", b1),
        ("Patient/p3", "CLARA REIS", "2023-12-01T08:00:00.000000Z", b3)]
    assert conditions == [("c1", "I10", "resolved", b2), ("c2", "E119", "active", b1),
                          ("c3", "J450", "active", b2)]
    assert reasons == [
        (b2, 2, "meta.lastUpdated", "2024-01-15T00:00:00.000000Z",
         "versão mais antiga do recurso Condition/c1 (meta.lastUpdated "
         "2024-01-15T00:00:00.000000Z) que a da linha 3 do mesmo arquivo "
         "(2024-02-01T09:00:00.000000Z)"),
        (b3, 1, "meta.lastUpdated", "2024-01-20T10:00:00.000000Z",
         "versão mais antiga do recurso Patient/p1 (meta.lastUpdated "
         "2024-01-20T10:00:00.000000Z) que a já carregada (2024-02-01T13:00:00.000000Z)"),
        (b3, 2, "meta.lastUpdated", "2024-01-01T10:00:00.000000Z",
         "mesma versão do recurso Condition/c2 (meta.lastUpdated "
         "2024-01-01T10:00:00.000000Z) que a já carregada")]
    # the registry keeps what each file brought; the lake holds 3 people and 3 conditions
    assert loaded == [(b1, 4), (b2, 3), (b3, 1)]
    assert loads[(b2,)]["recursos_fhir_substituidos"] == 2   # p1 and c1
    assert "recursos_fhir_substituidos" not in loads[(b3,)]
    with Lake(lake_path, snapshot=after_two) as lake:   # before the third file
        assert lake.scalar("SELECT count(*) FROM identity_records") == 2


def test_fhir_versions_without_last_updated_go_by_arrival(pack: ReferencePack,
                                                          tmp_path: Path) -> None:
    """Undated versions: the later arrival wins; a dated version beats an undated one."""
    first = _ndjson(tmp_path / "a.ndjson", [_condition("c1", "p1", "I10", None),
                                            _condition("c1", "p1", "J450", None)])
    second = _ndjson(tmp_path / "b.ndjson", [_condition("c1", "p1", "E119", None)])
    third = _ndjson(tmp_path / "c.ndjson", [_condition("c1", "p1", "I10",
                                                       "2024-01-01T00:00:00Z")])
    fourth = _ndjson(tmp_path / "d.ndjson", [_condition("c1", "p1", "J450", None)])
    codes = []
    with Lake(tmp_path / "lago") as lake:
        outcomes = []
        for path in (first, second, third, fourth):
            outcomes += ingest(lake, [path], pack)
            codes.append(lake.run("SELECT code FROM conditions"))
        reasons = [r["reason"] for r in lake.quarantine()]
    assert [_counts(o.batch) for o in outcomes] == [(2, 1, 1), (1, 1, 0), (1, 1, 0),
                                                    (1, 0, 1)]
    assert codes == [[("J450",)], [("E119",)], [("I10",)], [("I10",)]]
    assert reasons == [
        "recurso Condition/c1 repetido sem meta.lastUpdated: vale a da linha 2 do mesmo "
        "arquivo",
        "versão mais antiga do recurso Condition/c1 (meta.lastUpdated ausente) que a já "
        "carregada (2024-01-01T00:00:00.000000Z)"]


_HEADER = ("id_solicitacao;consorcio;municipio_solicitante;cnes_prestador;cns_paciente;"
           "cpf_paciente;nome_paciente;nome_mae;data_nascimento;sexo;tipo_servico;"
           "especialidade;procedimento_sigtap;data_solicitacao;data_agendamento;"
           "data_realizacao;situacao;data_cancelamento;data_diagnostico;cid10;passageiros")


def _referral(rid: str, consortium: str, requested: str, municipality: str = "3106200",
              name: str = "JOSE DA SILVA") -> str:
    return (f"{rid};{consortium};{municipality};1234567;;;{name};MARIA DA SILVA;01/02/1960;"
            f"M;consulta;cardiologia;0301010072;{requested};;;solicitado;;;;0")


def _report(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([_HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_a_consortium_report_resent_for_the_same_period_replaces_the_earlier(
        pack: ReferencePack, tmp_path: Path) -> None:
    first = _report(tmp_path / "CISMARG_2023.csv", [
        _referral("A-1", "CISMARG", "10/01/2023"),
        _referral("A-2", "CISMARG", "11/02/2023"),
        _referral("A-3", "CISMARG", "12/03/2023")])
    other_year = _report(tmp_path / "CISMARG_2024.csv", [
        _referral("B-1", "CISMARG", "10/01/2024")])
    # re-sent under another name and folder: the same consortium and year
    (tmp_path / "reenvio").mkdir()
    resent = _report(tmp_path / "reenvio" / "relatorio-cismarg-2023.csv", [
        _referral("A-1", "CISMARG", "10/01/2023"),
        _referral("A-2", "CISMARG", "11/02/2023", name="ANA SOUZA"),
        _referral("A-3", "CISMARG", "12/03/2023", municipality="3199998"),  # quarantined
        _referral("A-4", "CISMARG", "13/04/2023"),
        _referral("A-5", "CISMARG", "14/05/2023")])
    # no period in the name: the months of its requests
    unnamed = _report(tmp_path / "relatorio.csv", [
        _referral("C-1", "CONVALES", "10/01/2023"),
        _referral("C-2", "CONVALES", "20/03/2023")])
    unnamed_again = _report(tmp_path / "relatorio-corrigido.csv", [
        _referral("C-1", "CONVALES", "10/01/2023"),
        _referral("C-2", "CONVALES", "20/03/2023"),
        _referral("C-3", "CONVALES", "21/03/2023")])
    lake_path = tmp_path / "lago"
    with Lake(lake_path) as lake:
        outcomes = ingest(lake, [first, other_year, unnamed], pack)
        outcomes += ingest(lake, [resent, unnamed_again], pack)
        referrals = lake.run("SELECT referral_id, batch_id FROM referrals "
                             "ORDER BY referral_id")
        people = lake.run("SELECT record_key, name FROM identity_records "
                          "WHERE record_key LIKE 'A-%' ORDER BY record_key")
        quarantined = lake.run("SELECT batch_id, source_row FROM quarantine")
        batches = {b["batch_id"]: b for b in lake.batches()}
    ids = [o.batch["batch_id"] for o in outcomes if o.batch]
    b_first, b_other, b_unnamed, b_resent, b_again = ids
    assert [batches[b]["identity_key"] for b in ids] == [
        "CONSORCIO:CISMARG:2023", "CONSORCIO:CISMARG:2024",
        "CONSORCIO:CONVALES:202301-202303", "CONSORCIO:CISMARG:2023",
        "CONSORCIO:CONVALES:202301-202303"]
    assert [_counts(o.batch) for o in outcomes] == [(3, 3, 0), (1, 1, 0), (2, 2, 0),
                                                    (5, 4, 1), (3, 3, 0)]
    assert (batches[b_first]["status"], batches[b_first]["superseded_by"]) == (
        "substituído", b_resent)
    assert (batches[b_unnamed]["status"], batches[b_unnamed]["superseded_by"]) == (
        "substituído", b_again)
    assert batches[b_other]["status"] == batches[b_resent]["status"] == "ativo"
    # the lake holds the re-sent files' rows (4 + 3) and the other year's (1)
    assert referrals == [("A-1", b_resent), ("A-2", b_resent), ("A-4", b_resent),
                         ("A-5", b_resent), ("B-1", b_other), ("C-1", b_again),
                         ("C-2", b_again), ("C-3", b_again)]
    assert people == [("A-1", "JOSE DA SILVA"), ("A-2", "ANA SOUZA"),
                      ("A-4", "JOSE DA SILVA"), ("A-5", "JOSE DA SILVA")]
    assert quarantined == [(b_resent, 3)]


def test_a_lake_made_before_the_version_columns_gains_them(tmp_path: Path) -> None:
    lake_path = tmp_path / "lago"
    with Lake(lake_path) as lake:
        lake.run("BEGIN TRANSACTION")
        lake.run("ALTER TABLE conditions DROP COLUMN fhir_resource")
        lake.run("ALTER TABLE conditions DROP COLUMN last_updated")
        lake.commit("teste: lago de antes")
    with Lake(lake_path, read_only=True) as lake:
        assert "fhir_resource" not in lake.schema_of("conditions").names
    with Lake(lake_path) as lake:   # a writer brings the schema up to date
        names = lake.schema_of("conditions").names
    assert {"fhir_resource", "last_updated"} <= set(names)
