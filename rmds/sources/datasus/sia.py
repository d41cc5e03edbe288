"""SIA — produção ambulatorial (PA) → ``outpatient_production``."""

from __future__ import annotations

import pyarrow.compute as pc

from rmds.schema import table
from rmds.sources.datasus.common import race, sex
from rmds.sources.mapping import MapContext, MapResult

__all__ = ["map_sia"]


def map_sia(ctx: MapContext, municipalities: dict[str, str]) -> MapResult:
    competence = ctx.digits("PA_CMP", 6)
    ctx.problem(pc.is_null(competence), "PA_CMP", ctx.raw("PA_CMP"),
                "competência obrigatória")
    columns = {
        "competence": competence,
        "facility_cnes": ctx.digits("PA_CODUNI", 7),
        "facility_municipality": ctx.municipality("PA_UFMUN", municipalities),
        "procedure": ctx.digits("PA_PROC_ID", 10),
        "cbo": ctx.text("PA_CBOCOD"),
        "main_diagnosis": ctx.cid10("PA_CIDPRI"),
        "care_character": ctx.text("PA_CATEND"),
        "age_years": ctx.integer("PA_IDADE", 0, 130, null_values=("999",)),
        "sex": sex(ctx, "PA_SEXO"),
        "race_colour": race(ctx, "PA_RACACOR"),
        "residence_municipality": ctx.municipality("PA_MUNPCN", municipalities),
        "quantity_produced": ctx.integer("PA_QTDPRO", 0),
        "quantity_approved": ctx.integer("PA_QTDAPR", 0),
        "value_produced": ctx.decimal("PA_VALPRO"),
        "value_approved": ctx.decimal("PA_VALAPR"),
        "financing": ctx.text("PA_TPFIN"),
    }
    return ctx.finish(table("outpatient_production"), columns)
