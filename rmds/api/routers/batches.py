"""The lake's loads and its quarantine (the state's analysts)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from rmds.access import DataClass
from rmds.api.context import Ctx, Viewer, refuse_unknown_parameters

__all__ = ["router"]

router = APIRouter(tags=["cargas"], dependencies=[Depends(refuse_unknown_parameters)])


@router.get("/api/cargas")
def batches(request: Request, user: Viewer, ctx: Ctx) -> list[dict[str, Any]]:
    """Lotes carregados no lago (analistas)."""
    ctx.policy.require(ctx.scope(user), DataClass.RECORD)      # the whole state's loads
    ctx.audit(request, user, "leitura_restrita")
    return ctx.data.batches()


@router.get("/api/quarentena")
def quarantine(request: Request, user: Viewer, ctx: Ctx,
               limite: Annotated[int, Query(ge=1, le=10_000)] = 200) -> list[dict[str, Any]]:
    """Linhas recusadas e o motivo (analistas; podem conter dados pessoais)."""
    ctx.policy.require(ctx.scope(user), DataClass.IDENTITY)
    ctx.audit(request, user, "leitura_dados_pessoais")
    return ctx.data.quarantine(limite)
