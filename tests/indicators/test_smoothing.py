"""Empirical-Bayes smoothing (issue #21): a local prior (region, then macro-region), the
variance model of the measure, no move outside the area's own interval, no collapse.

Every expected number below is worked by hand from the formulas in
:mod:`rmds.indicators.stats`: ``smoothed = m + C (r - m)``, ``C = s² / (s² + v / n)``,
``s² = max(Σ n (r - m)² / N - v / n̄, v / N)``, ``v = m`` (Poisson) or ``m (1 - m)``.
"""

from __future__ import annotations

import numpy as np
import pytest

from rmds.indicators.stats import eb_smooth, wilson_interval

HUNDRED = np.full(3, 100.0)


def test_areas_move_towards_their_own_region() -> None:
    # region A: 2, 8, 20 per 100 -> m = 0.1, Σn(r-m)²/N = 1.68/300 = 0.0056,
    #   s² = 0.0056 - 0.1/100 = 0.0046, C = 0.0046/0.0056 = 0.8214...
    # region B: 50, 60, 70 per 100 -> m = 0.6, moment 0.02/3 - 0.006 = 0.000667 is below
    #   the floor v/N = 0.6/300 = 0.002, so s² = 0.002 and C = 0.002/0.008 = 0.25
    k = np.array([2.0, 8.0, 20.0, 50.0, 60.0, 70.0])
    n = np.full(6, 100.0)
    region = np.array(["A", "A", "A", "B", "B", "B"])
    macro = np.array(["M"] * 6)
    smooth = eb_smooth(k, n, hierarchy=[region, macro], min_units=3)
    c = 0.0046 / 0.0056
    assert smooth == pytest.approx([0.1 + c * (r - 0.1) for r in (0.02, 0.08, 0.20)]
                                   + [0.575, 0.6, 0.625])
    # 20/100 sits above its region's 0.1 and below the state's 0.35: it moves down,
    # towards its region (the global prior moved it up, towards the state)
    assert smooth[2] < 0.20 < eb_smooth(k, n)[2]
    # 50/100 sits below its region's 0.6 and above the state's 0.35: it moves up
    assert smooth[3] > 0.50 > eb_smooth(k, n)[3]


def test_a_region_with_too_few_areas_takes_the_macro_region_prior() -> None:
    # region C has one area (30/100); with min_units = 3 it takes macro M1 = A ∪ C:
    # m = 60/400 = 0.15, Σn(r-m)²/N = 4.68/400 = 0.0117, s² = 0.0117 - 0.15/100 = 0.0102,
    # C = 0.0102 / (0.0102 + 0.0015), smoothed = 0.15 + C × 0.15
    k = np.array([2.0, 8.0, 20.0, 30.0, 50.0, 60.0, 70.0])
    n = np.full(7, 100.0)
    region = np.array(["A", "A", "A", "C", "B", "B", "B"])
    macro = np.array(["M1", "M1", "M1", "M1", "M2", "M2", "M2"])
    smooth = eb_smooth(k, n, hierarchy=[region, macro], min_units=3)
    assert smooth[3] == pytest.approx(0.15 + 0.0102 / 0.0117 * 0.15)
    # region A still uses its own prior, unchanged by its neighbour C
    assert smooth[:3] == pytest.approx(eb_smooth(k[:3], n[:3]))


def test_proportions_use_the_binomial_variance() -> None:
    # 80, 90, 95 per 100: m = 265/300, v = m(1 - m) = 0.103056,
    # Σn(r-m)²/N = 0.0038889, s² = 0.0038889 - 0.00103056 = 0.0028583,
    # C = 0.0028583 / (0.0028583 + 0.00103056) = 0.735
    k = np.array([80.0, 90.0, 95.0])
    m = 265 / 300
    v = m * (1 - m)
    s2 = (100 * ((0.8 - m) ** 2 + (0.9 - m) ** 2 + (0.95 - m) ** 2) / 300) - v / 100
    c = s2 / (s2 + v / 100)
    assert c == pytest.approx(0.735)
    assert eb_smooth(k, HUNDRED, proportion=True) == pytest.approx(
        [m + c * (r - m) for r in (0.8, 0.9, 0.95)])
    # the Poisson variance (m instead of m(1 - m)) shrinks a coverage far more
    poisson = eb_smooth(k, HUNDRED)
    assert abs(poisson[0] - 0.8) > abs(eb_smooth(k, HUNDRED, proportion=True)[0] - 0.8)


def test_a_large_municipality_stays_within_its_interval() -> None:
    # one city at 920/1000 and twenty towns at 40/50: m = 1720/2000 = 0.86.
    # Under a Poisson variance the moment estimate is 0.0036 - 0.86/95.2 < 0 and every
    # area collapsed onto 0.86, outside the city's Wilson interval (0.902, 0.935).
    k = np.array([920.0] + [40.0] * 20)
    n = np.array([1000.0] + [50.0] * 20)
    low, high = wilson_interval(k, n)
    # binomial: s² = 0.0036 - 0.1204/95.238 = 0.0023358, C = s²/(s² + 0.1204/1000)
    s2 = 0.0036 - 0.86 * 0.14 / (2000 / 21)
    c = s2 / (s2 + 0.86 * 0.14 / 1000)
    smooth = eb_smooth(k, n, proportion=True, bounds=(low, high))
    assert smooth[0] == pytest.approx(0.86 + c * 0.06)
    assert low[0] <= smooth[0] <= high[0]
    # the bounds bite when the prior would pull an area out of its interval
    capped = eb_smooth(k, n, proportion=False, bounds=(low, high))
    assert capped[0] == pytest.approx(low[0])


def test_areas_that_differ_never_collapse_onto_one_value() -> None:
    # 9, 10, 11 per 100: the moment estimate 0.02/300 - 0.001 is negative; the floor
    # v/N = 0.1/300 gives C = (1/3000) / (1/3000 + 1/1000) = 0.25
    smooth = eb_smooth(np.array([9.0, 10.0, 11.0]), HUNDRED)
    assert smooth == pytest.approx([0.0975, 0.1, 0.1025])
    assert len(set(np.round(smooth, 12))) == 3


def test_events_without_a_denominator_stay_out_of_the_prior() -> None:
    k = np.array([2.0, 8.0, 20.0, 5.0, 7.0])
    n = np.array([100.0, 100.0, 100.0, 0.0, np.nan])
    smooth = eb_smooth(k, n)
    assert np.isnan(smooth[3]) and np.isnan(smooth[4])
    assert smooth[:3] == pytest.approx(eb_smooth(k[:3], n[:3]))
