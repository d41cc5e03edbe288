"""Territorial levels, regionalisation vintages and the units of each level."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

__all__ = [
    "AGE_GROUPS",
    "BUILTIN_VINTAGES",
    "STATE_CODE",
    "STATE_NAME",
    "UFS",
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
#: IBGE code of every UF → (acronym, name); a municipality's UF is the first two digits of
#: its code, as is a health region's and a macro-region's
UFS: dict[str, tuple[str, str]] = {
    "11": ("RO", "Rondônia"), "12": ("AC", "Acre"), "13": ("AM", "Amazonas"),
    "14": ("RR", "Roraima"), "15": ("PA", "Pará"), "16": ("AP", "Amapá"),
    "17": ("TO", "Tocantins"), "21": ("MA", "Maranhão"), "22": ("PI", "Piauí"),
    "23": ("CE", "Ceará"), "24": ("RN", "Rio Grande do Norte"), "25": ("PB", "Paraíba"),
    "26": ("PE", "Pernambuco"), "27": ("AL", "Alagoas"), "28": ("SE", "Sergipe"),
    "29": ("BA", "Bahia"), "31": ("MG", "Minas Gerais"), "32": ("ES", "Espírito Santo"),
    "33": ("RJ", "Rio de Janeiro"), "35": ("SP", "São Paulo"), "41": ("PR", "Paraná"),
    "42": ("SC", "Santa Catarina"), "43": ("RS", "Rio Grande do Sul"),
    "50": ("MS", "Mato Grosso do Sul"), "51": ("MT", "Mato Grosso"), "52": ("GO", "Goiás"),
    "53": ("DF", "Distrito Federal")}

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


class Vintage(str):
    """A regionalisation (health regions and macro-regions) valid from a year on, until the
    next one begins: data of each year are attributed to the regions valid that year.

    The pack's vintages are data (:attr:`rmds.territory.ReferencePack.vintages`: the
    file ``regionalizacoes.csv`` of a pack version, written by ``rmds reference sync``);
    a pack without that file has the two built in:

    * ``dtsus_2019_22``: the regions DATASUS tabulates for 2019–2022 (89 regions,
      14 macro-regions);
    * ``pdr_atual``: the current Plano Diretor de Regionalização (89 regions,
      16 macro-regions, 28 URS), used from 2023 on.

    A vintage is its code (a ``str``): it keys dicts and is stored in the lake as it is.
    """

    label: str
    first_year: int
    #: municipios.csv columns: region code, region name, macro-region code, its name
    columns: tuple[str, str, str, str]
    DATASUS_2019_22: ClassVar[Vintage]
    PDR_CURRENT: ClassVar[Vintage]

    def __new__(cls, value: str, label: str = "", first_year: int = 0,
                columns: tuple[str, str, str, str] | None = None) -> Vintage:
        self = super().__new__(cls, value)
        self.label = label or value
        self.first_year = first_year
        self.columns = columns or (f"co_regsaud_{value}", f"no_regsaud_{value}",
                                   f"co_macsaud_{value}", f"no_macsaud_{value}")
        return self

    @property
    def value(self) -> str:
        return str(self)

    @property
    def has_urs(self) -> bool:
        """URS (the state's regional units) exist from the 2023 PDR on."""
        return self.first_year >= 2023

    def __repr__(self) -> str:
        return f"Vintage({str(self)!r}, first_year={self.first_year})"


Vintage.DATASUS_2019_22 = Vintage(
    "dtsus_2019_22", "Regionalização DATASUS 2019–2022 (14 macrorregiões)", 2019,
    ("co_regsaud_dtsus_2019_22", "no_regsaud_dtsus_2019_22", "co_macsaud_dtsus14",
     "no_macsaud_dtsus14"))
Vintage.PDR_CURRENT = Vintage(
    "pdr_atual", "PDR vigente (16 macrorregiões, 28 URS)", 2023,
    ("co_regsaud_pdr_atual", "no_regsaud_pdr_atual", "co_macsaud_pdr16", "no_macsaud_pdr16"))
#: the vintages of a pack without ``regionalizacoes.csv``, oldest first
BUILTIN_VINTAGES: tuple[Vintage, ...] = (Vintage.DATASUS_2019_22, Vintage.PDR_CURRENT)


def vintage_for_year(year: int, vintages: Sequence[Vintage] = BUILTIN_VINTAGES) -> Vintage:
    """The regionalisation valid in ``year``: the latest of ``vintages`` (oldest first)
    begun by then.

    Years before the first vintage use the oldest; callers that need the exact older
    regions must supply them.
    """
    valid = [v for v in vintages if v.first_year <= year]
    return valid[-1] if valid else vintages[0]


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
    """One municipality, with its place in both regionalisations (a pack holds Minas
    Gerais; a multi-UF pack, several states)."""

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

    @property
    def state(self) -> str:
        """The IBGE code of the municipality's UF (``"31"`` for Minas Gerais)."""
        return self.ibge7[:2]


@dataclass(frozen=True)
class Unit:
    """A territorial unit at any level. ``vintage`` is set for regions and macro-regions."""

    level: Level
    code: str
    name: str
    vintage: Vintage | None = None

    def __str__(self) -> str:
        return f"{self.level.label} {self.name} ({self.code})"
