"""SIH — AIH reduzida (RD) → ``hospitalisations``."""

from __future__ import annotations

import pyarrow.compute as pc

from rmds.schema import table
from rmds.sources.datasus.common import age_from_code, race, refine_age_days, sex
from rmds.sources.mapping import MapContext, MapResult

__all__ = ["map_sih"]


def map_sih(ctx: MapContext, municipalities: dict[str, str]) -> MapResult:
    admission = ctx.date("DT_INTER", "%Y%m%d")
    discharge = ctx.date("DT_SAIDA", "%Y%m%d")
    birth = ctx.date("NASC", "%Y%m%d")
    ctx.problem(pc.is_null(admission), "DT_INTER", ctx.raw("DT_INTER"),
                "data de internação obrigatória")
    ctx.problem(pc.less(discharge, admission), "DT_SAIDA", ctx.raw("DT_SAIDA"),
                "saída anterior à internação")
    age = age_from_code(ctx, ctx.text("COD_IDADE", ("0",)), ctx.text("IDADE"), "IDADE",
                        ctx.raw("IDADE"))
    refine_age_days(age, birth, admission)
    year, month = ctx.digits("ANO_CMPT", 4), ctx.digits("MES_CMPT", 2)
    died = ctx.decode("MORTE", {"0": "false", "1": "true"})
    columns = {
        "aih_number": ctx.digits("N_AIH"),
        "competence": pc.binary_join_element_wise(year, month, ""),
        "admission_date": admission,
        "discharge_date": discharge,
        "birth_date": birth,
        **age,
        "sex": sex(ctx, "SEXO", female_codes=("2", "3")),
        "race_colour": race(ctx, "RACA_COR"),
        "residence_municipality": ctx.municipality("MUNIC_RES", municipalities),
        "facility_municipality": ctx.municipality("MUNIC_MOV", municipalities),
        "facility_cnes": ctx.digits("CNES", 7),
        "procedure_requested": ctx.digits("PROC_SOLIC", 10),
        "procedure_performed": ctx.digits("PROC_REA", 10),
        "main_diagnosis": ctx.cid10("DIAG_PRINC"),
        "secondary_diagnosis": ctx.cid10("DIAG_SECUN"),
        "death_cause": ctx.cid10("CID_MORTE"),
        "admission_character": ctx.text("CAR_INT"),
        "specialty": ctx.text("ESPEC"),
        "aih_type": ctx.text("IDENT"),
        "length_of_stay": ctx.integer("DIAS_PERM", 0, 99999),
        "died": pc.equal(died, "true"),
        "total_value": ctx.decimal("VAL_TOT"),
        "complexity": ctx.text("COMPLEX"),
        "financing": ctx.text("FINANC"),
    }
    return ctx.finish(table("hospitalisations"), columns)


