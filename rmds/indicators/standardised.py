"""Age-standardised indicators on the engine: the counts of each 5-year group (extra roles
of the numerator and the denominator, rolled up like every count) and, from them, the
directly standardised rate of every cell (:mod:`rmds.indicators.standards`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pyarrow as pa

from rmds.engine import Engine
from rmds.engine.sql import ident, lit
from rmds.indicators.catalog import Indicator, Measure
from rmds.indicators.compiler import divisor
from rmds.indicators.standards import bands, load_standards
from rmds.indicators.stats import direct_standardised

__all__ = ["band_measures", "standardised_cells"]


def band_measures(indicator: Indicator) -> list[tuple[str, Measure]]:
    """An age-standardised indicator's numerator and denominator in each 5-year group of
    its denominator's ages, as roles ``numerator@30``, ``denominator@30``, …"""
    how, den = indicator.standardised, indicator.denominator
    if how is None or den is None or den.ages is None:
        return []
    out: list[tuple[str, Measure]] = []
    base = indicator.numerator.filter or "TRUE"
    for low, high in bands(den.ages):
        ages_sql = (f"{ident(how.age)} >= {lit(low)}" if high is None
                    else f"{ident(how.age)} BETWEEN {lit(low)} AND {lit(high)}")
        out.append((f"numerator@{low}", replace(indicator.numerator,
                                                filter=f"({base}) AND {ages_sql}")))
        out.append((f"denominator@{low}", replace(den, ages=(low, high or 120))))
    return out


def standardised_cells(engine: Engine, grid: pa.Table, chosen: Sequence[Indicator]
                  ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Directly age-standardised rate and interval (per person-year) for the grid's rows of
    standardised indicators; NaN elsewhere."""
    size = grid.num_rows
    value, low, high = (np.full(size, np.nan) for _ in range(3))
    wanted = [i for i in chosen if i.standardised and i.denominator and i.denominator.ages]
    if not wanted:
        return value, low, high
    ids = grid.column("indicator_id").to_pylist()
    keys = list(zip(ids, grid.column("level").to_pylist(), grid.column("unit_code").to_pylist(),
                    grid.column("period_type").to_pylist(), grid.column("period").to_pylist(),
                    strict=True))
    standards = load_standards()
    for indicator in wanted:
        how, den = indicator.standardised, indicator.denominator
        assert how is not None and den is not None and den.ages is not None
        groups = [low_ for low_, _ in bands(den.ages)]
        found = engine.query(
            "SELECT role, level, unit_code, period_type, period, n FROM ind_rolled "
            f"WHERE indicator = {lit(indicator.id)} AND role LIKE '%@%'").to_pydict()
        rows = [i for i, key in enumerate(keys) if key[0] == indicator.id]
        at = {keys[i][1:]: j for j, i in enumerate(rows)}
        events = np.zeros((len(rows), len(groups)))
        exposure = np.zeros((len(rows), len(groups)))
        for role, level, code, kind, period, n in zip(
                found["role"], found["level"], found["unit_code"], found["period_type"],
                found["period"], found["n"], strict=True):
            j = at.get((level, code, kind, period))
            if j is None:
                continue
            part, group = str(role).split("@")
            column = groups.index(int(group))
            if part == "numerator":
                events[j, column] = float(n)
            else:   # person-months → person-years
                exposure[j, column] = float(n) / divisor(den)
        rate, lo, hi = direct_standardised(
            events, exposure, standards[how.standard].weights_for(den.ages))
        index = np.asarray(rows, np.int64)
        value[index], low[index], high[index] = rate, lo, hi
    return value, low, high
