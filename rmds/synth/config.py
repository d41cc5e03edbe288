"""What the synthetic state is generated from: scale, years, seed and the configured rates.

Every rate here is written beside the output (``rates.json``) so that tests and users can
compare what comes out of the generator with what went in. Values are plausible for Minas
Gerais in the early 2020s (orders of magnitude from DATASUS/IBGE publications); they are
*configuration*, not estimates, and make no claim to be the state's real figures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from rmds.codes.vaccines import CALENDAR, DOSE_LABELS, VACCINES
from rmds.exceptions import ConfigurationError

__all__ = ["DOSE_PRODUCTS", "FAMILY_PRODUCTS", "PRODUCTS", "PRODUCT_INDEX", "VACCINE_SCHEDULE",
           "Rates", "SynthConfig", "parse_years"]


# configured state coverage of each calendar dose (vaccine acronym, dose code), whatever
# product gives it
COVERAGE: dict[tuple[str, str], float] = {
    ("BCG", "9"): 0.92, ("HepB", "1"): 0.88,
    ("PENTA", "1"): 0.93, ("PENTA", "2"): 0.90, ("PENTA", "3"): 0.86,
    ("VIP", "1"): 0.93, ("VIP", "2"): 0.90, ("VIP", "3"): 0.85,
    ("VPC10", "1"): 0.93, ("VPC10", "2"): 0.90, ("VPC10", "6"): 0.82,
    ("ROTA", "1"): 0.90, ("ROTA", "2"): 0.86,
    ("MenC", "1"): 0.91, ("MenC", "2"): 0.88,
    ("VFA", "1"): 0.78,
    ("SCR", "1"): 0.88, ("SCR", "2"): 0.72,
}
# (vaccine code, acronym, name, dose code, dose label, age in days, configured coverage)
VACCINE_SCHEDULE: tuple[tuple[str, str, str, str, str, int, float], ...] = tuple(
    (d.vaccine.code, d.vaccine.acronym, d.vaccine.name, d.dose_code, d.dose_label,
     d.age_days, COVERAGE[(d.vaccine.acronym, d.dose_code)]) for d in CALENDAR)

# the share of children who get every dose of a vaccine as another product (calendar
# acronym → (vaccine code, share)): hexavalent instead of pentavalent (private clinics and
# CRIE; its doses then stand for the VIP doses as well, which are not given apart), and the
# 13-valent pneumococcal instead of the 10-valent
FAMILY_PRODUCTS: dict[str, tuple[str, float]] = {"PENTA": ("43", 0.06),
                                                 "VPC10": ("59", 0.05)}
# the share of one calendar dose given as another product or dose code ((acronym, dose) →
# (vaccine code, dose code, share)): VOP as the third polio dose (sequential scheme), yellow
# fever at 9 months recorded as a single dose, tetraviral (MMRV) instead of SCR D2
DOSE_PRODUCTS: dict[tuple[str, str], tuple[str, str, float]] = {
    ("VIP", "3"): ("28", "3", 0.03), ("VFA", "1"): ("14", "9", 0.30),
    ("SCR", "2"): ("56", "9", 0.40)}
#: every product the generator writes: (vaccine code, acronym, name, dose code, dose label);
#: the first len(VACCINE_SCHEDULE) are the calendar's own doses, in its order
PRODUCTS: tuple[tuple[str, str, str, str, str], ...] = (
    *((code, acr, name, dose, label) for code, acr, name, dose, label, _, _ in VACCINE_SCHEDULE),
    *((VACCINES[code].code, VACCINES[code].acronym, VACCINES[code].name, dose,
       DOSE_LABELS[dose])
      for code, dose in sorted({(FAMILY_PRODUCTS[acr][0], dose)
                                for _, acr, _, dose, _, _, _ in VACCINE_SCHEDULE
                                if acr in FAMILY_PRODUCTS}
                               | {(code, dose) for code, dose, _ in DOSE_PRODUCTS.values()})))
PRODUCT_INDEX: dict[tuple[str, str], int] = {
    (code, dose): k for k, (code, _, _, dose, _) in enumerate(PRODUCTS)}


@dataclass(frozen=True)
class Rates:
    """State-level configured rates; municipalities vary around them (factors averaging 1
    over the population at risk, so the state-level expectation equals these values)."""

    # live births per woman per year by age group 10-14, 15-19, ..., 45-49
    fertility_by_age: tuple[float, ...] = (0.0006, 0.045, 0.075, 0.080, 0.074, 0.044, 0.011,
                                           0.0008)
    infant_mortality_per_1000: float = 11.5       # deaths < 1 year per 1,000 live births
    neonatal_share: float = 0.68                  # of infant deaths, share in 0-27 days
    early_neonatal_share: float = 0.50            # of infant deaths, share in 0-6 days
    maternal_mortality_per_100k: float = 55.0     # maternal deaths per 100,000 live births
    # annual probability of death = base + scale * exp(slope * age) (men × male_excess)
    mortality_base: float = 0.0004
    mortality_scale: float = 0.000028
    mortality_slope: float = 0.0875
    mortality_male_excess: float = 1.35
    # hospitalisations per 1,000 person-years by age band (0, 1-4, 5-14, 15-39, 40-59,
    # 60-69, 70-79, 80+), childbirth excluded (every hospital birth adds its own AIH)
    hospitalisation_per_1000: tuple[float, ...] = (160.0, 45.0, 22.0, 30.0, 48.0, 85.0,
                                                   130.0, 190.0)
    icsap_share: float = 0.20                     # of non-obstetric admissions
    hospital_birth_share: float = 0.985
    caesarean_share: float = 0.55
    low_birth_weight_share: float = 0.095
    preterm_share: float = 0.11
    prenatal_7plus_share: float = 0.78
    # primary care: prevalence among adults 20-39, 40-59, 60+ and share followed up
    hypertension_prevalence: tuple[float, float, float] = (0.05, 0.25, 0.55)
    diabetes_prevalence: tuple[float, float, float] = (0.015, 0.08, 0.20)
    primary_care_followup_share: float = 0.55
    # consortium referrals per 1,000 person-years in member municipalities
    referral_per_1000: float = 60.0
    ill_defined_death_share: float = 0.06         # R00-R99 among causes, good municipalities
    ill_defined_death_share_degraded: float = 0.30
    degraded_municipality_share: float = 0.10
    vaccine_coverage: dict[str, float] = field(default_factory=lambda: {
        f"{acr}_{dose}": cov for _, acr, _, dose, _, _, cov in VACCINE_SCHEDULE})

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def parse_years(text: str) -> tuple[int, ...]:
    """``2022-2024`` or ``2023`` or ``2022,2024`` → years (2000–2030)."""
    try:
        if "-" in text:
            first, last = (int(p) for p in text.split("-", 1))
            years = tuple(range(first, last + 1))
        else:
            years = tuple(sorted({int(p) for p in text.split(",") if p.strip()}))
    except ValueError:
        raise ConfigurationError(f"anos inválidos: {text!r} (use 2022-2024 ou 2023)") from None
    if not years or years[0] < 2000 or years[-1] > 2030:
        raise ConfigurationError(f"anos fora de 2000–2030: {text!r}")
    if years != tuple(range(years[0], years[-1] + 1)):
        raise ConfigurationError(f"anos devem ser consecutivos: {text!r}")
    return years


@dataclass(frozen=True)
class SynthConfig:
    scale: float
    years: tuple[int, ...]
    seed: int
    out: Path
    rates: Rates = field(default_factory=Rates)
    dbc: bool = True          # write DATASUS files as DBC (implode) rather than DBF

    def __post_init__(self) -> None:
        if not 0 < self.scale <= 1.0:
            raise ConfigurationError(f"escala deve estar em (0, 1]: {self.scale}")
        if self.seed < 0:
            raise ConfigurationError("a semente deve ser um inteiro não negativo")
