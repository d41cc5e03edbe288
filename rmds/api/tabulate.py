"""The tabulator: one indicator as a table of territorial units × periods, as TabNet does.

A query names the indicator, the rows (a territorial level), the columns (months,
quarters or years), the content (the indicator's value, its numerator or its denominator),
a span of periods and, optionally, the unit the rows must lie within (``dentro``, e.g. the
municipalities of one health region). The query is its URL: every parameter is in the
query string, so a table can be bookmarked, sent by e-mail and downloaded as it is.

The cells are the mart's, masked by the access policy exactly as every other answer
(:meth:`rmds.api.service.DataService.cells`): a cell suppressed in the public form is
blank in the tabulator too, and so is every figure derived from it. The last row is the
total of the rows' territory, read from the mart (the state, or the ``dentro`` unit),
never summed here from masked cells.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from rmds.access.policy import Scope
from rmds.territory import Level
from rmds.territory.model import Vintage

__all__ = [
    "COLUMNS",
    "CONTENTS",
    "TabulatorError",
    "TabulatorQuery",
    "tabulate",
    "units_within",
]

#: what a cell of the table shows: mart column and Portuguese label
CONTENTS = {"valor": ("value", "Valor"), "numerador": ("numerator", "Numerador"),
            "denominador": ("denominator", "Denominador")}
#: the period types the columns can be
COLUMNS = {"mes": "Mês", "trimestre": "Trimestre", "ano": "Ano"}
#: the levels a row can be, in the order the form lists them
ROWS = tuple(level.value for level in Level)
#: the most columns one table has (36 months = three years)
MAX_COLUMNS = 60
STATE = ("estado", "31")
PERIOD = re.compile(r"\d{4}(-T[1-4]|-(0[1-9]|1[0-2]))?")


class TabulatorError(ValueError):
    """A query the tabulator cannot answer, said in Portuguese."""


class CellSource(Protocol):
    """What the tabulator reads: the data service's masked cells and territory."""

    def cells(self, indicator: str, level: str, period: str, scope: Scope,
              unit: str | None = None) -> tuple[list[dict[str, Any]], bool]: ...

    def periods(self, period_type: str = "ano") -> list[str]: ...

    def parent_of(self, level: str, vintage: Vintage, year: int | None = None
                  ) -> dict[str, list[str]]: ...

    def cursor(self) -> Any: ...

    def latest_year(self) -> str | None: ...

    def run_id(self) -> int: ...

    @property
    def policy(self) -> Any: ...

    @property
    def pack(self) -> Any: ...


@dataclass(frozen=True)
class TabulatorQuery:
    """One table: ``linhas`` a level, ``colunas`` a period type, ``conteudo`` what the cells
    show; ``de``/``ate`` bound the periods (inclusive); ``dentro`` = ``(level, code)``
    keeps the rows that lie within that unit."""

    indicador: str
    linhas: str = "municipio"
    colunas: str = "mes"
    conteudo: str = "valor"
    de: str | None = None
    ate: str | None = None
    dentro: tuple[str, str] | None = None
    #: a count (:data:`rmds.api.counts.MEASURES`) instead of the indicator
    contagem: str | None = None

    @classmethod
    def parse(cls, indicador: str, linhas: str = "municipio", colunas: str = "mes",
              conteudo: str = "valor", de: str | None = None, ate: str | None = None,
              dentro: str | None = None, contagem: str | None = None) -> TabulatorQuery:
        """A query from its URL parameters; every problem reported at once."""
        from rmds.api.counts import MEASURES

        problems = []
        if contagem:
            if contagem not in MEASURES:
                problems.append(f"contagem inválida: {contagem} (use {', '.join(MEASURES)})")
            elif linhas not in ROWS and linhas not in MEASURES[contagem].categories:
                problems.append(f"linhas inválidas para {contagem}: {linhas} (use um nível "
                                f"ou {', '.join(MEASURES[contagem].categories)})")
        elif linhas not in ROWS:
            problems.append(f"linhas inválidas: {linhas} (use {', '.join(ROWS)})")
        if colunas not in COLUMNS:
            problems.append(f"colunas inválidas: {colunas} (use {', '.join(COLUMNS)})")
        if conteudo not in CONTENTS:
            problems.append(f"conteúdo inválido: {conteudo} (use {', '.join(CONTENTS)})")
        within: tuple[str, str] | None = None
        if dentro:
            level, _, code = dentro.partition(":")
            if level not in ROWS or not code:
                problems.append(f"filtro 'dentro' inválido: {dentro} (use nível:código, "
                                "por exemplo regiao:31001)")
            else:
                within = (level, code)
        for name, bound in (("de", de), ("ate", ate)):
            if bound and not PERIOD.fullmatch(bound):
                problems.append(f"{name} inválido: {bound} (use AAAA, AAAA-Tn ou AAAA-MM)")
        if problems:
            raise TabulatorError("; ".join(problems))
        return cls(indicador, linhas, colunas, conteudo, de or None, ate or None, within,
                   contagem or None)

    def url(self, base: str = "/tabulador") -> str:
        """The query as its URL (the page's or, with ``base``, the API's)."""
        from urllib.parse import urlencode

        params = {"indicador": self.indicador, "linhas": self.linhas,
                  "colunas": self.colunas, "conteudo": self.conteudo}
        if self.de:
            params["de"] = self.de
        if self.ate:
            params["ate"] = self.ate
        if self.dentro:
            params["dentro"] = f"{self.dentro[0]}:{self.dentro[1]}"
        if self.contagem:
            params["contagem"] = self.contagem
        return f"{base}?{urlencode(params)}"


