"""Consortium referral reports (CSV) → ``referrals``.

One row per request for a consultation, exam, surgery, cancer treatment or health transport
made by a member municipality to its intermunicipal consortium. Columns (``;``-separated,
dates dd/mm/aaaa): ``id_solicitacao, consorcio, municipio_solicitante, cnes_prestador,
cns_paciente, cpf_paciente, nome_paciente, nome_mae, data_nascimento, sexo, tipo_servico,
especialidade, procedimento_sigtap, data_solicitacao, data_agendamento, data_realizacao,
situacao, data_cancelamento, data_diagnostico, cid10, passageiros``.

A report is identified by its consortium and period (:func:`report_key`): a report re-sent
for the same consortium and period replaces the earlier one in the lake.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

import pyarrow.compute as pc

from rmds.schema import table
from rmds.sources.mapping import MapContext, MapResult

__all__ = ["CONSORTIUM_COLUMNS", "map_consortium", "report_key"]

CONSORTIUM_COLUMNS = ("id_solicitacao", "consorcio", "municipio_solicitante",
                      "tipo_servico", "data_solicitacao", "situacao")
SERVICE_TYPES = {k: k for k in ("consulta", "exame", "cirurgia", "oncologia", "transporte")}
STATUSES = {k: k for k in ("solicitado", "agendado", "realizado", "cancelado")}
# a period in a report's name: a year (2023) or a month (202301, 2023-01, 2023_01)
_PERIOD = re.compile(r"(?<!\d)((?:19|20)\d{2})(?:[-_]?(0[1-9]|1[0-2]))?(?!\d)")


def report_key(file_name: str, consortia: Iterable[str], first: dt.date | None,
               last: dt.date | None) -> str | None:
    """What a consortium report is: ``CONSORCIO:SIGLA:PERIODO``. The consortium is the
    sigla its rows carry (several joined by ``+``); the period is the one in the file name
    (``CISMARG_2023.csv`` → ``2023``, ``cismarg_2023-01.csv`` → ``202301``; two periods, a
    range) or, when the name has none, the months of its requests (``202301-202303``).
    None when the rows carry no consortium or no period can be told."""
    siglas = sorted({s.strip().upper() for s in consortia if s and s.strip()})
    if not siglas:
        return None
    stem = file_name.split(".", 1)[0]
    found = ["".join(part for part in m.groups() if part) for m in _PERIOD.finditer(stem)]
    if found:
        period = "-".join(found)
    elif first is not None and last is not None:
        period = f"{first:%Y%m}-{last:%Y%m}"
    else:
        return None
    return f"CONSORCIO:{'+'.join(siglas)}:{period}"


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
