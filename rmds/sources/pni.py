"""Vaccination doses (SI-PNI / RNDS microdata as published on OpenDataSUS) → ``immunisations``.

No SI-PNI dictionary ships with the reference data; the columns read are those of the
OpenDataSUS "doses aplicadas" CSV (``co_paciente``, ``dt_vacina``, ``co_vacina``,
``sg_vacina``, ``co_dose_vacina``, ``ds_dose_vacina``, ``dt_nascimento_paciente``,
``nu_idade_paciente``, ``tp_sexo_paciente``, ``co_raca_cor_paciente``,
``co_municipio_paciente``, ``co_municipio_estabelecimento``, ``co_cnes_estabelecimento``).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from rmds.schema import table
from rmds.sources.datasus.common import race, sex
from rmds.sources.mapping import MapContext, MapResult

__all__ = ["PNI_COLUMNS", "map_pni"]

PNI_COLUMNS = ("co_paciente", "dt_vacina", "co_vacina", "sg_vacina", "co_dose_vacina",
               "ds_dose_vacina", "dt_nascimento_paciente", "nu_idade_paciente",
               "tp_sexo_paciente", "co_raca_cor_paciente", "co_municipio_paciente",
               "co_municipio_estabelecimento", "co_cnes_estabelecimento")


#: code columns the 2020–2024 OpenDataSUS CSVs wrote as floats (``420750.0``, CNES with
#: its leading zeros lost)
FLOAT_CODES = ("co_vacina", "co_dose_vacina", "nu_idade_paciente", "co_raca_cor_paciente",
               "co_municipio_paciente", "co_municipio_estabelecimento",
               "co_cnes_estabelecimento", "nu_cns_paciente", "nu_cpf_paciente")


def map_pni(ctx: MapContext, municipalities: dict[str, str]) -> MapResult:
    ctx.unfloat(FLOAT_CODES, {"co_cnes_estabelecimento": 7, "nu_cpf_paciente": 11})
    when = ctx.date("dt_vacina", "%Y-%m-%d")
    ctx.problem(pc.is_null(when), "dt_vacina", ctx.raw("dt_vacina"),
                "data de vacinação obrigatória")
    birth = ctx.date("dt_nascimento_paciente", "%Y-%m-%d")
    # a birth date after the dose is one bad field: the dose still counts for coverage
    # (by date, vaccine and residence), the birth date is left blank
    after = pc.fill_null(pc.greater(birth, when), False)
    ctx.field_problem(after, "dt_nascimento_paciente", ctx.raw("dt_nascimento_paciente"),
                      "nascimento posterior à vacinação: data de nascimento descartada, "
                      "dose mantida")
    birth = pc.if_else(after, pa.scalar(None, pa.date32()), birth)
    vaccine = ctx.text("co_vacina")
    ctx.problem(pc.is_null(vaccine), "co_vacina", vaccine, "vacina obrigatória")
    columns = {
        "record_id": ctx.text("id_documento"),
        "patient_key": ctx.text("co_paciente"),
        "vaccination_date": when,
        "vaccine_code": vaccine,
        "vaccine_acronym": ctx.text("sg_vacina"),
        "dose": ctx.text("ds_dose_vacina"),
        "dose_code": ctx.text("co_dose_vacina"),
        "birth_date": birth,
        "age_years": ctx.integer("nu_idade_paciente", 0, 130),
        "sex": sex(ctx, "tp_sexo_paciente"),
        "race_colour": race(ctx, "co_raca_cor_paciente"),
        "residence_municipality": ctx.municipality("co_municipio_paciente", municipalities),
        "facility_municipality": ctx.municipality("co_municipio_estabelecimento",
                                                  municipalities),
        "facility_cnes": ctx.digits("co_cnes_estabelecimento", 7),
    }
    return ctx.finish(table("immunisations"), columns)
