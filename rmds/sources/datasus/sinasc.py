"""SINASC — Declaração de Nascido Vivo (DN) → ``births``."""

from __future__ import annotations

import pyarrow.compute as pc

from rmds.schema import table
from rmds.sources.datasus.common import race, sex
from rmds.sources.mapping import MapContext, MapResult

__all__ = ["map_sinasc"]


def map_sinasc(ctx: MapContext, municipalities: dict[str, str]) -> MapResult:
    birth_date = ctx.date("DTNASC", "%d%m%Y")
    ctx.problem(pc.is_null(birth_date), "DTNASC", ctx.raw("DTNASC"),
                "data de nascimento obrigatória")
    anomaly = ctx.decode("IDANOMAL", {"1": "true", "2": "false", "9": None})
    columns = {
        "record_id": ctx.text("NUMERODN"),
        "birth_date": birth_date,
        "sex": sex(ctx, "SEXO"),
        "race_colour": race(ctx, "RACACOR"),
        "birth_weight_g": ctx.integer("PESO", 1, 9999, null_values=("9999",)),
        "gestational_weeks": ctx.integer("SEMAGESTAC", 0, 50, null_values=("99",)),
        "gestation_band": ctx.decode("GESTACAO", {str(i): str(i) for i in range(1, 7)}
                                     | {"9": None}),
        "prenatal_visits": ctx.integer("CONSPRENAT", 0, 98, null_values=("99",)),
        "prenatal_band": ctx.decode("CONSULTAS", {str(i): str(i) for i in range(1, 5)}
                                    | {"9": None}),
        "delivery_type": ctx.decode("PARTO", {"1": "vaginal", "2": "cesareo", "9": None}),
        "mother_age": ctx.integer("IDADEMAE", 5, 70, null_values=("99",)),
        "residence_municipality": ctx.municipality("CODMUNRES", municipalities),
        "birth_municipality": ctx.municipality("CODMUNNASC", municipalities),
        "place_of_birth": ctx.decode("LOCNASC", {str(i): str(i) for i in range(1, 6)}
                                     | {"9": None}),
        "facility_cnes": ctx.digits("CODESTAB", 7),
        "apgar1": ctx.integer("APGAR1", 0, 10, null_values=("99",)),
        "apgar5": ctx.integer("APGAR5", 0, 10, null_values=("99",)),
        "congenital_anomaly": pc.equal(anomaly, "true"),
        "registration_date": ctx.date("DTCADASTRO", "%d%m%Y"),
    }
    return ctx.finish(table("births"), columns)
