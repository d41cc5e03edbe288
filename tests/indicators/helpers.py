"""A small hand-built lake: rows written straight into the canonical tables."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa

from rmds.lake.store import Lake
from rmds.schema import table
from rmds.territory import AGE_GROUPS

ALFENAS, ALTEROSA = "3101607", "3102001"       # same health region (31001), macro 3116
ALPINOPOLIS = "3101904"                         # macro 3116, another region (31092)
POUSO_ALEGRE = "3152501"                        # another macro (3115)
BH = "3106200"                                  # another macro (3103)
UBERLANDIA = "3170206"                          # region 31075, macro 3113


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def insert(lake: Lake, name: str, rows: list[dict[str, Any]]) -> None:
    """Rows with only the columns a test cares about; the rest are null."""
    columns = table(name).columns
    data = {c.name: pa.array([r.get(c.name) for r in rows], c.type) for c in columns}
    lake.insert(name, pa.table(data))


def write_population(path: Path, per_group: dict[str, int], year: int = 2023) -> None:
    """Every five-year group of both sexes has ``per_group[municipality]`` people."""
    header = ["cod_ibge7", "ano", "sexo", *[f"pop_{g}" for g in AGE_GROUPS], "pop_total"]
    lines = [",".join(header)]
    for code, count in per_group.items():
        for sex in (1, 2):
            lines.append(",".join([code, str(year), str(sex),
                                   *[str(count)] * len(AGE_GROUPS),
                                   str(count * len(AGE_GROUPS))]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
