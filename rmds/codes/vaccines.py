"""Vaccines of the childhood calendar (immunobiological codes as in SI-PNI / RNDS data).

The codes are those seen in the OpenDataSUS vaccination microdata for these vaccines; no
SI-PNI code table ships with the reference data, so this table is rmds's own and must be
checked against the Ministry's current list before it is trusted for other vaccines.
Target ages follow the national childhood calendar (Calendário Nacional de Vacinação).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CALENDAR", "VACCINES", "CalendarDose", "Vaccine", "dose_code", "vaccine"]


@dataclass(frozen=True)
class Vaccine:
    code: str
    acronym: str
    name: str


@dataclass(frozen=True)
class CalendarDose:
    vaccine: Vaccine
    dose_code: str       # 1, 2, 3 doses; 8 first booster; 9 single dose
    dose_label: str      # as written in the data: "1ª Dose", "1º Reforço", "Dose única"
    age_days: int        # age at which the calendar gives it


VACCINES: dict[str, Vaccine] = {v.code: v for v in (
    Vaccine("15", "BCG", "BCG"),
    Vaccine("09", "HEPB", "Hepatite B"),
    Vaccine("42", "PENTA", "Pentavalente (DTP/HB/Hib)"),
    Vaccine("22", "VIP", "Poliomielite inativada (VIP)"),
    Vaccine("26", "PNM10V", "Pneumocócica 10-valente"),
    Vaccine("17", "ROTA", "Rotavírus humano"),
    Vaccine("27", "MENC", "Meningocócica C"),
    Vaccine("05", "FA", "Febre amarela"),
    Vaccine("24", "SCR", "Tríplice viral (sarampo, caxumba, rubéola)"),
)}


def vaccine(code: str) -> Vaccine | None:
    return VACCINES.get(code.strip().lstrip("0").zfill(2))


def _dose(code: str, dose: str, label: str, age: int) -> CalendarDose:
    return CalendarDose(VACCINES[code], dose, label, age)


CALENDAR: tuple[CalendarDose, ...] = (
    _dose("15", "9", "Dose única", 0),
    _dose("09", "1", "1ª Dose", 0),
    _dose("42", "1", "1ª Dose", 61), _dose("42", "2", "2ª Dose", 122),
    _dose("42", "3", "3ª Dose", 183),
    _dose("22", "1", "1ª Dose", 61), _dose("22", "2", "2ª Dose", 122),
    _dose("22", "3", "3ª Dose", 183),
    _dose("26", "1", "1ª Dose", 61), _dose("26", "2", "2ª Dose", 122),
    _dose("26", "8", "1º Reforço", 365),
    _dose("17", "1", "1ª Dose", 61), _dose("17", "2", "2ª Dose", 122),
    _dose("27", "1", "1ª Dose", 91), _dose("27", "2", "2ª Dose", 152),
    _dose("05", "1", "1ª Dose", 274),
    _dose("24", "1", "1ª Dose", 365), _dose("24", "2", "2ª Dose", 456),
)


# dose labels as written in SI-PNI data and FHIR protocolApplied.doseNumberString
_DOSE_CODES = {fold_label: code for code, fold_label in (
    ("1", "1a dose"), ("2", "2a dose"), ("3", "3a dose"), ("8", "1o reforco"),
    ("9", "dose unica"), ("9", "unica"))}


def dose_code(label: object) -> str | None:
    """The SI-PNI dose code of a dose label (``"3ª Dose"`` → ``"3"``, ``"1º Reforço"`` →
    ``"8"``, ``"Dose única"`` → ``"9"``) or of a dose number (``3`` → ``"3"``)."""
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
