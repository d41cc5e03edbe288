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
from rmds.territory import Level, vintage_for_year
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

    @classmethod
    def parse(cls, indicador: str, linhas: str = "municipio", colunas: str = "mes",
              conteudo: str = "valor", de: str | None = None, ate: str | None = None,
              dentro: str | None = None) -> TabulatorQuery:
        """A query from its URL parameters; every problem reported at once."""
        problems = []
        if linhas not in ROWS:
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
        return cls(indicador, linhas, colunas, conteudo, de or None, ate or None, within)

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
        return f"{base}?{urlencode(params)}"


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
    vintage = vintage_for_year(year)
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
