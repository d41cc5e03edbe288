"""The indicator catalog: declarations read from ``catalog.toml`` and checked as a whole.

Every problem in the declarations (a missing field, an unknown input or column, a filter
that does not parse, an unknown objective) is gathered and reported together as a
:class:`~rmds.exceptions.CatalogError` before anything runs.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from rmds.exceptions import CatalogError, Problem
from rmds.indicators.expr import check_filter
from rmds.indicators.inputs import INPUTS
from rmds.indicators.standards import load_standards
from rmds.systems import DECLARATIONS
from rmds.territory import AGE_GROUPS

__all__ = ["CATALOG_FILE", "PERIOD_TYPES", "Catalog", "Indicator", "Measure", "Objective",
           "Semijoin", "Standardisation", "load_catalog", "read_declarations"]

CATALOG_FILE = Path(__file__).with_name("catalog.toml")
PERIOD_TYPES = ("mes", "trimestre", "ano")
METHODS = ("poisson", "wilson")
AGE_LOWS = tuple(int(g[:2]) for g in AGE_GROUPS)   # 0, 5, …, 80


@dataclass(frozen=True)
class Objective:
    id: str
    text: str
    group: str = ""       # SUS or SES


@dataclass(frozen=True)
class Semijoin:
    """Count only keys that also appear in another input (``among``)."""

    input: str
    key: str
    filter: str | None
    date: str | None = None


@dataclass(frozen=True)
class Standardisation:
    """Age-standardised by the direct method: ``standard`` names a standard population of
    ``standards.toml``; ``age`` is the numerator input's age column, in completed years."""

    standard: str
    age: str


@dataclass(frozen=True)
class Measure:
    """A numerator or denominator: events of an input, or the resident population."""

    input: str | None = None
    date: str | None = None
    territory: str | None = None
    filter: str | None = None
    distinct: str | None = None
    sum: str | None = None
    cumulative: bool = False
    among: Semijoin | None = None
    population: bool = False
    ages: tuple[int, int] | None = None
    sex: str | None = None
    #: an annual target (SI-PNI): the events of the period's year plus this offset (−1:
    #: the previous year), × months of the period ÷ 12
    target_year_offset: int | None = None
    #: count the distinct keys with an event in the last ``window_months`` months up to the
    #: end of each period (Previne Brasil's semester: 6), whatever the period's length
    window_months: int | None = None

    def describe(self) -> str:
        if self.population:
            ages = f", {self.ages[0]} a {self.ages[1]} anos" if self.ages else ""
            sex = f", sexo {self.sex}" if self.sex else ""
            return f"população residente{ages}{sex}"
        text = f"{self.input}"
        if self.filter:
            text += f" onde {self.filter}"
        if self.distinct:
            text += f" (pessoas distintas por {self.distinct})"
        if self.sum:
            text += f" (soma de {self.sum})"
        if self.cumulative:
            text += " (acumulado até o fim do período)"
        if self.window_months is not None:
            text += f" (nos {self.window_months} meses até o fim do período)"
        if self.target_year_offset is not None:
            which = ("do próprio ano" if self.target_year_offset == 0
                     else f"do ano {self.target_year_offset:+d}")
            text += f" (meta anual: total {which} ÷ 12 × meses do período)"
        return text


@dataclass(frozen=True)
class Indicator:
    id: str
    name: str
    objective: str
    source: str
    definition: str
    unit: str
    multiplier: float
    higher_is_better: bool
    method: str
    numerator: Measure
    denominator: Measure | None
    periods: tuple[str, ...] = PERIOD_TYPES
    attribution: str = "residencia"
    #: what rmds computes differently from the source cited, and why ("nenhuma" when it
    #: follows the source as written)
    difference: str = "nenhuma"
    #: age-standardised (direct method) instead of crude
    standardised: Standardisation | None = None

    @property
    def kind(self) -> str:
        if self.denominator is None:
            return "contagem"
        return "proporcao" if self.method == "wilson" else "taxa"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "nome": self.name, "objetivo": self.objective,
            "fonte": self.source, "diferenca_da_fonte": self.difference,
            "definicao": self.definition, "unidade": self.unit,
            "multiplicador": self.multiplier, "maior_melhor": self.higher_is_better,
            "metodo_intervalo": self.method, "tipo": self.kind,
            "periodos": list(self.periods), "atribuicao": self.attribution,
            "numerador": self.numerator.describe(),
            "denominador": self.denominator.describe() if self.denominator else None,
            "padronizacao": (f"por idade, método direto, população padrão "
                             f"{self.standardised.standard}" if self.standardised else None),
        }


