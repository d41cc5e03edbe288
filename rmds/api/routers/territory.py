"""The territorial units of each level (reference pack; no lake data)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from rmds.api.context import Ctx, level_param, refuse_unknown_parameters
from rmds.api.models import Unidade
from rmds.exceptions import TerritoryNotFound

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(refuse_unknown_parameters)])


@router.get("/api/territorio/{nivel}", tags=["território"])
def territory(nivel: str, ctx: Ctx, vintage: str | None = None) -> list[Unidade]:
    """Unidades de um nível territorial (regiões e macrorregiões na regionalização
    ``vintage``; por padrão, a vigente)."""
    level = level_param(nivel)
    try:
        chosen = ctx.data.pack.vintage(vintage) if vintage else None
    except TerritoryNotFound as exc:
        raise HTTPException(422, str(exc)) from None
    return [Unidade(**u) for u in ctx.data.units(level, chosen)]
