"""Declarations → SQL.

Each measure becomes one query that counts events (or people, or resident population) by
municipality and period, for every period type at once, over these relations that a
computation prepares (:mod:`rmds.indicators.compute`):

* ``ind_in_<input>``: the inputs (:mod:`rmds.indicators.inputs`);
* ``ind_calendar(month, period_type, period)``: each month of the span in its month,
  quarter and year;
* ``ind_periods(period_type, period, year, vintage, months, last_month, population_year)``;
* ``ind_population(municipality, year, sex, age_low, pop)``;
* ``ind_codesets(codeset, code)``.

The queries are written in DuckDB's SQL; :func:`compile_indicator` can hand them to any
dialect sqlglot writes (``spark`` included) for engines beyond one machine.
"""

from __future__ import annotations

import datetime as dt

import sqlglot

from rmds.engine.sql import col, ident, lit
from rmds.indicators.catalog import Indicator, Measure
from rmds.indicators.expr import filter_sql
from rmds.indicators.inputs import INPUTS

__all__ = ["compile_indicator", "divisor", "measure_sql"]


def _events_sql(measure: Measure, start: dt.date, end: dt.date, *, from_start: bool = True
                ) -> str:
    """``SELECT municipality, d[, k] FROM input WHERE …`` for one measure."""
    assert measure.input and measure.date and measure.territory
    relation_sql = ident(INPUTS[measure.input].relation)
    date_sql = col("x", measure.date)
    territory_sql = col("x", measure.territory)
    keyed = measure.distinct or measure.sum
    key_sql = ", " + col("x", keyed) + " AS k" if keyed else ""
    lower_sql = f"{date_sql} >= {lit(start)} AND " if from_start else ""
    where_sql = (f"{lower_sql}{date_sql} < {lit(end)} "
                 f"AND {territory_sql} IS NOT NULL AND {date_sql} IS NOT NULL "
                 f"AND {filter_sql(measure.filter, 'x')}")
    if measure.distinct:
        where_sql += f" AND {col('x', measure.distinct)} IS NOT NULL"
    among = measure.among
    if among is not None:
        other_sql = ident(INPUTS[among.input].relation)
        dated_sql = f" AND {col('a', among.date)} <= {date_sql}" if among.date else ""
        where_sql += (f" AND EXISTS (SELECT 1 FROM {other_sql} a WHERE "
                      f"{col('a', among.key)} = {col('x', among.key)}"
                      f"{dated_sql} AND {filter_sql(among.filter, 'a')})")
    return (f"SELECT {territory_sql} AS municipality, {date_sql} AS d{key_sql} "
            f"FROM {relation_sql} x WHERE {where_sql}")


def _population_sql(measure: Measure) -> str:
    conditions = ["TRUE"]
    if measure.ages is not None:
        low, high = measure.ages
        conditions.append(f"pop.age_low >= {lit(low)}")
        if high < 80:
            conditions.append(f"pop.age_low <= {lit(high - 4)}")
    if measure.sex is not None:
        conditions.append(f"pop.sex = {lit(measure.sex)}")
    conditions_sql = " AND ".join(conditions)
    return (
        "SELECT pop.municipality, p.period_type, p.period, "
        "sum(pop.pop) * p.months AS n "
        "FROM ind_population pop JOIN ind_periods p ON pop.year = p.population_year "
        f"WHERE {conditions_sql} "
        "GROUP BY pop.municipality, p.period_type, p.period, p.months")


# the first day of an event's month, as a DATE on every engine (Spark's date_trunc gives a
# timestamp)
_MONTH_SQL = "CAST(date_trunc('month', d) AS DATE)"


def divisor(measure: Measure) -> float:
    """What a measure's rolled-up count is divided by: resident population is counted in
    person-months (whole numbers, so that every engine adds them up exactly, in any
    order) and turned into person-years only after the roll-up."""
    return 12.0 if measure.population or measure.target_year_offset is not None else 1.0


