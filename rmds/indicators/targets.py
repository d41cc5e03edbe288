"""Official targets of the indicators, declared in ``targets.toml`` beside the catalog.

A target is a value in the indicator's unit, a direction (at least / at most) and the
source that sets it. Every problem in the file is reported at once, naming the entry and
the field. Only official targets are declared: an indicator without one has none.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from rmds.exceptions import ConfigurationError
from rmds.fmt import fmt_decimal

__all__ = ["DEFAULT", "Target", "load_targets", "parse_targets"]

DEFAULT = Path(__file__).with_name("targets.toml")


@dataclass(frozen=True)
class Target:
    indicator: str
    value: float
    direction: str          # "min": at least; "max": at most
    source: str

    @property
    def label(self) -> str:
        """``"meta ≥ 95"`` as the pages print it."""
        return f"meta {'≥' if self.direction == 'min' else '≤'} {fmt_decimal(self.value, 0)}"

    def met(self, value: float | None) -> bool | None:
        """Whether ``value`` meets the target (None when there is no value)."""
        if value is None:
            return None
        return value >= self.value if self.direction == "min" else value <= self.value

    def as_dict(self) -> dict[str, Any]:
        return {"valor": self.value, "direcao": self.direction, "fonte": self.source}


def parse_targets(data: dict[str, Any], known: Iterable[str], file: str
                  ) -> dict[str, Target]:
    """The targets of a parsed ``targets.toml``; every problem reported together."""
    ids = set(known)
    problems: list[str] = []
    out: dict[str, Target] = {}
    for n, raw in enumerate(data.get("target", []), start=1):
        where = f"{file}, target {n}"
        indicator = raw.get("indicator")
        if indicator not in ids:
            problems.append(f"{where}, campo indicator: indicador desconhecido {indicator!r}")
        elif indicator in out:
            problems.append(f"{where}, campo indicator: meta repetida para {indicator}")
        value = raw.get("value")
        if not isinstance(value, int | float) or isinstance(value, bool):
            problems.append(f"{where}, campo value: deve ser um número")
        if raw.get("direction") not in ("min", "max"):
            problems.append(f"{where}, campo direction: use 'min' ou 'max'")
        if not str(raw.get("source") or "").strip():
            problems.append(f"{where}, campo source: toda meta cita a sua fonte")
        if not problems:
            out[str(indicator)] = Target(str(indicator), float(value), str(raw["direction"]),
                                         str(raw["source"]))
    if problems:
        raise ConfigurationError("metas inválidas:\n" + "\n".join(problems))
    return out


@cache
def load_targets(path: Path = DEFAULT) -> dict[str, Target]:
    """The declared targets (checked against the catalog)."""
    from rmds.indicators.catalog import load_catalog

    with path.open("rb") as handle:
        data = tomllib.load(handle)
    return parse_targets(data, (i.id for i in load_catalog()), path.name)
