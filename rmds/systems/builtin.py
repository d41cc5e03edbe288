"""The declarations of the systems rmds read before the declaration layer existed.

Their mappers, layouts and synthetic writers stay where they were (``rmds/sources/datasus``,
``rmds/sources/pni.py``, ``rmds/sources/consortium.py``, ``rmds/synth/writers.py``); this
module registers them, and owns their file patterns and identity fields, which used to be
spread over the registry and the identity module. A system added since (SINAN) lives in its
own folder, ``rmds/systems/<code>/``; moving these into folders of their own is mechanical
and left for later.
"""

from __future__ import annotations

import re

from rmds.sources.consortium import CONSORTIUM_COLUMNS, map_consortium
from rmds.sources.datasus.cnes import map_cnes
from rmds.sources.datasus.layouts import CNES_ST, IDENTIFIED, SIA_PA, SIH_RD, SIM_DO, SINASC_DN
from rmds.sources.datasus.sia import map_sia
from rmds.sources.datasus.sih import map_sih
from rmds.sources.datasus.sim import map_sim
from rmds.sources.datasus.sinasc import map_sinasc
from rmds.sources.pni import map_pni
from rmds.systems.base import IdentitySpec, LayoutVersion, SystemDeclaration

__all__ = ["BUILTIN"]

# the one layout of each known so far (see rmds/sources/datasus/layouts.py for its source);
# the years it is valid for are not established, hence from 2000 and still valid
_ONE = "leiaute único conhecido; anos de validade não verificados"

BUILTIN: tuple[SystemDeclaration, ...] = (
    SystemDeclaration(
        "SIM", "Sistema de Informações sobre Mortalidade (DO)", "deaths",
        re.compile(r"^DO([A-Z]{2}|EXT|INF|FET|MAT|BR)?_?\d{2,4}", re.I),
        ("DTOBITO", "CAUSABAS"), map_sim,
        identity=(IdentitySpec("falecido", "NUMERODO", "NOME", "NOMEMAE", "DTNASC", "%d%m%Y",
                               "SEXO", "NUMSUS", None, "CODMUNRES", "CEPRES", "ENDRES"),),
        layouts=(LayoutVersion(2000, None, SIM_DO + IDENTIFIED["SIM"], _ONE),),
        sample_prefixes=("sim_",)),
    SystemDeclaration(
        "SINASC", "Sistema de Informações sobre Nascidos Vivos (DN)", "births",
        re.compile(r"^DN([A-Z]{2}|BR)?_?\d{2,4}", re.I), ("DTNASC", "CONSULTAS"), map_sinasc,
        identity=(
            IdentitySpec("mae", "NUMERODN", "NOMEMAE", None, "DTNASCMAE", "%d%m%Y", None,
                         "NUMSUSMAE", "CPFMAE", "CODMUNRES", "CEPMAE", "ENDMAE",
                         fixed_sex="F"),
            IdentitySpec("recem_nascido", "NUMERODN", None, "NOMEMAE", "DTNASC", "%d%m%Y",
                         "SEXO", None, None, "CODMUNRES", "CEPMAE", "ENDMAE"),
        ),
        layouts=(LayoutVersion(2000, None, SINASC_DN + IDENTIFIED["SINASC"], _ONE),),
        sample_prefixes=("sinasc",)),
    SystemDeclaration(
        "SIH", "Sistema de Informações Hospitalares (RD)", "hospitalisations",
        re.compile(r"^RD[A-Z]{2}\d{4}", re.I), ("N_AIH", "DIAG_PRINC"), map_sih,
        identity=(IdentitySpec("paciente", "N_AIH", "NOME", "NOME_MAE", "NASC", "%Y%m%d",
                               "SEXO", "CNS_PAC", "CPF_PAC", "MUNIC_RES", "CEP", "LOGR",
                               female_codes=("2", "3")),),
        layouts=(LayoutVersion(2016, None, SIH_RD + IDENTIFIED["SIH"], "IT SIHSUS 1603"),),
        sample_prefixes=("sih_rd",)),
    SystemDeclaration(
        "SIA", "Sistema de Informações Ambulatoriais (PA)", "outpatient_production",
        re.compile(r"^PA[A-Z]{2}\d{4}", re.I), ("PA_PROC_ID", "PA_CMP"), map_sia,
        layouts=(LayoutVersion(2019, None, SIA_PA, "Informe Técnico SIASUS 07/2019"),),
        sample_prefixes=("sia_pa",)),
    SystemDeclaration(
        "CNES", "Cadastro Nacional de Estabelecimentos de Saúde (ST)", "facilities",
        re.compile(r"^ST[A-Z]{2}\d{4}", re.I), ("CNES", "TP_UNID", "LEITHOSP"), map_cnes,
        layouts=(LayoutVersion(2017, None, CNES_ST, "IT CNES 17/06"),),
        sample_prefixes=("cnes_st",)),
    SystemDeclaration(
        "PNI", "Doses aplicadas de vacinas (SI-PNI / RNDS, OpenDataSUS)", "immunisations",
        re.compile(r"^(vacina|vacinacao|pni)", re.I), ("co_vacina", "dt_vacina"), map_pni,
        identity=(IdentitySpec("vacinado", "id_documento", "no_paciente", "no_mae_paciente",
                               "dt_nascimento_paciente", "%Y-%m-%d", "tp_sexo_paciente",
                               "nu_cns_paciente", "nu_cpf_paciente", "co_municipio_paciente",
                               None, None, event_date="dt_vacina"),)),
    SystemDeclaration(
        "CONSORCIO", "Relatório de encaminhamentos de consórcio intermunicipal (CSV)",
        "referrals", re.compile(r"^consorcio_", re.I), CONSORTIUM_COLUMNS[:2],
        map_consortium,
        identity=(IdentitySpec("paciente", "id_solicitacao", "nome_paciente", "nome_mae",
                               "data_nascimento", "%d/%m/%Y", "sexo", "cns_paciente",
                               "cpf_paciente", "municipio_solicitante", None, None),)),
)
