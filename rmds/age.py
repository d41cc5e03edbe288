"""Age in completed years, from the calendar: one rule for every place that computes it.

A person is *n* years old from the day of their *n*-th birthday (same month and day), not
after ``n × 365.25`` days: a dose given on the first birthday is given at age 1. Someone born
on 29 February has their birthday on 1 March in common years (the day after 28 February).

The rule is written three times, each for one medium, and the tests check that they agree:
:func:`completed_years` (NumPy day numbers), :func:`completed_years_date` (Python dates) and
:func:`completed_years_sql` (SQL text with ``year``/``month``/``day`` only, which sqlglot
renders for DuckDB and Spark alike).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt

__all__ = ["add_years", "completed_years", "completed_years_date", "completed_years_sql"]

_EPOCH = np.datetime64("1970-01-01", "D")


def _ymd(day: npt.NDArray[np.integer]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64],
                                                 npt.NDArray[np.int64]]:
    dates = _EPOCH + np.asarray(day, dtype=np.int64).astype("timedelta64[D]")
    years = dates.astype("datetime64[Y]")
    months = dates.astype("datetime64[M]")
    year = years.astype(np.int64) + 1970
    month = (months - years.astype("datetime64[M]")).astype(np.int64) + 1
    mday = (dates - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, mday


def completed_years(birth: npt.ArrayLike, on: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Completed years on day ``on`` of people born on day ``birth`` (days since
    1970-01-01, as integers); negative when ``on`` is before the birth."""
    by, bm, bd = _ymd(np.asarray(birth))
    oy, om, od = _ymd(np.asarray(on))
    before_birthday = (om < bm) | ((om == bm) & (od < bd))
    years: npt.NDArray[np.int64] = oy - by - before_birthday.astype(np.int64)
    return years


def completed_years_date(birth: dt.date, on: dt.date) -> int:
    """:func:`completed_years` for one pair of Python dates."""
    return on.year - birth.year - int((on.month, on.day) < (birth.month, birth.day))


def add_years(birth: npt.ArrayLike, years: int) -> npt.NDArray[np.int64]:
    """The day (days since 1970-01-01) of the ``years``-th birthday: the first day on which
    :func:`completed_years` reaches ``years`` (1 March for 29 February in common years)."""
    by, bm, bd = _ymd(np.asarray(birth))
    month = ((by + years - 1970) * 12 + bm - 1).astype("timedelta64[M]")
    month_start = (np.datetime64("1970-01", "M") + month).astype("datetime64[D]")
    day = (month_start - _EPOCH).astype(np.int64) + bd - 1
    # 29 February of a common year lands on 1 March, which is the rule above
    result: npt.NDArray[np.int64] = day
    return result


def completed_years_sql(birth_sql: str, on_sql: str) -> str:
    """SQL for the completed years on ``on_sql`` of someone born on ``birth_sql`` (both
    column references built by :mod:`rmds.engine.sql`); NULL when either is NULL."""
    b, o = birth_sql, on_sql
    return (f"(year({o}) - year({b}) - CASE WHEN month({o}) < month({b}) OR "
            f"(month({o}) = month({b}) AND day({o}) < day({b})) THEN 1 ELSE 0 END)")
