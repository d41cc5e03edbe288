"""Causes, diagnoses and procedures the synthetic state draws from.

Weights are per age band (children 0-14, adults 15-59, elderly 60+). Every CID-10 code and
SIGTAP procedure used is checked against the reference pack when a state is generated, and
ICSAP membership is read from the pack (Portaria SAS/MS 221/2008), never assumed here.
"""

from __future__ import annotations

__all__ = ["ADMISSIONS", "DEATH_CAUSES", "ILL_DEFINED", "INFANT_CAUSES", "MATERNAL_CAUSES",
           "OUTPATIENT", "REFERRAL_SERVICES", "Admission"]

from dataclasses import dataclass

# underlying causes of death: (CID-10, weights children, adults, elderly, share in hospital)
DEATH_CAUSES: tuple[tuple[str, float, float, float, float], ...] = (
    ("I219", 0.2, 8.0, 10.0, 0.55), ("I64", 0.2, 4.0, 8.0, 0.7), ("I500", 0.3, 1.5, 6.0, 0.7),
    ("I10", 0.0, 1.5, 4.0, 0.4), ("I259", 0.0, 1.5, 3.0, 0.4),
    ("C349", 0.0, 3.0, 4.0, 0.7), ("C509", 0.0, 2.5, 1.8, 0.7), ("C61", 0.0, 0.5, 2.6, 0.6),
    ("C169", 0.1, 1.5, 2.0, 0.7), ("C189", 0.1, 1.5, 2.0, 0.7), ("C259", 0.0, 1.0, 1.5, 0.7),
    ("C950", 2.5, 0.8, 0.6, 0.85),
    ("J189", 3.0, 2.0, 7.5, 0.85), ("J449", 0.0, 1.0, 4.0, 0.6), ("J459", 0.6, 0.4, 0.3, 0.6),
    ("E149", 0.1, 2.5, 5.0, 0.6), ("E119", 0.0, 1.0, 2.0, 0.6),
    ("K746", 0.0, 2.5, 1.0, 0.7), ("N189", 0.1, 1.0, 2.5, 0.75), ("G309", 0.0, 0.0, 3.0, 0.3),
    ("A419", 1.5, 1.5, 3.0, 0.95), ("A09", 1.0, 0.2, 0.5, 0.7),
    ("V892", 3.0, 7.0, 1.0, 0.35), ("X954", 2.0, 7.0, 0.4, 0.3), ("X700", 0.5, 2.5, 0.6, 0.2),
    ("W199", 0.5, 0.8, 2.0, 0.6), ("W699", 3.0, 1.0, 0.1, 0.2),
    ("Q249", 2.0, 0.1, 0.0, 0.8), ("G809", 1.0, 0.3, 0.0, 0.6),
)
ILL_DEFINED = ("R99", "R69", "R98")
INFANT_CAUSES: tuple[tuple[str, float], ...] = (
    ("P073", 5.0), ("P220", 3.0), ("P369", 2.5), ("P210", 2.0), ("Q249", 2.5), ("Q899", 1.5),
    ("P000", 1.0), ("J189", 1.0), ("A09", 0.5), ("W799", 0.3),
)
MATERNAL_CAUSES: tuple[tuple[str, float], ...] = (
    ("O149", 2.0), ("O150", 1.5), ("O721", 2.0), ("O85", 1.5), ("O998", 2.0), ("O063", 0.8),
    ("O622", 0.2),
)


@dataclass(frozen=True)
class Admission:
    cid: str
    procedure: str
    weights: tuple[float, float, float]
    mean_stay: float
    elective: bool = False
    high_complexity: bool = False
    base_value: float = 900.0


