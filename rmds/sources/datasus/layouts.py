"""DATASUS file layouts (field name, type, length, decimals), from the published
dictionaries in ``../shared/data/layouts`` and real files' headers.

Readers never need these (a DBF describes itself); they are used to *write* files in the
DATASUS layouts (synthetic state, tests, benchmarks) and to document the columns.
"""

from __future__ import annotations

from rmds.sources.datasus.dbf_writer import FieldSpec

__all__ = ["CNES_ST", "IDENTIFIED", "SIA_PA", "SIH_RD", "SIM_DO", "SINASC_DN"]


def _c(name: str, length: int) -> FieldSpec:
    return FieldSpec(name, "C", length)


def _n(name: str, length: int, decimals: int = 0) -> FieldSpec:
    return FieldSpec(name, "N", length, decimals)


# SIH-RD (AIH reduzida), layout of 2016 (IT SIHSUS 1603), 113 fields.
SIH_RD: tuple[FieldSpec, ...] = (
    _c("UF_ZI", 6), _c("ANO_CMPT", 4), _c("MES_CMPT", 2), _c("ESPEC", 2), _c("CGC_HOSP", 14),
    _c("N_AIH", 13), _c("IDENT", 1), _c("CEP", 8), _c("MUNIC_RES", 6), _c("NASC", 8),
    _c("SEXO", 1), _n("UTI_MES_IN", 2), _n("UTI_MES_AN", 2), _n("UTI_MES_AL", 2),
    _n("UTI_MES_TO", 3), _c("MARCA_UTI", 2), _n("UTI_INT_IN", 2), _n("UTI_INT_AN", 2),
    _n("UTI_INT_AL", 2), _n("UTI_INT_TO", 3), _n("DIAR_ACOM", 3), _n("QT_DIARIAS", 3),
    _c("PROC_SOLIC", 10), _c("PROC_REA", 10), _n("VAL_SH", 13, 2), _n("VAL_SP", 13, 2),
    _n("VAL_SADT", 13, 2), _n("VAL_RN", 13, 2), _n("VAL_ACOMP", 13, 2), _n("VAL_ORTP", 13, 2),
    _n("VAL_SANGUE", 13, 2), _n("VAL_SADTSR", 11, 2), _n("VAL_TRANSP", 13, 2),
    _n("VAL_OBSANG", 11, 2), _n("VAL_PED1AC", 11, 2), _n("VAL_TOT", 14, 2),
    _n("VAL_UTI", 8, 2), _n("US_TOT", 10, 2), _c("DT_INTER", 8), _c("DT_SAIDA", 8),
    _c("DIAG_PRINC", 4), _c("DIAG_SECUN", 4), _c("COBRANCA", 2), _c("NATUREZA", 2),
    _c("NAT_JUR", 4), _c("GESTAO", 1), _n("RUBRICA", 5), _c("IND_VDRL", 1),
    _c("MUNIC_MOV", 6), _c("COD_IDADE", 1), _n("IDADE", 2), _n("DIAS_PERM", 5),
    _n("MORTE", 1), _c("NACIONAL", 3), _c("NUM_PROC", 4), _c("CAR_INT", 2),
    _n("TOT_PT_SP", 6), _c("CPF_AUT", 11), _c("HOMONIMO", 1), _n("NUM_FILHOS", 2),
    _c("INSTRU", 1), _c("CID_NOTIF", 4), _c("CONTRACEP1", 2), _c("CONTRACEP2", 2),
    _c("GESTRISCO", 1), _c("INSC_PN", 12), _c("SEQ_AIH5", 3), _c("CBOR", 6), _c("CNAER", 3),
    _c("VINCPREV", 1), _c("GESTOR_COD", 5), _c("GESTOR_TP", 1), _c("GESTOR_CPF", 15),
    _c("GESTOR_DT", 8), _c("CNES", 7), _c("CNPJ_MANT", 14), _c("INFEHOSP", 1),
    _c("CID_ASSO", 4), _c("CID_MORTE", 4), _c("COMPLEX", 2), _c("FINANC", 2),
    _c("FAEC_TP", 6), _c("REGCT", 4), _c("RACA_COR", 2), _c("ETNIA", 4), _n("SEQUENCIA", 5),
    _c("REMESSA", 21), _c("AUD_JUST", 50), _c("SIS_JUST", 50), _n("VAL_SH_FED", 13, 2),
    _n("VAL_SP_FED", 13, 2), _n("VAL_SH_GES", 13, 2), _n("VAL_SP_GES", 13, 2),
    _n("VAL_UCI", 13, 2), _c("MARCA_UCI", 2),
    *[_c(f"DIAGSEC{i}", 4) for i in range(1, 10)],
    *[_c(f"TPDISEC{i}", 1) for i in range(1, 10)],
)