def period_type_of(period: str) -> str:
    return "trimestre" if "-T" in period else "mes" if "-" in period else "ano"


def span(period: str) -> tuple[int, int]:
    """The first and last month of a period, counted from year 0: ``"2023"`` is Jan–Dec,
    ``"2023-T2"`` Apr–Jun, ``"2023-05"`` May."""
    year = int(period[:4]) * 12
    if "-T" in period:
        quarter = int(period[-1])
        return year + 3 * quarter - 3, year + 3 * quarter - 1
    if "-" in period:
        return year + int(period[5:7]) - 1, year + int(period[5:7]) - 1
    return year, year + 11


def _periods(source: CellSource, query: TabulatorQuery) -> list[str]:
    """The columns: the periods of the chosen type that overlap ``de`` … ``ate`` (bounds of
    any type: months from a year to a quarter, say)."""
    low = span(query.de)[0] if query.de else None
    high = span(query.ate)[1] if query.ate else None
    periods = [p for p in source.periods(query.colunas)
               if (low is None or span(p)[1] >= low) and (high is None or span(p)[0] <= high)]
    if len(periods) > MAX_COLUMNS:
        raise TabulatorError(f"{len(periods)} colunas: o máximo é {MAX_COLUMNS}; "
                             "estreite o período (de/ate) ou use trimestres ou anos")
    return periods


def units_within(source: CellSource, level: str, within: tuple[str, str], year: int
                 ) -> set[str]:
    """The codes of the units of ``level`` that lie within the unit ``within`` =
    ``(level, code)`` in ``year`` (through the municipalities both contain)."""
    outer_level, code = within
    vintage = source.pack.vintage_for_year(year)
    outer = source.parent_of(outer_level, vintage, year)
    inner = source.parent_of(level, vintage, year)
    municipalities = {m for m, codes in outer.items() if code in codes}
    return {unit for m in municipalities for unit in inner.get(m, [])}


def _row(cells: Iterable[Mapping[str, Any]], column: str
         ) -> dict[str, tuple[Any, bool]]:
    return {c["unit_code"]: (c[column], bool(c["suppressed"]) and c[column] is None)
            for c in cells}


def tabulate(source: CellSource, query: TabulatorQuery, scope: Scope
             ) -> tuple[dict[str, Any], bool]:
    """The table ``query`` asks for: an indicator's cells, or a count's."""
    if query.contagem:
        return tabulate_counts(source, query, scope)
    return tabulate_indicator(source, query, scope)


_CUBES: dict[tuple[Any, ...], Any] = {}
_CUBES_KEPT = 24


def _kept(key: tuple[Any, ...], make: Any) -> Any:
    """A small cache of the count cubes and their protections (by snapshot)."""
    if key not in _CUBES:
        if len(_CUBES) >= _CUBES_KEPT:
            _CUBES.pop(next(iter(_CUBES)))
        _CUBES[key] = make()
    return _CUBES[key]


