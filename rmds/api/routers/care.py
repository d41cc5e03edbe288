"""The care record (prontuário) of one person, for whoever cares for them.

The person is named in the request's body, never in the URL (a CNS or CPF in a path would
end up in access logs). Every opening goes through :func:`rmds.care.opening.open_record`:
the policy's care rule, then one audit entry naming the person by their index number.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from rmds.api.context import Ctx, Viewer, in_thread, refuse_unknown_parameters
from rmds.care.opening import Opened, open_record
from rmds.care.projection import KeptRecord
from rmds.care.record import PersonNotFound
from rmds.care.summary import summary_json
from rmds.care.worklists import audit_list, load_worklists

__all__ = ["router"]

router = APIRouter(tags=["cuidado"], dependencies=[Depends(refuse_unknown_parameters)])


class AberturaProntuario(BaseModel):
    pessoa: str = Field(description="número da pessoa no índice, CNS (15) ou CPF (11)",
                        max_length=20)
    finalidade: str | None = Field(None, description="cuidado, coordenacao_cuidado ou "
                                   "auditoria", max_length=40)
    justificativa: str | None = Field(None, description="obrigatória para quebra de vidro "
                                      "(paciente de outro município)", max_length=400)


@router.post("/api/prontuario", response_model=dict[str, Any])
async def care_record_route(request: Request, body: AberturaProntuario, user: Viewer,
                            ctx: Ctx) -> Response:
    """Prontuário da pessoa: identificação como cada fonte registrou (conflitos à vista) e
    a linha do tempo entre níveis de atenção. Só profissional de saúde, com finalidade;
    fora do município, só por quebra de vidro justificada. Cada abertura é auditada."""
    scope = ctx.scope(user)
    if not scope.signed_in:
        raise HTTPException(401, "é preciso entrar para ver este recurso")

    def opened() -> Response:
        result = _open(request, user, ctx, body.pessoa, body.finalidade, body.justificativa)
        # orjson writes dates as ISO 8601, as FastAPI's encoder would, in a tenth of the time
        return Response(result.record.as_json(acesso={
            "finalidade": result.grant.purpose.value,
            "quebra_de_vidro": result.grant.break_glass,
            "auditoria": result.audit_seq}), media_type="application/json")

    return await in_thread(opened)


def _open(request: Request, user: Any, ctx: Any, key: str, purpose: str | None,
          justification: str | None) -> Opened:
    scope = ctx.scope(user)
    try:
        return open_record(ctx.data.cursor, ctx.store, ctx.policy, scope,
                           projection=ctx.data.care(),
                           username=user.username, key=key, purpose=purpose,
                           justification=justification, origin=ctx.origin(request))
    except PersonNotFound as error:
        # who may not open records is refused the same whether the person exists or not
        ctx.policy.care(scope, None, purpose, justification or "x" * 400)
        raise HTTPException(404, str(error)) from None


class _OrjsonResponse(JSONResponse):
    """JSON written by orjson (a tenth of the time of the standard encoder)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


@router.get("/fhir/Patient/{pessoa}/$summary", tags=["FHIR"])
async def patient_summary_route(
        request: Request, pessoa: Annotated[int, Path(ge=1)], user: Viewer, ctx: Ctx,
        finalidade: Annotated[str | None, Query(max_length=40)] = None,
        justificativa: Annotated[str | None, Query(max_length=400)] = None) -> Response:
    """Resumo do paciente (International Patient Summary) como Bundle FHIR R4 do tipo
    documento; CNS e CPF nos sistemas de identificadores da RNDS; cada recurso traz em
    ``meta.source`` o lote de onde veio. Mesmas regras e auditoria do prontuário."""
    if not ctx.scope(user).signed_in:
        raise HTTPException(401, "é preciso entrar para ver este recurso")

    def made() -> bytes:
        found = _open(request, user, ctx, str(pessoa), finalidade, justificativa).record
        return summary_json(found, found.summary if isinstance(found, KeptRecord) else None)

    return Response(await in_thread(made), media_type="application/fhir+json")


_MUNICIPALITY = Query(None, pattern=r"^\d{7}$", description="município (IBGE, 7 dígitos); "
                      "o do profissional quando omitido")


@router.get("/api/listas", response_model=dict[str, Any])
async def worklists_route(user: Viewer, ctx: Ctx,
                          municipio: str | None = _MUNICIPALITY) -> JSONResponse:
    """Listas nominais da equipe (as mesmas da página ``/listas``): para cada lista, a
    definição, o indicador que ela move e quantas pessoas estão nela no município (e nos
    estabelecimentos do profissional, quando ele tem). Só contagens: não é auditado."""
    town = ctx.team_town(user, municipio)
    lists = load_worklists()

    def made() -> dict[str, Any]:
        found = ctx.team_counts(user, town)
        return {"municipio": town, "estabelecimentos": list(user.facilities), "listas": [
            {"id": wl.id, "titulo": wl.title, "indicador": wl.indicator,
             "definicao": wl.definition, "pessoas": found[wl.id]}
            for wl in lists.values()]}

    return _OrjsonResponse(await run_in_threadpool(made))


@router.get("/api/listas/{lista}", response_model=dict[str, Any])
async def worklist_route(request: Request, lista: str, user: Viewer, ctx: Ctx,
                         municipio: str | None = _MUNICIPALITY) -> JSONResponse:
    """As pessoas de uma lista nominal (número no índice, estabelecimento de APS que as
    acompanha, motivo; internação por condição sensível à APS marcada), como o CSV da
    página. Cada pessoa entregue é uma entrada na trilha de auditoria (``baixar_lista``),
    que aparece no registro de acessos dela."""
    town = ctx.team_town(user, municipio)

    def made() -> dict[str, Any]:
        wl, entries = ctx.team_list(user, town, lista)
        audit_list(ctx.store, entries, wl, username=user.username, role=user.role.value,
                   territory=town, origin=ctx.origin(request))
        return {"lista": wl.id, "titulo": wl.title, "indicador": wl.indicator,
                "municipio": town, "pessoas": [
                    {"pessoa": e.person_id, "municipio": e.municipality,
                     "estabelecimento_aps": e.facility, "motivo": e.reason,
                     "icsap": e.flag} for e in entries]}

    return _OrjsonResponse(await run_in_threadpool(made))
