"""Conventions shared by the DATASUS systems: sex, race/colour, coded ages, layouts."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from rmds.sources.mapping import MapContext

__all__ = ["AGE_UNITS", "RACE", "age_from_code", "layout_id", "race", "sex"]

RACE = {"1": "1", "2": "2", "3": "3", "4": "4", "5": "5", "01": "1", "02": "2", "03": "3",
        "04": "4", "05": "5", "9": None, "99": None, "0": None, "00": None}

# unit digit → (unit name, years multiplier); SIM and SIH share it: 0 minutes, 1 hours,
# 2 days, 3 months, 4 years, 5 years above 100 (verified on the SIM sample against
# DTNASC/DTOBITO: the 2019 dictionary's "1 = minuto, 2 = hora" does not match the data).
AGE_UNITS = {"0": "minuto", "1": "hora", "2": "dia", "3": "mes", "4": "ano", "5": "ano"}


def sex(ctx: MapContext, column: str, female_codes: Sequence[str] = ("2", "F")) -> pa.Array:
    table: dict[str, str | None] = {"1": "M", "M": "M", "0": "I", "9": "I", "I": "I"}
    table.update({code: "F" for code in female_codes})
    return ctx.decode(column, table)


def race(ctx: MapContext, column: str) -> pa.Array:
    return ctx.decode(column, RACE).cast(pa.int32())


def age_from_code(ctx: MapContext, unit: pa.Array, value: pa.Array, field: str,
                  raw: pa.Array) -> dict[str, pa.Array]:
    """Decode unit + value into age_value/age_unit/age_years/age_days (days approximate for
    months: 30 days each, refined by the caller from dates where it has them)."""
    unit_name = pc.take(pa.array(list(AGE_UNITS.values())),
                        pc.index_in(unit, value_set=pa.array(list(AGE_UNITS.keys()))))
    ignored = pc.or_(pc.is_null(unit), pc.is_in(unit, pa.array(["9", "8"])))
    bad = pc.and_(pc.invert(pc.fill_null(ignored, True)), pc.is_null(unit_name))
    number = pc.cast(pc.if_else(pc.match_substring_regex(value, r"^[0-9]{1,3}$"), value,
                                pa.scalar(None, pa.string())), pa.int32())
    bad = pc.or_(bad, pc.and_(pc.is_valid(unit_name), pc.is_null(number)))
    ctx.problem(bad, field, raw, "idade codificada inválida")
    centenarian = pc.equal(unit, "5")
    limits = pc.take(pa.array([59, 23, 31, 11, 130, 99], pa.int32()),
                     pc.index_in(unit, value_set=pa.array(["0", "1", "2", "3", "4", "5"])))
    too_big = pc.greater(number, limits)
    ctx.problem(too_big, field, raw, "quantidade fora do limite da unidade")
    ok = pc.invert(pc.fill_null(pc.or_(bad, too_big), False))
    years = pc.if_else(pc.equal(unit_name, "ano"),
                       pc.add(number, pc.if_else(centenarian, 100, 0)), 0)
    days = pc.if_else(pc.equal(unit_name, "dia"), number,
                      pc.if_else(pc.equal(unit_name, "mes"), pc.multiply(number, 30),
                                 pc.if_else(pc.equal(unit_name, "ano"),
                                            pa.scalar(None, pa.int32()), 0)))
    null_int = pa.scalar(None, pa.int32())
    return {
        "age_value": pc.if_else(ok, pc.if_else(centenarian, pc.add(number, 100), number),
                                null_int),
        "age_unit": pc.if_else(ok, unit_name, pa.scalar(None, pa.string())),
        "age_years": pc.if_else(ok, years.cast(pa.int32()), null_int),
        "age_days": pc.if_else(ok, days.cast(pa.int32()), null_int),
    }


def refine_age_days(age: dict[str, pa.Array], start: pa.Array, end: pa.Array) -> None:
    """Use exact dates for the age in days of children under one year, when both exist."""
    exact = pc.subtract(end.cast(pa.int32()), start.cast(pa.int32()))
    usable = pc.and_(pc.less(pc.fill_null(age["age_years"], 1), 1),
                     pc.and_(pc.greater_equal(exact, 0), pc.less(exact, 366)))
    age["age_days"] = pc.if_else(pc.fill_null(usable, False), exact.cast(pa.int32()),
                                 age["age_days"])


def layout_id(system: str, columns: Sequence[str]) -> str:
    """A stable name for a file's layout: system, column count and a digest of the names."""
    digest = hashlib.sha1(",".join(columns).encode()).hexdigest()[:8]
    return f"{system}/{len(columns)}col/{digest}"
