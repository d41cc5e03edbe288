"""Code tables (CID-10, ICSAP, SIGTAP) and identifier validators (CNS, CPF)."""

from __future__ import annotations

from rmds.codes.cid10 import Cid10, Cid10Entry, normalize_cid10
from rmds.codes.icsap import Icsap, IcsapGroup
from rmds.codes.identifiers import is_valid_cns, is_valid_cpf
from rmds.codes.sigtap import Sigtap, normalize_sigtap

__all__ = [
    "Cid10",
    "Cid10Entry",
    "Icsap",
    "IcsapGroup",
    "Sigtap",
    "is_valid_cns",
    "is_valid_cpf",
    "normalize_cid10",
    "normalize_sigtap",
]
