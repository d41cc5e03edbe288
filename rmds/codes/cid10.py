"""CID-10 (ICD-10, Brazilian Portuguese edition) codes: normalisation and lookup.

The DATASUS tables in the reference pack are the 2008 edition; codes created later by the
WHO and adopted in Brazil (COVID-19 and related) are added here, each with its source.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rmds.exceptions import InvalidCodeError, ReferencePackMissing

__all__ = ["ADDED_CODES", "Cid10", "Cid10Entry", "normalize_cid10"]

_CODE = re.compile(r"^[A-Z][0-9]{2}[0-9X]?$")


@dataclass(frozen=True)
class Cid10Entry:
    """One category (3 characters) or subcategory (4 characters)."""

    code: str
    description: str
    chapter: int
    restricted_sex: str | None = None
    source: str = "DATASUS CID-10 2008"

    @property
    def category(self) -> str:
        return self.code[:3]

    @property
    def dotted(self) -> str:
        return self.code if len(self.code) == 3 else f"{self.code[:3]}.{self.code[3:]}"


# Codes added to the 2008 tables (WHO ICD-10 updates adopted by the Ministry of Health).
ADDED_CODES: tuple[tuple[str, str, str], ...] = (
    ("U04", "Síndrome respiratória aguda grave [SARS]", "OMS 2003"),
    ("U049", "Síndrome respiratória aguda grave, não especificada", "OMS 2003"),
    ("U07", "Códigos de emergência (COVID-19 e outros)", "OMS 2020"),
    ("U071", "COVID-19, vírus identificado", "OMS 2020; MS Nota Técnica 2020"),
    ("U072", "COVID-19, vírus não identificado (clínico-epidemiológico)", "OMS 2020"),
    ("U08", "História pessoal de COVID-19", "OMS 2020"),
    ("U089", "História pessoal de COVID-19, não especificada", "OMS 2020"),
    ("U09", "Condição de saúde posterior à COVID-19", "OMS 2020"),
    ("U099", "Condição de saúde posterior à COVID-19, não especificada", "OMS 2020"),
    ("U10", "Síndrome inflamatória multissistêmica associada à COVID-19", "OMS 2020"),
    ("U109", "Síndrome inflamatória multissistêmica associada à COVID-19, não especificada",
     "OMS 2020"),
    ("U12", "Vacinas contra COVID-19 causando efeitos adversos ao uso terapêutico", "OMS 2021"),
    ("U129", "Vacinas contra COVID-19 causando efeitos adversos, não especificadas", "OMS 2021"),
)


def normalize_cid10(value: str | None) -> str | None:
    """Normalise a CID-10 code as DATASUS systems write it.

    ``"I21.9"``, ``"i219"``, ``" I219 "`` → ``"I219"``; ``"R99X"``, ``"R99-"`` → ``"R99"``
    (DATASUS pads 3-character categories with X or a dash); blank → ``None``. Raises
    :class:`InvalidCodeError` for anything that is not shaped like a CID-10 code.
    """
    if value is None:
        return None
    code = value.strip().upper().replace(".", "").replace("*", "").replace("+", "")
    if not code:
        return None
    if len(code) == 4 and code[3] in "X-":
        code = code[:3]
    if not _CODE.match(code) or code.endswith("X"):
        raise InvalidCodeError(f"código CID-10 mal formado: {value!r}")
    return code


class Cid10:
    """The CID-10 table: categories and subcategories, with chapters."""

    def __init__(self, entries: dict[str, Cid10Entry],
                 chapters: list[tuple[int, str, str, str]]) -> None:
        self._entries = entries
        self.chapters = chapters

    @classmethod
    def load(cls, directory: Path) -> Cid10:
        folder = directory / "cid10"
        files = {name: folder / f"CID-10-{name}.utf8.csv"
                 for name in ("CAPITULOS", "CATEGORIAS", "SUBCATEGORIAS")}
        for path in files.values():
            if not path.is_file():
                raise ReferencePackMissing(f"arquivo da CID-10 ausente: {path}")
        chapters: list[tuple[int, str, str, str]] = []
        for row in _rows(files["CAPITULOS"]):
            chapters.append((int(row["NUMCAP"]), row["CATINIC"], row["CATFIM"],
                             row["DESCRICAO"]))
        entries: dict[str, Cid10Entry] = {}

        def chapter_of(code: str) -> int:
            for number, start, end, _ in chapters:
                if start <= code[:3] <= end:
                    return number
            return 0

        for row in _rows(files["CATEGORIAS"]):
            code = row["CAT"].strip()
            entries[code] = Cid10Entry(code, row["DESCRICAO"].strip(), chapter_of(code))
        for row in _rows(files["SUBCATEGORIAS"]):
            code = row["SUBCAT"].strip()
            entries[code] = Cid10Entry(code, row["DESCRICAO"].strip(), chapter_of(code),
                                       row.get("RESTRSEXO") or None)
        for code, description, source in ADDED_CODES:
            entries.setdefault(code, Cid10Entry(code, description, chapter_of(code), None, source))
        return cls(entries, chapters)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Cid10Entry]:
        return iter(self._entries.values())

    def __contains__(self, code: object) -> bool:
        if not isinstance(code, str):
            return False
        try:
            normal = normalize_cid10(code)
        except InvalidCodeError:
            return False
        return normal is not None and normal in self._entries

    def get(self, code: str) -> Cid10Entry | None:
        """The entry for ``code`` (any accepted spelling), or ``None`` if unknown."""
        normal = normalize_cid10(code)
        return None if normal is None else self._entries.get(normal)

    def describe(self, code: str) -> str:
        entry = self.get(code)
        if entry is None:
            raise InvalidCodeError(f"código CID-10 desconhecido: {code!r}")
        return entry.description


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle, delimiter=";")
