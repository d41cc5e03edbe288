"""The lake: idempotent, atomic ingestion of every source, with quarantine and provenance."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from rmds.cli import cli
from rmds.lake.ingest import FAULT_ENV, FAULT_SIGNAL_ENV, ingest
from rmds.lake.store import Lake
from rmds.schema import PROTECTED
from rmds.sources.datasus.dbc import DbcReader
from rmds.sources.datasus.dbf_writer import write_dbf
from rmds.sources.datasus.layouts import IDENTIFIED, SIH_RD
from rmds.synth import SynthConfig, generate
from rmds.territory import ReferencePack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def state(pack: ReferencePack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lake") / "estado"
    generate(SynthConfig(0.002, (2023,), 21, out), pack)
    return out


def _snapshot(lake_path: Path) -> dict[str, object]:
    with Lake(lake_path, read_only=True) as lake:
        return {"counts": lake.counts(), "batches": [
            (b["batch_id"], b["sha256"], b["rows_read"]) for b in lake.batches()],
            "quarantine": len(lake.quarantine(limit=10**9))}


def test_ingesting_twice_gives_the_same_rows_and_every_batch_reconciles(
        state: Path, pack: ReferencePack, tmp_path: Path) -> None:
    path = tmp_path / "lago"
    with Lake(path) as lake:
        first = ingest(lake, [state], pack)
    assert {o.status for o in first} == {"carregado", "não reconhecido"}
    skipped = [o.path.name for o in first if o.status == "não reconhecido"]
    assert sorted(skipped) == ["manifest.json", "municipios.csv", "populacao.csv", "rates.json"]
    once = _snapshot(path)
    with Lake(path) as lake:
        second = ingest(lake, [state], pack)
    assert {o.status for o in second} == {"ignorado", "não reconhecido"}
    assert _snapshot(path) == once
    with Lake(path, read_only=True) as lake:
        batches = lake.batches()
        counts = lake.counts()
        rows = {r[0]: r[1] for r in lake.run(
            "SELECT batch_id, count(*) FROM deaths GROUP BY ALL")}
    assert all(b["rows_read"] == b["rows_accepted"] + b["rows_quarantined"] for b in batches)
    assert {b["system"] for b in batches} == {"SIM", "SINASC", "SIH", "SIA", "CNES", "PNI",
                                              "FHIR", "CONSORCIO", "SINAN"}
    # provenance: each row names its batch; SIM rows equal the DBC records
    for b in batches:
        if b["system"] == "SIM":
            with DbcReader(Path(b["file_path"])) as reader:
                assert reader.header.records == b["rows_read"] == rows[b["batch_id"]]
    assert counts["encounters"] > 0 and counts["observations"] > 0
    assert counts["identity_records"] > 0 and counts["referrals"] > 0
    assert counts["immunisations"] > 0


def _ingest_in_child(lake: Path, paths: list[Path], env: dict[str, str]
                     ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rmds.cli", "ingest", *map(str, paths), "--lake", str(lake)],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, **env}, check=False)


def _big_sih_dbf(state: Path, target: Path) -> Path:
    with DbcReader(state / "SIH" / "RDMG2306.dbc") as reader:
        table = pa.Table.from_batches(list(reader.iter_batches()))
    big = pa.concat_tables([table] * max(1, 6_000_000 // (table.num_rows * 1000) + 1))
    return write_dbf(target, big, SIH_RD + IDENTIFIED["SIH"])


@pytest.mark.parametrize("kind", ["large file streamed", "small files grouped",
                                  "ndjson in worker processes"])
def test_a_kill_mid_batch_leaves_the_lake_as_before_and_the_next_run_completes(
        state: Path, pack: ReferencePack, tmp_path: Path, kind: str) -> None:
    lake_path = tmp_path / "lago"
    with Lake(lake_path) as lake:
        ingest(lake, [state / "SIM"], pack)
    before = _snapshot(lake_path)
    if kind == "large file streamed":
        targets = [_big_sih_dbf(state, tmp_path / "RDMG2306.dbf")]
        assert targets[0].stat().st_size > 4 << 20
        env = {FAULT_ENV: "2", "RMDS_READ_BATCH_ROWS": "1000", "RMDS_INGEST_WHOLE_FILE_MB": "1"}
    elif kind == "ndjson in worker processes":
        targets = [state / "FHIR" / "ndjson"]
        env = {FAULT_ENV: "2", "RMDS_INGEST_FHIR_PROCESS_MB": "1"}
        assert any(p.stat().st_size >= 1 << 20 for p in targets[0].iterdir())
    else:
        targets = [state / "FHIR" / "bundles", state / "SIH"]
        env = {FAULT_ENV: "1"}
    killed = _ingest_in_child(lake_path, targets, env)
    assert killed.returncode == -9, killed.stderr
    assert _snapshot(lake_path) == before  # nothing of the killed batch, nothing lost
    _the_next_run_completes(lake_path, targets, pack, before)


def test_ctrl_c_mid_batch_rolls_back_says_so_and_the_next_run_completes(
        state: Path, pack: ReferencePack, tmp_path: Path) -> None:
    """An interruption (SIGINT, as Ctrl-C sends) in the middle of a transaction: the
    command says what stayed and what did not, exits 130, and the lake is as before."""
    lake_path = tmp_path / "lago"
    with Lake(lake_path) as lake:
        ingest(lake, [state / "SIM"], pack)
    before = _snapshot(lake_path)
    targets = [state / "SINASC", state / "SIH"]
    interrupted = _ingest_in_child(lake_path, targets,
                                   {FAULT_ENV: "1", FAULT_SIGNAL_ENV: "INT"})
    assert interrupted.returncode == 130, interrupted.stderr
    message = " ".join(interrupted.stderr.split())
    assert "carga interrompida" in message and "não foram gravados" in message
    assert "Traceback" not in interrupted.stderr
    assert _snapshot(lake_path) == before
    _the_next_run_completes(lake_path, targets, pack, before)


def _the_next_run_completes(lake_path: Path, targets: list[Path], pack: ReferencePack,
                            before: dict[str, object]) -> None:
    with Lake(lake_path) as lake:  # usable: the same files load on the next run
        outcomes = ingest(lake, targets, pack)
    assert outcomes and all(o.status == "carregado" for o in outcomes)
    after = _snapshot(lake_path)
    assert len(after["batches"]) == len(before["batches"]) + len(outcomes)  # type: ignore[arg-type]


def test_bad_inputs_get_clear_errors_and_change_nothing(state: Path, pack: ReferencePack,
                                                        tmp_path: Path) -> None:
    lake_path = tmp_path / "lago"
    with Lake(lake_path) as lake:
        ingest(lake, [state / "SIM"], pack)
    before = _snapshot(lake_path)
    truncated = tmp_path / "RDMG2301.dbc"
    data = (state / "SIH" / "RDMG2301.dbc").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    wrong_header = tmp_path / "vacinacao_MG_2023.csv"
    wrong_header.write_text("id;data;vacina\n1;2023-01-01;BCG\n", encoding="utf-8")
    not_json = tmp_path / "envio.json"
    not_json.write_text("isto não é JSON\n", encoding="utf-8")
    not_ndjson = tmp_path / "Patient.ndjson"
    not_ndjson.write_bytes(b"%PDF-1.4\n")
    with Lake(lake_path) as lake:
        outcomes = {o.path.name: o for o in ingest(
            lake, [truncated, wrong_header, not_json, not_ndjson], pack)}
    assert all(o.status == "erro" for o in outcomes.values())
    assert "RDMG2301.dbc" in outcomes["RDMG2301.dbc"].error  # type: ignore[operator]
    message = outcomes["vacinacao_MG_2023.csv"].error or ""
    assert "vacinacao_MG_2023.csv" in message and "co_vacina" in message
    assert outcomes["vacinacao_MG_2023.csv"].problems[0].row == 1
    assert "envio.json" in (outcomes["envio.json"].error or "")
    assert "não é JSON válido" in (outcomes["envio.json"].error or "")
    assert "Patient.ndjson" in (outcomes["Patient.ndjson"].error or "")
    assert _snapshot(lake_path) == before


def test_streamed_files_land_the_same_rows_as_files_read_whole(
        state: Path, pack: ReferencePack, tmp_path: Path) -> None:
    """Large files are read in batches converted on a thread pool and put back in order;
    the lake must hold exactly what reading each file whole gives."""
    targets = [state / "SIH", state / "SIM", state / "SINASC", state / "SIA"]

    def load(name: str, batch_rows: int = 65_536, whole_file_bytes: int = 256 << 20
             ) -> dict[str, list[tuple[object, ...]]]:
        with Lake(tmp_path / name) as lake:
            outcomes = ingest(lake, targets, pack, batch_rows=batch_rows,
                              whole_file_bytes=whole_file_bytes)
            assert outcomes and {o.status for o in outcomes} == {"carregado"}
            return {t: lake.run(f'SELECT * EXCLUDE (batch_id) FROM "{t}" '
                                "ORDER BY ALL")
                    for t in ("hospitalisations", "deaths", "births", "outpatient_production",
                              "identity_records", "quarantine")}

    whole = load("inteiro")
    streamed = load("blocos", batch_rows=97, whole_file_bytes=0)
    assert whole == streamed
    assert all(whole[t] for t in ("hospitalisations", "deaths", "outpatient_production"))


def test_a_file_failing_mid_stream_leaves_nothing_and_its_neighbours_land(
        state: Path, pack: ReferencePack, tmp_path: Path) -> None:
    """Files share a transaction; one that fails after some of its rows were written (a
    streamed DBF shorter than its header says) is taken out, the files around it land."""
    big = _big_sih_dbf(state, tmp_path / "RDMG2306.dbf")
    data = big.read_bytes()
    short = tmp_path / "RDMG2307.dbf"
    short.write_bytes(data[:len(data) * 3 // 4])
    targets = [state / "SIM" / "DOMG2023.dbc", short, state / "SINASC" / "DNMG2023.dbc"]
    lake_path = tmp_path / "lago"
    with Lake(lake_path) as lake:
        outcomes = ingest(lake, targets, pack, batch_rows=1000, whole_file_bytes=1 << 20)
        assert [o.status for o in outcomes] == ["carregado", "erro", "carregado"]
        assert "RDMG2307.dbf" in (outcomes[1].error or "")
        assert outcomes[1].problems and outcomes[1].problems[0].row is not None
        leftovers = lake.scalar("SELECT count(*) FROM hospitalisations") + lake.scalar(
            "SELECT count(*) FROM quarantine WHERE source_file = 'RDMG2307.dbf'")
        assert leftovers == 0
        assert [b["file_name"] for b in lake.batches()] == ["DOMG2023.dbc", "DNMG2023.dbc"]
        assert [b["batch_id"] for b in lake.batches()] == [1, 2]
    after = _snapshot(lake_path)
    assert all(n > 0 for n in (after["counts"]["deaths"],  # type: ignore[index]
                               after["counts"]["births"]))  # type: ignore[index]


def _bundle(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"urn:uuid:{i:08d}-0000-4000-8000-000000000000", "resource": r,
         "request": {"method": "POST", "url": r["resourceType"]}}
        for i, r in enumerate(entries)]}


def test_a_bundle_with_an_invalid_resource_lands_the_valid_ones(pack: ReferencePack,
                                                                tmp_path: Path) -> None:
    patient = {"resourceType": "Patient", "id": "p1", "identifier": [
        {"system": "http://rnds.saude.gov.br/fhir/r4/NamingSystem/cns",
         "value": "123456789010000"}], "name": [{"text": "MARIA DA SILVA"}],
        "gender": "female", "birthDate": "1980-05-17"}
    bad_patient = dict(patient, id="p2", identifier=[
        {"system": "http://rnds.saude.gov.br/fhir/r4/NamingSystem/cns",
         "value": "123456789010001"}])
    encounter = {"resourceType": "Encounter", "id": "e1", "status": "finished",
                 "class": {"code": "AMB"},
                 "subject": {"reference": "urn:uuid:00000000-0000-4000-8000-000000000000"},
                 "period": {"start": "2023-03-01"}}
    dangling = dict(encounter, id="e2", subject={
        "reference": "urn:uuid:99999999-0000-4000-8000-000000000000"})
    missing_status = {k: v for k, v in encounter.items() if k != "status"} | {"id": "e3"}
    bad_code = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
                "code": {"coding": [{"system":
                                     "http://www.saude.gov.br/fhir/r4/CodeSystem/BRCID10",
                                     "code": "K999"}]}}
    path = tmp_path / "lote.json"
    path.write_text(json.dumps(_bundle([patient, bad_patient, encounter, dangling,
                                        missing_status, bad_code])), encoding="utf-8")
    with Lake(tmp_path / "lago") as lake:
        [outcome] = ingest(lake, [path], pack)
        assert outcome.status == "carregado"
        assert outcome.batch is not None
        assert outcome.batch["rows_read"] == 6
        # p2's bad CNS quarantines the identifier only: p2 is accepted, without a CNS
        assert outcome.batch["rows_quarantined"] == 3
        assert outcome.batch["rows_accepted"] == 3
        reasons = {(q["source_row"], q["field"]): q["reason"] for q in lake.quarantine()}
        encounters = lake.run("SELECT encounter_id, patient_key FROM encounters")
        people = lake.run("SELECT record_key, name, cns FROM identity_records")
    assert reasons[(2, "Patient.identifier[0].value")].startswith("CNS inválido")
    assert "não resolvida" in reasons[(4, "Encounter.subject.reference")]
    assert "obrigatório" in reasons[(5, "Encounter.status")]
    assert "CID-10 desconhecido" in reasons[(6, "Condition.code.coding[0].code")]
    assert "recurso mantido" in reasons[(2, "Patient.identifier[0].value")]
    assert encounters == [("e1", "p1")]
    assert sorted(people) == [("p1", "MARIA DA SILVA", "123456789010000"),
                              ("p2", "MARIA DA SILVA", None)]


def test_a_bad_cpf_quarantines_the_identifier_and_keeps_the_person(
        pack: ReferencePack, tmp_path: Path) -> None:
    city = next(iter(pack.municipalities))
    patient = {"resourceType": "Patient", "id": "p9", "identifier": [
        {"system": "http://rnds.saude.gov.br/fhir/r4/NamingSystem/cpf",
         "value": "11144477736"},  # the wrong check digits of 111.444.777-35
        {"system": "http://rnds.saude.gov.br/fhir/r4/NamingSystem/cns",
         "value": "123456789010000"}], "name": [{"text": "JOAO SOUZA"}],
        "gender": "male", "birthDate": "1950-01-02", "address": [{"city": city}]}
    encounter = {"resourceType": "Encounter", "id": "e9", "status": "finished",
                 "class": {"code": "AMB"}, "subject": {"reference": "Patient/p9"},
                 "period": {"start": "2023-03-01"}}
    path = tmp_path / "lote.json"
    path.write_text(json.dumps(_bundle([patient, encounter])), encoding="utf-8")
    with Lake(tmp_path / "lago") as lake:
        [outcome] = ingest(lake, [path], pack)
        assert outcome.batch is not None
        batch = outcome.batch
        quarantine = lake.quarantine()
        people = lake.run("SELECT record_key, cpf, cns, residence_municipality "
                          "FROM identity_records")
        encounters = lake.run("SELECT encounter_id, patient_key FROM encounters")
    # read 2 = accepted 2 + quarantined 0 (rows); the CPF is one field in quarantine
    assert (batch["rows_read"], batch["rows_accepted"], batch["rows_quarantined"]) == (2, 2, 0)
    assert [(q["source_row"], q["field"]) for q in quarantine] == [
        (1, "Patient.identifier[0].value")]
    assert quarantine[0]["reason"].startswith("CPF inválido")
    assert "11144477736" not in str(quarantine)  # the bad number itself is not kept
    assert people == [("p9", None, "123456789010000", city)]
    assert encounters == [("e9", "p9")]


def test_export_parquet_is_partitioned_and_leaves_personal_data_out(
        state: Path, pack: ReferencePack, tmp_path: Path) -> None:
    lake_path = tmp_path / "lago"
    with Lake(lake_path) as lake:
        ingest(lake, [state / "SIH", state / "SIM", state / "FHIR" / "ndjson"], pack)
    out = tmp_path / "parquet"
    result = CliRunner().invoke(cli, ["export", "parquet", str(out), "--lake", str(lake_path)])
    assert result.exit_code == 0, result.output
    assert (out / "hospitalisations" / "source_system=SIH" / "ano=2023").is_dir()
    assert not (out / "identity_records").exists()
    dataset = ds.dataset(out / "hospitalisations", format="parquet", partitioning="hive")
    with Lake(lake_path, read_only=True) as lake:
        assert dataset.count_rows() == lake.counts()["hospitalisations"]
    columns = set(pq.read_schema(next((out / "deaths").rglob("*.parquet"))).names)
    assert not columns & {"name", "mother_name", "cns", "cpf", "address"}



def test_a_lake_and_an_export_in_a_folder_with_a_quote_in_its_name_work_end_to_end(
        state: Path, pack: ReferencePack, tmp_path: Path) -> None:
    """Paths reach DuckDB as rendered literals: an apostrophe in a folder name is data."""
    folder = tmp_path / "Pingo d'Água"
    lake_path = folder / "lago"
    with Lake(lake_path) as lake:
        outcomes = ingest(lake, [state / "SIH", state / "SIM", state / "PNI"], pack)
    assert {o.status for o in outcomes} == {"carregado"}
    out = folder / "export"
    result = CliRunner().invoke(cli, ["export", "parquet", str(out), "--lake", str(lake_path)])
    assert result.exit_code == 0, result.output
    with Lake(lake_path, read_only=True) as lake:
        counts = {name: rows for name, rows in lake.counts().items() if rows}
    assert {"hospitalisations", "deaths", "immunisations"} <= set(counts)
    exported = {d.name: ds.dataset(d, format="parquet", partitioning="hive").count_rows()
                for d in out.iterdir()}
    assert exported == {name: rows for name, rows in counts.items()
                        if name not in PROTECTED}


def test_cli_batches_and_quarantine(state: Path, tmp_path: Path,
                                    reference_dir: Path) -> None:
    lake_path = tmp_path / "lago"
    pni = tmp_path / "pni"
    shutil.copytree(state / "PNI", pni)
    runner = CliRunner()
    result = runner.invoke(cli, ["--reference-dir", str(reference_dir), "ingest", str(pni),
                                 "--lake", str(lake_path)])
    assert result.exit_code == 0, result.output
    batches = json.loads(runner.invoke(cli, ["batches", "--lake", str(lake_path),
                                             "--json"]).output)
    assert batches and all(b["rows_read"] == b["rows_accepted"] + b["rows_quarantined"]
                           for b in batches)
    shown = runner.invoke(cli, ["quarantine", "--lake", str(lake_path), "--json"])
    assert shown.exit_code == 0
    if any(b["rows_quarantined"] for b in batches):
        reasons = {r["reason"] for r in json.loads(shown.output)["motivos"]}
        assert any(r.startswith("nascimento posterior à vacinação") for r in reasons)


def test_a_birth_after_the_dose_leaves_the_identity_too(pack: ReferencePack,
                                                         tmp_path: Path) -> None:
    """The dose is kept for coverage without the impossible birth date, and the person's
    identity for linkage goes without it too (a date that cannot be must not match)."""
    path = tmp_path / "vacinacao_MG_2023.csv"
    header = ("id_documento;co_paciente;dt_vacina;co_vacina;sg_vacina;co_dose_vacina;"
              "ds_dose_vacina;dt_nascimento_paciente;nu_idade_paciente;tp_sexo_paciente;"
              "co_raca_cor_paciente;co_municipio_paciente;co_municipio_estabelecimento;"
              "co_cnes_estabelecimento;no_paciente;nu_cns_paciente")
    rows = ["d1;p1;2023-05-10;42;PENTA;1;1ª Dose;2023-03-01;0;F;01;310620;310620;"
            "0027014;ANA SOUZA;",
            "d2;p2;2023-05-10;42;PENTA;1;1ª Dose;2023-08-01;0;M;01;310620;310620;"
            "0027014;JOAO LIMA;"]
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    with Lake(tmp_path / "lago") as lake:
        ingest(lake, [path], pack)
        doses = dict(lake.run("SELECT record_id, birth_date FROM immunisations"))
        born = dict(lake.run("SELECT record_key, birth_date FROM identity_records"))
    assert set(doses) == {"d1", "d2"} and doses["d2"] is None
    assert born["d1"] is not None and born["d2"] is None


def test_quarantine_of_the_synthetic_state_is_exactly_its_deliberate_errors(
        state: Path, pack: ReferencePack, tmp_path: Path) -> None:
    truth = pq.read_table(state / "verdade" / "registros.parquet").to_pylist()
    flags = {(Path(t["file"]).name, t["record"]): t for t in truth}
    in_order: dict[str, list[dict[str, Any]]] = {}
    for t in truth:
        in_order.setdefault(Path(t["file"]).name, []).append(t)
    with Lake(tmp_path / "lago") as lake:
        ingest(lake, [state], pack)
        rows = lake.run("""
            SELECT q.source_file, q.source_row, q.field, q.value, b.system
            FROM quarantine q JOIN batches b USING (batch_id)""")
        pni_keys = {(r[0], r[1]): r[2] for r in lake.run(
            "SELECT source_file, source_row, record_key FROM identity_records "
            "WHERE source_system = 'PNI'")}
    assert rows
    for file, row, field_name, value, system in rows:
        if system == "FHIR":
            assert field_name.startswith("Patient.identifier"), (file, field_name)
            truth_row = flags[(file, value)]
            assert "corrompido" in (truth_row["cns_status"], truth_row["cpf_status"])
        else:
            assert system == "PNI" and field_name == "dt_nascimento_paciente"
            assert (file, row) in pni_keys  # a field quarantine: the dose is kept
            truth_row = in_order[file][row - 1]  # PNI truth rows follow the file's rows
            assert truth_row["birth_date_swapped"] or truth_row["birth_year_typo"]


def test_a_large_file_that_breaks_midway_is_rolled_back(state: Path, pack: ReferencePack,
                                                        tmp_path: Path) -> None:
    lake_path = tmp_path / "lago"
    with Lake(lake_path) as lake:
        ingest(lake, [state / "SIM"], pack)
    before = _snapshot(lake_path)
    big = _big_sih_dbf(state, tmp_path / "RDMG2306.dbf")
    data = big.read_bytes()
    big.write_bytes(data[: int(len(data) * 0.7)])  # header promises more records
    with Lake(lake_path) as lake:
        [outcome] = ingest(lake, [big], pack, batch_rows=1000)
    assert outcome.status == "erro" and "RDMG2306.dbf" in (outcome.error or "")
    assert _snapshot(lake_path) == before


def test_a_referral_report_refuses_bad_rows_one_by_one(pack: ReferencePack,
                                                       tmp_path: Path) -> None:
    header = ("id_solicitacao;consorcio;municipio_solicitante;cnes_prestador;cns_paciente;"
              "cpf_paciente;nome_paciente;nome_mae;data_nascimento;sexo;tipo_servico;"
              "especialidade;procedimento_sigtap;data_solicitacao;data_agendamento;"
              "data_realizacao;situacao;data_cancelamento;data_diagnostico;cid10;passageiros")
    rows = [
        "A-1;CISMARG;3106200;1234567;;;JOSE DA SILVA;MARIA DA SILVA;01/02/1960;M;consulta;"
        "cardiologia;0301010072;10/01/2023;20/01/2023;15/02/2023;realizado;;;;0",
        "A-2;CISMARG;3199998;1234567;;;ANA SOUZA;RITA SOUZA;03/04/1970;F;exame;"
        "tomografia;0206010079;11/01/2023;;;solicitado;;;;0",
        "A-3;CISMARG;3106200;1234567;;;PEDRO LIMA;LUCIA LIMA;05/06/1980;M;cirurgia;"
        "catarata;0405050372;31/02/2023;;;solicitado;;;;0",
        "A-4;CISMARG;3106200;1234567;;;JOAO REIS;CLARA REIS;07/08/1990;M;exame;"
        "ultrassonografia;0205020046;10/03/2023;;05/03/2023;realizado;;;;0",
    ]
    path = tmp_path / "relatorio.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    with Lake(tmp_path / "lago") as lake:
        [outcome] = ingest(lake, [path], pack)
        reasons: dict[tuple[int, str], list[str]] = {}
        for q in lake.quarantine():   # a field may have more than one reason
            reasons.setdefault((q["source_row"], q["field"]), []).append(q["reason"])
        landed = lake.run("SELECT referral_id, requesting_municipality, performed_date "
                          "FROM referrals")
        people = lake.run("SELECT record_key, name FROM identity_records")
    assert outcome.status == "carregado" and outcome.batch is not None
    assert outcome.batch["system"] == "CONSORCIO"
    assert (outcome.batch["rows_read"], outcome.batch["rows_quarantined"]) == (4, 3)
    assert reasons[(2, "municipio_solicitante")] == ["município desconhecido"]
    assert any(r.startswith("data inválida") for r in reasons[(3, "data_solicitacao")])
    assert reasons[(4, "data_realizacao")] == ["data anterior à solicitação"]
    assert [r[:2] for r in landed] == [("A-1", "3106200")]
    assert people == [("A-1", "JOSE DA SILVA")]


def test_readers_never_wait_for_a_writer_and_writers_take_turns(tmp_path: Path) -> None:
    """A writer holds the lake (an open transaction, in another process): this process
    still reads the last committed snapshot at once; a second writer waits for the first
    and then writes."""
    lake_path = tmp_path / "lago"
    with Lake(lake_path) as lake:
        first = lake.snapshot_id()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; "
         "from rmds.lake.store import Lake; lake = Lake(Path(sys.argv[1])); "
         "lake.run('BEGIN TRANSACTION'); "
         "lake.run(\"INSERT INTO lake_meta VALUES ('teste', 'escrevendo')\"); "
         "print('pronto', flush=True); sys.stdin.readline(); lake.commit('teste'); "
         "lake.close()", str(lake_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "pronto"
        with Lake(lake_path, read_only=True) as lake:   # no wait, the committed state
            assert lake.snapshot_id() == first
            assert lake.scalar("SELECT count(*) FROM lake_meta WHERE key = 'teste'") == 0
        waited: list[int] = []

        def second_writer() -> None:
            with Lake(lake_path) as lake:
                waited.append(lake.snapshot_id())

        import threading

        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join(timeout=2)
        assert thread.is_alive() and not waited, "the second writer waits for the first"
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        thread.join(timeout=60)
        assert waited == [first + 1]                     # it saw the first one's commit
    finally:
        holder.kill()
        holder.wait()
    with Lake(lake_path, read_only=True) as lake:
        assert lake.scalar("SELECT value FROM lake_meta WHERE key = 'teste'") == "escrevendo"
        assert [s.message for s in lake.snapshots()][-1] == "teste"


def _contents(lake_path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table except the batch registry's timings, sorted."""
    with Lake(lake_path, read_only=True) as lake:
        out = {name: sorted(lake.run(f'SELECT * EXCLUDE (batch_id) FROM "{name}"'), key=repr)
               for name in (*lake.counts(), "quarantine")}
        out["batches"] = sorted(lake.run(
            "SELECT file_name, rows_read, rows_accepted, rows_quarantined, identity_rows "
            "FROM batches"))
    return out