@dataclass(frozen=True)
class Catalog:
    objectives: dict[str, Objective]
    indicators: dict[str, Indicator]

    def __iter__(self) -> Any:
        return iter(self.indicators.values())

    def __len__(self) -> int:
        return len(self.indicators)

    def get(self, indicator_id: str) -> Indicator:
        try:
            return self.indicators[indicator_id]
        except KeyError:
            known = ", ".join(sorted(self.indicators))
            raise CatalogError(f"indicador desconhecido: {indicator_id!r}",
                               [Problem("catálogo", None, "id", f"conhecidos: {known}")]
                               ) from None


class _Checker:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append(Problem(self.file, None, where, message))

    def text(self, data: Mapping[str, Any], key: str, where: str,
             required: bool = True) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.add(f"{where}.{key}", "campo obrigatório ausente")
            return None
        if not isinstance(value, str) or not value.strip():
            self.add(f"{where}.{key}", "deve ser um texto não vazio")
            return None
        return value

    def column(self, input_name: str, column: str | None, where: str) -> None:
        if column is not None and column not in INPUTS[input_name].columns:
            self.add(where, f"coluna {column!r} não existe em {input_name}")

    def measure(self, data: Any, where: str) -> Measure | None:
        if not isinstance(data, dict):
            self.add(where, "deve ser uma tabela (input, date, territory, filter)")
            return None
        unknown = set(data) - {"input", "date", "territory", "filter", "distinct", "sum",
                               "cumulative", "among", "population", "ages", "sex",
                               "target_year_offset", "window_months"}
        for key in sorted(unknown):
            self.add(f"{where}.{key}", "campo desconhecido")
        if data.get("population"):
            return self._population(data, where)
        name = self.text(data, "input", where)
        if name is None:
            return None
        if name not in INPUTS:
            self.add(f"{where}.input", f"entrada desconhecida {name!r}; conhecidas: "
                     + ", ".join(sorted(INPUTS)))
            return None
        date = self.text(data, "date", where)
        territory = self.text(data, "territory", where)
        self.column(name, date, f"{where}.date")
        self.column(name, territory, f"{where}.territory")
        distinct = self.text(data, "distinct", where, required=False)
        self.column(name, distinct, f"{where}.distinct")
        total = self.text(data, "sum", where, required=False)
        self.column(name, total, f"{where}.sum")
        if total and (distinct or data.get("cumulative")):
            self.add(f"{where}.sum", "sum não combina com distinct nem cumulative")
        filter_ = self.text(data, "filter", where, required=False)
        if filter_ is not None:
            for message in check_filter(filter_, INPUTS[name].columns):
                self.add(f"{where}.filter", message)
        among = None
        if "among" in data:
            among = self._among(data["among"], f"{where}.among", name)
        cumulative = data.get("cumulative", False)
        if not isinstance(cumulative, bool):
            self.add(f"{where}.cumulative", "deve ser true ou false")
            cumulative = False
        offset = data.get("target_year_offset")
        if offset is not None and (not isinstance(offset, int) or isinstance(offset, bool)
                                   or not -5 <= offset <= 0):
            self.add(f"{where}.target_year_offset", "deve ser um inteiro de -5 a 0")
            offset = None
        if offset is not None and (distinct or total or cumulative or among):
            self.add(f"{where}.target_year_offset",
                     "meta anual não combina com distinct, sum, cumulative nem among")
        window = data.get("window_months")
        if window is not None and (not isinstance(window, int) or isinstance(window, bool)
                                   or not 1 <= window <= 12):
            self.add(f"{where}.window_months", "deve ser um inteiro de 1 a 12")
            window = None
        if window is not None and (not distinct or total or cumulative
                                   or offset is not None):
            self.add(f"{where}.window_months", "a janela conta pessoas distintas (distinct) "
                     "e não combina com sum, cumulative nem meta anual")
        return Measure(name, date, territory, filter_, distinct, total, cumulative, among,
                       target_year_offset=offset, window_months=window)

    def _among(self, data: Any, where: str, outer: str) -> Semijoin | None:
        if not isinstance(data, dict):
            self.add(where, "deve ser uma tabela (input, key, filter)")
            return None
        name = self.text(data, "input", where)
        key = self.text(data, "key", where)
        if name is None or key is None:
            return None
        if name not in INPUTS:
            self.add(f"{where}.input", f"entrada desconhecida {name!r}")
            return None
        self.column(name, key, f"{where}.key")
        self.column(outer, key, f"{where}.key")
        date = self.text(data, "date", where, required=False)
        self.column(name, date, f"{where}.date")
        filter_ = self.text(data, "filter", where, required=False)
        if filter_ is not None:
            for message in check_filter(filter_, INPUTS[name].columns):
                self.add(f"{where}.filter", message)
        return Semijoin(name, key, filter_, date)

    def _population(self, data: Mapping[str, Any], where: str) -> Measure | None:
        ages = data.get("ages")
        bounds: tuple[int, int] | None = None
        if ages is not None:
            if (not isinstance(ages, list) or len(ages) != 2
                    or not all(isinstance(a, int) for a in ages)):
                self.add(f"{where}.ages", "deve ser [primeira, última] idade, inteiros")
            elif ages[0] not in AGE_LOWS or not (ages[1] + 1 in AGE_LOWS or ages[1] >= 80):
                self.add(f"{where}.ages", "as idades devem coincidir com as faixas "
                         "quinquenais da população (0–4, 5–9, …, 80 e mais)")
            else:
                bounds = (ages[0], ages[1])
        sex = data.get("sex")
        if sex is not None and sex not in ("M", "F"):
            self.add(f"{where}.sex", "deve ser 'M' ou 'F'")
            sex = None
        return Measure(population=True, ages=bounds, sex=sex)

    def indicator(self, data: Any, index: int, objectives: Mapping[str, Objective]
                  ) -> Indicator | None:
        where = f"indicator[{index}]"
        if not isinstance(data, dict):
            self.add(where, "deve ser uma tabela")
            return None
        ident = self.text(data, "id", where)
        if ident:
            where = ident
        fields = {k: self.text(data, k, where) for k in (
            "name", "objective", "source", "difference", "definition", "unit")}
        if fields["objective"] and fields["objective"] not in objectives:
            self.add(f"{where}.objective", f"objetivo desconhecido {fields['objective']!r}")
        multiplier = data.get("multiplier")
        if not isinstance(multiplier, (int, float)) or multiplier <= 0:
            self.add(f"{where}.multiplier", "deve ser um número positivo")
        higher = data.get("higher_is_better")
        if not isinstance(higher, bool):
            self.add(f"{where}.higher_is_better", "deve ser true ou false")
        method = data.get("method")
        if method not in METHODS:
            self.add(f"{where}.method", f"deve ser um de {', '.join(METHODS)}")
        periods = data.get("periods", list(PERIOD_TYPES))
        if not isinstance(periods, list) or not periods or any(
                p not in PERIOD_TYPES for p in periods):
            self.add(f"{where}.periods", f"deve listar períodos entre {PERIOD_TYPES}")
            periods = list(PERIOD_TYPES)
        attribution = data.get("attribution", "residencia")
        if attribution not in ("residencia", "ocorrencia"):
            self.add(f"{where}.attribution", "deve ser 'residencia' ou 'ocorrencia'")
        numerator = self.measure(data.get("numerator"), f"{where}.numerator")
        if numerator is not None and numerator.population:
            self.add(f"{where}.numerator", "o numerador deve contar eventos")
        denominator = None
        if "denominator" in data:
            denominator = self.measure(data["denominator"], f"{where}.denominator")
        elif method == "wilson":
            self.add(f"{where}.denominator", "uma proporção precisa de denominador")
        known = {"id", "name", "objective", "source", "difference", "definition", "unit",
                 "multiplier",
                 "higher_is_better", "method", "periods", "attribution", "numerator",
                 "denominator", "standardised"}
        for key in sorted(set(data) - known):
            self.add(f"{where}.{key}", "campo desconhecido")
        standardised = None
        if "standardised" in data:
            standardised = self.standardisation(data["standardised"], f"{where}.standardised",
                                                numerator, denominator, method)
        if (ident is None or numerator is None or None in fields.values()
                or not isinstance(multiplier, (int, float)) or not isinstance(higher, bool)
                or method not in METHODS):
            return None
        return Indicator(
            id=ident, name=str(fields["name"]), objective=str(fields["objective"]),
            source=str(fields["source"]), difference=str(fields["difference"]),
            definition=str(fields["definition"]),
            unit=str(fields["unit"]), multiplier=float(multiplier), higher_is_better=higher,
            method=str(method), numerator=numerator, denominator=denominator,
            periods=tuple(p for p in PERIOD_TYPES if p in periods),
            attribution=str(attribution), standardised=standardised)

    def standardisation(self, data: Any, where: str, numerator: Measure | None,
                        denominator: Measure | None, method: Any) -> Standardisation | None:
        if not isinstance(data, dict) or set(data) != {"standard", "age"}:
            self.add(where, "deve ser { standard = \"id\", age = \"coluna de idade\" }")
            return None
        known = load_standards()
        if data["standard"] not in known:
            self.add(f"{where}.standard", f"população padrão desconhecida {data['standard']!r}"
                     f"; conhecidas: {', '.join(sorted(known))}")
            return None
        if numerator is not None and numerator.input:
            self.column(numerator.input, str(data["age"]), f"{where}.age")
        if denominator is None or not denominator.population or denominator.ages is None:
            self.add(where, "a padronização pede denominador de população com faixa etária "
                     "(ages)")
            return None
        if method != "poisson":
            self.add(where, "taxa padronizada usa method = \"poisson\" (intervalo gama de "
                     "Fay e Feuer)")
            return None
        return Standardisation(str(data["standard"]), str(data["age"]))


