"""What indicator and quality declarations may count: the canonical tables, with a few
columns derived from the territory and from FHIR patients.

An input is a canonical table (:mod:`rmds.schema`) plus derived columns:

* hospitalisations: ``residence_region``, ``facility_region``, ``residence_macro``,
  ``facility_macro`` — the health region and macro-region of each municipality in the
  regionalisation valid in the year of admission;
* immunisations: ``residence_municipality`` and ``age_years`` filled, for doses sent as FHIR
  Immunization, from the Patient resource the dose refers to;
* conditions, observations, encounters: ``residence_municipality`` of the Patient referred to;
* referrals: one row per referral (report rows, ServiceRequest and Appointments merged, see
  :data:`rmds.consortia.queues.REFERRALS`).

The Patient's residence and birth date come from the protected identity table; only these two
fields leave it, and only into counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from rmds.schema import table
from rmds.territory import Vintage

__all__ = ["INPUTS", "Input", "vintage_sql"]


@dataclass(frozen=True)
class Input:
    name: str
    derived: tuple[tuple[str, str], ...] = ()   # (column, description pt-BR)

    @property
    def columns(self) -> frozenset[str]:
        return frozenset(c.name for c in table(self.name).columns) | {
            name for name, _ in self.derived}

    @property
    def relation(self) -> str:
        """The name of the materialised input during a computation."""
        return f"ind_in_{self.name}"


_PATIENT_RESIDENCE = (("residence_municipality",
                       "município de residência do Patient referido (FHIR)"),)

INPUTS: dict[str, Input] = {i.name: i for i in (
    Input("deaths"),
    Input("births"),
    Input("hospitalisations", (
        ("residence_region", "região de saúde de residência (regionalização do ano)"),
        ("facility_region", "região de saúde do estabelecimento (regionalização do ano)"),
        ("residence_macro", "macrorregião de residência (regionalização do ano)"),
        ("facility_macro", "macrorregião do estabelecimento (regionalização do ano)"))),
    Input("outpatient_production"),
    Input("immunisations"),
    Input("notifications"),
    Input("conditions", _PATIENT_RESIDENCE),
    Input("observations", _PATIENT_RESIDENCE),
    Input("encounters", _PATIENT_RESIDENCE),
    Input("referrals"),
)}


def vintage_sql(date_column: str) -> str:
    """SQL for the regionalisation vintage valid on a date."""
    later = sorted(Vintage, key=lambda v: v.first_year)
    cases = " ".join(f"WHEN year({date_column}) >= {v.first_year} THEN '{v.value}'"
                     for v in reversed(later[1:]))
    return f"CASE {cases} ELSE '{later[0].value}' END"


def materialise_sql(name: str) -> str:
    """``CREATE TEMP TABLE`` for one input (DuckDB); needs ``ind_regions`` and
    ``ind_fhir_patients`` (see :mod:`rmds.indicators.compute`)."""
    relation = INPUTS[name].relation
    if name == "hospitalisations":
        vintage = vintage_sql("h.admission_date")
        return (
            f"CREATE OR REPLACE TEMP TABLE {relation} AS SELECT h.*, "
            "rr.region AS residence_region, fr.region AS facility_region, "
            "rr.macro AS residence_macro, fr.macro AS facility_macro "
            "FROM hospitalisations h "
            f"LEFT JOIN ind_regions rr ON rr.municipality = h.residence_municipality "
            f"AND rr.vintage = {vintage} "
            f"LEFT JOIN ind_regions fr ON fr.municipality = h.facility_municipality "
            f"AND fr.vintage = {vintage}")
    if name == "immunisations":
        return (
            f"CREATE OR REPLACE TEMP TABLE {relation} AS SELECT i.* REPLACE ("
            "coalesce(i.residence_municipality, p.residence_municipality) "
            "AS residence_municipality, "
            "coalesce(i.age_years, CAST(floor((i.vaccination_date - coalesce(i.birth_date, "
            "p.birth_date)) / 365.25) AS INTEGER)) AS age_years) "
            "FROM immunisations i LEFT JOIN ind_fhir_patients p "
            "ON i.source_system = 'FHIR' AND p.patient_key = i.patient_key")
    if name in ("conditions", "observations", "encounters"):
        return (f"CREATE OR REPLACE TEMP TABLE {relation} AS SELECT x.*, "
                "p.residence_municipality FROM {name} x LEFT JOIN ind_fhir_patients p "
                "ON p.patient_key = x.patient_key").replace("{name}", name)
    if name == "referrals":
        from rmds.consortia.queues import REFERRALS

        return f"CREATE OR REPLACE TEMP TABLE {relation} AS SELECT * FROM {REFERRALS}"
    return f"CREATE OR REPLACE TEMP VIEW {relation} AS SELECT * FROM {name}"
