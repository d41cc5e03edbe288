"""The territorial units of each level (reference pack; no lake data)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from rmds.api.context import Ctx, level_param, refuse_unknown_parameters
from rmds.api.models import Unidade
from rmds.territory import Vintage

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(refuse_unknown_parameters)])


@router.get("/api/territorio/{nivel}", tags=["território"])
def territory(nivel: str, ctx: Ctx, vintage: Vintage = Vintage.PDR_CURRENT) -> list[Unidade]:
    """Unidades de um nível territorial."""
    return [Unidade(**u) for u in ctx.data.units(level_param(nivel), vintage)]
