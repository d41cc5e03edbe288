"""SINAN arboviruses (dengue, chikungunya, zika) → ``notifications``.

One mapper for the three forms and every layout year: fields absent from a file are null.
A notification without a notification date, of another disease, with symptoms after its
notification, or with a final classification that its layout year does not have (1–4 before
2014, 10–12 from 2014, 13 only for chikungunya) is quarantined.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rmds.schema import table
from rmds.sources.datasus.common import age_from_code, race, refine_age_days, sex
from rmds.sources.mapping import MapContext, MapResult
from rmds.systems.sinan.epiweek import epi_weeks

__all__ = ["CLASSIFICATION", "DISEASES", "map_sinan"]

# ID_AGRAVO (CID-10, normalised without the dot) → disease
DISEASES = {"A90": "dengue", "A91": "dengue", "A920": "chikungunya", "A928": "zika"}
CLASSIFICATION: dict[str, str | None] = {
    "1": "dengue_classico", "2": "dengue_complicacoes", "3": "febre_hemorragica",
    "4": "sindrome_choque", "5": "descartado", "8": "inconclusivo", "10": "dengue",
    "11": "dengue_sinais_alarme", "12": "dengue_grave", "13": "chikungunya",
}
_BEFORE_2014 = ["1", "2", "3", "4"]   # SINAN Net dengue classes
_FROM_2014 = ["10", "11", "12"]       # SINAN Online (2014 WHO classification)
CRITERION = {"1": "laboratorial", "2": "clinico_epidemiologico", "3": "em_investigacao"}
OUTCOME = {"1": "cura", "2": "obito_agravo", "3": "obito_outras_causas",
           "4": "obito_em_investigacao", "9": None}
YES_NO = {"1": "true", "2": "false", "9": None}
PREGNANT = {str(i): str(i) for i in range(1, 7)} | {"9": None, "0": None}
# SINAN Net before 2007 wrote the age as a letter and the quantity (A25, M03, D10, H05)
_AGE_LETTERS = {"H": "1", "D": "2", "M": "3", "A": "4"}


def _date(ctx: MapContext, column: str) -> pa.Array:
    """A SINAN date: a DBF date field, or text as ``AAAAMMDD``, ``AAAA-MM-DD`` or
    ``DD/MM/AAAA`` (CSV extracts), the format taken from the file's first value."""
    if column in ctx.source.column_names and \
            pa.types.is_date(ctx.source.schema.field(column).type):
        return ctx.date(column, "%Y-%m-%d")
    values = ctx.text(column)
    first = pc.drop_null(values)
    sample = str(first[0]) if len(first) else ""
    fmt = "%Y-%m-%d" if "-" in sample else "%d/%m/%Y" if "/" in sample else "%Y%m%d"
    return ctx.date(column, fmt)


def _weeks(ctx: MapContext, column: str, dates: pa.Array) -> pa.Array:
    """``AAAASS`` from the file's week column when given, else computed from the date."""
    given = ctx.integer(column, 190001, 210053)
    week = pc.subtract(given, pc.multiply(pc.divide(given, 100), 100))  # integer division
    bad = pc.or_(pc.less(week, 1), pc.greater(week, 53))
    ctx.problem(bad, column, given.cast(pa.string()), "semana epidemiológica inválida "
                "(AAAASS, semanas 01 a 53)")
    mask = pc.is_null(dates).to_numpy(zero_copy_only=False)
    days = dates.cast(pa.int32()).fill_null(0).to_numpy(zero_copy_only=False)
    from_date = pa.array(epi_weeks(days.astype(np.int64)), pa.int32(), mask=mask)
    return pc.coalesce(given, from_date)


def _age(ctx: MapContext) -> dict[str, pa.Array]:
    if "NU_IDADE_N" not in ctx.source.column_names and "NU_IDADE" in ctx.source.column_names:
        raw = ctx.text("NU_IDADE")
        letter = pc.utf8_slice_codeunits(raw, 0, 1)
        unit = pc.take(pa.array(list(_AGE_LETTERS.values())),
                       pc.index_in(letter, value_set=pa.array(list(_AGE_LETTERS))))
        unit = pc.coalesce(unit, letter)  # unknown letters stay, and are quarantined
        return age_from_code(ctx, unit, pc.utf8_slice_codeunits(raw, 1, 4), "NU_IDADE", raw)
    raw = ctx.text("NU_IDADE_N")
    return age_from_code(ctx, pc.utf8_slice_codeunits(raw, 0, 1),
                         pc.utf8_slice_codeunits(raw, 1, 4), "NU_IDADE_N", raw)


