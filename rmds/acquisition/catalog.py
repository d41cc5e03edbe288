"""The DATASUS file families, as data: FTP folder (final and preliminary), name pattern and
granularity. Paths follow the public FTP ``ftp.datasus.gov.br`` as microdatasus
(``R/fetch_datasus.R``, rfsaldanha/microdatasus) and PySUS (``pysus/ftp/databases/*.py``,
AlertaDengue/PySUS) read it, checked folder by folder (docs/acquisition.md, "Fontes dos
caminhos"); names are the ones :func:`rmds.lake.ingest.identity_key`
turns into a file identity (``SIH:RDMG2301``), so a re-published file supersedes the old one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["FAMILIES", "Family", "families_of", "ingestible_name"]

HOST = "ftp.datasus.gov.br"
_ROOT = "/dissemin/publicos"


@dataclass(frozen=True)
class Family:
    system: str          # rmds system code (rmds.systems)
    code: str            # file prefix: RD, PA, DO...
    folder: str          # final data
    pattern: str         # {uf} {yyyy} {yy} {mm}; the extension is .dbc
    monthly: bool        # one file per competence (else per year)
    prelim: str | None = None   # preliminary folder, tried when the final file is absent
    split: bool = False  # large files split into parts a, b, c...
    national: bool = False  # one file for the country (no UF in the name)
    since: int = 1996
    description: str = ""

    def stem(self, uf: str, year: int, month: int) -> str:
        return self.pattern.format(uf=uf.upper(), yyyy=f"{year:04d}", yy=f"{year % 100:02d}",
                                   mm=f"{month:02d}")

    def ingestible(self) -> bool:
        """Whether ``rmds ingest`` reads this family: its names match the file pattern of
        the system's declaration (rmds.systems), the one place that says what is read."""
        from rmds.systems import DECLARATIONS

        declaration = DECLARATIONS.get(self.system)
        return bool(declaration and declaration.file_pattern.match(
            self.stem("MG", 2023, 1) + ".dbc"))

    def folders(self) -> tuple[str, ...]:
        return (self.folder,) + ((self.prelim,) if self.prelim else ())


def _sih(code: str, description: str) -> Family:
    return Family("SIH", code, f"{_ROOT}/SIHSUS/200801_/Dados", code + "{uf}{yy}{mm}", True,
                  since=2008, description=description)


def _sia(code: str, description: str, split: bool = False) -> Family:
    return Family("SIA", code, f"{_ROOT}/SIASUS/200801_/Dados", code + "{uf}{yy}{mm}", True,
                  split=split, since=2008, description=description)


def _cnes(code: str, description: str) -> Family:
    return Family("CNES", code, f"{_ROOT}/CNES/200508_/Dados/{code}", code + "{uf}{yy}{mm}",
                  True, since=2005, description=description)


def _sim_national(code: str, description: str) -> Family:
    return Family("SIM", code, f"{_ROOT}/SIM/CID10/DOFET", code + "{yy}", False,
                  prelim=f"{_ROOT}/SIM/PRELIM/DOFET", national=True, description=description)


FAMILIES: tuple[Family, ...] = (
    Family("SIM", "DO", f"{_ROOT}/SIM/CID10/DORES", "DO{uf}{yyyy}", False,
           prelim=f"{_ROOT}/SIM/PRELIM/DORES",
           description="Declarações de óbito por UF de residência"),
    _sim_national("DOEXT", "Óbitos por causas externas (Brasil)"),
    _sim_national("DOFET", "Óbitos fetais (Brasil)"),
    _sim_national("DOINF", "Óbitos infantis (Brasil)"),
    _sim_national("DOMAT", "Óbitos maternos (Brasil)"),
    Family("SINASC", "DN", f"{_ROOT}/SINASC/NOV/DNRES", "DN{uf}{yyyy}", False,
           prelim=f"{_ROOT}/SINASC/PRELIM/DNRES", description="Declarações de nascido vivo"),
    _sih("RD", "AIH reduzida"), _sih("SP", "Serviços profissionais"),
    _sih("RJ", "AIH rejeitadas"), _sih("ER", "AIH rejeitadas com código de erro"),
    _sia("PA", "Produção ambulatorial", split=True), _sia("BI", "Boletim individualizado"),
    _sia("AM", "APAC de medicamentos", split=True), _sia("AQ", "APAC de quimioterapia"),
    _sia("AR", "APAC de radioterapia"),
    _cnes("ST", "Estabelecimentos"), _cnes("PF", "Profissionais"), _cnes("EQ", "Equipamentos"),
    _cnes("LT", "Leitos"), _cnes("SR", "Serviços especializados"),
)


def families_of(selectors: tuple[str, ...] | list[str]) -> list[Family]:
    """Families named by system (``SIH``) or system:code (``SIH:RD``) or code (``RD``)."""
    chosen: list[Family] = []
    for sel in selectors:
        sel = sel.upper()
        system, _, code = sel.partition(":")
        found = [f for f in FAMILIES if (f.system == system and (not code or f.code == code))
                 or (not code and f.code == sel)]
        if not found:
            known = ", ".join(sorted({f.system for f in FAMILIES} | {f.code for f in FAMILIES}))
            raise ValueError(f"Sistema ou família desconhecida: {sel} (conhecidos: {known}; "
                             "e PNI, a vacinação dos dados abertos)")
        chosen += [f for f in found if f not in chosen]
    return chosen


def ingestible_name(name: str) -> bool:
    """Whether a fetched file belongs to a family ``rmds ingest`` reads (a DATASUS family,
    or a UF's month of vaccination doses: rmds.acquisition.vaccination)."""
    upper = name.upper()
    if re.fullmatch(r"VACINACAO_[A-Z]{2}_\d{4}_\d{2}\.CSV", upper):
        return True
    return any(f.ingestible() and re.fullmatch(
        re.escape(f.pattern.split("{", 1)[0]) + r"(?:[A-Z]{2})?\d{2,6}[A-Z]?\.DBC", upper)
        for f in FAMILIES)
