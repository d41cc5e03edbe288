"""SINAN arbovirus file layouts (``DENGBR*``, ``CHIKBR*``, ``ZIKABR*``), by year.

Field names as in the public DATASUS files and the SINAN Net/Online data dictionaries
(``DT_NOTIFIC``, ``SEM_NOT``, ``DT_SIN_PRI``, ``SEM_PRI``, ``ID_MUNICIP``, ``ID_MN_RESI``,
``NU_IDADE_N``, ``CLASSI_FIN``, ``CRITERIO``, ``EVOLUCAO``, ``DT_OBITO``, ``DT_ENCERRA``…).
No SINAN dictionary ships with the reference data; the differences that matter to rmds are:

* dengue until 2013 (SINAN Net): final classification 1 dengue clássico, 2 dengue com
  complicações, 3 febre hemorrágica, 4 síndrome do choque, 5 descartado, 8 inconclusivo;
* dengue from 2014 (SINAN Online, the 2014 WHO classification): 5 descartado, 8
  inconclusivo, 10 dengue, 11 dengue com sinais de alarme, 12 dengue grave; chikungunya
  (from 2015, 13 chikungunya) shares the dengue form;
* zika (from 2016) is a SINAN Net form with fewer fields.

Only the fields rmds maps, and their neighbours, are written; the identification fields
(``NM_PACIENT``, ``NM_MAE_PAC``, ``ID_CNS_SUS``, ``NM_LOGRADO``, ``NU_CEP``) are those of the
identified SINAN extracts a state receives, absent from the public files.
"""

from __future__ import annotations

from rmds.sources.datasus.dbf_writer import FieldSpec
from rmds.systems.base import LayoutVersion

__all__ = ["IDENTIFIED", "LAYOUTS"]


def _c(name: str, length: int) -> FieldSpec:
    return FieldSpec(name, "C", length)


def _d(name: str) -> FieldSpec:
    return FieldSpec(name, "D", 8)


_COMMON = (
    _c("TP_NOT", 1), _c("ID_AGRAVO", 4), _d("DT_NOTIFIC"), _c("SEM_NOT", 6),
    _c("NU_ANO", 4), _c("SG_UF_NOT", 2), _c("ID_MUNICIP", 6), _c("ID_REGIONA", 4),
    _c("ID_UNIDADE", 7), _d("DT_SIN_PRI"), _c("SEM_PRI", 6), _c("ANO_NASC", 4),
    _d("DT_NASC"), _c("NU_IDADE_N", 4), _c("CS_SEXO", 1), _c("CS_GESTANT", 1),
    _c("CS_RACA", 1), _c("CS_ESCOL_N", 2), _c("SG_UF", 2), _c("ID_MN_RESI", 6),
    _c("ID_PAIS", 3), _d("DT_INVEST"),
)
_OUTCOME = (
    _c("CLASSI_FIN", 2), _c("CRITERIO", 1), _c("TPAUTOCTO", 1), _c("HOSPITALIZ", 1),
    _d("DT_INTERNA"), _c("EVOLUCAO", 1), _d("DT_OBITO"), _d("DT_ENCERRA"),
)
IDENTIFIED: tuple[FieldSpec, ...] = (
    _c("NU_NOTIFIC", 7), _c("NM_PACIENT", 70), _c("NM_MAE_PAC", 70), _c("ID_CNS_SUS", 15),
    _c("NM_LOGRADO", 60), _c("NU_CEP", 8),
)
_SOROTIPO = (_c("SOROTIPO", 1), _c("RESUL_NS1", 1), _c("RESUL_SORO", 1))
_ALARM = (_c("ALRM_HIPOT", 1), _c("ALRM_PLAQ", 1), _c("ALRM_VOM", 1), _c("GRAV_PULSO", 1))

LAYOUTS: tuple[LayoutVersion, ...] = (
    LayoutVersion(2007, 2013, _COMMON + _SOROTIPO + _OUTCOME + IDENTIFIED,
                  "SINAN Net: CLASSI_FIN 1–4 (dengue clássico … síndrome do choque), 5, 8"),
    LayoutVersion(2014, None, _COMMON + _SOROTIPO + _ALARM + _OUTCOME + IDENTIFIED,
                  "SINAN Online: CLASSI_FIN 5, 8, 10–12 (dengue, sinais de alarme, grave), "
                  "13 chikungunya"),
)
