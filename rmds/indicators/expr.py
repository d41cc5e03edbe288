"""Filters of the declarations: plain SQL expressions, checked and compiled with sqlglot.

A filter is one boolean SQL expression over the columns of an input (no subqueries, no
``*``). Besides the usual operators (``=``, ``<>``, ``<``, ``BETWEEN``, ``IN``, ``IS NULL``,
``AND``, ``OR``, ``NOT``) it may call a short list of portable functions (``left``,
``right``, ``substring``, ``length``, ``coalesce``, ``upper``, ``lower``, ``trim``, ``abs``,
``cast``, ``year``, ``month`` and ``datediff(end, start)`` in days) and two of rmds's own:

* ``cid_between(column, 'I00', 'I99')``: the 3-character CID-10 category of ``column``
  is in the (inclusive) range;
* ``in_codeset(column, 'icsap')``: the code, or its 3-character category, is in a code set
  built from the reference pack (``icsap``: Portaria SAS/MS 221/2008) or declared in
  rmds (``procedimento_obstetrico``: :data:`rmds.codes.icsap.OBSTETRIC_PROCEDURES`);
* ``pni_dose(vaccine_code, dose_code, 'penta_d3')``: the (vaccine, dose) pair is one the
  SI-PNI coverage method counts for that coverage (:data:`rmds.codes.vaccines.COVERAGE_DOSES`:
  pentavalent D3 or hexavalent D3, and so on).

Filters are parsed in sqlglot's dialect-free SQL and written out for the engine in use
(DuckDB here; Spark SQL by transpilation), so declarations carry nothing engine-specific.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from rmds.codes.vaccines import COVERAGE_DOSES

__all__ = ["CODESETS", "check_filter", "columns_of", "filter_sql"]

CODESETS = ("icsap", "procedimento_obstetrico")
_FUNCTIONS: tuple[type[Any], ...] = (
    exp.Left, exp.Right, exp.Substring, exp.Length, exp.Coalesce, exp.Upper, exp.Lower,
    exp.Trim, exp.Abs, exp.Cast, exp.DateDiff, exp.Year, exp.Month)
_OWN = {"cid_between": 3, "in_codeset": 2, "pni_dose": 3}
_COLUMN_ARGS = {"pni_dose": 2}   # leading arguments that are columns (default 1)
_FORBIDDEN: tuple[type[Any], ...] = (exp.Query, exp.Subquery, exp.Star,
                                                 exp.Placeholder)


def _parse(text: str) -> Any:
    tree = sqlglot.parse_one(text)
    if tree is None:
        raise ParseError("expressão vazia")
    return tree


def check_filter(text: str, columns: Iterable[str]) -> list[str]:
    """Problems with a filter (empty when it is usable)."""
    try:
        tree = _parse(text)
    except ParseError as error:
        return [f"filtro não é uma expressão SQL válida: {str(error).splitlines()[0]}"]
    known = set(columns)
    problems: list[str] = []
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN):
            problems.append(f"filtro não pode conter {node.key.upper()} ({text!r})")
        elif isinstance(node, exp.Column):
            if node.table:
                problems.append(f"coluna qualificada não é permitida: {node.sql()}")
            elif node.name not in known:
                problems.append(f"coluna desconhecida {node.name!r}")
        elif isinstance(node, exp.Anonymous):
            name = node.name.lower()
            if name not in _OWN:
                problems.append(f"função desconhecida {node.name!r}")
            elif len(node.expressions) != _OWN[name]:
                problems.append(f"{name} recebe {_OWN[name]} argumentos")
            elif not all(isinstance(a, exp.Literal) and a.is_string
                         for a in node.expressions[_COLUMN_ARGS.get(name, 1):]):
                problems.append(f"{name}: os argumentos após a coluna devem ser textos")
            elif name == "pni_dose" and node.expressions[2].name not in COVERAGE_DOSES:
                problems.append(f"cobertura desconhecida {node.expressions[2].name!r}; "
                                "conhecidas: " + ", ".join(sorted(COVERAGE_DOSES)))
            elif name == "in_codeset" and node.expressions[1].name not in CODESETS:
                problems.append(f"conjunto de códigos desconhecido "
                                f"{node.expressions[1].name!r}; conhecidos: "
                                + ", ".join(CODESETS))
        elif isinstance(node, exp.Func) and not isinstance(node, _FUNCTIONS) and not (
                isinstance(node, (exp.And, exp.Or, exp.Not, exp.Paren))):
            problems.append(f"função não permitida em filtros: {node.sql()}")
    return problems


def columns_of(text: str) -> set[str]:
    """The columns a filter reads."""
    return {c.name for c in _parse(text).find_all(exp.Column)}


def _rewrite(node: Any, alias: str | None) -> Any:
    if isinstance(node, exp.Column) and alias and not node.table:
        return exp.column(node.name, table=alias)
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        column = node.expressions[0].copy().transform(lambda n: _rewrite(n, alias))
        if name == "pni_dose":
            dose = node.expressions[1].copy().transform(lambda n: _rewrite(n, alias))
            pairs = [exp.And(this=exp.EQ(this=column.copy(), expression=exp.Literal.string(v)),
                             expression=exp.EQ(this=dose.copy(),
                                               expression=exp.Literal.string(d)))
                     for v, d in COVERAGE_DOSES[node.expressions[2].name]]
            either: exp.Expression = pairs[0]
            for pair in pairs[1:]:
                either = exp.Or(this=either, expression=pair)
            return exp.Paren(this=either)
        if name == "cid_between":
            low, high = node.expressions[1], node.expressions[2]
            return exp.Paren(this=exp.Between(
                this=exp.Left(this=column, expression=exp.Literal.number(3)),
                low=low, high=high))
        if name == "in_codeset":
            codeset = node.expressions[1].name
            members = exp.select("code").from_("ind_codesets").where(
                exp.column("codeset").eq(exp.Literal.string(codeset)))
            first = exp.In(this=column.copy(), query=exp.Subquery(this=members.copy()))
            category = exp.In(this=exp.Left(this=column.copy(),
                                            expression=exp.Literal.number(3)),
                              query=exp.Subquery(this=members.copy()))
            return exp.Paren(this=exp.Or(this=first, expression=category))
    return node


def filter_sql(text: str | None, alias: str | None = None,
               dialect: str = "duckdb") -> str:
    """The filter as SQL for ``dialect``, its columns qualified with ``alias`` (a fragment
    rendered by sqlglot from the parsed declaration: safe to compose into a query)."""
    if not text:
        return "TRUE"
    tree = _parse(text).transform(lambda n: _rewrite(n, alias))
    rendered: str = tree.sql(dialect=dialect)
    return "(" + rendered + ")"