def map_sinan(ctx: MapContext, municipalities: dict[str, str]) -> MapResult:
    notified = _date(ctx, "DT_NOTIFIC")
    ctx.problem(pc.is_null(notified), "DT_NOTIFIC", ctx.raw("DT_NOTIFIC"),
                "data da notificação obrigatória")
    onset = _date(ctx, "DT_SIN_PRI")
    ctx.problem(pc.greater(onset, notified), "DT_SIN_PRI", ctx.raw("DT_SIN_PRI"),
                "primeiros sintomas posteriores à notificação")
    code = ctx.cid10("ID_AGRAVO")
    disease = pc.take(pa.array(list(DISEASES.values())),
                      pc.index_in(code, value_set=pa.array(list(DISEASES))))
    ctx.problem(pc.is_null(disease), "ID_AGRAVO", ctx.raw("ID_AGRAVO"),
                "agravo não é dengue (A90), chikungunya (A92.0) nem zika (A92.8)")
    raw_class = pc.utf8_ltrim(ctx.text("CLASSI_FIN"), characters="0")
    classification = ctx.decode("CLASSI_FIN", CLASSIFICATION | {
        f"0{k}": v for k, v in CLASSIFICATION.items() if len(k) == 1})
    year = pc.year(notified)
    wrong_year = pc.or_(
        pc.and_(pc.is_in(raw_class, pa.array(_BEFORE_2014)), pc.greater_equal(year, 2014)),
        pc.and_(pc.is_in(raw_class, pa.array(_FROM_2014)), pc.less(year, 2014)))
    ctx.problem(pc.and_(wrong_year, pc.equal(disease, "dengue")), "CLASSI_FIN",
                ctx.raw("CLASSI_FIN"), "classificação final inexistente no leiaute do ano "
                "da notificação (1–4 até 2013; 10–12 a partir de 2014)")
    ctx.problem(pc.and_(pc.equal(raw_class, "13"), pc.not_equal(disease, "chikungunya")),
                "CLASSI_FIN", ctx.raw("CLASSI_FIN"),
                "classificação chikungunya (13) em notificação de outro agravo")
    birth = _date(ctx, "DT_NASC")
    ctx.problem(pc.greater(birth, notified), "DT_NASC", ctx.raw("DT_NASC"),
                "nascimento posterior à notificação")
    age = _age(ctx)
    refine_age_days(age, birth, notified)
    death = _date(ctx, "DT_OBITO")
    columns = {
        "record_id": ctx.text("NU_NOTIFIC"),
        "disease": disease,
        "disease_code": code,
        "notification_date": notified,
        "notification_week": _weeks(ctx, "SEM_NOT", notified),
        "symptom_onset_date": onset,
        "onset_week": _weeks(ctx, "SEM_PRI", onset),
        "birth_date": birth,
        **age,
        "sex": sex(ctx, "CS_SEXO"),
        "race_colour": race(ctx, "CS_RACA"),
        "pregnant": ctx.decode("CS_GESTANT", PREGNANT),
        "notification_municipality": ctx.municipality("ID_MUNICIP", municipalities),
        "residence_municipality": ctx.municipality("ID_MN_RESI", municipalities),
        "facility_cnes": ctx.digits("ID_UNIDADE", 7),
        "final_classification": classification,
        "probable": pc.fill_null(pc.not_equal(classification, "descartado"), True),
        "confirmation_criterion": ctx.decode("CRITERIO", CRITERION),
        "hospitalised": pc.equal(ctx.decode("HOSPITALIZ", YES_NO), "true"),
        "outcome": ctx.decode("EVOLUCAO", OUTCOME),
        "death_date": death,
        "closing_date": _date(ctx, "DT_ENCERRA"),
    }
    return ctx.finish(table("notifications"), columns)