# SIM-DO: the fields of the public file that rmds maps (dictionary 12/2019; names as in the
# 2016 sample), in the order of the public layout.
SIM_DO: tuple[FieldSpec, ...] = (
    _c("ORIGEM", 1), _c("TIPOBITO", 1), _c("DTOBITO", 8), _c("HORAOBITO", 4),
    _c("DTNASC", 8), _c("IDADE", 3), _c("SEXO", 1), _c("RACACOR", 1), _c("ESTCIV", 1),
    _c("ESC", 1), _c("CODMUNRES", 6), _c("LOCOCOR", 1), _c("CODESTAB", 7),
    _c("CODMUNOCOR", 6), _c("SEMAGESTAC", 2), _c("PESO", 4), _c("TPMORTEOCO", 1),
    _c("OBITOGRAV", 1), _c("OBITOPUERP", 1), _c("ASSISTMED", 1), _c("NECROPSIA", 1),
    _c("LINHAA", 5), _c("LINHAB", 5), _c("LINHAII", 5), _c("CAUSABAS", 4),
    _c("DTCADASTRO", 8), _c("DTRECEBIM", 8), _c("DIFDATA", 3),
)
# SINASC-DN (public layout names as in the 2016 sample).
SINASC_DN: tuple[FieldSpec, ...] = (
    _c("ORIGEM", 1), _c("CODESTAB", 7), _c("CODMUNNASC", 6), _c("LOCNASC", 1),
    _c("IDADEMAE", 2), _c("ESTCIVMAE", 1), _c("ESCMAE", 1), _c("QTDFILVIVO", 2),
    _c("QTDFILMORT", 2), _c("CODMUNRES", 6), _c("GESTACAO", 1), _c("GRAVIDEZ", 1),
    _c("PARTO", 1), _c("CONSULTAS", 1), _c("DTNASC", 8), _c("HORANASC", 4), _c("SEXO", 1),
    _c("APGAR1", 2), _c("APGAR5", 2), _c("RACACOR", 1), _c("PESO", 4), _c("IDANOMAL", 1),
    _c("DTCADASTRO", 8), _c("DTRECEBIM", 8), _c("DIFDATA", 3), _c("DTNASCMAE", 8),
    _c("RACACORMAE", 1), _c("SEMAGESTAC", 2), _c("CONSPRENAT", 2),
)
# SIA-PA (Informe Técnico SIASUS 07/2019): the fields rmds maps and their neighbours.
SIA_PA: tuple[FieldSpec, ...] = (
    _c("PA_CODUNI", 7), _c("PA_GESTAO", 6), _c("PA_CONDIC", 2), _c("PA_UFMUN", 6),
    _c("PA_TPUPS", 2), _c("PA_TIPPRE", 2), _c("PA_MN_IND", 1), _c("PA_CNPJCPF", 14),
    _c("PA_MVM", 6), _c("PA_CMP", 6), _c("PA_PROC_ID", 10), _c("PA_TPFIN", 2),
    _c("PA_NIVCPL", 1), _c("PA_DOCORIG", 1), _c("PA_CBOCOD", 6), _c("PA_CIDPRI", 4),
    _c("PA_CATEND", 2), _c("PA_IDADE", 3), _c("IDADEMIN", 3), _c("IDADEMAX", 3),
    _c("PA_SEXO", 1), _c("PA_RACACOR", 2), _c("PA_MUNPCN", 6), _n("PA_QTDPRO", 11),
    _n("PA_QTDAPR", 11), _n("PA_VALPRO", 20, 2), _n("PA_VALAPR", 20, 2),
)
# CNES-ST (IT CNES 17/06): identification, management and beds.
CNES_ST: tuple[FieldSpec, ...] = (
    _c("CNES", 7), _c("CODUFMUN", 6), _c("COD_CEP", 8), _c("CPF_CNPJ", 14), _c("PF_PJ", 1),
    _c("NIV_DEP", 1), _c("CNPJ_MAN", 14), _c("REGSAUDE", 4), _c("VINC_SUS", 1),
    _c("TPGESTAO", 1), _c("ESFERA_A", 2), _c("NAT_JUR", 4), _c("TP_UNID", 2),
    _n("QTLEITP1", 3), _n("QTLEITP2", 3), _n("QTLEITP3", 3), _c("LEITHOSP", 1),
    _c("ATENDAMB", 1), _c("ATENDHOS", 1), _c("COMPETEN", 6),
)
# Identification fields of the *identified* extracts a state secretariat receives (not in
# the public files). Names follow the identified SIM/SINASC/SIH extracts as far as known;
# they are rmds's convention for the synthetic state and must be checked against a real
# identified extract before reading one.
IDENTIFIED: dict[str, tuple[FieldSpec, ...]] = {
    "SIM": (_c("NUMERODO", 9), _c("NOME", 70), _c("NOMEMAE", 70), _c("NUMSUS", 15),
            _c("ENDRES", 60), _c("CEPRES", 8)),
    "SINASC": (_c("NUMERODN", 9), _c("NOMEMAE", 70), _c("NUMSUSMAE", 15), _c("CPFMAE", 11),
               _c("ENDMAE", 60), _c("CEPMAE", 8)),
    "SIH": (_c("NOME", 70), _c("NOME_MAE", 70), _c("CNS_PAC", 15), _c("CPF_PAC", 11),
            _c("LOGR", 60)),
}