def parse_catalog(data: Mapping[str, Any], file: str) -> Catalog:
    """A catalog from parsed TOML; every problem found is raised together."""
    check = _Checker(file)
    objectives: dict[str, Objective] = {}
    for i, raw in enumerate(data.get("objective", [])):
        ident = check.text(raw, "id", f"objective[{i}]")
        text = check.text(raw, "text", f"objective[{i}]")
        group = raw.get("group", "")
        if group not in ("", "SUS", "SES"):
            check.add(f"objective[{i}].group", "deve ser SUS ou SES")
        if ident and text:
            objectives[ident] = Objective(ident, text, str(group))
    indicators: dict[str, Indicator] = {}
    for i, raw in enumerate(data.get("indicator", [])):
        indicator = check.indicator(raw, i, objectives)
        if indicator is None:
            continue
        if indicator.id in indicators:
            check.add(indicator.id, "id repetido no catálogo")
        indicators[indicator.id] = indicator
    if not indicators and not check.problems:
        check.add("indicator", "o catálogo não declara nenhum indicador")
    if check.problems:
        raise CatalogError(f"catálogo de indicadores inválido ({file})", check.problems)
    return Catalog(objectives, indicators)


def load_catalog(path: Path | None = None) -> Catalog:
    """The catalog from ``path`` (default: the one shipped with rmds)."""
    if path is None:
        return _default_catalog()
    return _read(path)


@cache
def _default_catalog() -> Catalog:
    """``catalog.toml`` and the indicators each declared system brings (its
    ``indicators``)."""
    data = read_declarations(CATALOG_FILE, "catálogo de indicadores")
    files = [CATALOG_FILE]
    for declaration in DECLARATIONS.values():
        if declaration.indicators is not None:
            files.append(declaration.indicators)
            own = read_declarations(declaration.indicators, "catálogo de indicadores")
            data["indicator"] = [*data.get("indicator", []), *own.get("indicator", [])]
    return parse_catalog(data, ", ".join(path.name for path in files))


def read_declarations(path: Path, what: str) -> dict[str, Any]:
    """A TOML file of declarations (catalog, quality rules, plan), or a CatalogError that
    names the file and, for bad TOML, the line."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"{what}: arquivo não encontrado: {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise CatalogError(f"{what}: arquivo ilegível: {path}",
                           [Problem(str(path), None, None, str(error))]) from None


def _read(path: Path) -> Catalog:
    return parse_catalog(read_declarations(path, "catálogo de indicadores"), path.name)
