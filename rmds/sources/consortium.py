"""Consortium referral reports (CSV) → ``referrals``.

One row per request for a consultation, exam, surgery, cancer treatment or health transport
made by a member municipality to its intermunicipal consortium. Columns (``;``-separated,
dates dd/mm/aaaa): ``id_solicitacao, consorcio, municipio_solicitante, cnes_prestador,
cns_paciente, cpf_paciente, nome_paciente, nome_mae, data_nascimento, sexo, tipo_servico,
especialidade, procedimento_sigtap, data_solicitacao, data_agendamento, data_realizacao,
situacao, data_cancelamento, data_diagnostico, cid10, passageiros``.
"""

from __future__ import annotations

import pyarrow.compute as pc

from rmds.schema import table
from rmds.sources.mapping import MapContext, MapResult

__all__ = ["CONSORTIUM_COLUMNS", "map_consortium"]

CONSORTIUM_COLUMNS = ("id_solicitacao", "consorcio", "municipio_solicitante",
                      "tipo_servico", "data_solicitacao", "situacao")
SERVICE_TYPES = {k: k for k in ("consulta", "exame", "cirurgia", "oncologia", "transporte")}
STATUSES = {k: k for k in ("solicitado", "agendado", "realizado", "cancelado")}


def map_consortium(ctx: MapContext, municipalities: dict[str, str]) -> MapResult:
    referral_id = ctx.text("id_solicitacao")
    ctx.problem(pc.is_null(referral_id), "id_solicitacao", referral_id,
                "identificador da solicitação obrigatório")
    requested = ctx.date("data_solicitacao", "%d/%m/%Y")
    ctx.problem(pc.is_null(requested), "data_solicitacao", ctx.raw("data_solicitacao"),
                "data da solicitação obrigatória")
    scheduled = ctx.date("data_agendamento", "%d/%m/%Y")
    performed = ctx.date("data_realizacao", "%d/%m/%Y")
    cancelled = ctx.date("data_cancelamento", "%d/%m/%Y")
    for column, values in (("data_agendamento", scheduled), ("data_realizacao", performed),
                           ("data_cancelamento", cancelled)):
        ctx.problem(pc.less(values, requested), column, ctx.raw(column),
                    "data anterior à solicitação")
    status = ctx.decode("situacao", STATUSES)
    ctx.problem(pc.is_null(status), "situacao", ctx.raw("situacao"), "situação obrigatória")
    ctx.problem(pc.and_(pc.equal(status, "realizado"), pc.is_null(performed)),
                "data_realizacao", ctx.raw("data_realizacao"),
                "situação realizado sem data de realização")
    columns = {
        "referral_id": referral_id,
        "consortium": ctx.text("consorcio"),
        "requesting_municipality": ctx.municipality("municipio_solicitante", municipalities,
                                                    required=True),
        "provider_cnes": ctx.digits("cnes_prestador", 7),
        "patient_key": referral_id,
        "service_type": ctx.decode("tipo_servico", SERVICE_TYPES),
        "specialty": ctx.text("especialidade"),
        "procedure": ctx.digits("procedimento_sigtap", 10),
        "requested_date": requested,
        "scheduled_date": scheduled,
        "performed_date": performed,
        "cancelled_date": cancelled,
        "status": status,
        "diagnosis_date": ctx.date("data_diagnostico", "%d/%m/%Y"),
        "diagnosis": ctx.cid10("cid10"),
        "passengers": ctx.integer("passageiros", 0, 99),
    }
    return ctx.finish(table("referrals"), columns)