ADMISSIONS: tuple[Admission, ...] = (
    # conditions sensitive to primary care (ICSAP membership checked against the pack)
    Admission("J189", "0303140151", (6.0, 2.0, 6.0), 5),
    Admission("J159", "0303140151", (1.0, 1.0, 2.0), 6),
    Admission("A09", "0303010061", (4.0, 1.0, 1.5), 3),
    Admission("J459", "0303140135", (3.0, 0.8, 0.5), 3),
    Admission("J449", "0303140135", (0.0, 0.6, 3.0), 6),
    Admission("I500", "0303060212", (0.1, 1.0, 5.0), 7),
    Admission("I10", "0303060107", (0.0, 1.0, 1.5), 3),
    Admission("E119", "0303030038", (0.1, 0.8, 1.5), 5),
    Admission("N390", "0303150050", (1.0, 1.5, 2.0), 4),
    Admission("N10", "0305020013", (0.5, 1.0, 0.5), 4),
    Admission("I639", "0303040149", (0.0, 0.4, 2.5), 8, high_complexity=True,
              base_value=1500.0),
    # not sensitive to primary care
    Admission("I219", "0303060190", (0.0, 0.8, 2.0), 7, high_complexity=True,
              base_value=2200.0),
    Admission("I64", "0303040149", (0.0, 0.3, 1.5), 8, high_complexity=True,
              base_value=1500.0),
    Admission("K802", "0407030026", (0.1, 2.0, 1.5), 2, elective=True, base_value=1100.0),
    Admission("K409", "0407040102", (0.5, 2.0, 1.2), 1, elective=True, base_value=600.0),
    Admission("H259", "0405050372", (0.0, 0.2, 2.5), 1, elective=True, base_value=800.0),
    Admission("S720", "0408050632", (0.1, 0.4, 2.0), 7, base_value=2500.0),
    Admission("K359", "0303070102", (2.0, 1.5, 0.4), 3),
    Admission("C509", "0410010022", (0.0, 0.6, 0.5), 3, high_complexity=True,
              base_value=1800.0),
    Admission("F209", "0303170093", (0.0, 1.0, 0.3), 20, base_value=1200.0),
    Admission("T07", "0415010012", (1.0, 2.0, 1.0), 4, base_value=1300.0),
    Admission("J219", "0303140135", (3.0, 0.0, 0.0), 4),
    Admission("K297", "0303070064", (0.3, 1.0, 1.0), 3),
)
CHILDBIRTH = (("O800", "0310010039", 450.0), ("O829", "0411010034", 700.0))

# outpatient production (SIA-PA): procedure, monthly units per 1,000 inhabitants served,
# facility kind
OUTPATIENT: tuple[tuple[str, float, str], ...] = (
    ("0301010064", 120.0, "ubs"), ("0301010030", 80.0, "ubs"), ("0301100039", 150.0, "ubs"),
    ("0214010015", 40.0, "ubs"),
    ("0301010072", 35.0, "hospital"), ("0202020380", 45.0, "hospital"),
    ("0202010473", 40.0, "hospital"), ("0205020046", 6.0, "hospital"),
    ("0206010079", 2.0, "hospital"), ("0204030188", 3.0, "hospital"),
)

# consortium services: (service type, specialty/label, SIGTAP, weight, median wait days)
REFERRAL_SERVICES: tuple[tuple[str, str, str, float, float], ...] = (
    ("consulta", "cardiologia", "0301010072", 10.0, 45.0),
    ("consulta", "ortopedia", "0301010072", 10.0, 60.0),
    ("consulta", "oftalmologia", "0301010072", 9.0, 70.0),
    ("consulta", "neurologia", "0301010072", 5.0, 80.0),
    ("consulta", "ginecologia", "0301010072", 6.0, 40.0),
    ("consulta", "endocrinologia", "0301010072", 4.0, 75.0),
    ("exame", "ultrassonografia", "0205020046", 12.0, 25.0),
    ("exame", "tomografia", "0206010079", 5.0, 35.0),
    ("exame", "ressonancia", "0207010064", 3.0, 60.0),
    ("exame", "mamografia", "0204030188", 5.0, 30.0),
    ("cirurgia", "catarata", "0405050372", 3.0, 150.0),
    ("cirurgia", "colecistectomia", "0407030026", 2.0, 120.0),
    ("cirurgia", "hernioplastia", "0407040102", 2.0, 110.0),
    ("oncologia", "tratamento oncologico", "0304020133", 2.0, 50.0),
    ("transporte", "transporte sanitario", "", 6.0, 5.0),
)
