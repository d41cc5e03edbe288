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
    Column("source_system", S, "sistema de origem (SIM, SINASC, SIH, SIA, CNES, PNI, SINAN, "
           "FHIR, CONSORCIO)"),
    Column("layout", S, "versão do leiaute do arquivo de origem"),
    Column("batch_id", pa.int64(), "lote de carga no lago (preenchido na ingestão)"),
)
# on the tables FHIR resources feed: which resource a row came from and which version, so
# that a newer version of the same resource replaces it (see ``docs/lake.md``)
_FHIR = (
    Column("fhir_resource", S, "recurso FHIR de origem (tipo/id, p. ex. Patient/123); uma "
           "versão mais nova do mesmo recurso substitui a linha (vazio fora do FHIR)"),
    Column("last_updated", S, "meta.lastUpdated do recurso FHIR de origem, em UTC "
           "(AAAA-MM-DDThh:mm:ss.ffffffZ)"),
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
        Column("record_id", S, "número da Declaração de Óbito (NUMERODO), quando houver"),
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
        Column("registration_date", D, "data de cadastro no SIM (DTCADASTRO), para a "
               "oportunidade do registro"),
        *_PROVENANCE,
    )),
    Table("births", "Nascidos vivos (SINASC, Declaração de Nascido Vivo)", (
        Column("record_id", S, "número da Declaração de Nascido Vivo (NUMERODN), quando houver"),
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
        Column("registration_date", D, "data de cadastro no SINASC (DTCADASTRO), para a "
               "oportunidade do registro"),
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
    Table("immunisations", "Doses de vacina aplicadas (SI-PNI / RNDS: CSV do OpenDataSUS ou "
          "FHIR Immunization)", (
        Column("record_id", S, "identificador do registro (id_documento ou Immunization.id)"),
        Column("patient_key", S, "identificador do paciente na origem (co_paciente ou id "
               "do Patient FHIR)"),
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
        *_FHIR, *_PROVENANCE,
    )),
)

TABLES += (
    Table("notifications", "Notificações de agravos (SINAN): dengue, chikungunya e zika", (
        Column("record_id", S, "número da notificação (NU_NOTIFIC), quando houver"),
        Column("disease", S, "agravo: dengue, chikungunya ou zika"),
        Column("disease_code", S, "agravo notificado (CID-10 de ID_AGRAVO, sem ponto)"),
        Column("notification_date", D, "data da notificação (DT_NOTIFIC)"),
        Column("notification_week", INT, "semana epidemiológica da notificação (AAAASS)"),
        Column("symptom_onset_date", D, "data dos primeiros sintomas (DT_SIN_PRI)"),
        Column("onset_week", INT, "semana epidemiológica dos primeiros sintomas (AAAASS, "
               "SEM_PRI)"),
        Column("birth_date", D, "data de nascimento (DT_NASC), quando houver"),
        *_AGE, *_PERSON,
        Column("pregnant", S, "gestante (CS_GESTANT): 1–3 trimestre, 4 idade gestacional "
               "ignorada, 5 não, 6 não se aplica"),
        Column("notification_municipality", S, "município de notificação (IBGE, 7)"),
        Column("residence_municipality", S, "município de residência (IBGE, 7)"),
        Column("facility_cnes", S, "unidade notificadora (CNES)"),
        Column("final_classification", S, "classificação final: descartado, inconclusivo, "
               "dengue, dengue_sinais_alarme, dengue_grave, dengue_classico, "
               "dengue_complicacoes, febre_hemorragica, sindrome_choque, chikungunya, zika"),
        Column("probable", B, "caso provável: notificado e não descartado"),
        Column("confirmation_criterion", S, "critério de confirmação: laboratorial, "
               "clinico_epidemiologico, em_investigacao"),
        Column("hospitalised", B, "hospitalização (HOSPITALIZ)"),
        Column("outcome", S, "evolução: cura, obito_agravo, obito_outras_causas, "
               "obito_em_investigacao"),
        Column("death_date", D, "data do óbito (DT_OBITO)"),
        Column("closing_date", D, "data do encerramento da investigação (DT_ENCERRA)"),
        *_PROVENANCE,
    )),
)

_IDENTITY = (
    Column("record_key", S, "chave do registro na origem (NUMERODO, NUMERODN, N_AIH, "
           "NU_NOTIFIC, id_documento, id do Patient, id_solicitacao)"),
    Column("role", S, "papel da pessoa no registro: falecido, mae, recem_nascido, paciente, "
           "vacinado, notificado"),
    Column("name", S, "nome como registrado"),
    Column("mother_name", S, "nome da mãe como registrado"),
    Column("birth_date", D, "data de nascimento como registrada"),
    Column("sex", S, "sexo: M, F ou I"),
    Column("cns", S, "Cartão Nacional de Saúde como registrado (15 dígitos)"),
    Column("cpf", S, "CPF como registrado (11 dígitos)"),
    Column("residence_municipality", S, "município de residência (IBGE, 7)"),
    Column("cep", S, "CEP de residência"),
    Column("address", S, "endereço como registrado"),
)

TABLES += (
    Table("identity_records", "Identificação das pessoas nos registros de origem (tabela "
          "protegida: nomes, CNS, CPF e endereços; só a vinculação a lê)", (
        *_IDENTITY, *_FHIR, *_PROVENANCE)),
    Table("encounters", "Atendimentos (FHIR Encounter), p. ex. APS de hipertensão e diabetes", (
        Column("encounter_id", S, "id do Encounter"),
        Column("patient_key", S, "id do Patient referido"),
        Column("encounter_date", D, "data de início"),
        Column("encounter_class", S, "classe (AMB, EMER, IMP, VR, HH)"),
        Column("status", S, "situação do atendimento"),
        Column("reason_code", S, "motivo (CID-10)"),
        Column("facility_cnes", S, "estabelecimento (CNES)"),
        *_FHIR, *_PROVENANCE)),
    Table("conditions", "Problemas e diagnósticos (FHIR Condition)", (
        Column("condition_id", S, "id da Condition"),
        Column("patient_key", S, "id do Patient referido"),
        Column("code", S, "CID-10"),
        Column("ciap2_code", S, "CIAP-2, quando a Condition o traz (e-SUS APS: K86, K87 "
               "hipertensão; T89, T90 diabetes)"),
        Column("onset_date", D, "início"),
        Column("clinical_status", S, "situação clínica (active, resolved ...)"),
        *_FHIR, *_PROVENANCE)),
    Table("observations", "Observações (FHIR Observation); uma linha por componente", (
        Column("observation_id", S, "id da Observation"),
        Column("patient_key", S, "id do Patient referido"),
        Column("encounter_id", S, "id do Encounter referido"),
        Column("effective_date", D, "data"),
        Column("code", S, "código LOINC da observação"),
        Column("component_code", S, "código LOINC do componente (ou o da observação)"),
        Column("value", F, "valor numérico"),
        Column("unit", S, "unidade (UCUM)"),
        *_FHIR, *_PROVENANCE)),
    Table("procedures", "Procedimentos (FHIR Procedure)", (
        Column("procedure_id", S, "id do Procedure"),
        Column("patient_key", S, "id do Patient referido"),
        Column("code", S, "procedimento (SIGTAP)"),
        Column("performed_date", D, "data de realização"),
        Column("status", S, "situação"),
        Column("facility_cnes", S, "estabelecimento (CNES)"),
        *_FHIR, *_PROVENANCE)),
    Table("referrals", "Encaminhamentos e regulação (relatórios CSV de consórcios e FHIR "
          "ServiceRequest)", (
        Column("referral_id", S, "identificador da solicitação"),
        Column("consortium", S, "sigla do consórcio"),
        Column("requesting_municipality", S, "município solicitante (IBGE, 7)"),
        Column("provider_cnes", S, "prestador (CNES)"),
        Column("patient_key", S, "paciente na origem (id do Patient ou chave do registro)"),
        Column("service_type", S, "consulta, exame, cirurgia, oncologia, transporte"),
        Column("specialty", S, "especialidade ou serviço"),
        Column("procedure", S, "procedimento (SIGTAP)"),
        Column("requested_date", D, "data da solicitação"),
        Column("scheduled_date", D, "data do agendamento"),
        Column("performed_date", D, "data da realização"),
        Column("cancelled_date", D, "data do cancelamento"),
        Column("status", S, "solicitado, agendado, realizado, cancelado"),
        Column("diagnosis_date", D, "data do diagnóstico (oncologia)"),
        Column("diagnosis", S, "CID-10"),
        Column("passengers", INT, "pessoas transportadas (transporte sanitário)"),
        *_FHIR, *_PROVENANCE)),
    Table("organizations", "Estabelecimentos e locais informados em FHIR (Organization, "
          "Location)", (
        Column("resource_type", S, "Organization ou Location"),
        Column("resource_id", S, "id do recurso"),
        Column("cnes", S, "CNES"),
        Column("name", S, "nome"),
        Column("municipality", S, "município (IBGE, 7)"),
        *_FHIR, *_PROVENANCE)),
)

_BY_NAME = {t.name: t for t in TABLES}


def table(name: str) -> Table:
    return _BY_NAME[name]
