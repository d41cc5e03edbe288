"""Issue 21: no suppressed cell of the public mart (what the public export, every API route
and every download show: see tests/api/test_tabulator.py and tests/api/test_downloads.py for
their equality with the public mart) can be derived by differencing along territory
(municipalities → region → macro-region → state, municipalities → URS, member
municipalities → consortium), period (months → quarter → year) or the indicator pairs that
sum (infant = neonatal + post-neonatal)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from rmds.indicators.catalog import load_catalog
from rmds.indicators.cells import SUMS
from rmds.indicators.mart import select_sql
from rmds.territory import ReferencePack
from rmds.territory.model import slug

Key = tuple[str, str, str, str, str]     # indicator, level, unit, vintage, period


def _mart(app: FastAPI, public: bool) -> dict[Key, dict[str, Any]]:
    cur = app.state.ctx.data.cursor()
    result = cur.execute(select_sql(public))
    names = [d[0] for d in result.description]
    out = {}
    for values in result.fetchall():
        row = dict(zip(names, values, strict=True))
        out[(row["indicator_id"], row["level"], row["unit_code"], row["vintage"],
             row["period"])] = row
    return out


def _equations(cells: set[Key], pack: ReferencePack) -> list[tuple[Key, list[Key]]]:
    """The sums a reader knows from the territory and the calendar, built from the
    reference pack (not from rmds's own code)."""
    out: dict[Key, list[Key]] = {}
    for ind, level, unit, vintage, period in cells:
        totals: list[Key] = []
        if "-T" in period:
            totals.append((ind, level, unit, vintage, period[:4]))
        elif "-" in period:
            totals.append((ind, level, unit, vintage,
                           f"{period[:4]}-T{(int(period[5:7]) + 2) // 3}"))
        if level == "municipio" and unit in pack.municipalities:
            m = pack.municipalities[unit]
            totals.append((ind, "regiao", m.region[pack.vintage(vintage)], vintage, period))
            totals.append((ind, "urs", slug(m.urs), vintage, period))
        for total in totals:
            if total in cells:
                out.setdefault(total, []).append((ind, level, unit, vintage, period))
    # the consortia of the pack's roster and their members (the lake imported no other)
    for code, roster in pack.consortium_members.items():
        if code not in pack.consortia:
            continue
        for ind, level, unit, vintage, period in cells:
            if level != "consorcio" or unit != code:
                continue
            inside: list[Key] = [(ind, "municipio", m, vintage, period) for m in roster]
            if all(p in cells for p in inside):
                out[(ind, level, unit, vintage, period)] = inside
    macro_of_region = {(m.region[v], v.value): m.macro[v]
                       for m in pack.municipalities.values() for v in pack.vintages}
    for ind, level, unit, vintage, period in cells:
        above: Key | None = None
        if level == "regiao" and (unit, vintage) in macro_of_region:
            above = (ind, "macrorregiao", macro_of_region[(unit, vintage)], vintage, period)
        elif level == "macrorregiao":
            above = (ind, "estado", "31", vintage, period)
        if above is not None and above in cells:
            out.setdefault(above, []).append((ind, level, unit, vintage, period))
    pairs = []
    for total_id, parts in SUMS:
        for ind, level, unit, vintage, period in cells:
            if ind == total_id:
                members = [(p, level, unit, vintage, period) for p in parts]
                if all(m in cells for m in members):
                    pairs.append(((ind, level, unit, vintage, period), members))
    return [*out.items(), *pairs]


def _derivable(numerators: dict[Key, float | None], equations: list[tuple[Key, list[Key]]]
               ) -> set[Key]:
    """Hidden numerators recovered by subtraction, repeatedly."""
    known = {k: v for k, v in numerators.items() if v is not None}
    found: set[Key] = set()
    changed = True
    while changed:
        changed = False
        for total, parts in equations:
            cells = [total, *parts]
            unknown = [c for c in cells if c not in known]
            if len(unknown) != 1:
                continue
            missing = unknown[0]
            if missing == total:
                known[missing] = sum(known[p] for p in parts)
            else:
                known[missing] = known[total] - sum(known[p] for p in parts if p != missing)
            found.add(missing)
            changed = True
    return found


def test_the_pairs_that_sum_are_catalog_indicators() -> None:
    ids = {i.id for i in load_catalog()}
    for total, parts in SUMS:
        assert total in ids and set(parts) <= ids


def test_no_suppressed_cell_of_the_public_mart_can_be_derived(
        app: FastAPI, pack: ReferencePack) -> None:
    public = _mart(app, True)
    restricted = _mart(app, False)
    threshold = app.state.ctx.data.threshold
    equations = _equations(set(public), pack)
    assert equations
    assert any(total[1] == "consorcio" for total, _ in equations)
    hidden = {k for k, row in public.items() if row["suppressed"]}
    numerators = {k: (None if row["suppressed"] else row["numerator"])
                  for k, row in public.items()}
    assert not (_derivable(numerators, equations) & hidden)

    # primary suppression alone (only the small counts blank) leaks: the test can fail
    small = {k for k, row in restricted.items()
             if row["numerator"] is not None and 0 < row["numerator"] < threshold}
    secondary = hidden - small
    assert secondary, "complementary suppression hid cells that are not small"
    only_small = {k: (None if k in small else row["numerator"])
                  for k, row in restricted.items()}
    assert _derivable(only_small, equations) & small
