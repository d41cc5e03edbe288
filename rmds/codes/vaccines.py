"""Vaccines of the childhood calendar and the doses each SI-PNI coverage counts.

Codes are those of the Ministry of Health's terminologies, which SI-PNI and the RNDS share
(the OpenDataSUS "doses aplicadas" CSV writes the same codes in ``co_vacina`` and
``co_dose_vacina``):

* immunobiologicals: CodeSystem ``BRImunobiologico`` (http://www.saude.gov.br/fhir/r4/
  CodeSystem/BRImunobiologico, version 02.16 of 12/01/2023, publisher Ministério da Saúde);
  the acronym is the code's ``display`` there;
* doses: CodeSystem ``BRDose`` (http://www.saude.gov.br/fhir/r4/CodeSystem/BRDose, version
  1.01 of 06/01/2020): 1 "1ª Dose", 2 "2ª Dose", 3 "3ª Dose", 6 "1º Reforço", 9 "Única".

No copy of either code system ships with the reference data: the table below holds only the
vaccines of the childhood calendar and the products the coverage method counts beside them.

Target ages follow the national childhood calendar (Calendário Nacional de Vacinação). What a
coverage counts follows the SI-PNI method of calculating vaccination coverage (Ministério da
Saúde, PNI, "Cobertura vacinal: método de cálculo"): a dose of another product that gives the
same protection counts with the calendar's own — pentavalent D3 with hexavalent D3;
poliomyelitis D3 with VIP, VOP (sequential scheme) and hexavalent D3; pneumococcal with the
10- and the 13-valent; yellow fever at 9 months as a first dose or as a single dose;
MMR D2 with the single dose of MMRV (tetraviral).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CALENDAR", "COVERAGE_DOSES", "DOSE_LABELS", "VACCINES", "CalendarDose",
           "Vaccine", "dose_code", "vaccine"]


@dataclass(frozen=True)
class Vaccine:
    code: str        # BRImunobiologico code, no leading zeros
    acronym: str     # BRImunobiologico display
    name: str        # BRImunobiologico definition


#: BRImunobiologico v02.16: the childhood calendar's vaccines and the products counted
#: beside them
VACCINES: dict[str, Vaccine] = {v.code: v for v in (
    Vaccine("15", "BCG", "Vacina BCG"),
    Vaccine("9", "HepB", "Vacina hepatite B"),
    Vaccine("42", "PENTA", "Vacina penta (DTP/HepB/Hib)"),
    Vaccine("43", "HEXA", "Vacina hexa (DTPa/HepB/VIP/Hib)"),
    Vaccine("22", "VIP", "Vacina polio injetável"),
    Vaccine("28", "VOP", "Vacina polio oral"),
    Vaccine("26", "VPC10", "Vacina pneumo 10"),
    Vaccine("59", "VPC13", "Vacina pneumo 13"),
    Vaccine("45", "ROTA", "Vacina rotavírus"),
    Vaccine("41", "MenC", "Vacina meningo C"),
    Vaccine("14", "VFA", "Vacina febre amarela"),
    Vaccine("24", "SCR", "Vacina sarampo, caxumba, rubéola"),
    Vaccine("56", "SCRV", "Vacina sarampo, caxumba, rubéola e varicela"),
)}

#: BRDose v1.01: the dose codes the calendar uses, with their display
DOSE_LABELS: dict[str, str] = {"1": "1ª Dose", "2": "2ª Dose", "3": "3ª Dose",
                               "6": "1º Reforço", "9": "Única"}


def vaccine(code: str) -> Vaccine | None:
    """The vaccine of a BRImunobiologico code (leading zeros ignored: ``"09"`` is ``"9"``)."""
    return VACCINES.get(code.strip().lstrip("0"))


@dataclass(frozen=True)
class CalendarDose:
    vaccine: Vaccine
    dose_code: str       # BRDose code
    age_days: int        # age at which the calendar gives it
    #: the coverage this dose is the scheme's last dose of (``COVERAGE_DOSES``), if any
    coverage: str | None = None
    #: other (vaccine code, dose code) that count as this dose in the SI-PNI method
    also: tuple[tuple[str, str], ...] = ()

    @property
    def dose_label(self) -> str:
        return DOSE_LABELS[self.dose_code]

    @property
    def counted(self) -> tuple[tuple[str, str], ...]:
        """Every (vaccine code, dose code) that counts as this dose."""
        return ((self.vaccine.code, self.dose_code), *self.also)


def _dose(code: str, dose: str, age: int, coverage: str | None = None,
          also: tuple[tuple[str, str], ...] = ()) -> CalendarDose:
    return CalendarDose(VACCINES[code], dose, age, coverage, also)


_HEXA = "43"
CALENDAR: tuple[CalendarDose, ...] = (
    _dose("15", "9", 0, "bcg"),
    _dose("9", "1", 0),
    _dose("42", "1", 61, None, ((_HEXA, "1"),)),
    _dose("42", "2", 122, None, ((_HEXA, "2"),)),
    _dose("42", "3", 183, "penta_d3", ((_HEXA, "3"),)),
    _dose("22", "1", 61, None, (("28", "1"), (_HEXA, "1"))),
    _dose("22", "2", 122, None, (("28", "2"), (_HEXA, "2"))),
    _dose("22", "3", 183, "polio_d3", (("28", "3"), (_HEXA, "3"))),
    _dose("26", "1", 61, None, (("59", "1"),)),
    _dose("26", "2", 122, "pneumo_d2", (("59", "2"),)),
    _dose("26", "6", 365, "pneumo_reforco", (("59", "6"),)),
    _dose("45", "1", 61),
    _dose("45", "2", 122, "rotavirus_d2"),
    _dose("41", "1", 91),
    _dose("41", "2", 152, "meningo_c_d2"),
    _dose("14", "1", 274, "febre_amarela", (("14", "9"),)),
    _dose("24", "1", 365, "triplice_viral_d1"),
    _dose("24", "2", 456, "triplice_viral_d2", (("56", "9"),)),
)

#: coverage → the (vaccine code, dose code) pairs its numerator counts; the catalog names
#: them with ``pni_dose(vaccine_code, dose_code, 'penta_d3')``
COVERAGE_DOSES: dict[str, tuple[tuple[str, str], ...]] = {
    d.coverage: d.counted for d in CALENDAR if d.coverage is not None}


# dose labels as written in SI-PNI data and FHIR protocolApplied.doseNumberString
_DOSE_CODES = {fold_label: code for code, fold_label in (
    ("1", "1a dose"), ("2", "2a dose"), ("3", "3a dose"), ("6", "1o reforco"),
    ("9", "dose unica"), ("9", "unica"))}


def dose_code(label: object) -> str | None:
    """The BRDose code of a dose label (``"3ª Dose"`` → ``"3"``, ``"1º Reforço"`` →
    ``"6"``, ``"Única"`` or ``"Dose única"`` → ``"9"``) or of a dose number (``3`` → ``"3"``)."""
    if label is None:
        return None
    if isinstance(label, int) and not isinstance(label, bool):
        return str(label) if 1 <= label <= 3 else None
    text = str(label).strip().casefold()
    text = text.replace("ª", "a").replace("º", "o").replace("°", "o").replace("ç", "c")
    text = text.replace("ú", "u")
    if text.isdigit():
        return dose_code(int(text))
    return _DOSE_CODES.get(" ".join(text.split()))
