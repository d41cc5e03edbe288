"""Small numbers, handled honestly: intervals, empirical-Bayes smoothing, suppression.

* Rates and ratios (events over births or person-years): the exact Poisson interval
  (Garwood, 1936), from chi-square quantiles.
* Proportions: the Wilson score interval.
* Smoothing: Marshall's (1991) empirical-Bayes estimator with a local prior. Each
  municipality's rate ``r`` becomes ``m + C (r - m)`` with ``C = s² / (s² + v / n)``, where
  ``m`` is the pooled rate of its own health region (the macro-region when the region has
  fewer than ``MIN_PRIOR_UNITS`` municipalities with a denominator, the state when the
  macro-region has too), ``s²`` the between-municipality variance in that group (moment
  estimate), ``n`` the municipality's denominator and ``v`` the within-municipality
  variance at ``m``: binomial ``m (1 - m)`` for proportions (coverages included), Poisson
  ``m`` for rates. ``s²`` is never taken below the variance of the group mean (``v / N``,
  ``N`` the group's denominator), so municipalities that differ never all collapse onto
  the same value; and the smoothed value never leaves the municipality's own 95% interval,
  so a large municipality hardly moves. Municipalities with events but no denominator get
  no smoothed value and stay out of every prior.
* Age-standardised rates (direct method): the age-specific rates weighted by a standard
  population, with the gamma interval of Fay and Feuer (1997), which keeps its coverage
  when a few deaths fall in groups of very different weight.
* Suppression: a cell whose numerator (or event denominator) is between 1 and the threshold
  minus one is marked; public output never shows its counts, value, interval or smoothed
  value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["MIN_PRIOR_UNITS", "complementary_suppression", "direct_standardised", "eb_smooth",
           "poisson_interval", "suppressed", "wilson_interval"]

#: fewest areas with a denominator a group needs to give its own prior (else the next level)
MIN_PRIOR_UNITS = 5

Array = npt.NDArray[np.float64]


def poisson_interval(k: Array, n: Array, level: float = 0.95) -> tuple[Array, Array]:
    """Exact (Garwood) interval for ``k / n`` where ``k`` is a Poisson count."""
    alpha = 1.0 - level
    k = np.asarray(k, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(k > 0, stats.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0)
        high = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
        ok = n > 0
        return (np.where(ok, low / np.where(ok, n, 1), np.nan),
                np.where(ok, high / np.where(ok, n, 1), np.nan))


def direct_standardised(events: Array, exposure: Array, weights: Sequence[float],
                        level: float = 0.95) -> tuple[Array, Array, Array]:
    """Directly standardised rate and its Fay–Feuer gamma interval, row by row.

    ``events`` and ``exposure`` are (cells × age groups); ``weights`` the standard's share
    of each group (summing to one). A group with events but no exposure leaves the cell
    without a rate; a group with neither contributes nothing."""
    d = np.asarray(events, np.float64)
    p = np.asarray(exposure, np.float64)
    w = np.asarray(weights, np.float64)[None, :]
    alpha = 1.0 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        has = p > 0
        safe = np.where(has, p, 1.0)
        rate = np.where(has, w * d / safe, 0.0).sum(axis=1)
        var = np.where(has, w * w * d / (safe * safe), 0.0).sum(axis=1)
        w_max = np.where(has, w / safe, 0.0).max(axis=1)
        undefined = ((d > 0) & ~has).any(axis=1) | ~has.any(axis=1)
        low = np.where(rate > 0, stats.gamma.ppf(alpha / 2, rate * rate / np.where(
            var > 0, var, 1.0), scale=var / np.where(rate > 0, rate, 1.0)), 0.0)
        up_shape = (rate + w_max) ** 2 / (var + w_max * w_max)
        high = stats.gamma.ppf(1 - alpha / 2, up_shape,
                               scale=(var + w_max * w_max) / (rate + w_max))
    nan = np.full(rate.shape, np.nan)
    return (np.where(undefined, nan, rate), np.where(undefined, nan, low),
            np.where(undefined, nan, high))


def wilson_interval(k: Array, n: Array, level: float = 0.95) -> tuple[Array, Array]:
    """Wilson score interval for the proportion ``k / n``."""
    z = float(stats.norm.ppf(1 - (1 - level) / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
        ok = n > 0
        return (np.where(ok, np.clip(centre - half, 0, 1), np.nan),
                np.where(ok, np.clip(centre + half, 0, 1), np.nan))


def eb_smooth(k: Array, n: Array, proportion: bool = False, *,
              hierarchy: Sequence[npt.ArrayLike] = (), min_units: int = MIN_PRIOR_UNITS,
              bounds: tuple[Array, Array] | None = None) -> Array:
    """Marshall's empirical-Bayes estimates of ``k / n``, each area shrunk towards its own
    group (see the module docstring).

    ``hierarchy`` gives, finest first, each area's group label at every level (region,
    then macro-region); an area takes its prior from the finest group holding at least
    ``min_units`` usable areas, else the next, else all areas. ``proportion`` chooses the
    binomial within-area variance ``m(1 - m)``, otherwise the Poisson one ``m``. ``bounds``
    (each area's interval) caps the move: the smoothed value never leaves it. Areas with no
    positive, finite denominator get no estimate and do not enter any prior."""
    k = np.asarray(k, np.float64)
    n = np.asarray(n, np.float64)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(n) & (n > 0) & np.isfinite(k)
    out = np.full(k.shape, np.nan)
    if not ok.any():
        return out
    rate = np.where(ok, k / np.where(ok, n, 1.0), 0.0)
    mean, between, within = _prior(k, n, rate, ok, np.zeros(k.shape, np.int64), proportion)
    for labels in reversed(list(hierarchy)):
        codes = np.unique(np.asarray(labels, dtype=object).astype(str), return_inverse=True)[1]
        m, s2, w = _prior(k, n, rate, ok, codes, proportion)
        usable = np.bincount(codes, weights=ok.astype(np.float64))[codes] >= min_units
        mean = np.where(usable, m, mean)
        between = np.where(usable, s2, between)
        within = np.where(usable, w, within)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(within > 0, between / (between + within / np.where(ok, n, 1.0)),
                          1.0)
    smooth = mean + weight * (rate - mean)
    if bounds is not None:
        low, high = (np.asarray(b, np.float64) for b in bounds)
        smooth = np.where(np.isfinite(low), np.maximum(smooth, low), smooth)
        smooth = np.where(np.isfinite(high), np.minimum(smooth, high), smooth)
    out[ok] = smooth[ok]
    return out


def _prior(k: Array, n: Array, rate: Array, ok: npt.NDArray[np.bool_],
           codes: npt.NDArray[np.int64], proportion: bool) -> tuple[Array, Array, Array]:
    """Each area's group mean, between-area variance (moment estimate, floored at the
    variance of the group mean) and within-area variance at the group mean."""
    used = ok.astype(np.float64)
    big_k = np.bincount(codes, weights=np.where(ok, k, 0.0) * used)
    big_n = np.bincount(codes, weights=np.where(ok, n, 0.0) * used)
    count = np.bincount(codes, weights=used)
    with np.errstate(divide="ignore", invalid="ignore"):
        group_mean = np.where(big_n > 0, big_k / np.where(big_n > 0, big_n, 1.0), np.nan)
        mean = group_mean[codes]
        if proportion:
            p = np.clip(mean, 0.0, 1.0)
            within = p * (1.0 - p)
        else:
            within = mean
        squares = np.bincount(codes, weights=used * np.where(ok, n, 0.0)
                              * np.nan_to_num(rate - mean) ** 2)
        spread = (squares / np.where(big_n > 0, big_n, 1.0))[codes]
        average_n = (big_n / np.where(count > 0, count, 1.0))[codes]
        moment = spread - within / average_n
        floor = within / big_n[codes]
    return mean, np.maximum(moment, floor), within


def suppressed(numerator: Array, denominator: Array | None, threshold: int,
               event_denominator: bool) -> npt.NDArray[np.bool_]:
    """Cells to hide from public output: counts from 1 to ``threshold - 1``."""
    small = (numerator > 0) & (numerator < threshold)
    if denominator is not None and event_denominator:
        small |= (denominator > 0) & (denominator < threshold)
    out: npt.NDArray[np.bool_] = small
    return out


def complementary_suppression(numerator: Array, hidden: npt.NDArray[np.bool_],
                              equations: Sequence[tuple[int, Sequence[int]]]
                              ) -> npt.NDArray[np.bool_]:
    """Secondary suppression: ``hidden`` widened until no equation ``total = Σ parts``
    (a cell index and the indices of the cells that add up to it: a region and its
    municipalities, a year and its quarters, infant = neonatal + post-neonatal deaths) has
    exactly one hidden cell, the one a subtraction of published cells would reveal. In an
    equation with one hidden cell, the part with the smallest numerator that is still shown
    is hidden too (the total when every part is hidden); hiding cascades to the other
    equations the cell is in, until nothing changes.

    It protects against one subtraction per equation, not against solving several
    equations together."""
    out = np.array(hidden, dtype=np.bool_, copy=True)
    by_cell: dict[int, list[int]] = {}
    for number, (total, parts) in enumerate(equations):
        for cell in (total, *parts):
            by_cell.setdefault(int(cell), []).append(number)
    pending = list(range(len(equations)))
    while pending:
        number = pending.pop()
        total, parts = equations[number]
        cells = [int(total), *(int(p) for p in parts)]
        if sum(bool(out[c]) for c in cells) != 1:
            continue
        shown = [int(p) for p in parts if not out[int(p)]]
        chosen = min(shown, key=lambda c: (numerator[c], c)) if shown else int(total)
        out[chosen] = True
        pending.extend(by_cell.get(chosen, []))
    return out
