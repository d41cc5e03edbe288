"""Data quality: the maturity ranking (aggregate) and a municipality's diagnosis."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request

from rmds.api.context import Ctx, Viewer, refuse_unknown_parameters
from rmds.api.models import Qualidade
from rmds.api.reads import quality_detail as read_detail

__all__ = ["router"]

router = APIRouter(tags=["qualidade"], dependencies=[Depends(refuse_unknown_parameters)])


@router.get("/api/qualidade")
def quality(ctx: Ctx) -> list[Qualidade]:
    """Nota de maturidade dos dados de cada município, do menor para o maior."""
    return [Qualidade(**q) for q in ctx.data.quality_ranking()]


@router.get("/api/qualidade/{municipio}")
def quality_detail(request: Request, municipio: str, user: Viewer, ctx: Ctx
                   ) -> dict[str, Any]:
    """Diagnóstico completo (regras, contagens) de um município do seu território."""
    detail = read_detail(ctx.data, ctx.scope(user), municipio)
    if detail is None:
        raise HTTPException(404, "município sem diagnóstico (rode 'rmds quality report')")
    ctx.audit(request, user, "leitura_restrita", territory=municipio)
    return detail
