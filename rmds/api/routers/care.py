"""The care record (prontuário) of one person, for whoever cares for them.

The person is named in the request's body, never in the URL (a CNS or CPF in a path would
end up in access logs). Every opening goes through :func:`rmds.care.opening.open_record`:
the policy's care rule, then one audit entry naming the person by their index number.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from rmds.api.context import Ctx, Viewer, refuse_unknown_parameters
from rmds.care.opening import open_record
from rmds.care.record import PersonNotFound

__all__ = ["router"]

router = APIRouter(tags=["cuidado"], dependencies=[Depends(refuse_unknown_parameters)])


class AberturaProntuario(BaseModel):
    pessoa: str = Field(description="número da pessoa no índice, CNS (15) ou CPF (11)",
                        max_length=20)
    finalidade: str | None = Field(None, description="cuidado, coordenacao_cuidado ou "
                                   "auditoria", max_length=40)
    justificativa: str | None = Field(None, description="obrigatória para quebra de vidro "
                                      "(paciente de outro município)", max_length=400)


@router.post("/api/prontuario")
async def care_record_route(request: Request, body: AberturaProntuario, user: Viewer,
                            ctx: Ctx) -> dict[str, Any]:
    """Prontuário da pessoa: identificação como cada fonte registrou (conflitos à vista) e
    a linha do tempo entre níveis de atenção. Só profissional de saúde, com finalidade;
    fora do município, só por quebra de vidro justificada. Cada abertura é auditada."""
    scope = ctx.scope(user)
    if not scope.signed_in:
        raise HTTPException(401, "é preciso entrar para ver este recurso")

    def opened() -> dict[str, Any]:
        try:
            result = open_record(ctx.data.cursor(), ctx.store, ctx.policy, scope,
                                 username=user.username, key=body.pessoa,
                                 purpose=body.finalidade, justification=body.justificativa,
                                 origin=ctx.origin(request))
        except PersonNotFound as error:
            # the same answer for "no such person" to every role that may not open records
            ctx.policy.care(scope, None, body.finalidade, body.justificativa or "x" * 400)
            raise HTTPException(404, str(error)) from None
        return {**result.record.as_dict(),
                "acesso": {"finalidade": result.grant.purpose.value,
                           "quebra_de_vidro": result.grant.break_glass,
                           "auditoria": result.audit_seq}}

    return await run_in_threadpool(opened)
