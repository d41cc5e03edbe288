"""Each cell's statistics: value, 95% interval, empirically-Bayes-smoothed value and the
suppression flag, primary (small cells) and complementary (no blank recoverable by
subtraction along the sums a reader of the public mart could form)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from rmds.indicators.catalog import Catalog, Indicator
from rmds.indicators.stats import (
    complementary_suppression,
    eb_smooth,
    poisson_interval,
    suppressed,
    wilson_interval,
)
from rmds.territory import Level

__all__ = ["SUMS", "ConsortiumMember", "cell_statistics", "equations"]

#: (consortium, vintage, municipality, valid from, valid to)
ConsortiumMember = tuple[str, str, str, dt.date | None, dt.date | None]


def _is_proportion(indicator: Indicator) -> bool:
    """Binomial variance for proportions (Wilson interval) and coverages in %; Poisson for
    rates."""
    return indicator.method == "wilson" or indicator.unit.strip() == "%"


#: indicators whose numerators add up, with the same denominator (declared here, checked
#: against the catalog by the test): infant deaths = neonatal + post-neonatal
SUMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("mortalidade_infantil", ("mortalidade_neonatal", "mortalidade_pos_neonatal")),
)


def equations(ids: Any, levels: Any, codes: Any, vintages: Any, periods: Any,
               places: dict[tuple[str, str], tuple[str, str]],
               urs: dict[tuple[str, str], str],
               consortia: Sequence[ConsortiumMember] = ()) -> list[tuple[int, list[int]]]:
    """Every "total = Σ parts" among the mart's cells that a reader of the public form
    could subtract along (:func:`rmds.indicators.stats.complementary_suppression`):
    a year and its quarters, a year and its months, a quarter and its months; a health
    region and its municipalities, a macro-region and its regions, the state and its
    macro-regions, a URS and its municipalities (in each vintage); and the indicators of
    :data:`SUMS`; and a consortium and the municipalities that were its members at some
    time in the period (``consortia``: (consortium, vintage, municipality, valid from,
    valid to)), the same members its roll-up adds up. Memberships overlap (a municipality
    in two consortia) and change with time: each consortium and period is its own
    equation."""
    at: dict[tuple[str, str, str, str, str], int] = {}
    for i, key in enumerate(zip(ids, levels, codes, vintages, periods, strict=True)):
        at[tuple(str(x) for x in key)] = i  # type: ignore[index]
    out: list[tuple[int, list[int]]] = []
    parts: dict[tuple[str, str, str, str, str], list[int]] = {}

    def add(total: tuple[str, str, str, str, str], i: int) -> None:
        if total in at:
            parts.setdefault(total, []).append(i)

    for (ind, level, code, vintage, period), i in at.items():
        if "-T" in period:
            add((ind, level, code, vintage, period[:4]), i)
        elif "-" in period:
            quarter = (int(period[5:7]) + 2) // 3
            add((ind, level, code, vintage, f"{period[:4]}-T{quarter}"), i)
        if level == Level.MUNICIPALITY.value:
            region, _ = places.get((code, vintage), ("", ""))
            if region:
                add((ind, Level.REGION.value, region, vintage, period), i)
            if (code, vintage) in urs:
                add((ind, Level.URS.value, urs[(code, vintage)], vintage, period), i)
    # a year and its twelve months (beside its quarters)
    for (ind, level, code, vintage, period), i in at.items():
        if "-" in period and "-T" not in period:
            total = (ind, level, code, vintage, period[:4])
            if total in at:
                out_key = (ind, level, code, vintage, period[:4] + "/meses")
                parts.setdefault(out_key, []).append(i)
    regions_in: dict[tuple[str, str], str] = {}
    for (_code, vintage), (region, macro) in places.items():
        if region and macro:
            regions_in[(region, vintage)] = macro
    for (ind, level, code, vintage, period), i in at.items():
        if level == Level.REGION.value and (code, vintage) in regions_in:
            add((ind, Level.MACRO.value, regions_in[(code, vintage)], vintage, period), i)
        elif level == Level.MACRO.value:
            add((ind, Level.STATE.value, code[:2], vintage, period), i)   # UF = 2 digits
    for total, members in parts.items():
        whole = total if not total[4].endswith("/meses") else \
            (total[0], total[1], total[2], total[3], total[4][:4])
        out.append((at[whole], members))
    joined: dict[tuple[str, str], list[tuple[str, dt.date | None, dt.date | None]]] = {}
    for consortium, vintage, municipality, start, end in consortia:
        joined.setdefault((consortium, vintage), []).append((municipality, start, end))
    for (ind, level, code, vintage, period), i in at.items():
        if level != Level.CONSORTIUM.value or (code, vintage) not in joined:
            continue
        first, last = _period_days(period)
        wanted = [(ind, Level.MUNICIPALITY.value, m, vintage, period)
                  for m, start, end in joined[(code, vintage)]
                  if (start is None or start <= last) and (end is None or end >= first)]
        if wanted and all(key in at for key in wanted):
            out.append((i, [at[key] for key in wanted]))
    for total_id, part_ids in SUMS:
        for (ind, level, code, vintage, period), i in at.items():
            if ind != total_id:
                continue
            found = [at[key] for key in ((p, level, code, vintage, period) for p in part_ids)
                     if key in at]
            if len(found) == len(part_ids):
                out.append((i, found))
    return out


def _period_days(period: str) -> tuple[dt.date, dt.date]:
    """First and last day of a period label (AAAA, AAAA-Tn, AAAA-MM)."""
    year = int(period[:4])
    if "-T" in period:
        first_month, months = 3 * int(period[-1]) - 2, 3
    elif "-" in period:
        first_month, months = int(period[5:7]), 1
    else:
        first_month, months = 1, 12
    last_month = first_month + months - 1
    following = dt.date(year + last_month // 12, last_month % 12 + 1, 1)
    return dt.date(year, first_month, 1), following - dt.timedelta(days=1)


def cell_statistics(table: pa.Table, catalog: Catalog, threshold: int,
                hierarchy: dict[tuple[str, str], tuple[str, str]] | None = None,
                urs: dict[tuple[str, str], str] | None = None,
                consortia: Sequence[ConsortiumMember] = (),
                standardised: tuple[Any, Any, Any] | None = None) -> pa.Table:
    """Value, interval, smoothed value and suppression flag for every cell. ``hierarchy``
    maps (municipality, vintage) to its (region, macro-region): the smoothing prior.
    ``standardised`` gives, row by row, the age-standardised rate and its interval (per
    unit of the denominator) that replace the crude ones for standardised indicators, which
    are not smoothed (empirical Bayes applies to crude counts)."""
    ids = table.column("indicator_id").to_numpy(zero_copy_only=False)
    levels = table.column("level").to_numpy(zero_copy_only=False)
    periods = table.column("period").to_numpy(zero_copy_only=False)
    k = table.column("numerator").to_numpy(zero_copy_only=False).astype(np.float64)
    n_raw = table.column("denominator").to_numpy(zero_copy_only=False)
    n = np.where(np.isnan(n_raw.astype(np.float64)), 1.0, n_raw.astype(np.float64))
    size = len(k)
    value = np.full(size, np.nan)
    low = np.full(size, np.nan)
    high = np.full(size, np.nan)
    smooth = np.full(size, np.nan)
    hidden = np.zeros(size, np.bool_)
    codes = table.column("unit_code").to_numpy(zero_copy_only=False)
    vintages = table.column("vintage").to_numpy(zero_copy_only=False)
    places = hierarchy or {}
    place = [places.get((str(c), str(v)), ("", "")) if lv == Level.MUNICIPALITY.value
             else ("", "") for c, v, lv in zip(codes, vintages, levels, strict=True)]
    region = np.array([p[0] for p in place], dtype=object)
    macro = np.array([p[1] for p in place], dtype=object)
    # rows are ordered by indicator: work on each indicator's slice
    boundaries = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    starts = np.r_[0, boundaries]
    ends = np.r_[boundaries, size]
    for start, end in zip(starts, ends, strict=True):
        if start == end:
            continue
        indicator = catalog.get(str(ids[start]))
        s = slice(start, end)
        mult = indicator.multiplier
        kk, nn = k[s], n[s]
        with np.errstate(divide="ignore", invalid="ignore"):
            value[s] = np.where(nn > 0, kk / nn * mult, np.nan)
        if indicator.method == "wilson":
            lo, hi = wilson_interval(kk, nn)
        else:
            lo, hi = poisson_interval(kk, nn)
        if indicator.standardised is not None and standardised is not None:
            rate, lo, hi = (np.asarray(a, np.float64)[s] for a in standardised)
            value[s] = rate * mult
        low[s], high[s] = lo * mult, hi * mult
        den = indicator.denominator
        hidden[s] = suppressed(kk, nn if den is not None else None, threshold,
                               event_denominator=den is not None and not den.population)
        if den is None or indicator.standardised is not None:
            continue
        municipal = np.flatnonzero(levels[s] == Level.MUNICIPALITY.value) + start
        if municipal.size == 0:
            continue
        order = municipal[np.argsort(periods[municipal], kind="stable")]
        cuts = np.flatnonzero(periods[order][1:] != periods[order][:-1]) + 1
        for group in np.split(order, cuts):
            # the raw denominator: a municipality without one stays out of the prior
            smooth[group] = eb_smooth(
                k[group], n_raw[group].astype(np.float64), proportion=_is_proportion(indicator),
                hierarchy=[region[group], macro[group]],
                bounds=(low[group] / mult, high[group] / mult)) * mult
    hidden = complementary_suppression(
        k, hidden, equations(ids, levels, codes, vintages, periods, places, urs or {},
                             consortia))
    return (table.append_column("value", pa.array(value, from_pandas=True))
            .append_column("ci_low", pa.array(low, from_pandas=True))
            .append_column("ci_high", pa.array(high, from_pandas=True))
            .append_column("smoothed", pa.array(smooth, from_pandas=True))
            .append_column("suppressed", pa.array(hidden)))
