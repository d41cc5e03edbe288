"""rmds — Rede Mineira de Dados em Saúde (the health data network of SUS-MG)."""

from __future__ import annotations

from rmds.exceptions import (
    AmbiguousTerritory,
    ConfigurationError,
    FileFormatError,
    InputError,
    InvalidCodeError,
    MissingExtraError,
    PopulationUnavailable,
    Problem,
    ReferencePackError,
    ReferencePackMissing,
    RmdsError,
    SchemaError,
    TerritoryNotFound,
)

__version__ = "0.1.0"

__all__ = [
    "AmbiguousTerritory",
    "ConfigurationError",
    "FileFormatError",
    "InputError",
    "InvalidCodeError",
    "MissingExtraError",
    "PopulationUnavailable",
    "Problem",
    "ReferencePackError",
    "ReferencePackMissing",
    "RmdsError",
    "SchemaError",
    "TerritoryNotFound",
    "__version__",
]
