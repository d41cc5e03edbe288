"""SINAN — Sistema de Informação de Agravos de Notificação: the arboviruses (dengue,
chikungunya, zika), from the ``DENGBR*``, ``CHIKBR*`` and ``ZIKABR*`` DBC/DBF files.

Everything rmds knows about SINAN is in this folder: the layouts by year (``layouts.py``),
the mapper to ``notifications`` (``mapper.py``), the identification fields (below), the
quality rules (``rules.toml``), the indicators (``indicators.toml``: incidence of probable
cases, deaths, case fatality), the synthetic writer (``synth.py``) and what the indicator
catalog cannot express: epidemiological weeks (``epiweek.py``) and the epidemic channel
(``channel.py``).
"""

from __future__ import annotations

import re
from pathlib import Path

from rmds.systems.base import IdentitySpec, SystemDeclaration
from rmds.systems.sinan.layouts import LAYOUTS
from rmds.systems.sinan.mapper import map_sinan
from rmds.systems.sinan.synth import write_state

__all__ = ["SINAN"]

SINAN = SystemDeclaration(
    "SINAN", "Sistema de Informação de Agravos de Notificação (dengue, chikungunya, zika)",
    "notifications",
    re.compile(r"^(DENG|CHIK|ZIKA)([A-Z]{2})\d{2}", re.I),
    ("DT_NOTIFIC", "ID_AGRAVO", "CLASSI_FIN"),
    map_sinan,
    identity=(IdentitySpec("notificado", "NU_NOTIFIC", "NM_PACIENT", "NM_MAE_PAC", "DT_NASC",
                           "%Y-%m-%d", "CS_SEXO", "ID_CNS_SUS", None, "ID_MN_RESI", "NU_CEP",
                           "NM_LOGRADO"),),
    layouts=LAYOUTS,
    rules=Path(__file__).with_name("rules.toml"),
    indicators=Path(__file__).with_name("indicators.toml"),
    synthetic=write_state,
)
