"""Every indicator of the catalog against a small hand-built lake, worked out by hand.

The lake holds 2023 events of residents of Alfenas (A), Alterosa (B, same health region) and
Uberlândia (C, another macro-region); a population file gives A 100 people in every
five-year group of each sex (3,400 in all; 1,600 aged 30–69; 2,600 aged 20 or more),
B 50 per group and C 200 per group. Each case below says how its answer is counted.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import pytest

from rmds.indicators.catalog import load_catalog
from rmds.indicators.compute import ComputeResult, compute
from rmds.indicators.mart import export, values
from rmds.lake.store import Lake
from rmds.territory import ReferencePack
from tests.indicators.helpers import (
    ALFENAS,
    ALPINOPOLIS,
    ALTEROSA,
    BH,
    UBERLANDIA,
    d,
    insert,
    write_population,
)

A, B, C = ALFENAS, ALTEROSA, UBERLANDIA


def _births() -> list[dict[str, Any]]:
    base = {"residence_municipality": A, "birth_weight_g": 3200, "gestational_weeks": 39,
            "prenatal_visits": 8, "delivery_type": "vaginal", "mother_age": 25}
    dates = ["2023-01-10"] * 4 + ["2023-04-05"] * 3 + ["2023-07-01"] * 3
    rows = [{**base, "record_id": f"A{i + 1}", "birth_date": d(day)}
            for i, day in enumerate(dates)]
    # b7 3 visits; b8 unknown visits but band 4 (7+); b9 unknown; b10 exactly 7
    rows[6]["prenatal_visits"] = 3
    rows[7].update(prenatal_visits=None, prenatal_band="4")
    rows[8].update(prenatal_visits=None, prenatal_band=None)
    rows[9]["prenatal_visits"] = 7
    # weights: 2,400 and 2,499 are low, 2,500 is not; b10 has no weight
    rows[0]["birth_weight_g"], rows[1]["birth_weight_g"] = 2400, 2499
    rows[2]["birth_weight_g"], rows[9]["birth_weight_g"] = 2500, None
    # gestation: 36 and 30 weeks preterm; b3 unknown weeks but band 4 (32–36) preterm;
    # b4 unknown weeks and band (out of the denominator)
    rows[0]["gestational_weeks"], rows[1]["gestational_weeks"] = 36, 30
    rows[2].update(gestational_weeks=None, gestation_band="4")
    rows[3].update(gestational_weeks=None, gestation_band=None)
    for row in rows[:4]:
        row["delivery_type"] = "cesareo"
    rows[0]["mother_age"], rows[1]["mother_age"] = 15, 19
    rows[2]["mother_age"], rows[3]["mother_age"] = 20, 10
    rows += [{**base, "record_id": f"B{i}", "residence_municipality": B,
              "birth_date": d("2023-02-01")} for i in range(5)]
    # 20 births of 2022 in Alfenas: the target of the vaccines for 1-year-olds in 2023
    rows += [{**base, "record_id": f"A2022-{i}", "birth_date": d("2022-06-01")}
             for i in range(20)]
    return rows


def _deaths() -> list[dict[str, Any]]:
    def death(day: str, **kw: Any) -> dict[str, Any]:
        return {"residence_municipality": A, "death_date": d(day), "death_type": "nao_fetal",
                **kw}

    return [
        death("2023-01-20", age_years=0, age_days=3, sex="M", underlying_cause="P070"),
        death("2023-02-01", age_years=0, age_days=10, sex="F", underlying_cause="P369"),
        death("2023-05-03", age_years=0, age_days=100, sex="M", underlying_cause="J189"),
        death("2023-06-01", death_type="fetal", underlying_cause="P964"),
        death("2023-08-08", age_years=30, sex="F", underlying_cause="O15"),    # maternal
        death("2023-08-08", age_years=35, sex="F", underlying_cause="O96"),    # late: not
        death("2023-08-08", age_years=50, sex="M", underlying_cause="I219"),   # NCD 30–69
        death("2023-08-08", age_years=70, sex="M", underlying_cause="C349"),   # NCD, 70
        death("2023-08-08", age_years=45, sex="F", underlying_cause="R99"),    # ill-defined
        death("2023-08-08", age_years=60, sex="M", underlying_cause="J440"),   # NCD 30–69
        death("2023-08-08", age_years=40, sex="M", underlying_cause="E149"),   # NCD 30–69
        death("2023-08-08", age_years=29, sex="F", underlying_cause="C509"),   # NCD, 29
        # HIV in pregnancy is maternal (Ministry's manual); HIV outside pregnancy is not
        death("2023-09-09", age_years=28, sex="F", underlying_cause="B208",
              maternal_timing="gravidez"),
        death("2023-09-09", age_years=33, sex="F", underlying_cause="B24",
              maternal_timing="nao"),
        death("2023-09-09", age_years=55, sex="M", underlying_cause="J36"),    # not NCD
    ]


def _hospitalisations() -> list[dict[str, Any]]:
    def aih(n: int, diagnosis: str, facility: str, residence: str = A, **kw: Any
            ) -> dict[str, Any]:
        return {"aih_number": f"{n}", "residence_municipality": residence,
                "facility_municipality": facility, "admission_date": d("2023-03-15"),
                "main_diagnosis": diagnosis, "admission_character": "02", "died": False,
                "age_years": 60, "length_of_stay": 5, **kw}

    surgery = "0407020039"
    return [
        aih(1, "I10", A),                                                   # ICSAP
        aih(2, "E149", A),                                                  # ICSAP
        aih(3, "K359", BH, procedure_performed=surgery),                    # urgent, away
        aih(4, "S720", B, admission_character="01",
            procedure_performed="0408050632"),                              # elective, in B
        aih(5, "O800", A),                                                  # childbirth
        aih(6, "I219", BH, died=True),                                      # AMI, died
        aih(7, "I219", A),                                                  # AMI
        aih(8, "I64", A),                                                   # stroke, ICSAP
        aih(9, "I639", A, died=True),                                       # stroke, ICSAP
        aih(10, "K359", A, admission_character="01", procedure_performed=surgery),
        aih(11, "I10", A, residence=B),
        aih(12, "S720", C, residence=C, admission_character="01",
            procedure_performed="0408050632"),
        aih(13, "K359", ALPINOPOLIS),                                       # other region
        # the continuation AIH (IDENT 5) of a long stay in Belo Horizonte: the same
        # admission again, counted by no admission indicator
        aih(14, "I10", BH, aih_type="5"),
        # AMI deaths in Alfenas of Uberlândia residents outside PROADESS's B20: under 45,
        # and a stay over 30 days
        aih(15, "I219", A, residence=C, died=True, age_years=40),
        aih(16, "I219", A, residence=C, died=True, length_of_stay=35),
        # the bare category A17: ICSAP, since Portaria 221 lists A17.0 and A17.1–A17.9
        aih(17, "A17", A),
        # a urinary infection (ICSAP) in an admission for a caesarean section: an obstetric
        # procedure, out of both ICSAP indicators (csapAIH), still an admission
        aih(18, "N390", A, procedure_performed="0411010034"),
    ]


def _immunisations() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    acronyms = {"15": "BCG", "42": "PENTA", "43": "HEXA", "22": "VIP", "28": "VOP",
                "26": "VPC10", "59": "VPC13", "14": "VFA", "24": "SCR", "56": "SCRV",
                "45": "ROTA", "41": "MenC"}

    def doses(code: str, dose: str, age: int, count: int) -> None:
        # BRImunobiologico vaccine codes and BRDose dose codes, as SI-PNI writes them
        for _ in range(count):
            rows.append({"record_id": f"v{len(rows)}", "vaccine_code": code,
                         "vaccine_acronym": acronyms[code], "dose_code": dose,
                         "age_years": age, "residence_municipality": A,
                         "vaccination_date": d("2023-06-01"), "source_system": "PNI"})

    doses("15", "9", 0, 3)         # BCG single dose
    doses("15", "9", 1, 1)         # out of the target age
    doses("42", "3", 0, 4)         # pentavalent D3
    doses("42", "2", 0, 2)         # not the scheme's last dose
    doses("43", "3", 0, 2)         # hexavalent D3: pentavalent and polio D3 both
    doses("43", "2", 0, 1)         # hexavalent D2: neither
    doses("22", "3", 0, 5)         # VIP D3
    doses("28", "3", 0, 1)         # VOP D3 (sequential scheme): polio only
    doses("26", "2", 0, 6)         # pneumococcal 10-valent D2
    doses("59", "2", 0, 2)         # 13-valent D2 counts with it
    doses("26", "6", 1, 2)         # 10-valent first booster (BRDose 6)
    doses("59", "6", 1, 1)         # 13-valent first booster
    doses("14", "1", 0, 7)         # yellow fever D1 at 9 months
    doses("14", "9", 0, 2)         # ... or recorded as a single dose
    doses("14", "1", 1, 1)         # out of the target age
    doses("24", "1", 1, 8)
    doses("24", "1", 0, 1)
    doses("24", "2", 1, 9)
    doses("56", "9", 1, 2)         # tetraviral: counts as the second dose of SCR
    doses("56", "1", 1, 1)         # not a single dose: out
    doses("45", "2", 0, 1)
    # meningococcal C only as FHIR Immunization: residence and age come from the Patient
    for patient in ("f1", "f2", "f3"):
        rows.append({"record_id": f"imm-{patient}", "patient_key": patient,
                     "vaccine_code": "41", "vaccine_acronym": "MenC", "dose_code": "2",
                     "source_system": "FHIR", "vaccination_date": d("2023-06-01")})
    # SCR D1 sent as FHIR on the first birthday (365 days after birth): age 1 by the
    # calendar, age 0 by floor(days / 365.25), which would leave it out
    rows.append({"record_id": "imm-f4", "patient_key": "f4", "vaccine_code": "24",
                 "vaccine_acronym": "SCR", "dose_code": "1", "source_system": "FHIR",
                 "vaccination_date": d("2023-06-01")})
    return rows


def _referrals() -> list[dict[str, Any]]:
    def ref(n: str, service: str, status: str, performed: str | None = None,
            diagnosed: str | None = None, passengers: int | None = None) -> dict[str, Any]:
        return {"referral_id": n, "consortium": "CISMARG", "requesting_municipality": A,
                "service_type": service, "status": status,
                "requested_date": d("2023-01-02"),
                "performed_date": d(performed) if performed else None,
                "diagnosis_date": d(diagnosed) if diagnosed else None,
                "passengers": passengers}

    return [
        ref("r1", "consulta", "realizado", "2023-03-10"),
        ref("r2", "exame", "realizado", "2023-04-10"),
        ref("r3", "consulta", "cancelado"),
        ref("r4", "transporte", "realizado", "2023-05-05", passengers=3),
        ref("r5", "transporte", "realizado", "2023-06-06", passengers=2),
        ref("r6", "transporte", "cancelado", passengers=4),
        ref("o1", "oncologia", "realizado", "2023-02-20", "2023-01-10"),   # 41 days
        ref("o2", "oncologia", "realizado", "2023-05-01", "2023-02-01"),   # 89 days
        ref("o3", "oncologia", "solicitado", None, "2023-03-01"),          # still waiting
        ref("o4", "oncologia", "cancelado", None, "2023-03-05"),           # cancelled
        ref("o5", "oncologia", "realizado", "2023-05-31", "2023-04-01"),   # 60 days
    ]


def _notifications() -> list[dict[str, Any]]:
    def notice(n: str, onset: str = "2023-03-01", disease: str = "dengue",
               classification: str | None = "dengue", residence: str = A,
               outcome: str | None = "cura") -> dict[str, Any]:
        return {"record_id": n, "disease": disease, "residence_municipality": residence,
                "symptom_onset_date": d(onset), "notification_date": d(onset),
                "final_classification": classification,
                "probable": classification != "descartado", "outcome": outcome}

    return [
        notice("n1"), notice("n2"), notice("n3"), notice("n4"),
        notice("n5", classification=None),                         # open: still probable
        notice("n6", classification="dengue_grave", outcome="obito_agravo"),
        notice("n7", classification="descartado"),                 # discarded
        notice("n8", disease="chikungunya", classification="chikungunya"),
        notice("n9", onset="2022-12-20"),                          # onset in 2022
        notice("n10", outcome="obito_outras_causas"),              # not a dengue death
        notice("n11", residence=B),
    ]


def _patients() -> list[dict[str, Any]]:
    def patient(key: str, residence: str, born: str = "1960-01-01") -> dict[str, Any]:
        return {"record_key": key, "role": "paciente", "source_system": "FHIR",
                "residence_municipality": residence, "birth_date": d(born)}

    return [patient("f1", A, "2023-01-01"), patient("f2", A, "2023-01-01"),
            patient("f3", B, "2023-01-01"), patient("f4", A, "2022-06-01"), patient("p1", A),
            patient("p2", A),
            patient("p3", A), patient("p4", A), patient("p5", B), patient("p6", A),
            patient("p7", A), patient("p8", A)]


def _primary_care(lake: Lake) -> None:
    insert(lake, "conditions", [
        {"patient_key": "p1", "code": "I10", "onset_date": d("2020-01-01")},
        {"patient_key": "p2", "code": "I10", "onset_date": d("2023-03-01")},
        {"patient_key": "p3", "code": "I10", "onset_date": d("2024-02-01")},
        {"patient_key": "p4", "code": "E119", "onset_date": d("2022-05-05")},
        {"patient_key": "p1", "code": "E11", "onset_date": d("2021-01-01")},
        {"patient_key": "p5", "code": "I10", "onset_date": d("2020-01-01")},
        # e-SUS APS problems in CIAP-2: K86 hypertension, T90 diabetes; CID-10 K86 is a
        # disease of the pancreas, not hypertension
        {"patient_key": "p6", "ciap2_code": "K86", "onset_date": d("2022-01-01")},
        {"patient_key": "p7", "code": "K86", "onset_date": d("2022-01-01")},
        {"patient_key": "p8", "ciap2_code": "T90", "onset_date": d("2023-01-01")},
    ])
    bp, a1c = "8480-6", "4548-4"
    insert(lake, "observations", [
        {"patient_key": "p1", "component_code": bp, "effective_date": d("2023-02-10")},
        {"patient_key": "p1", "component_code": bp, "effective_date": d("2023-08-01")},
        {"patient_key": "p2", "component_code": bp, "effective_date": d("2023-02-15")},
        {"patient_key": "p3", "component_code": bp, "effective_date": d("2023-05-01")},
        {"patient_key": "p4", "component_code": a1c, "effective_date": d("2023-07-07")},
        {"patient_key": "p6", "component_code": bp, "effective_date": d("2023-10-01")},
        {"patient_key": "p7", "component_code": bp, "effective_date": d("2023-10-01")},
        {"patient_key": "p1", "component_code": a1c, "effective_date": d("2023-04-04")},
        {"patient_key": "p8", "component_code": a1c, "effective_date": d("2023-03-01")},
    ])
    insert(lake, "encounters", [
        {"patient_key": "p1", "encounter_class": "AMB", "reason_code": "I10",
         "encounter_date": d("2023-02-10")},
        {"patient_key": "p2", "encounter_class": "AMB", "reason_code": "I10",
         "encounter_date": d("2023-04-01")},
        {"patient_key": "p4", "encounter_class": "AMB", "reason_code": "E11",
         "encounter_date": d("2023-07-07")},
        {"patient_key": "p1", "encounter_class": "AMB", "reason_code": "J45",
         "encounter_date": d("2023-05-05")},
        {"patient_key": "p2", "encounter_class": "EMER", "reason_code": "I10",
         "encounter_date": d("2023-09-09")},
    ])


@pytest.fixture(scope="module")
def lake_path(pack: ReferencePack, tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[Path, ComputeResult]:
    folder = tmp_path_factory.mktemp("indicators")
    population = folder / "populacao.csv"
    write_population(population, {A: 100, B: 50, C: 200})
    path = folder / "lago"
    with Lake(path) as lake:
        insert(lake, "births", _births())
        insert(lake, "deaths", _deaths())
        insert(lake, "hospitalisations", _hospitalisations())
        insert(lake, "immunisations", _immunisations())
        insert(lake, "identity_records", _patients())
        _primary_care(lake)
        insert(lake, "referrals", _referrals())
        insert(lake, "notifications", _notifications())
        result = compute(lake, pack, years=(2022, 2023), population=population, threshold=5)
    return path, result


# (indicator, numerator, denominator, value) for Alfenas in 2023, worked out by hand
CASES: list[tuple[str, float, float | None, float]] = [
    # probable dengue, onset in 2023: n1–n6 and n10 (n7 discarded, n8 chikungunya, n9 of
    # 2022, n11 of Alterosa); one died of dengue (n6), n10 of another cause
    ("dengue_incidencia", 7, 3400, 7 / 3400 * 100_000),
    ("dengue_obitos", 1, None, 1.0),
    ("dengue_letalidade", 1, 7, 1 / 7 * 100),
    # infant deaths: 3, 10 and 100 days old; the fetal death is not counted; 10 births
    ("mortalidade_infantil", 3, 10, 3 / 10 * 1000),
    ("mortalidade_neonatal", 2, 10, 2 / 10 * 1000),          # 3 and 10 days
    ("mortalidade_neonatal_precoce", 1, 10, 1 / 10 * 1000),  # 3 days
    ("mortalidade_pos_neonatal", 1, 10, 1 / 10 * 1000),      # 100 days
    # O15 counts, O96 (late maternal death) does not
    ("razao_mortalidade_materna", 2, 10, 2 / 10 * 100_000),       # and B20 in pregnancy
    # I21 at 50, J44 at 60, E14 at 40; C34 at 70 and C50 at 29 are outside 30–69; J36
    # (peritonsillar abscess) at 55 is not a chronic respiratory disease
    ("mortalidade_prematura_dcnt", 3, 1600, 3 / 1600 * 100_000),
    # the same deaths by age (40–44, 50–54, 60–64; 200 people in each 5-year group),
    # weighted by the WHO standard's 30–69 groups (7610 … 2960 per 100 000, 43 990 in
    # all): (6590 + 5370 + 3720) / 43 990 × 1/200 — below the crude 187.5, since the
    # deaths fall in the groups the standard weighs less
    ("mortalidade_prematura_dcnt_padronizada", 3, 1600, 15680 / 43990 / 200 * 100_000),
    # one R99 among 14 non-fetal deaths
    ("obitos_causa_mal_definida", 1, 14, 1 / 14 * 100),
    # six with 8 visits, one with band 4, one with exactly 7 → 8 of 10
    ("prenatal_7_consultas", 8, 10, 80.0),
    # 2,400 and 2,499 g over all 10 live births (RIPSA), the one without weight included
    ("baixo_peso_ao_nascer", 2, 10, 2 / 10 * 100),
    # 36 and 30 weeks, and band 4; nine births have weeks or band
    ("nascimentos_pre_termo", 3, 9, 3 / 9 * 100),
    ("partos_cesareos", 4, 10, 40.0),
    ("maes_adolescentes", 3, 10, 30.0),                      # mothers of 15, 19 and 10
    ("cobertura_bcg", 3, 10, 30.0),                          # the dose at 1 year is out
    # SI-PNI method: 4 pentavalent D3 + 2 hexavalent D3 (pentavalent alone: 4); D2s are out
    ("cobertura_penta_d3", 6, 10, 60.0),
    # 5 VIP D3 + 1 VOP D3 + 2 hexavalent D3 (VIP alone: 5)
    ("cobertura_polio_d3", 8, 10, 80.0),
    # 6 of the 10-valent + 2 of the 13-valent (10-valent alone: 6)
    ("cobertura_pneumo_d2", 8, 10, 80.0),
    # vaccines for 1-year-olds: over the 20 live births of 2022 (not the 10 of 2023);
    # 2 boosters of the 10-valent + 1 of the 13-valent
    ("cobertura_pneumo_reforco", 3, 20, 15.0),
    # 7 first doses + 2 single doses at 9 months (D1 alone: 7); the dose at 1 year is out
    ("cobertura_febre_amarela", 9, 10, 90.0),
    # the dose under 1 is out; the FHIR dose on the first birthday is in (age 1)
    ("cobertura_triplice_viral_d1", 9, 20, 45.0),
    # 9 SCR D2 + 2 tetraviral single doses (the tetraviral D1 is out)
    ("cobertura_triplice_viral_d2", 11, 20, 55.0),
    ("cobertura_rotavirus_d2", 1, 10, 10.0),
    # two FHIR doses whose Patients live in Alfenas and were born in 2023 (the third
    # Patient lives in Alterosa)
    ("cobertura_meningo_c_d2", 2, 10, 20.0),
    # I10, E14, I64, I63 and the bare A17 among 11 admissions of residents that are not
    # childbirth nor an obstetric procedure (#18 is out of both; before: 5 of 12 counting
    # #18 and not #17)
    ("icsap_proporcao", 5, 11, 5 / 11 * 100),
    ("icsap_taxa", 5, 3400, 5 / 3400 * 10_000),
    # 13 admissions of residents (not the continuation AIH), per 100 inhabitants (RIPSA)
    ("taxa_internacao", 13, 3400, 13 / 3400 * 100),
    # PROADESS B20, by place of occurrence: of the AMI admissions in Alfenas only #7 (no
    # death) is 45+ with a stay up to 30 days; #6 died in Belo Horizonte
    ("letalidade_iam", 0, 1, 0.0),
    ("letalidade_avc", 1, 2, 50.0),
    # two in Belo Horizonte and one in Alpinópolis (same macro-region, other region)
    ("internacao_fora_regiao", 3, 13, 3 / 13 * 100),
    ("internacao_fora_macrorregiao", 2, 13, 2 / 13 * 100),
    # by occurrence: the elective surgery done in Alfenas (the resident's other one was
    # done in Alterosa)
    ("cirurgias_eletivas", 1, None, 1.0),
    ("cirurgias_eletivas_taxa", 2, 3400, 2 / 3400 * 10_000),  # by residence: 2
    # Previne Brasil, the semester ending with the period (July-December 2023 for the
    # year). Hypertensive by the end of 2023: p1, p2 and p6 (CIAP-2 K86); not p3 (onset in
    # 2024) nor p7 (CID-10 K86, the pancreas). Measured in the semester: p1 (August) and p6
    # (October); p2 only in February. Before: 1 of 2 (CID-10 only, the whole year)
    ("aps_hipertensao_pa_aferida", 2, 3, 2 / 3 * 100),
    # diabetic: p4, p1 and p8 (CIAP-2 T90); HbA1c in the semester: p4 (July) only, p1's
    # (April) and p8's (March) are earlier. Before: 2 of 2 (p4 and p1 in the year)
    ("aps_diabetes_hba1c", 1, 3, 1 / 3 * 100),
    # AMB encounters for I10 (2) and E11 (1); J45 and the emergency visit are out
    ("aps_atendimentos_cronicos", 3, 2600, 3 / 2600 * 1000),
    # consortium services done: two consultations/exams, two trips, three oncology starts
    ("consorcio_producao", 7, 3400, 7 / 3400 * 1000),
    # diagnosed: o1 (41 days), o2 (89), o3 (waiting), o5 (60); o4 was cancelled
    ("oncologia_tratamento_60_dias", 2, 4, 50.0),
    ("transporte_viagens", 2, None, 2.0),                    # the cancelled trip is out
    ("transporte_pessoas", 5, None, 5.0),                    # 3 + 2 people
]


def test_every_indicator_has_a_hand_worked_case() -> None:
    assert {c[0] for c in CASES} == set(load_catalog().indicators)
    assert len(CASES) >= 25


@pytest.mark.parametrize(("indicator", "numerator", "denominator", "expected"), CASES,
                         ids=[c[0] for c in CASES])
def test_indicator_by_hand(lake_path: tuple[Path, ComputeResult], indicator: str,
                          numerator: float, denominator: float | None,
                          expected: float) -> None:
    path, _ = lake_path
    with Lake(path, read_only=True) as lake:
        [row] = values(lake.con, indicator, "municipio", "2023", unit_code=A)
    assert row["numerator"] == pytest.approx(numerator)
    if denominator is None:
        assert row["denominator"] is None
    else:
        assert row["denominator"] == pytest.approx(denominator)
    assert row["value"] == pytest.approx(expected)
    assert row["ci_low"] <= row["value"] <= row["ci_high"]


def _one(path: Path, indicator: str, level: str, period: str, unit: str) -> dict[str, Any]:
    with Lake(path, read_only=True) as lake:
        [row] = values(lake.con, indicator, level, period, unit_code=unit)
    return row


def test_rollup_to_region_macro_and_state(lake_path: tuple[Path, ComputeResult]) -> None:
    path, _ = lake_path
    # region 31001 = Alfenas + Alterosa: 15 births, 3 infant deaths
    row = _one(path, "mortalidade_infantil", "regiao", "2023", "31001")
    assert (row["numerator"], row["denominator"]) == (3, 15)
    assert row["value"] == pytest.approx(200.0)
    # admissions: 13 of Alfenas + 1 of Alterosa over 3,400 + 1,700 people
    row = _one(path, "taxa_internacao", "regiao", "2023", "31001")
    assert row["value"] == pytest.approx(14 / 5100 * 100)
    # elective surgeries by occurrence: Alfenas 1 + Alterosa 1; the state adds Uberlândia
    assert _one(path, "cirurgias_eletivas", "regiao", "2023", "31001")["value"] == 2
    assert _one(path, "cirurgias_eletivas", "estado", "2023", "31")["value"] == 3
    assert _one(path, "cirurgias_eletivas", "macrorregiao", "2023", "3113")["value"] == 1
    # the URS of Alfenas covers both; a consortium level exists for every member roster
    assert _one(path, "partos_cesareos", "urs", "2023", "alfenas")["denominator"] == 15


def test_months_and_quarters(lake_path: tuple[Path, ComputeResult]) -> None:
    path, _ = lake_path
    # January: the death at 3 days (20 Jan) over the 4 births of January
    assert _one(path, "mortalidade_infantil", "municipio", "2023-01", A)["value"] == 250.0
    # March holds all admissions; a month is 1/12 of the year's person-years
    row = _one(path, "icsap_taxa", "municipio", "2023-03", A)
    assert row["denominator"] == pytest.approx(3400 / 12)
    assert row["value"] == pytest.approx(5 / (3400 / 12) * 10_000)
    assert _one(path, "icsap_taxa", "municipio", "2023-04", A)["numerator"] == 0
    # vaccine coverage (SI-PNI): a quarter's target is the year's live births ÷ 12 × 3,
    # not the births of the quarter (3 in April); for 1-year-olds, the previous year's
    row = _one(path, "cobertura_bcg", "municipio", "2023-T2", A)
    assert (row["numerator"], row["denominator"]) == (3, pytest.approx(10 / 12 * 3))
    row = _one(path, "cobertura_triplice_viral_d1", "municipio", "2023-06", A)
    assert (row["numerator"], row["denominator"]) == (9, pytest.approx(20 / 12))
    assert row["value"] == pytest.approx(9 / (20 / 12) * 100)
    # first quarter: the semester October 2022-March 2023; p2's diagnosis (1 March) is
    # within it, p6's (CIAP-2) before; p1 measured in February, p2 before the diagnosis
    row = _one(path, "aps_hipertensao_pa_aferida", "municipio", "2023-T1", A)
    assert (row["numerator"], row["denominator"]) == (1, 3)
    # third quarter: April-September; p1 in August, p6's October measurement is later
    row = _one(path, "aps_hipertensao_pa_aferida", "municipio", "2023-T3", A)
    assert row["numerator"] == 1
    # December: July-December, p1 and p6
    assert _one(path, "aps_hipertensao_pa_aferida", "municipio", "2023-12", A
                )["numerator"] == 2


def test_the_regionalisation_of_each_year(lake_path: tuple[Path, ComputeResult]) -> None:
    path, result = lake_path
    with Lake(path, read_only=True) as lake:
        macros = dict(lake.run(
            "SELECT period, count(DISTINCT unit_code) FROM indicator_values "
            "WHERE level = 'macrorregiao' AND period_type = 'ano' GROUP BY 1"))
        vintages = dict(lake.run("SELECT DISTINCT period, vintage FROM indicator_values "
                                 "WHERE period_type = 'ano'"))
    assert macros == {"2022": 14, "2023": 16}
    assert vintages == {"2022": "dtsus_2019_22", "2023": "pdr_atual"}
    # 2022 has no population in the file: the nearest year is used, and said
    assert any("2022" in note and "2023" in note for note in result.notes)


def test_small_numbers_smoothing_and_suppression(lake_path: tuple[Path, ComputeResult],
                                                 tmp_path: Path) -> None:
    path, _ = lake_path
    with Lake(path, read_only=True) as lake:
        restricted = values(lake.con, "mortalidade_infantil", "municipio", "2023")
        public = values(lake.con, "mortalidade_infantil", "municipio", "2023", public=True)
        target = tmp_path / "publico.csv"
        export(lake.con, target, "csv", public=True)
        full = tmp_path / "restrito.csv"
        export(lake.con, full, "csv", public=False)
    alfenas = next(r for r in restricted if r["unit_code"] == A)
    alterosa = next(r for r in restricted if r["unit_code"] == B)
    # 3 deaths is a small cell; 0 deaths is not
    assert alfenas["suppressed"] and not alterosa["suppressed"]
    # pooled rate of the municipalities with births: 3 / 15; Alfenas (300) is pulled
    # towards it, never past it
    pooled = 3 / 15 * 1000
    assert pooled <= alfenas["smoothed"] <= alfenas["value"]
    assert 0 <= alterosa["smoothed"] <= pooled
    public_alfenas = next(r for r in public if r["unit_code"] == A)
    assert public_alfenas["suppressed"]
    assert all(public_alfenas[k] is None for k in (
        "numerator", "denominator", "value", "ci_low", "ci_high", "smoothed"))
    with target.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    hidden = [r for r in rows if r["suppressed"] == "true"]
    assert hidden, "the fixture has small cells"
    assert all(r[k] == "" for r in hidden for k in ("numerator", "value", "smoothed",
                                                    "ci_low", "ci_high", "denominator"))
    with full.open(encoding="utf-8") as handle:
        restricted_rows = [r for r in csv.DictReader(handle) if r["suppressed"] == "true"]
    assert len(restricted_rows) == len(hidden)
    assert all(r["numerator"] != "" for r in restricted_rows)


def test_intervals_are_exact_poisson_and_wilson(lake_path: tuple[Path, ComputeResult]
                                                ) -> None:
    path, _ = lake_path
    # Garwood interval for 3 events: [0.6187, 8.7673]; over 10 births × 1,000
    row = _one(path, "mortalidade_infantil", "municipio", "2023", A)
    assert row["ci_low"] == pytest.approx(61.87, abs=0.01)
    assert row["ci_high"] == pytest.approx(876.73, abs=0.01)
    # Wilson for 4 of 10: [0.1682, 0.6873]
    row = _one(path, "partos_cesareos", "municipio", "2023", A)
    assert row["ci_low"] == pytest.approx(16.82, abs=0.01)
    assert row["ci_high"] == pytest.approx(68.73, abs=0.01)
    assert not math.isnan(row["smoothed"])


def test_indicator_commands(lake_path: tuple[Path, ComputeResult], tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from rmds.cli import cli

    path, _ = lake_path
    runner = CliRunner()
    listed = runner.invoke(cli, ["indicators", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert len(json.loads(listed.output)["indicadores"]) == len(load_catalog())
    shown = runner.invoke(cli, ["indicators", "show", "partos_cesareos", "--lake", str(path),
                                "--level", "regiao", "--period", "2023", "--json",
                                "--restricted"])
    assert shown.exit_code == 0, shown.output
    [region] = [r for r in json.loads(shown.output)["valores"] if r["unit_code"] == "31001"]
    assert (region["numerator"], region["denominator"]) == (4, 15)
    as_csv = runner.invoke(cli, ["indicators", "show", "mortalidade_infantil", "--lake",
                                 str(path), "--level", "municipio", "--period", "2023",
                                 "--csv"])
    assert as_csv.exit_code == 0
    rows = list(csv.DictReader(as_csv.output.splitlines()))
    alfenas = next(r for r in rows if r["unit_code"] == A)
    assert alfenas["suppressed"] == "True" and alfenas["value"] == ""
    target = tmp_path / "mart.parquet"
    exported = runner.invoke(cli, ["indicators", "export", str(target), "--lake", str(path)])
    assert exported.exit_code == 0 and target.stat().st_size > 0
    unknown = runner.invoke(cli, ["indicators", "show", "nao_existe", "--lake", str(path)])
    assert unknown.exit_code == 2 and "indicador desconhecido" in unknown.output
