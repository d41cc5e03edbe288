"""Territory of Minas Gerais: municipalities, regions, macro-regions, URS, consortia."""

from __future__ import annotations

from rmds.territory.model import (
    AGE_GROUPS,
    Level,
    Municipality,
    Unit,
    Vintage,
    vintage_for_year,
)
from rmds.territory.pack import PopulationFigure, ReferencePack

__all__ = [
    "AGE_GROUPS",
    "Level",
    "Municipality",
    "PopulationFigure",
    "ReferencePack",
    "Unit",
    "Vintage",
    "vintage_for_year",
]
