"""Epidemiological weeks as SINAN counts them (the MMWR convention).

A week runs from Sunday to Saturday; week 1 of a year is the first week with at least four
days in that year — the week holding 4 January. So 1 January 2023 (a Sunday) opens week 1
of 2023, while 1 January 2022 (a Saturday) closes week 52 of 2021. Weeks are written as
``AAAASS`` integers (``202301``), as SINAN writes ``SEM_PRI`` and ``SEM_NOT``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt

__all__ = ["epi_week", "epi_weeks", "week_start", "weeks_in_year"]

_EPOCH = dt.date(1970, 1, 1)  # a Thursday: day 0 is 4 days after a Sunday


def _week1_start(year: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Day number (since 1970-01-01) of the Sunday that opens week 1 of each year."""
    jan4 = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64) + 3
    return jan4 - (jan4 + 4) % 7


def epi_weeks(days: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``AAAASS`` of each day number (days since 1970-01-01)."""
    days = np.asarray(days, dtype=np.int64)
    sunday = days - (days + 4) % 7
    # the week belongs to the year of its Wednesday (≥ 4 of its days lie in that year)
    year = (sunday + 3).astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    week = (sunday - _week1_start(year)) // 7 + 1
    return np.asarray(year * 100 + week, dtype=np.int64)


def epi_week(day: dt.date) -> int:
    return int(epi_weeks(np.array([(day - _EPOCH).days]))[0])


def week_start(year: int, week: int) -> dt.date:
    """The Sunday that opens epidemiological week ``week`` of ``year``."""
    first = int(_week1_start(np.array([year], dtype=np.int64))[0])
    return _EPOCH + dt.timedelta(days=first + 7 * (week - 1))


def weeks_in_year(year: int) -> int:
    """52 or 53."""
    return 53 if epi_week(week_start(year, 53)) == year * 100 + 53 else 52
