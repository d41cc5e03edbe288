"""Finding the row groups that may hold a person (or a CNS/CPF): a bisection over the
groups' ranges gives exactly what a scan of every group gives, overlapping files included;
and the projection's column-by-column conversion gives what ``Table.to_pylist`` gives."""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa

from rmds.care.projection import _Ranges, _records


def _scan(groups: list[tuple[str, int, int, int]], value: int) -> dict[str, list[int]]:
    wanted: dict[str, list[int]] = {}
    for path, group, low, high in groups:
        if low <= value <= high:
            wanted.setdefault(path, []).append(group)
    return wanted


def test_bisection_finds_what_a_scan_finds() -> None:
    rng = random.Random(5)
    groups: list[tuple[str, int, int, int]] = []
    for f in range(4):                 # four files, each sorted, ranges overlapping across
        low = rng.randint(0, 50)
        for g in range(rng.randint(1, 30)):
            high = low + rng.randint(0, 9)
            groups.append((f"f{f}.parquet", g, low, high))
            low = high + rng.randint(0, 3)   # touching (a person across two groups) or not
    rng.shuffle(groups)
    ranges = _Ranges(groups)
    for value in range(-5, 400):
        found = ranges.holding(value)
        assert found == {k: sorted(v) for k, v in _scan(groups, value).items()}  # in order
    assert _Ranges([]).holding(7) == {}


def test_rows_convert_as_to_pylist_does() -> None:
    table = pa.table({
        "person_id": pa.array([1, 2, None], pa.int64()),
        "date": pa.array([dt.date(2023, 1, 2), None, dt.date(1800, 12, 31)], pa.date32()),
        "far": pa.array([dt.date(9999, 12, 31), dt.date(1, 1, 1), None], pa.date32()),
        "details": pa.array(['{"a":1}', None, "{}"]),
    })
    assert _records(table) == table.to_pylist()
    assert _records(None) == [] and _records(table.slice(0, 0)) == []
