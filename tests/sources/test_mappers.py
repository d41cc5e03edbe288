from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from rmds.sources.mapping import MapContext, MapResult
from rmds.systems.registry import SYSTEMS, map_file, open_source
from rmds.territory import ReferencePack


@pytest.fixture(scope="module")
def known(pack: ReferencePack) -> dict[str, str]:
    return pack.ibge6_to_7_table()


def run(system: str, rows: list[dict[str, str]], known: dict[str, str]) -> MapResult:
    columns = sorted({k for r in rows for k in r})
    table = pa.table({c: [r.get(c, "") for r in rows] for c in columns})
    context = MapContext(table, pa.array(range(1, len(rows) + 1)), "hand.csv", system, "x")
    result = SYSTEMS[system].mapper(context, known)
    assert result.reconciles()
    return result


@pytest.mark.parametrize(("name", "system", "table"), [
    ("sim_do_sample.csv", "SIM", "deaths"), ("sinasc_sample.csv", "SINASC", "births"),
    ("sih_rd_sample.csv", "SIH", "hospitalisations"),
    ("sih_rd_rs_aih100.csv", "SIH", "hospitalisations"),
    ("sia_pa_sample.csv", "SIA", "outpatient_production"),
    ("cnes_st_sample.csv", "CNES", "facilities"),
])
def test_real_samples_map_completely(samples_dir: Path, known: dict[str, str], name: str,
                                     system: str, table: str) -> None:
    with open_source(samples_dir / name) as source:
        assert source.system == system
        results = [r for r, _ in map_file(source, known)]
    assert sum(r.rows_in for r in results) == 100
    assert all(r.reconciles() for r in results)
    assert sum(r.accepted.num_rows for r in results) == 100, results[0].quarantine.to_pylist()
    assert results[0].table == table


def test_sim_real_row_values(samples_dir: Path, known: dict[str, str]) -> None:
    with open_source(samples_dir / "sim_do_sample.csv") as source:
        result = next(r for r, _ in map_file(source, known))
    first = result.accepted.to_pylist()[0]
    # CSV row 1: DTOBITO 01012016, DTNASC 04111988, IDADE 427, SEXO 1, RACACOR 4,
    # CODMUNRES 120020, CAUSABAS V239
    assert first["death_date"] == dt.date(2016, 1, 1)
    assert first["birth_date"] == dt.date(1988, 11, 4)
    assert (first["age_years"], first["age_unit"]) == (27, "ano")
    assert (first["sex"], first["race_colour"]) == ("M", 4)
    assert first["residence_municipality"] == "1200203"
    assert first["underlying_cause"] == "V239"
    infants = [r for r in result.accepted.to_pylist() if r["age_years"] == 0]
    # IDADE 204 died 4 days after birth: unit 2 = days, checked against the dates
    assert any(r["age_unit"] == "dia" and r["age_days"] == 4 for r in infants)


@pytest.mark.parametrize(("code", "unit", "years", "days"), [
    ("030", "minuto", 0, 0), ("105", "hora", 0, 0), ("212", "dia", 0, 12),
    ("306", "mes", 0, 180), ("465", "ano", 65, None), ("502", "ano", 102, None),
])
def test_sim_coded_ages(known: dict[str, str], code: str, unit: str, years: int,
                        days: int | None) -> None:
    result = run("SIM", [{"DTOBITO": "01022024", "IDADE": code, "CODMUNRES": "310620"}], known)
    row = result.accepted.to_pylist()[0]
    assert (row["age_unit"], row["age_years"], row["age_days"]) == (unit, years, days)


def test_sim_bad_and_ignored_values(known: dict[str, str]) -> None:
    result = run("SIM", [
        {"DTOBITO": "01022024", "IDADE": "999", "CODMUNRES": "310000", "DTNASC": ""},
        {"DTOBITO": "01022024", "IDADE": "7xx", "CODMUNRES": "310620"},
        {"DTOBITO": "", "IDADE": "430", "CODMUNRES": "310620"},
        {"DTOBITO": "01022024", "IDADE": "430", "CODMUNRES": "999998"},
        {"DTOBITO": "01022024", "IDADE": "430", "CODMUNRES": "3106200", "CAUSABAS": "R99X"},
        {"DTOBITO": "01022024", "IDADE": "290", "CODMUNRES": "310620"},
        {"DTOBITO": "01022024", "IDADE": "430", "CODMUNRES": "310620", "CAUSABAS": "12"},
    ], known)
    accepted = result.accepted.to_pylist()
    assert [r["source_row"] for r in accepted] == [1, 5]
    ignored = accepted[0]
    assert ignored["age_years"] is None and ignored["residence_municipality"] is None
    assert ignored["birth_date"] is None
    assert accepted[1]["residence_municipality"] == "3106200"
    assert accepted[1]["underlying_cause"] == "R99"
    reasons = {(q["source_row"], q["field"]) for q in result.quarantine.to_pylist()}
    assert reasons == {(2, "IDADE"), (3, "DTOBITO"), (4, "CODMUNRES"), (6, "IDADE"),
                       (7, "CAUSABAS")}


