"""ICSAP: hospitalisations for primary-care-sensitive conditions (Portaria SAS/MS 221/2008).

The reference pack lists the Portaria's 19 groups, each with its CID-10 codes as printed and
as a regular expression, and an expanded list of categories and subcategories. A diagnosis
belongs to a group when its code, or its 3-character category, is in the expanded list. A
diagnosis written as a bare category belongs to a group when the Portaria lists every one of
its subcategories (A17: A17.0 in one line, A17.1–A17.9 in another), as the group's pattern
says for each of .0 to .9; a category only partly listed (G00: G00.0 alone) does not.

Admissions for obstetric procedures are not morbidity and are left out of ICSAP counts, as
csapAIH does by default (``proc.obst``, Nedel 2017, after the SIH/SUS Manual Técnico
Operacional 2015): :data:`OBSTETRIC_PROCEDURES`.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from rmds.codes.cid10 import normalize_cid10
from rmds.exceptions import InvalidCodeError, ReferencePackMissing

__all__ = ["OBSTETRIC_PROCEDURES", "Icsap", "IcsapGroup"]

#: SIGTAP procedures of childbirth and its care, whose admissions are not counted (csapAIH's
#: ``proc.obst``): normal and caesarean deliveries, newborn care in the delivery room,
#: manual removal of the placenta, post-abortion curettage, embryotomy
OBSTETRIC_PROCEDURES: tuple[str, ...] = (
    "0310010012", "0310010020", "0310010039", "0310010047", "0411010018", "0411010026",
    "0411010034", "0411010042", "0411020013", "0411020021")

EXPANDED_FILE = "icsap_portaria221_2008_cid10_expandido.csv"
GROUPS_FILE = "icsap_portaria221_2008_grupos.csv"


@dataclass(frozen=True)
class IcsapGroup:
    number: int
    name: str
    codes_as_printed: str
    pattern: re.Pattern[str]


class Icsap:
    """The ICSAP list: which CID-10 codes are primary-care sensitive, and in which group."""

    def __init__(self, groups: dict[int, IcsapGroup], codes: dict[str, int]) -> None:
        self.groups = groups
        self._codes = codes

    @classmethod
    def load(cls, directory: Path) -> Icsap:
        expanded, groups_path = directory / EXPANDED_FILE, directory / GROUPS_FILE
        for path in (expanded, groups_path):
            if not path.is_file():
                raise ReferencePackMissing(f"arquivo da lista ICSAP ausente: {path}")
        groups: dict[int, IcsapGroup] = {}
        with groups_path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                number = int(row["grupo"])
                groups[number] = IcsapGroup(number, row["nome_grupo"], row["cid10_portaria"],
                                            re.compile(row["regex_cid10_sem_ponto"]))
        codes: dict[str, int] = {}
        with expanded.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                code = normalize_cid10(row["cid10"])
                if code is not None:
                    codes[code] = int(row["grupo"])
        for code, number in list(codes.items()):
            category = code[:3]
            if category not in codes and all(groups[number].pattern.match(f"{category}{d}")
                                             for d in range(10)):
                codes[category] = number
        return cls(groups, codes)

    @property
    def codes(self) -> dict[str, int]:
        """Expanded CID-10 code → group number."""
        return dict(self._codes)

    def group_of(self, code: str | None) -> int | None:
        """The ICSAP group of a diagnosis, or ``None`` if it is not primary-care sensitive."""
        try:
            normal = normalize_cid10(code)
        except InvalidCodeError:
            return None
        if normal is None:
            return None
        found = self._codes.get(normal)
        if found is None and len(normal) == 4:
            found = self._codes.get(normal[:3])
        return found
