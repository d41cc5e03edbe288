"""Territorial levels, regionalisation vintages and the units of each level."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "AGE_GROUPS",
    "STATE_CODE",
    "STATE_NAME",
    "Level",
    "Municipality",
    "Unit",
    "Vintage",
    "fold",
    "slug",
    "vintage_for_year",
]

STATE_CODE = "31"
STATE_NAME = "Minas Gerais"

AGE_GROUPS: tuple[str, ...] = (
    "00_04", "05_09", "10_14", "15_19", "20_24", "25_29", "30_34", "35_39", "40_44",
    "45_49", "50_54", "55_59", "60_64", "65_69", "70_74", "75_79", "80_mais",
)


class Level(StrEnum):
    """Territorial levels, from the municipality up to the state."""

    MUNICIPALITY = "municipio"
    REGION = "regiao"
    MACRO = "macrorregiao"
    URS = "urs"
    CONSORTIUM = "consorcio"
    STATE = "estado"

    @property
    def label(self) -> str:
        return {
            "municipio": "Município",
            "regiao": "Região de saúde",
            "macrorregiao": "Macrorregião de saúde",
            "urs": "Unidade Regional de Saúde (URS)",
            "consorcio": "Consórcio intermunicipal de saúde",
            "estado": "Estado",
        }[self.value]


class Vintage(StrEnum):
    """A regionalisation (health regions and macro-regions) valid for a span of years.

    * ``dtsus_2019_22``: the regions DATASUS tabulates for 2019–2022 (89 regions,
      14 macro-regions);
    * ``pdr_atual``: the current Plano Diretor de Regionalização (89 regions,
      16 macro-regions, 28 URS), used from 2023 on.
    """

    DATASUS_2019_22 = "dtsus_2019_22"
    PDR_CURRENT = "pdr_atual"

    @property
    def label(self) -> str:
        return {
            "dtsus_2019_22": "Regionalização DATASUS 2019–2022 (14 macrorregiões)",
            "pdr_atual": "PDR vigente (16 macrorregiões, 28 URS)",
        }[self.value]

    @property
    def first_year(self) -> int:
        return 2019 if self is Vintage.DATASUS_2019_22 else 2023


def vintage_for_year(year: int) -> Vintage:
    """The regionalisation valid in ``year``.

    Years before 2019 use the 2019–22 vintage, the oldest in the pack; callers that need
    the exact older regions must supply them.
    """
    return Vintage.DATASUS_2019_22 if year <= 2022 else Vintage.PDR_CURRENT


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a name, for matching."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().replace("'", " ").split())


def slug(text: str) -> str:
    """``"São João Del Rei"`` → ``"sao-joao-del-rei"``."""
    return "-".join(fold(text).replace("/", " ").replace("-", " ").split())


@dataclass(frozen=True)
class Municipality:
    """One municipality of Minas Gerais, with its place in both regionalisations."""

    ibge7: str
    ibge6: str
    name: str
    lat: float
    lon: float
    altitude: float | None
    area_km2: float
    region: dict[Vintage, str] = field(hash=False)
    macro: dict[Vintage, str] = field(hash=False)
    urs: str
    census: dict[int, int] = field(hash=False)
    region_name: dict[Vintage, str] = field(hash=False, default_factory=dict)
    macro_name: dict[Vintage, str] = field(hash=False, default_factory=dict)


@dataclass(frozen=True)
class Unit:
    """A territorial unit at any level. ``vintage`` is set for regions and macro-regions."""

    level: Level
    code: str
    name: str
    vintage: Vintage | None = None

    def __str__(self) -> str:
        return f"{self.level.label} {self.name} ({self.code})"
