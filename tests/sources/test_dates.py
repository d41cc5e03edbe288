"""Date decoding in the mappers: fixed layouts parsed with integer arithmetic."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from rmds.schema import table
from rmds.sources.mapping import MapContext


@pytest.mark.parametrize(("fmt", "values"), [
    ("%d%m%Y", ["29022024", "31022023", "01132023", "15071990", "", "00000000", "1507199x"]),
    ("%Y%m%d", ["20240229", "20230231", "20231301", "19900715", "", "00000000", "1990071x"]),
    ("%Y-%m-%d", ["2024-02-29", "2023-02-31", "2023-13-01", "1990-07-15", "", "0", "1990/07/15"]),
    ("%d/%m/%Y", ["29/02/2024", "31/02/2023", "01/13/2023", "15/07/1990", "", "0", "15-07-1990"]),
])
def test_fixed_layout_dates_reject_impossible_days_instead_of_normalising(
        fmt: str, values: list[str]) -> None:
    ctx = MapContext(pa.table({"d": values}), pa.array(range(1, len(values) + 1)), "f", "X",
                     "x")
    parsed = ctx.date("d", fmt).to_pylist()
    assert parsed == [dt.date(2024, 2, 29), None, None, dt.date(1990, 7, 15), None, None, None]
    result = ctx.finish(table("deaths"), {})
    bad = sorted(result.quarantine.column("source_row").to_pylist())
    assert bad == [2, 3, 7]  # impossible or malformed; blanks and zeros are just missing
