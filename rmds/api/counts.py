"""The tabulator's counts: births, deaths, admissions, vaccine doses and outpatient
procedures, by territory or by sex, age band, race/colour, CID-10 chapter or vaccine, as
TabNet tabulates the DATASUS files.

Measures are declared as data (:data:`MEASURES`): the lake table, the date that places a
record in a period, the municipality of residence, and the categories it can be broken
down by, each a SQL expression over the table's own columns. Every record is counted in
its municipality of residence (an admission's continuation AIH, type 5, is the same
admission again and is not counted).

Small counts are protected as in the indicators: a count from 1 to ``threshold − 1`` is
blank outside the caller's territory (the policy decides, cell by cell, for territorial
rows; for a breakdown by category, the territory is the whole table's), and complementary
suppression (:func:`protect`) hides further cells so that no blank can be recovered from
the row and column totals of the same table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from rmds.engine.sql import col, ident

__all__ = ["CATEGORIES", "MEASURES", "Measure", "build_cube", "monthly_counts", "protect"]

#: age bands (lower bound, label), as TabNet's
AGE_BANDS = ((0, "Menor de 1 ano"), (1, "1 a 4 anos"), (5, "5 a 9 anos"),
             (10, "10 a 14 anos"), (15, "15 a 19 anos"), (20, "20 a 29 anos"),
             (30, "30 a 39 anos"), (40, "40 a 49 anos"), (50, "50 a 59 anos"),
             (60, "60 a 69 anos"), (70, "70 a 79 anos"), (80, "80 anos e mais"))
RACE = {"1": "Branca", "2": "Preta", "3": "Amarela", "4": "Parda", "5": "Indígena"}
SEX = {"M": "Masculino", "F": "Feminino"}
IGNORED = "Ignorado"

#: category → its label in the form
CATEGORIES = {"sexo": "Sexo", "faixa_etaria": "Faixa etária", "raca_cor": "Raça/cor",
              "capitulo_cid": "Capítulo CID-10", "vacina": "Vacina",
              "grupo_procedimento": "Grupo de procedimento (SIGTAP)"}


@dataclass(frozen=True)
class Measure:
    """One count: ``table`` of the lake, ``date`` placing a record in a period (a DATE
    column, or ``competence`` as AAAAMM text), ``amount`` what is summed (None: records),
    ``where_sql`` the records that count, ``categories`` column of each category."""

    label: str
    table: str
    date: str
    categories: dict[str, str]
    amount: str | None = None
    where_sql: str = "TRUE"
    residence: str = "residence_municipality"
    competence: bool = False
    notes: tuple[str, ...] = field(default=())


MEASURES = {
    "nascidos_vivos": Measure(
        "Nascidos vivos (SINASC)", "births", "birth_date",
        {"sexo": "sex", "raca_cor": "race_colour", "faixa_etaria": "mother_age"},
        notes=("Faixa etária: idade da mãe.",)),
    "obitos": Measure(
        "Óbitos (SIM)", "deaths", "death_date",
        {"sexo": "sex", "raca_cor": "race_colour", "faixa_etaria": "age_years",
         "capitulo_cid": "underlying_cause"},
        notes=("Capítulo CID-10: causa básica.",)),
    "internacoes": Measure(
        "Internações (SIH, AIH)", "hospitalisations", "admission_date",
        {"sexo": "sex", "raca_cor": "race_colour", "faixa_etaria": "age_years",
         "capitulo_cid": "main_diagnosis"},
        where_sql="coalesce(aih_type, '1') <> '5'",
        notes=("AIH de continuação (tipo 5) não é contada: é a mesma internação.",
               "Capítulo CID-10: diagnóstico principal.")),
    "doses": Measure(
        "Doses aplicadas (SI-PNI)", "immunisations", "vaccination_date",
        {"sexo": "sex", "raca_cor": "race_colour", "faixa_etaria": "age_years",
         "vacina": "vaccine_acronym"}),
    "procedimentos_ambulatoriais": Measure(
        "Procedimentos ambulatoriais aprovados (SIA)", "outpatient_production",
        "competence",
        {"sexo": "sex", "raca_cor": "race_colour", "faixa_etaria": "age_years",
         "grupo_procedimento": "procedure"},
        amount="quantity_approved", competence=True),
}


def _period_sql(measure: Measure, kind: str) -> str:
    """The period of a record as text: ``AAAA``, ``AAAA-Tn`` or ``AAAA-MM``."""
    if measure.competence:
        year = f"substr(CAST({ident(measure.date)} AS VARCHAR), 1, 4)"
        month = f"substr(CAST({ident(measure.date)} AS VARCHAR), 5, 2)"
        if kind == "ano":
            return year
        if kind == "mes":
            return f"{year} || '-' || {month}"
        return f"{year} || '-T' || CAST((CAST({month} AS INTEGER) + 2) // 3 AS VARCHAR)"
    column = ident(measure.date)
    if kind == "ano":
        return f"strftime({column}, '%Y')"
    if kind == "mes":
        return f"strftime({column}, '%Y-%m')"
    return f"strftime({column}, '%Y') || '-T' || CAST(quarter({column}) AS VARCHAR)"


@cache
def _chapters(reference: Path) -> tuple[tuple[str, str, str], ...]:
    from rmds.codes.cid10 import Cid10

    return tuple((start, end, f"{number:02d}. {name.strip()}")
                 for number, start, end, name in Cid10.load(reference).chapters)


def category_label(category: str, value: Any, reference: Path) -> str:
    """A record's category value as the table's row label."""
    if value is None or value == "":
        return IGNORED
    text = str(value).strip()
    if category == "sexo":
        return SEX.get(text, IGNORED)
    if category == "raca_cor":
        return RACE.get(text.split(".")[0], IGNORED)
    if category == "faixa_etaria":
        try:
            age = float(text)
        except ValueError:
            return IGNORED
        return next(label for low, label in reversed(AGE_BANDS) if age >= low)
    if category == "capitulo_cid":
        code = text.upper().replace(".", "")[:3]
        return next((label for start, end, label in _chapters(reference)
                     if start <= code <= end), IGNORED)
    if category == "grupo_procedimento":
        return f"Grupo {text[:2]}" if text[:2].isdigit() else IGNORED
    return text


def _order(category: str | None, label: str) -> tuple[int, str]:
    if label == IGNORED:
        return (10_000, label)
    if category == "faixa_etaria":
        return (next(i for i, (_, band) in enumerate(AGE_BANDS) if band == label), label)
    return (0, label)


def monthly_counts(cursor: Any, measure_id: str, category: str | None, reference: Path
                   ) -> dict[tuple[str, str, str], float]:
    """(municipality of residence, month, category label or ``*``) → count, read from the
    lake in one query."""
    measure = MEASURES[measure_id]
    period_sql = _period_sql(measure, "mes")
    value_sql = f"sum({ident(measure.amount)})" if measure.amount else "count(*)"
    category_sql = ident(measure.categories[category]) if category else "NULL"
    query_sql = (f"SELECT {ident(measure.residence)} AS municipality, {period_sql} AS period, "
                 f"{category_sql} AS category, {value_sql} AS n "
                 f"FROM {ident(measure.table)} WHERE {measure.where_sql} "
                 f"AND {col(measure.table, measure.date)} IS NOT NULL GROUP BY ALL")
    out: dict[tuple[str, str, str], float] = {}
    labels: dict[Any, str] = {}
    for municipality, period, value, n in cursor.execute(query_sql).fetchall():
        if not municipality or not period:
            continue
        if category:
            if value not in labels:
                labels[value] = category_label(category, value, reference)
            label = labels[value]
        else:
            label = ALL
        key = (str(municipality), str(period), label)
        out[key] = out.get(key, 0.0) + float(n or 0)
    return out


def ordered_rows(rows: set[str], category: str | None) -> list[str]:
    return sorted(rows, key=lambda r: _order(category, r))


Key = tuple[str, str, str, str]          # (level, unit, period, category or "*")
ALL = "*"
#: the levels of the territorial cube; categories are broken down for these only (a
#: municipality's, URS's or consortium's counts by category are never published)
LEVELS = ("municipio", "regiao", "macrorregiao", "urs", "consorcio", "estado")
CATEGORY_LEVELS = ("regiao", "macrorregiao", "estado")


def _periods_of(month: str) -> tuple[str, str, str]:
    """A month's month, quarter and year: ``"2023-05"`` → ``("2023-05", "2023-T2",
    "2023")``."""
    quarter = (int(month[5:7]) + 2) // 3
    return month, f"{month[:4]}-T{quarter}", month[:4]


def build_cube(monthly: dict[tuple[str, str, str], float],
               parents: Callable[[str, int], dict[str, list[str]]],
               category: str | None) -> tuple[dict[Key, float], list[list[Key]]]:
    """Every count a table can show, and the additive lines that bind them.

    ``monthly`` is (municipality, month, category label) → count; ``parents(level, year)``
    municipality → units of ``level`` in that year. The cube holds, for every unit of every
    level and every month, quarter and year, the count of all records (category ``*``)
    and, for regions, macro-regions and the state, each category's. A line is a set of
    cells one of which is the sum of the others: a unit's months and its quarter, its
    quarters and its year; a parent unit and its municipalities (regions and macro-regions
    also and their regions / macro-regions); a unit's categories and its total."""
    values: dict[Key, float] = {}
    years = sorted({month[:4] for _, month, _ in monthly})
    maps = {(level, year): parents(level, int(year)) for level in LEVELS for year in years}
    for (municipality, month, label), n in monthly.items():
        year = month[:4]
        for level in LEVELS:
            units = [municipality] if level == "municipio" else \
                maps[(level, year)].get(municipality, [])
            for unit in units:
                cats = [ALL] + ([label] if category and level in CATEGORY_LEVELS else [])
                for period in _periods_of(month):
                    for cat in cats:
                        key = (level, unit, period, cat)
                        values[key] = values.get(key, 0.0) + n
    lines: list[list[Key]] = []
    cells_by_unit: dict[tuple[str, str, str], set[str]] = {}
    for level, unit, period, cat in values:
        cells_by_unit.setdefault((level, unit, cat), set()).add(period)
    # periods: months → quarter, quarters → year, months → year
    for (level, unit, cat), periods in cells_by_unit.items():
        for year in {p[:4] for p in periods}:
            months = [f"{year}-{m:02d}" for m in range(1, 13)]
            for q in range(1, 5):
                lines.append([(level, unit, m, cat) for m in months[3 * q - 3:3 * q]]
                             + [(level, unit, f"{year}-T{q}", cat)])
            lines.append([(level, unit, f"{year}-T{q}", cat) for q in range(1, 5)]
                         + [(level, unit, year, cat)])
            lines.append([(level, unit, m, cat) for m in months] + [(level, unit, year, cat)])
    # territory: a parent and its municipalities; a macro-region and its regions; the state
    # and its macro-regions (categories: only the levels they are broken down for)
    all_periods = sorted({p for (_, _, p, _) in values})
    cats_seen = sorted({c for (_, _, _, c) in values})
    for year in years:
        by_parent: dict[tuple[str, str], list[str]] = {}
        for level in LEVELS[1:]:
            for municipality, units in maps[(level, year)].items():
                for unit in units:
                    by_parent.setdefault((level, unit), []).append(municipality)
        region_of = maps[("regiao", year)]
        macro_of = maps[("macrorregiao", year)]
        regions_in: dict[str, set[str]] = {}
        for m, macros in macro_of.items():
            for macro in macros:
                regions_in.setdefault(macro, set()).update(region_of.get(m, []))
        of_year = [p for p in all_periods if p[:4] == year]
        for cat in cats_seen:
            for period in of_year:
                if cat == ALL:
                    for (level, unit), members in by_parent.items():
                        lines.append([("municipio", m, period, cat) for m in members]
                                     + [(level, unit, period, cat)])
                for macro, regions in regions_in.items():
                    lines.append([("regiao", r, period, cat) for r in sorted(regions)]
                                 + [("macrorregiao", macro, period, cat)])
                lines.append([("macrorregiao", macro, period, cat) for macro in regions_in]
                             + [("estado", "31", period, cat)])
    # categories: a unit's categories and its total
    if category:
        groups: dict[tuple[str, str, str], list[Key]] = {}
        for key in values:
            if key[3] != ALL:
                groups.setdefault(key[:3], []).append(key)
        for (level, unit, period), keys in groups.items():
            lines.append([*keys, (level, unit, period, ALL)])
    return values, lines