def test_ndjson_converted_in_worker_processes_lands_what_one_process_lands(
        state: Path, pack: ReferencePack, tmp_path: Path) -> None:
    """Large NDJSON files are validated and mapped on worker processes, in blocks: the lake
    holds exactly what converting in this process gives, quarantine and line numbers
    included (blank lines, a line that is not JSON, an invalid resource)."""
    folder = tmp_path / "ndjson"
    shutil.copytree(state / "FHIR" / "ndjson", folder)
    patient = (folder / "Patient.ndjson").read_bytes().splitlines(keepends=True)
    broken = [*patient[:3], b"\n", b"{isto nao e json\n", b'{"resourceType": "Patient", '
              b'"id": "x", "birthDate": "1980-02-30"}\n', b"\n", *patient[3:]]
    (folder / "Patient.ndjson").write_bytes(b"".join(broken))
    lakes = {}
    for name, process_bytes in (("processos", 0), ("um", None)):
        lakes[name] = tmp_path / f"{name}"
        with Lake(lakes[name]) as lake:
            outcomes = ingest(lake, [folder], pack, process_bytes=process_bytes)
        assert {o.status for o in outcomes} == {"carregado"}
    in_processes, in_one = _contents(lakes["processos"]), _contents(lakes["um"])
    assert in_processes == in_one
    reasons = {(row, field) for _, row, _, field, _, _ in in_one["quarantine"]
               if isinstance(row, int) and row <= 7}
    assert {(5, "(linha)"), (6, "Patient.birthDate")} <= reasons
    assert sum(len(rows) for name, rows in in_one.items() if name != "batches") > 100


def test_a_worker_process_that_fails_fails_its_file_only(
        state: Path, pack_copy: Path, tmp_path: Path) -> None:
    """A worker that cannot start (here: the reference pack vanished after the command
    loaded it) fails the file it was given, with a message naming it; the lake keeps
    nothing of that file and the other files land."""
    pack = ReferencePack(pack_copy)
    _ = pack.ibge6_to_7_table(), pack.cid10, pack.sigtap  # loaded before it vanishes
    shutil.rmtree(pack_copy)
    ndjson = state / "FHIR" / "ndjson" / "Patient.ndjson"
    lake_path = tmp_path / "lago"
    with Lake(lake_path) as lake:
        outcomes = ingest(lake, [state / "SIM", ndjson], pack, process_bytes=0)
    assert [o.status for o in outcomes] == ["carregado", "erro"]
    assert "Patient.ndjson" in (outcomes[1].error or "")
    assert "processo auxiliar" in (outcomes[1].error or "")
    with Lake(lake_path, read_only=True) as lake:
        assert [b["file_name"] for b in lake.batches()] == ["DOMG2023.dbc"]
        assert lake.counts()["identity_records"] == lake.scalar(
            "SELECT count(*) FROM identity_records WHERE source_system = 'SIM'")
