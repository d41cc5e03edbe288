"""Standard populations for age-standardised rates, declared in ``standards.toml``.

A standardised indicator names a standard and the age column of its numerator's input; its
denominator is the resident population of an age range that coincides with the 5-year
groups of the population files. The rate is computed by the direct method: the age-specific
rates of each territory and period, weighted by the standard's share of each group in the
range (:func:`rmds.indicators.stats.direct_standardised`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rmds.exceptions import CatalogError, Problem
from rmds.territory import AGE_GROUPS

__all__ = ["STANDARDS_FILE", "Standard", "bands", "load_standards"]

STANDARDS_FILE = Path(__file__).with_name("standards.toml")
_LOWS = tuple(int(g[:2]) for g in AGE_GROUPS)   # 0, 5, …, 80


@dataclass(frozen=True)
class Standard:
    id: str
    name: str
    source: str
    #: per 100 000, one per 5-year group (0–4 … 80 and over)
    weights: tuple[float, ...]

    def weights_for(self, ages: tuple[int, int]) -> tuple[float, ...]:
        """The standard's weights of the groups in ``ages``, summing to one."""
        chosen = [self.weights[_LOWS.index(low)] for low, _ in bands(ages)]
        total = sum(chosen)
        return tuple(w / total for w in chosen)


def bands(ages: tuple[int, int]) -> list[tuple[int, int | None]]:
    """The 5-year groups of an age range: (first age, last age or None for 80 and over)."""
    low, high = ages
    return [(a, None if a >= _LOWS[-1] else a + 4) for a in _LOWS if low <= a <= high]


@cache
def load_standards(path: Path = STANDARDS_FILE) -> dict[str, Standard]:
    from rmds.indicators.catalog import read_declarations

    data = read_declarations(path, "populações padrão")
    problems: list[Problem] = []
    out: dict[str, Standard] = {}
    for i, raw in enumerate(data.get("standard", [])):
        where = str(raw.get("id") or f"standard[{i}]")
        weights = raw.get("weights")
        if not isinstance(weights, list) or len(weights) != len(_LOWS) or not all(
                isinstance(w, (int, float)) and w > 0 for w in weights):
            problems.append(Problem(path.name, None, f"{where}.weights",
                                    f"deve listar {len(_LOWS)} pesos positivos, um por "
                                    "faixa quinquenal (0–4 … 80 e mais)"))
            continue
        texts = [raw.get(k) for k in ("id", "name", "source")]
        if not all(isinstance(t, str) and t.strip() for t in texts):
            problems.append(Problem(path.name, None, where,
                                    "id, name e source são obrigatórios"))
            continue
        out[str(texts[0])] = Standard(str(texts[0]), str(texts[1]), str(texts[2]),
                                      tuple(float(w) for w in weights))
    if problems:
        raise CatalogError(f"populações padrão inválidas ({path})", problems)
    return out
