"""Small numbers, handled honestly: intervals, empirical-Bayes smoothing, suppression.

* Rates and ratios (events over births or person-years): the exact Poisson interval
  (Garwood, 1936), from chi-square quantiles.
* Proportions: the Wilson score interval.
* Smoothing: Marshall's (1991) global empirical-Bayes estimator. Each municipality's rate
  is pulled towards the mean of all municipalities by ``C = s² / (s² + m / n)``, where ``m``
  is the pooled rate, ``s²`` the between-municipality variance (moment estimate) and ``n``
  the municipality's denominator: small municipalities move a lot, large ones hardly at all.
* Suppression: a cell whose numerator (or event denominator) is between 1 and the threshold
  minus one is marked; public output never shows its counts, value, interval or smoothed
  value.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["eb_smooth", "poisson_interval", "suppressed", "wilson_interval"]

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


def eb_smooth(k: Array, n: Array, proportion: bool = False) -> Array:
    """Marshall's global empirical-Bayes estimates of ``k / n`` for a set of areas."""
    k = np.asarray(k, np.float64)
    n = np.asarray(n, np.float64)
    ok = n > 0
    out = np.full(k.shape, np.nan)
    if not ok.any() or n[ok].sum() <= 0:
        return out
    kk, nn = k[ok], n[ok]
    m = kk.sum() / nn.sum()
    rate = kk / nn
    within = m * (1 - m) if proportion else m
    s2 = float(np.sum(nn * (rate - m) ** 2) / nn.sum() - within / nn.mean())
    s2 = max(s2, 0.0)
    weight = s2 / (s2 + within / nn) if s2 > 0 else np.zeros_like(nn)
    out[ok] = m + weight * (rate - m)
    return out


def suppressed(numerator: Array, denominator: Array | None, threshold: int,
               event_denominator: bool) -> npt.NDArray[np.bool_]:
    """Cells to hide from public output: counts from 1 to ``threshold - 1``."""
    small = (numerator > 0) & (numerator < threshold)
    if denominator is not None and event_denominator:
        small |= (denominator > 0) & (denominator < threshold)
    out: npt.NDArray[np.bool_] = small
    return out