def _protected(source: CellSource, measure: str, category: str | None, scope: Scope
               ) -> tuple[dict[Any, float], set[Any]]:
    """The count cube of ``measure`` (by ``category``) and the cells hidden from
    ``scope``: small counts outside the territory it may see, and complementary
    suppression over every line of the cube. The all-records slice is protected first,
    alone, and then frozen: every breakdown shows the same totals blank or open."""
    from rmds.access.policy import DataClass, Decision
    from rmds.api.counts import ALL, build_cube, monthly_counts, protect

    run = source.run_id()
    threshold = source.policy.threshold

    def parents(level: str, year: int) -> dict[str, list[str]]:
        return source.parent_of(level, source.pack.vintage_for_year(year), year)

    def cube(cat: str | None) -> tuple[dict[Any, float], list[list[Any]]]:
        monthly = monthly_counts(source.cursor(), measure, cat, source.pack.directory)
        return build_cube(monthly, parents, cat)

    def hide(values: dict[Any, float], lines: list[list[Any]], frozen: set[Any] | None,
             previous: set[Any]) -> set[Any]:
        decided: dict[tuple[str, str], bool] = {}
        known, small = set(), set()
        for key, n in values.items():
            place = key[:2]
            if place not in decided:
                decided[place] = source.policy.decide(
                    scope, DataClass.SMALL_CELL, key[0], key[1]) is Decision.ALLOW
            if decided[place]:
                known.add(key)
            elif 0 < n < threshold:
                small.add(key)
        return protect(values, small | previous, known, lines, frozen)

    whole, whole_lines = _kept((id(source), run, measure, None), lambda: cube(None))
    whole_hidden = _kept((id(source), run, measure, None, scope),
                         lambda: hide(whole, whole_lines, None, set()))
    if category is None:
        return whole, whole_hidden
    values, lines = _kept((id(source), run, measure, category), lambda: cube(category))
    frozen = {k for k in values if k[3] == ALL}
    inherited = {k for k in whole_hidden if k in values}
    hidden = _kept((id(source), run, measure, category, scope),
                   lambda: hide(values, lines, frozen, inherited))
    return values, hidden


def tabulate_counts(source: CellSource, query: TabulatorQuery, scope: Scope
                    ) -> tuple[dict[str, Any], bool]:
    """A count (births, deaths, admissions, doses, procedures) by territory or category ×
    period, the last row the total of the table's territory. Every figure is a cell of one
    protected cube (:func:`_protected`), so two tables never disagree about what is blank:
    no blank can be recovered by differencing tables, periods or categories."""
    from rmds.access.policy import DataClass, Decision
    from rmds.api.counts import ALL, CATEGORIES, CATEGORY_LEVELS, MEASURES, ordered_rows

    assert query.contagem is not None
    measure = MEASURES[query.contagem]
    category = query.linhas if query.linhas in CATEGORIES else None
    territory = query.dentro or STATE
    if category is not None and territory[0] not in CATEGORY_LEVELS:
        raise TabulatorError(f"linhas por {CATEGORIES[category].lower()} só dentro do estado, "
                             "de uma macrorregião ou de uma região de saúde")
    values, hidden = _protected(source, query.contagem, category, scope)
    low = span(query.de)[0] if query.de else None
    high = span(query.ate)[1] if query.ate else None
    periods = sorted({k[2] for k in values
                      if period_type_of(k[2]) == query.colunas
                      and (low is None or span(k[2])[1] >= low)
                      and (high is None or span(k[2])[0] <= high)})
    if len(periods) > MAX_COLUMNS:
        raise TabulatorError(f"{len(periods)} colunas: o máximo é {MAX_COLUMNS}; "
                             "estreite o período (de/ate) ou use trimestres ou anos")
    year = int(periods[-1][:4]) if periods else 2023
    vintage = source.pack.vintage_for_year(year)
    if category is not None:
        rows = ordered_rows({k[3] for k in values if k[:2] == territory and k[3] != ALL},
                            category)
        keys = [[(territory[0], territory[1], p, r) for p in periods] for r in rows]
        names = {r: r for r in rows}
    else:
        units = {k[1] for k in values if k[0] == query.linhas and k[3] == ALL}
        if query.dentro is not None:
            units &= units_within(source, query.linhas, query.dentro, year)
        rows = sorted(units)
        keys = [[(query.linhas, r, p, ALL) for p in periods] for r in rows]
        names = {u.code: u.name
                 for u in source.pack.units(Level(query.linhas), vintage).values()}
    total_keys = [(territory[0], territory[1], p, ALL) for p in periods]

    def line(cells: list[Any]) -> tuple[list[float | None], list[bool]]:
        return ([None if k in hidden else values.get(k, 0.0) for k in cells],
                [k in hidden for k in cells])

    threshold = source.policy.threshold
    shown_small = any(0 < values.get(k, 0.0) < threshold and k not in hidden
                      for cells in [*keys, total_keys] for k in cells)
    restricted = shown_small and source.policy.decide(
        scope, DataClass.SMALL_CELL, territory[0], territory[1]) is not Decision.PUBLIC_FORM
    out_rows = []
    for r, cells in zip(rows, keys, strict=True):
        shown, blank = line(cells)
        out_rows.append({"unidade": r, "nome": names.get(r, r), "valores": shown,
                         "suprimidas": blank})
    total, total_blank = line(total_keys)
    total_name = "Minas Gerais" if query.dentro is None else query.dentro[1]
    if query.dentro is not None:
        unit = source.pack.units(Level(query.dentro[0]), vintage).get(query.dentro[1])
        total_name = unit.name if unit is not None else total_name
    return {
        "contagem": query.contagem, "medida": measure.label, "notas": list(measure.notes),
        "indicador": None, "linhas": query.linhas, "colunas": query.colunas,
        "conteudo": "contagem", "dentro": None if query.dentro is None
        else f"{query.dentro[0]}:{query.dentro[1]}",
        "periodos": periods, "forma": "restrita" if restricted else "publica",
        "linhas_tabela": out_rows,
        "total": {"unidade": territory[1], "nome": total_name, "valores": total,
                  "suprimidas": total_blank},
    }, restricted


