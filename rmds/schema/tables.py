"""The canonical tables, declared once.

Every source mapper produces these columns (and only these), whatever the system's own
layout; the lake (issue #5) stores them and ``docs/schema.md`` is generated from here.
Provenance columns (``source_file``, ``source_row``, ``layout``) are on every table.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

__all__ = ["TABLES", "Column", "Table", "table"]


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str  # pt-BR


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type) for c in self.columns])


S, INT, F, D, B = pa.string(), pa.int32(), pa.float64(), pa.date32(), pa.bool_()

_PROVENANCE = (
    Column("source_file", S, "arquivo de origem"),
    Column("source_row", pa.int64(), "linha (registro) no arquivo de origem, a partir de 1"),
    Column("source_system", S, "sistema de origem (SIM, SINASC, SIH, SIA, CNES, PNI)"),
    Column("layout", S, "versão do leiaute do arquivo de origem"),
)
_PERSON = (
    Column("sex", S, "sexo: M, F ou I (ignorado)"),
    Column("race_colour", INT, "raça/cor: 1 branca, 2 preta, 3 amarela, 4 parda, 5 indígena"),
)
_AGE = (
    Column("age_value", INT, "idade como registrada na unidade de `age_unit`"),
    Column("age_unit", S, "unidade da idade: minuto, hora, dia, mes, ano"),
    Column("age_years", INT, "idade em anos completos (0 para menores de 1 ano)"),
    Column("age_days", INT, "idade em dias, para menores de 1 ano"),
)

TABLES: tuple[Table, ...] = (
    Table("deaths", "Óbitos (SIM, Declaração de Óbito)", (
        Column("death_date", D, "data do óbito"),
        Column("birth_date", D, "data de nascimento"),
        *_AGE, *_PERSON,
        Column("residence_municipality", S, "município de residência (IBGE, 7 dígitos)"),
        Column("occurrence_municipality", S, "município de ocorrência (IBGE, 7 dígitos)"),
        Column("place_of_occurrence", S, "local: 1 hospital, 2 outro estab., 3 domicílio, "
               "4 via pública, 5 outros, 6 aldeia indígena"),
        Column("facility_cnes", S, "estabelecimento de ocorrência (CNES)"),
        Column("underlying_cause", S, "causa básica (CID-10 normalizada, sem ponto)"),
        Column("death_type", S, "tipo de óbito: fetal ou nao_fetal"),
        Column("maternal_timing", S, "óbito de mulher em idade fértil: gravidez, parto, "
               "aborto, puerperio_42d, puerperio_1a, nao"),
        Column("birth_weight_g", INT, "peso ao nascer (óbitos fetais e infantis)"),
        Column("gestational_weeks", INT, "semanas de gestação"),
        *_PROVENANCE,
    )),
    Table("births", "Nascidos vivos (SINASC, Declaração de Nascido Vivo)", (
        Column("birth_date", D, "data de nascimento"),
        *_PERSON,
        Column("birth_weight_g", INT, "peso ao nascer em gramas"),
        Column("gestational_weeks", INT, "semanas de gestação (SEMAGESTAC)"),
        Column("gestation_band", S, "faixa de gestação (GESTACAO): 1 <22 sem. ... 6 42+"),
        Column("prenatal_visits", INT, "número de consultas de pré-natal (CONSPRENAT)"),
        Column("prenatal_band", S, "faixa de consultas (CONSULTAS): 1 nenhuma, 2 1–3, "
               "3 4–6, 4 7 ou mais"),
        Column("delivery_type", S, "tipo de parto: vaginal ou cesareo"),
        Column("mother_age", INT, "idade da mãe em anos"),
        Column("residence_municipality", S, "município de residência da mãe (IBGE, 7)"),
        Column("birth_municipality", S, "município de nascimento (IBGE, 7)"),
        Column("place_of_birth", S, "local: 1 hospital, 2 outro estab., 3 domicílio, "
               "4 outros, 5 aldeia"),
        Column("facility_cnes", S, "estabelecimento (CNES)"),
        Column("apgar1", INT, "Apgar no 1º minuto"),
        Column("apgar5", INT, "Apgar no 5º minuto"),
        Column("congenital_anomaly", B, "anomalia congênita detectada"),
        *_PROVENANCE,
    )),
    Table("hospitalisations", "Internações (SIH, AIH reduzida)", (
        Column("aih_number", S, "número da AIH"),
        Column("competence", S, "competência de apresentação (AAAAMM)"),
        Column("admission_date", D, "data de internação"),
        Column("discharge_date", D, "data de saída"),
        Column("birth_date", D, "data de nascimento"),
        *_AGE, *_PERSON,
        Column("residence_municipality", S, "município de residência (IBGE, 7)"),
        Column("facility_municipality", S, "município do estabelecimento (IBGE, 7)"),
        Column("facility_cnes", S, "estabelecimento (CNES)"),
        Column("procedure_requested", S, "procedimento solicitado (SIGTAP)"),
        Column("procedure_performed", S, "procedimento realizado (SIGTAP)"),
        Column("main_diagnosis", S, "diagnóstico principal (CID-10)"),
        Column("secondary_diagnosis", S, "diagnóstico secundário (CID-10)"),
        Column("death_cause", S, "CID da morte (CID-10)"),
        Column("admission_character", S, "caráter: 01 eletivo, 02 urgência, 03–06 acidentes"),
        Column("specialty", S, "especialidade do leito"),
        Column("aih_type", S, "tipo de AIH: 1 normal, 5 longa permanência"),
        Column("length_of_stay", INT, "dias de permanência"),
        Column("died", B, "morte durante a internação"),
        Column("total_value", F, "valor total (R$)"),
        Column("complexity", S, "complexidade: 01 atenção básica, 02 média, 03 alta"),
        Column("financing", S, "tipo de financiamento"),
        *_PROVENANCE,
    )),
    Table("outpatient_production", "Produção ambulatorial (SIA, BPA/APAC — arquivo PA)", (
        Column("competence", S, "competência de realização (AAAAMM)"),
        Column("facility_cnes", S, "estabelecimento (CNES)"),
        Column("facility_municipality", S, "município do estabelecimento (IBGE, 7)"),
        Column("procedure", S, "procedimento (SIGTAP)"),
        Column("cbo", S, "ocupação do profissional (CBO)"),
        Column("main_diagnosis", S, "CID-10 principal"),
        Column("care_character", S, "caráter de atendimento"),
        Column("age_years", INT, "idade em anos"),
        *_PERSON,
        Column("residence_municipality", S, "município de residência (IBGE, 7)"),
        Column("quantity_produced", INT, "quantidade produzida"),
        Column("quantity_approved", INT, "quantidade aprovada"),
        Column("value_produced", F, "valor produzido (R$)"),
        Column("value_approved", F, "valor aprovado (R$)"),
        Column("financing", S, "tipo de financiamento"),
        *_PROVENANCE,
    )),
    Table("facilities", "Estabelecimentos de saúde (CNES, arquivo ST)", (
        Column("cnes", S, "código CNES"),
        Column("competence", S, "competência (AAAAMM)"),
        Column("municipality", S, "município (IBGE, 7)"),
        Column("unit_type", S, "tipo de unidade (TP_UNID)"),
        Column("management", S, "gestão: M municipal, E estadual, D dupla, S sem gestão"),
        Column("legal_nature", S, "natureza jurídica (NAT_JUR)"),
        Column("sus_contract", B, "vínculo com o SUS"),
        Column("hospital_beds", INT, "leitos hospitalares (soma QTLEITP1..3)"),
        Column("cnpj", S, "CNPJ do estabelecimento ou mantenedora"),
        *_PROVENANCE,
    )),
    Table("immunisations", "Doses de vacina aplicadas (SI-PNI / RNDS, formato OpenDataSUS)", (
        Column("patient_key", S, "identificador pseudonimizado do paciente na origem"),
        Column("vaccination_date", D, "data de aplicação"),
        Column("vaccine_code", S, "código da vacina (imunobiológico)"),
        Column("vaccine_acronym", S, "sigla da vacina"),
        Column("dose", S, "dose: 1ª dose, 2ª dose, 3ª dose, reforço, dose única ..."),
        Column("dose_code", S, "código da dose"),
        Column("birth_date", D, "data de nascimento"),
        Column("age_years", INT, "idade em anos na aplicação"),
        *_PERSON,
        Column("residence_municipality", S, "município de residência (IBGE, 7)"),
        Column("facility_municipality", S, "município do estabelecimento (IBGE, 7)"),
        Column("facility_cnes", S, "estabelecimento (CNES)"),
        *_PROVENANCE,
    )),
)

_BY_NAME = {t.name: t for t in TABLES}


def table(name: str) -> Table:
    return _BY_NAME[name]