def measure_sql(measure: Measure, start: dt.date, end: dt.date) -> str:
    """(municipality, period_type, period, n) for one measure, in DuckDB SQL; population
    in person-months (see :func:`divisor`)."""
    if measure.population:
        return _population_sql(measure)
    if measure.target_year_offset is not None:
        # SI-PNI's annual target: the whole year's events (of the year given by the offset)
        # spread over the months, × months of the period (÷ 12 by :func:`divisor`)
        offset = measure.target_year_offset
        events_sql = _events_sql(measure, dt.date(start.year + offset, 1, 1),
                                 dt.date(end.year + offset + (end != dt.date(end.year, 1, 1)),
                                         1, 1))
        return (
            "SELECT e.municipality, p.period_type, p.period, sum(e.n) * p.months AS n FROM ("
            "SELECT municipality, year(d) AS y, count(*) AS n "
            f"FROM ({events_sql}) s GROUP BY ALL) e "
            f"JOIN ind_periods p ON e.y = p.year + {lit(offset)} "
            "GROUP BY e.municipality, p.period_type, p.period, p.months")
    if measure.cumulative:
        # people (or events) counted once, at their first date, and accumulated to the end
        # of each period
        events_sql = _events_sql(measure, start, end, from_start=False)
        if measure.distinct:
            firsts_sql = (f"SELECT municipality, k, min(d) AS d FROM ({events_sql}) e "
                          "GROUP BY municipality, k")
        else:
            firsts_sql = events_sql
        return (
            "SELECT m.municipality, p.period_type, p.period, sum(m.n) AS n FROM ("
            f"SELECT municipality, {_MONTH_SQL} AS month, count(*) AS n "
            f"FROM ({firsts_sql}) f GROUP BY ALL) m "
            "JOIN ind_periods p ON m.month <= p.last_month GROUP BY ALL")
    if measure.window_months is not None:
        # people with an event in the window of months that ends with each period's last
        # month (Previne Brasil: the semester), counted once per period
        back = measure.window_months - 1
        first = dt.date(start.year - (1 if start.month <= back else 0),
                        (start.month - 1 - back) % 12 + 1, 1)
        events_sql = _events_sql(measure, first, end)
        return (
            "SELECT e.municipality, p.period_type, p.period, count(DISTINCT e.k) AS n FROM ("
            f"SELECT DISTINCT municipality, {_MONTH_SQL} AS month, k FROM ({events_sql}) "
            "s) e JOIN ind_periods p ON e.month <= p.last_month AND e.month > CAST("
            f"p.last_month - INTERVAL {lit(measure.window_months)} MONTH AS DATE) "
            "GROUP BY ALL")
    events_sql = _events_sql(measure, start, end)
    if measure.distinct:
        return (
            "SELECT e.municipality, c.period_type, c.period, count(DISTINCT e.k) AS n FROM ("
            f"SELECT DISTINCT municipality, {_MONTH_SQL} AS month, k FROM ({events_sql}) "
            "s) e JOIN ind_calendar c ON c.month = e.month GROUP BY ALL")
    counted_sql = "coalesce(sum(k), 0)" if measure.sum else "count(*)"
    return (
        "SELECT e.municipality, c.period_type, c.period, sum(e.n) AS n FROM ("
        f"SELECT municipality, {_MONTH_SQL} AS month, {counted_sql} AS n "
        f"FROM ({events_sql}) s GROUP BY ALL) e "
        "JOIN ind_calendar c ON c.month = e.month GROUP BY ALL")


def compile_indicator(indicator: Indicator, start: dt.date, end: dt.date,
                      dialect: str = "duckdb") -> dict[str, str]:
    """The numerator's and denominator's queries, in ``dialect``."""
    out = {"numerator": measure_sql(indicator.numerator, start, end)}
    if indicator.denominator is not None:
        out["denominator"] = measure_sql(indicator.denominator, start, end)
    if dialect != "duckdb":
        out = {role: sqlglot.transpile(sql, read="duckdb", write=dialect)[0]
               for role, sql in out.items()}
    return out
