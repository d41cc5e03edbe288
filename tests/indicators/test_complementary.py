"""Complementary suppression (issue #21): no hidden cell is one subtraction away from the
published ones, along territory, period or indicator pairs. Hand-built grid; the attacker
tries every equation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from rmds.indicators.cells import equations
from rmds.indicators.stats import complementary_suppression, suppressed


def attack(numerator: npt.NDArray[np.float64], hidden: npt.NDArray[np.bool_],
           equations: Sequence[tuple[int, Sequence[int]]]) -> dict[int, float]:
    """Every hidden cell an attacker recovers by one subtraction of published cells."""
    found: dict[int, float] = {}
    for total, parts in equations:
        cells = [total, *parts]
        unknown = [c for c in cells if hidden[c]]
        if len(unknown) != 1:
            continue
        [cell] = unknown
        known_parts = sum(numerator[p] for p in parts if p != cell)
        found[cell] = (numerator[total] - known_parts) if cell != total else known_parts
    return found


# cells: 0 region R; 1, 2, 3 its municipalities A, B, C (a year's deaths);
#        4..7 A's quarters T1..T4 (they add up to cell 1);
#        8, 9, 10: infant, neonatal and post-neonatal deaths of a municipality
NUMERATOR = np.array([40.0, 3.0, 20.0, 17.0, 1.0, 0.0, 2.0, 0.0, 3.0, 2.0, 1.0])
EQUATIONS: list[tuple[int, Sequence[int]]] = [
    (0, (1, 2, 3)),        # region = municipalities
    (1, (4, 5, 6, 7)),     # A's year = its quarters
    (8, (9, 10)),          # infant = neonatal + post-neonatal
]


def test_primary_suppression_alone_leaks_and_the_attacker_finds_it() -> None:
    primary = suppressed(NUMERATOR, None, 5, event_denominator=False)
    # hidden: A (3), T1 (1), T3 (2), infant (3), neonatal (2), post-neonatal (1)
    assert np.flatnonzero(primary).tolist() == [1, 4, 6, 8, 9, 10]
    leaks = attack(NUMERATOR, primary, EQUATIONS)
    # region minus B and C gives A's 3 deaths: the leak the issue measured
    assert leaks == {1: 3.0}


def test_complementary_suppression_leaves_nothing_to_subtract() -> None:
    primary = suppressed(NUMERATOR, None, 5, event_denominator=False)
    hidden = complementary_suppression(NUMERATOR, primary, EQUATIONS)
    assert attack(NUMERATOR, hidden, EQUATIONS) == {}
    # the smallest shown part of the region is hidden beside A: C (17 < 20)
    assert np.flatnonzero(hidden & ~primary).tolist() == [3]


def test_hiding_cascades_across_equations() -> None:
    # cells: 0 region; 1, 2 municipalities A, B; 3..6 A's quarters
    numerator = np.array([10.0, 4.0, 6.0, 1.0, 0.0, 2.0, 1.0])
    equations: list[tuple[int, Sequence[int]]] = [(0, (1, 2)), (1, (3, 4, 5, 6))]
    primary = suppressed(numerator, None, 5, event_denominator=False)
    assert np.flatnonzero(primary).tolist() == [1, 3, 5, 6]
    # region 10 = A + B: A hidden alone there, so B (6) is hidden too
    hidden = complementary_suppression(numerator, primary, equations)
    assert np.flatnonzero(hidden).tolist() == [1, 2, 3, 5, 6]
    assert attack(numerator, hidden, equations) == {}


def test_a_consortium_is_the_sum_of_the_members_of_each_period() -> None:
    # consortium K: A all along; B left at the end of March 2023; C joined in May 2023.
    # Cells: K, A, B, C in 2023, 2023-T1 and 2023-T2
    periods = ["2023", "2023-T1", "2023-T2"]
    units = [("consorcio", "K"), ("municipio", "A"), ("municipio", "B"), ("municipio", "C")]
    cells = [(lv, code, p) for p in periods for lv, code in units]
    ids = np.array(["x"] * len(cells), dtype=object)
    levels = np.array([c[0] for c in cells], dtype=object)
    codes = np.array([c[1] for c in cells], dtype=object)
    period = np.array([c[2] for c in cells], dtype=object)
    vintages = np.array(["v"] * len(cells), dtype=object)
    roster = [("K", "v", "A", None, None), ("K", "v", "B", None, dt.date(2023, 3, 31)),
              ("K", "v", "C", dt.date(2023, 5, 1), None)]
    found = equations(ids, levels, codes, vintages, period, {}, {}, roster)
    by_total = {cells[t][2]: sorted(cells[p][1] for p in parts) for t, parts in found
                if cells[t][0] == "consorcio"}
    # the year: all three; T1: A and B (C not yet); T2: A and C (B gone)
    assert by_total == {"2023": ["A", "B", "C"], "2023-T1": ["A", "B"],
                        "2023-T2": ["A", "C"]}
