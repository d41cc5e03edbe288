"""SIM — Declaração de Óbito (DO) → ``deaths``."""

from __future__ import annotations

import pyarrow.compute as pc

from rmds.schema import table
from rmds.sources.datasus.common import age_from_code, race, refine_age_days, sex
from rmds.sources.mapping import MapContext, MapResult

__all__ = ["map_sim"]

MATERNAL = {"1": "gravidez", "2": "parto", "3": "aborto", "4": "puerperio_42d",
            "5": "puerperio_1a", "8": "nao", "9": None}


def map_sim(ctx: MapContext, municipalities: dict[str, str]) -> MapResult:
    death_date = ctx.date("DTOBITO", "%d%m%Y")
    ctx.problem(pc.is_null(death_date), "DTOBITO", ctx.raw("DTOBITO"),
                "data do óbito obrigatória")
    birth_date = ctx.date("DTNASC", "%d%m%Y")
    ctx.problem(pc.greater(birth_date, death_date), "DTNASC", ctx.raw("DTNASC"),
                "nascimento posterior ao óbito")
    raw_age = ctx.text("IDADE")
    age = age_from_code(ctx, pc.utf8_slice_codeunits(raw_age, 0, 1),
                        pc.utf8_slice_codeunits(raw_age, 1, 3), "IDADE", raw_age)
    refine_age_days(age, birth_date, death_date)
    # maternal timing: OBITOGRAV/OBITOPUERP (1 yes) in recent layouts, TPMORTEOCO 1–9
    timing = ctx.decode("TPMORTEOCO", MATERNAL)
    columns = {
        "record_id": ctx.text("NUMERODO"),
        "death_date": death_date,
        "birth_date": birth_date,
        **age,
        "sex": sex(ctx, "SEXO"),
        "race_colour": race(ctx, "RACACOR"),
        "residence_municipality": ctx.municipality("CODMUNRES", municipalities),
        "occurrence_municipality": ctx.municipality("CODMUNOCOR", municipalities),
        "place_of_occurrence": ctx.decode("LOCOCOR", {str(i): str(i) for i in range(1, 7)}
                                          | {"9": None}),
        "facility_cnes": ctx.digits("CODESTAB", 7),
        "underlying_cause": ctx.cid10("CAUSABAS"),
        "death_type": ctx.decode("TIPOBITO", {"1": "fetal", "2": "nao_fetal"}),
        "maternal_timing": timing,
        "birth_weight_g": ctx.integer("PESO", 1, 9999),
        "gestational_weeks": ctx.integer("SEMAGESTAC", 0, 50, null_values=("99",)),
        "registration_date": ctx.date("DTCADASTRO", "%d%m%Y"),
    }
    return ctx.finish(table("deaths"), columns)


