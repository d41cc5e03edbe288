"""Data-quality rules, declared in ``rules.toml`` and checked as a whole like the indicator
catalog (every problem reported together)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from rmds.exceptions import CatalogError, Problem
from rmds.indicators.catalog import read_declarations
from rmds.indicators.expr import check_filter
from rmds.indicators.inputs import INPUTS
from rmds.schema.inventory import record_keys
from rmds.systems import DECLARATIONS

__all__ = ["DIMENSIONS", "RULES_FILE", "Rule", "load_rules"]

RULES_FILE = Path(__file__).with_name("rules.toml")
DIMENSIONS = {"completude": "Completude", "oportunidade": "Oportunidade",
              "consistencia": "Consistência", "unicidade": "Unicidade",
              "cobertura": "Cobertura"}
KINDS = ("proporcao", "duplicidade", "cobertura")
# how a source record of the identity table is found in its canonical table (the tables the
# duplicate rules may name, with their key from the inventory)
RECORD_KEYS = {name: key for name, key in record_keys().items()
               if name in ("immunisations", "deaths", "births", "hospitalisations",
                           "notifications")}


@dataclass(frozen=True)
class Rule:
    id: str
    system: str
    dimension: str
    name: str
    kind: str
    target: float
    limit: float
    weight: float
    input: str | None = None
    territory: str | None = None
    filter: str | None = None
    bad: str | None = None
    role: str | None = None
    same: tuple[str, ...] = ()
    expected_by: str | None = None

    @property
    def higher_is_better(self) -> bool:
        return self.kind == "cobertura"

    def goal(self) -> str:
        sign = "≥" if self.higher_is_better else "≤"
        return f"meta {sign} {self.target:g}%".replace(".", ",")


def _rule(raw: Any, index: int, problems: list[Problem], file: str) -> Rule | None:
    where = f"rule[{index}]"
    if not isinstance(raw, dict):
        problems.append(Problem(file, None, where, "deve ser uma tabela"))
        return None
    where = str(raw.get("id") or where)

    def add(field: str, message: str) -> None:
        problems.append(Problem(file, None, f"{where}.{field}", message))

    for key in ("id", "system", "dimension", "name"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            add(key, "campo obrigatório ausente ou vazio")
    kind = raw.get("kind", "proporcao")
    if kind not in KINDS:
        add("kind", f"deve ser um de {', '.join(KINDS)}")
    if raw.get("dimension") not in DIMENSIONS:
        add("dimension", f"deve ser uma de {', '.join(DIMENSIONS)}")
    numbers = {}
    for key in ("target", "limit", "weight"):
        value = raw.get(key)
        if not isinstance(value, (int, float)) or value < 0:
            add(key, "deve ser um número não negativo")
        else:
            numbers[key] = float(value)
    if len(numbers) == 3 and numbers["target"] == numbers["limit"]:
        add("limit", "deve diferir de target")
    if len(numbers) == 3 and kind == "cobertura" and numbers["target"] < numbers["limit"]:
        add("limit", "numa regra de cobertura, limit fica abaixo de target")
    if len(numbers) == 3 and kind != "cobertura" and numbers["target"] > numbers["limit"]:
        add("limit", "limit fica acima de target (menor é melhor)")
    name = raw.get("input")
    if (kind != "duplicidade" or name is not None) and name not in INPUTS:
        add("input", f"entrada desconhecida {name!r}")
        name = None
    columns = INPUTS[name].columns if name else frozenset()
    if kind != "duplicidade" and name:
        territory = raw.get("territory")
        if territory not in columns:
            add("territory", f"coluna {territory!r} não existe em {name}")
    for key in ("filter", "bad"):
        if raw.get(key) is not None and name:
            for message in check_filter(str(raw[key]), columns):
                add(key, message)
    if kind == "proporcao" and not raw.get("bad"):
        add("bad", "uma regra de proporção precisa de 'bad'")
    if kind == "duplicidade":
        if not isinstance(raw.get("role"), str):
            add("role", "papel da pessoa no registro (vacinado, paciente, ...) obrigatório")
        same = raw.get("same", [])
        if same and (name is None or name not in RECORD_KEYS):
            add("same", "colunas 'same' precisam de uma entrada com chave de registro")
        for column in same:
            if name and column not in columns:
                add("same", f"coluna {column!r} não existe em {name}")
    if kind == "cobertura" and raw.get("expected_by") not in ("fecundidade", "mortalidade"):
        add("expected_by", "deve ser 'fecundidade' ou 'mortalidade'")
    known = {"id", "system", "dimension", "name", "kind", "target", "limit", "weight", "input",
             "territory", "filter", "bad", "role", "same", "expected_by"}
    for key in sorted(set(raw) - known):
        add(key, "campo desconhecido")
    if len(numbers) < 3 or kind not in KINDS:
        return None
    return Rule(id=str(raw.get("id")), system=str(raw.get("system")),
                dimension=str(raw.get("dimension")), name=str(raw.get("name")), kind=kind,
                target=numbers["target"], limit=numbers["limit"], weight=numbers["weight"],
                input=name, territory=raw.get("territory"), filter=raw.get("filter"),
                bad=raw.get("bad"), role=raw.get("role"), same=tuple(raw.get("same", [])),
                expected_by=raw.get("expected_by"))


def parse_rules(data: dict[str, Any], file: str) -> tuple[Rule, ...]:
    problems: list[Problem] = []
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw in enumerate(data.get("rule", [])):
        rule = _rule(raw, index, problems, file)
        if rule is None:
            continue
        if rule.id in seen:
            problems.append(Problem(file, None, rule.id, "id repetido"))
        seen.add(rule.id)
        rules.append(rule)
    if not rules and not problems:
        problems.append(Problem(file, None, "rule", "nenhuma regra declarada"))
    if problems:
        raise CatalogError(f"regras de qualidade inválidas ({file})", problems)
    return tuple(rules)


def load_rules(path: Path | None = None) -> tuple[Rule, ...]:
    return _default() if path is None else _read(path)


@cache
def _default() -> tuple[Rule, ...]:
    """The rules of ``rules.toml`` and those each declared system brings (its ``rules``)."""
    files = [RULES_FILE, *(d.rules for d in DECLARATIONS.values() if d.rules is not None)]
    data = {"rule": [raw for path in files
                     for raw in read_declarations(path, "regras de qualidade").get("rule", [])]}
    return parse_rules(data, ", ".join(path.name for path in files))


def _read(path: Path) -> tuple[Rule, ...]:
    return parse_rules(read_declarations(path, "regras de qualidade"), path.name)