def tabulate_indicator(source: CellSource, query: TabulatorQuery, scope: Scope
                       ) -> tuple[dict[str, Any], bool]:
    """The table ``query`` asks for, as ``scope`` may see it; and whether any restricted
    (small, shown) cell is in it. Rows in code order; each cell is ``None`` when there is
    no value, with ``suprimidas`` saying which blanks are suppressed counts."""
    periods = _periods(source, query)
    column = CONTENTS[query.conteudo][0]
    restricted = False
    names: dict[str, str] = {}
    grid: dict[str, dict[str, tuple[Any, bool]]] = {}
    totals: dict[str, tuple[Any, bool]] = {}
    total_level, total_unit = query.dentro or STATE
    total_name = "Minas Gerais" if query.dentro is None else total_unit
    for period in periods:
        cells, shown = source.cells(query.indicador, query.linhas, period, scope)
        restricted |= shown
        for c in cells:
            names.setdefault(c["unit_code"], c.get("unit_name") or c["unit_code"])
        for unit, cell in _row(cells, column).items():
            grid.setdefault(unit, {})[period] = cell
        total, shown = source.cells(query.indicador, total_level, period, scope, total_unit)
        restricted |= shown
        for cell in _row(total, column).values():
            totals[period] = cell
        total_name = next((str(c["unit_name"]) for c in total if c.get("unit_name")),
                          total_name)
    keep = units_within(source, query.linhas, query.dentro, int(periods[-1][:4])) \
        if periods and query.dentro is not None else None
    rows = []
    for unit in sorted(grid):
        if keep is not None and unit not in keep:
            continue
        line = grid[unit]
        rows.append({"unidade": unit, "nome": names[unit],
                     "valores": [line.get(p, (None, False))[0] for p in periods],
                     "suprimidas": [line.get(p, (None, False))[1] for p in periods]})
    return {
        "indicador": query.indicador, "linhas": query.linhas, "colunas": query.colunas,
        "conteudo": query.conteudo, "dentro": None if query.dentro is None
        else f"{query.dentro[0]}:{query.dentro[1]}",
        "periodos": periods, "forma": "restrita" if restricted else "publica",
        "linhas_tabela": rows,
        "total": {"unidade": total_unit, "nome": total_name,
                  "valores": [totals.get(p, (None, False))[0] for p in periods],
                  "suprimidas": [totals.get(p, (None, False))[1] for p in periods]},
    }, restricted
