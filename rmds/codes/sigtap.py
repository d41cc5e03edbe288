"""SIGTAP: the SUS table of procedures (10-digit codes)."""

from __future__ import annotations

import csv
from pathlib import Path

from rmds.exceptions import InvalidCodeError, ReferencePackMissing

__all__ = ["Sigtap", "normalize_sigtap"]

FILE = "sigtap_procedimentos.csv"


def normalize_sigtap(value: str | None) -> str | None:
    """``"04.15.01.001-2"`` or ``"415010012"`` → ``"0415010012"``; blank → ``None``."""
    if value is None:
        return None
    code = value.strip().replace(".", "").replace("-", "")
    if not code:
        return None
    if not code.isdigit() or len(code) > 10:
        raise InvalidCodeError(f"código SIGTAP mal formado: {value!r}")
    return code.zfill(10)


class Sigtap:
    """Procedure code → name. The shipped names are truncated and the vintage unknown."""

    def __init__(self, procedures: dict[str, str]) -> None:
        self.procedures = procedures

    @classmethod
    def load(cls, directory: Path) -> Sigtap:
        path = directory / FILE
        if not path.is_file():
            raise ReferencePackMissing(f"arquivo SIGTAP ausente: {path}")
        with path.open(encoding="utf-8", newline="") as handle:
            procedures = {row["co_procedimento"]: row["no_procedimento"]
                          for row in csv.DictReader(handle)}
        return cls(procedures)

    def __len__(self) -> int:
        return len(self.procedures)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and normalize_sigtap(code) in self.procedures

    def name(self, code: str) -> str:
        normal = normalize_sigtap(code)
        if normal is None or normal not in self.procedures:
            raise InvalidCodeError(f"procedimento SIGTAP desconhecido: {code!r}")
        return self.procedures[normal]

    def group(self, code: str) -> str:
        """The SIGTAP group (first two digits), e.g. ``"04"`` for surgical procedures."""
        normal = normalize_sigtap(code)
        if normal is None:
            raise InvalidCodeError("código SIGTAP vazio")
        return normal[:2]
