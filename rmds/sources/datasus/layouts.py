"""DATASUS file layouts (field name, type, length, decimals), from the published
dictionaries in ``../shared/data/layouts`` and real files' headers.

Readers never need these (a DBF describes itself); they are used to *write* files in the
DATASUS layouts (synthetic state, tests, benchmarks) and to document the columns.
"""

from __future__ import annotations

from rmds.sources.datasus.dbf_writer import FieldSpec

__all__ = ["SIH_RD"]


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