def test_sih_age_sex_and_dates(known: dict[str, str]) -> None:
    base = {"DT_INTER": "20240110", "DT_SAIDA": "20240115", "NASC": "20231221",
            "MUNIC_RES": "310620", "MUNIC_MOV": "317020", "VAL_TOT": "1234,56"}
    result = run("SIH", [
        {**base, "COD_IDADE": "2", "IDADE": "20", "SEXO": "3"},
        {**base, "COD_IDADE": "5", "IDADE": "01", "SEXO": "1", "NASC": "19231120"},
        {**base, "COD_IDADE": "4", "IDADE": "40", "SEXO": "2", "DT_SAIDA": "20240101"},
    ], known)
    rows = result.accepted.to_pylist()
    assert len(rows) == 2
    assert (rows[0]["sex"], rows[0]["age_unit"], rows[0]["age_days"]) == ("F", "dia", 20)
    assert rows[0]["total_value"] == 1234.56
    assert rows[0]["facility_municipality"] == "3170206"
    assert rows[1]["age_years"] == 101
    assert result.quarantine.to_pylist()[0]["reason"] == "saída anterior à internação"
    too_old = run("SIH", [{**base, "COD_IDADE": "2", "IDADE": "51"}], known)
    assert too_old.quarantine.to_pylist()[0]["reason"] == "quantidade fora do limite da unidade"


def test_sinasc_and_pni_hand_rows(known: dict[str, str]) -> None:
    births = run("SINASC", [
        {"DTNASC": "15032023", "SEXO": "2", "PESO": "2400", "CONSPRENAT": "8",
         "PARTO": "2", "IDADEMAE": "17", "CODMUNRES": "310620"},
        {"DTNASC": "15032023", "PARTO": "7", "CODMUNRES": "310620"},
    ], known)
    row = births.accepted.to_pylist()[0]
    assert (row["delivery_type"], row["mother_age"], row["prenatal_visits"]) == (
        "cesareo", 17, 8)
    assert births.quarantine.to_pylist()[0]["field"] == "PARTO"
    doses = run("PNI", [
        {"co_paciente": "abc", "dt_vacina": "2024-03-01", "co_vacina": "42",
         "dt_nascimento_paciente": "2023-03-01", "co_municipio_paciente": "310620",
         "tp_sexo_paciente": "F", "ds_dose_vacina": "1ª Dose"},
        {"co_paciente": "def", "dt_vacina": "2024-03-01", "co_vacina": "42",
         "dt_nascimento_paciente": "2025-01-01"},
    ], known)
    # a birth date after the dose quarantines the birth date only: both doses are kept,
    # the second without a birth date, and rows in = accepted + quarantined (2 = 2 + 0)
    assert doses.accepted.num_rows == 2 and doses.rows_quarantined == 0
    assert doses.fields_quarantined == 1 and doses.reconciles()
    kept = doses.accepted.to_pylist()
    assert kept[0]["residence_municipality"] == "3106200"
    assert kept[0]["birth_date"] == dt.date(2023, 3, 1)
    assert (kept[1]["patient_key"], kept[1]["birth_date"]) == ("def", None)
    assert kept[1]["vaccination_date"] == dt.date(2024, 3, 1)
    [entry] = doses.quarantine.to_pylist()
    assert (entry["source_row"], entry["field"], entry["value"]) == (
        2, "dt_nascimento_paciente", "2025-01-01")
    assert entry["reason"].startswith("nascimento posterior à vacinação")
    assert "dose mantida" in entry["reason"]


def test_pni_codes_written_as_floats_are_read_as_codes(known: dict[str, str]) -> None:
    """The OpenDataSUS vaccination CSVs of 2020–2024 carry codes as floats: 310620.0 for
    the municipality, 12345.0 for a CNES whose leading zeros were lost. They are the
    same codes, not unknown ones: the dose keeps its residence and facility."""
    doses = run("PNI", [
        {"co_paciente": "abc", "dt_vacina": "2024-03-01", "co_vacina": "42.0",
         "co_dose_vacina": "1.0", "nu_idade_paciente": "1.0",
         "co_municipio_paciente": "310620.0", "co_municipio_estabelecimento": "310620",
         "co_cnes_estabelecimento": "12345.0", "co_raca_cor_paciente": "1.0"},
        {"co_paciente": "def", "dt_vacina": "2024-03-01", "co_vacina": "42",
         "co_municipio_paciente": "3106.5", "co_cnes_estabelecimento": "2001586"},
    ], known)
    [first] = doses.accepted.to_pylist()
    assert (first["vaccine_code"], first["dose_code"], first["age_years"]) == ("42", "1", 1)
    assert first["residence_municipality"] == "3106200"
    assert first["facility_cnes"] == "0012345"
    assert first["race_colour"] is not None
    # a fraction is not a float artefact: still an unknown municipality
    assert [e["field"] for e in doses.quarantine.to_pylist()] == ["co_municipio_paciente"]
    assert doses.reconciles()
