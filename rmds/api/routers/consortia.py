"""Consortia (aggregates, small counts suppressed outside the caller's territory) and the
queues of referrals (record-level, the caller's territory only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from rmds.api.context import Ctx, Viewer, refuse_unknown_parameters
from rmds.api.models import Consorcio, Fila
from rmds.api.reads import consortium as read_consortium
from rmds.api.reads import queue_summary

__all__ = ["router"]

router = APIRouter(tags=["consórcios"], dependencies=[Depends(refuse_unknown_parameters)])


@router.get("/api/consorcios")
def consortia(ctx: Ctx) -> dict[str, Any]:
    """Consórcios conhecidos e quão completo é o rol (aviso a mostrar)."""
    from rmds.consortia.report import consortia_list

    return consortia_list(ctx.data.cursor(), ctx.pack)


@router.get("/api/consorcios/{sigla}", response_model=Consorcio,
            response_model_exclude_unset=True)
def consortium(request: Request, sigla: str, user: Viewer, ctx: Ctx,
               ano: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> dict[str, Any]:
    """Membros, população coberta, produção, esperas (mediana e p90) e fila por tipo de
    serviço. Fora do território de quem chama: contagens pequenas suprimidas."""
    overview, restricted = read_consortium(ctx.data, ctx.scope(user), sigla, ano)
    if restricted:
        ctx.audit(request, user, "leitura_restrita", territory=sigla)
    return overview


@router.get("/api/filas", response_model=Fila)
def queue_view(request: Request, user: Viewer, ctx: Ctx, consorcio: str | None = None,
               municipio: str | None = None,
               limite: Annotated[int, Query(ge=1, le=5000)] = 500) -> dict[str, Any]:
    """Encaminhamentos na fila (sem identificação de pacientes), só dos municípios do
    território do usuário."""
    answer = queue_summary(ctx.data, ctx.scope(user), consorcio, municipio, limite)
    ctx.audit(request, user, "leitura_restrita", territory=consorcio or municipio)
    return answer