def protect(values: dict[Key, float], hidden: set[Key], known: set[Key],
            lines: Sequence[Sequence[Key]], frozen: set[Key] | None = None) -> set[Key]:
    """Complementary suppression over additive ``lines`` (each a set of cells one of which
    is the sum of the others; a cell absent from ``values`` counts zero and is never
    published). ``hidden``: the small cells the caller may not see; ``known``: cells the
    caller sees whatever happens; ``frozen``: cells whose state was settled before (a
    shared total: hidden stay hidden, the others are treated as known). Returns the hidden
    cells, so that no line has exactly one: a line with one gets a second, the smallest
    non-zero cell the caller does not know (or, with only zeros left, any)."""
    out = set(hidden)
    fixed = set(known) | {k for k in (frozen or set()) if k not in out}
    pending = list(range(len(lines)))
    touching: dict[Key, list[int]] = {}
    for n, line in enumerate(lines):
        for key in line:
            touching.setdefault(key, []).append(n)
    while pending:
        n = pending.pop()
        line = lines[n]
        inside = [key for key in line if key in out]
        if len(inside) != 1:
            continue
        options = [key for key in line if key not in out and key not in fixed
                   and values.get(key, 0.0) != 0]
        if not options:
            options = [key for key in line if key not in out and key not in fixed
                       and key in values]
        if options:
            chosen = min(options, key=lambda key: values.get(key, 0.0))
            out.add(chosen)
            pending.extend(touching.get(chosen, []))
    return out
