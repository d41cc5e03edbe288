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

from rmds.indicators.catalog import Indicator, Measure
from rmds.indicators.expr import compile_filter
from rmds.indicators.inputs import INPUTS

__all__ = ["compile_indicator", "measure_sql"]


def _events(measure: Measure, start: dt.date, end: dt.date, *, from_start: bool = True
            ) -> str:
    """``SELECT municipality, d[, k] FROM input WHERE …`` for one measure."""
    assert measure.input and measure.date and measure.territory
    relation = INPUTS[measure.input].relation
    key = f", x.{measure.distinct} AS k" if measure.distinct else (
        f", x.{measure.sum} AS k" if measure.sum else "")
    lower = f"x.{measure.date} >= DATE '{start.isoformat()}' AND " if from_start else ""
    where = (f"{lower}x.{measure.date} < DATE '{end.isoformat()}' "
             f"AND x.{measure.territory} IS NOT NULL AND x.{measure.date} IS NOT NULL "
             f"AND {compile_filter(measure.filter, 'x')}")
    if measure.distinct:
        where += f" AND x.{measure.distinct} IS NOT NULL"
    among = measure.among
    if among is not None:
        other = INPUTS[among.input].relation
        dated = f" AND a.{among.date} <= x.{measure.date}" if among.date else ""
        where += (f" AND EXISTS (SELECT 1 FROM {other} a WHERE a.{among.key} = x.{among.key}"
                  f"{dated} AND {compile_filter(among.filter, 'a')})")
    return (f"SELECT x.{measure.territory} AS municipality, x.{measure.date} AS d{key} "
            f"FROM {relation} x WHERE {where}")


def _population(measure: Measure) -> str:
    conditions = ["TRUE"]
    if measure.ages is not None:
        low, high = measure.ages
        conditions.append(f"pop.age_low >= {low}")
        if high < 80:
            conditions.append(f"pop.age_low <= {high - 4}")
    if measure.sex is not None:
        conditions.append(f"pop.sex = '{measure.sex}'")
    return (
        "SELECT pop.municipality, p.period_type, p.period, "
        "sum(pop.pop) * p.months / 12.0 AS n "
        "FROM ind_population pop JOIN ind_periods p ON pop.year = p.population_year "
        f"WHERE {' AND '.join(conditions)} "
        "GROUP BY pop.municipality, p.period_type, p.period, p.months")


def measure_sql(measure: Measure, start: dt.date, end: dt.date) -> str:
    """(municipality, period_type, period, n) for one measure, in DuckDB SQL."""
    if measure.population:
        return _population(measure)
    if measure.cumulative:
        # people (or events) counted once, at their first date, and accumulated to the end
        # of each period
        events = _events(measure, start, end, from_start=False)
        if measure.distinct:
            firsts = (f"SELECT municipality, k, min(d) AS d FROM ({events}) e "
                      "GROUP BY municipality, k")
        else:
            firsts = events
        return (
            "SELECT m.municipality, p.period_type, p.period, sum(m.n) AS n FROM ("
            "SELECT municipality, date_trunc('month', d) AS month, count(*) AS n "
            f"FROM ({firsts}) f GROUP BY ALL) m "
            "JOIN ind_periods p ON m.month <= p.last_month GROUP BY ALL")
    events = _events(measure, start, end)
    if measure.distinct:
        return (
            "SELECT e.municipality, c.period_type, c.period, count(DISTINCT e.k) AS n FROM ("
            f"SELECT DISTINCT municipality, date_trunc('month', d) AS month, k FROM ({events}) "
            "s) e JOIN ind_calendar c ON c.month = e.month GROUP BY ALL")
    counted = "coalesce(sum(k), 0)" if measure.sum else "count(*)"
    return (
        "SELECT e.municipality, c.period_type, c.period, sum(e.n) AS n FROM ("
        f"SELECT municipality, date_trunc('month', d) AS month, {counted} AS n "
        f"FROM ({events}) s GROUP BY ALL) e "
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
