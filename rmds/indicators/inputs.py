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
  :data:`rmds.consortia.queues.REFERRALS_SQL`).

The Patient's residence and birth date come from the protected identity table; only these two
fields leave it, and only into counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rmds.age import completed_years_sql
from rmds.engine.sql import col, ident, lit
from rmds.schema import table
from rmds.territory import Vintage
from rmds.territory.model import BUILTIN_VINTAGES

__all__ = ["INPUTS", "Input", "input_sql", "vintage_sql"]


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


def vintage_sql(date_sql: str, vintages: Sequence[Vintage] = BUILTIN_VINTAGES) -> str:
    """SQL for the regionalisation vintage valid on a date (``date_sql``: a column
    reference built by :func:`rmds.engine.sql.col`), among the pack's ``vintages``."""
    later = sorted(vintages, key=lambda v: v.first_year)
    cases_sql = " ".join(f"WHEN year({date_sql}) >= {lit(v.first_year)} THEN {lit(v.value)}"
                         for v in reversed(later[1:]))
    return f"CASE {cases_sql} ELSE {lit(later[0].value)} END"


def input_sql(name: str, vintages: Sequence[Vintage] = BUILTIN_VINTAGES) -> str:
    """The query that materialises one input as :attr:`Input.relation` (any engine); needs
    ``ind_regions`` and ``ind_fhir_patients`` (see :mod:`rmds.indicators.compute`)."""
    if name == "hospitalisations":
        vintage_at_sql = vintage_sql(col("h", "admission_date"), vintages)
        return (
            "SELECT h.*, "
            "rr.region AS residence_region, fr.region AS facility_region, "
            "rr.macro AS residence_macro, fr.macro AS facility_macro "
            "FROM hospitalisations h "
            "LEFT JOIN ind_regions rr ON rr.municipality = h.residence_municipality "
            f"AND rr.vintage = {vintage_at_sql} "
            "LEFT JOIN ind_regions fr ON fr.municipality = h.facility_municipality "
            f"AND fr.vintage = {vintage_at_sql}")
    if name == "immunisations":
        # the two filled columns replace the table's own, in the table's column order
        filled = {
            "residence_municipality": "coalesce(i.residence_municipality, "
                                      "p.residence_municipality)",
            "age_years": "coalesce(i.age_years, CAST(" + completed_years_sql(
                "coalesce(i.birth_date, p.birth_date)", col("i", "vaccination_date"))
                + " AS INTEGER))"}
        columns_sql = ", ".join(
            filled[c.name] + " AS " + ident(c.name) if c.name in filled else col("i", c.name)
            for c in table("immunisations").columns)
        # an equality alone, so that the engine hashes the join: with the system test in
        # the ON clause as well, DuckDB fell back to a nested loop (doses × patients)
        return (f"SELECT {columns_sql} FROM immunisations i LEFT JOIN ind_fhir_patients p "
                "ON p.patient_key = CASE WHEN i.source_system = 'FHIR' "
                "THEN i.patient_key END")
    if name in ("conditions", "observations", "encounters"):
        return (f"SELECT x.*, p.residence_municipality FROM {ident(name)} x "
                "LEFT JOIN ind_fhir_patients p ON p.patient_key = x.patient_key")
    if name == "referrals":
        from rmds.consortia.queues import REFERRALS_SQL

        return f"SELECT * FROM {REFERRALS_SQL}"
    return f"SELECT * FROM {ident(name)}"
