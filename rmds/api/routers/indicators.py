"""Indicators: the catalog, values, series, rankings and the map.

Every answer with cells goes through the answer cache keyed by the parsed parameters, the
caller's scope and the lake's run (:meth:`rmds.api.context.ApiContext.cached`); the cells
are masked by the access policy (small cells blank outside the caller's territory).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from rmds.api.context import Ctx, Viewer, level_param, refuse_unknown_parameters
from rmds.api.models import Catalogo, Mapa, Serie, Valores, cell_out
from rmds.indicators.catalog import PERIOD_TYPES

__all__ = ["router"]

router = APIRouter(tags=["indicadores"], dependencies=[Depends(refuse_unknown_parameters)])


def _form(restricted: bool) -> str:
    return "restrita" if restricted else "publica"


@router.get("/api/indicadores")
def catalog(ctx: Ctx) -> Catalogo:
    """O catálogo: indicadores e objetivos estratégicos."""
    return Catalogo(objetivos={o.id: o.text for o in ctx.data.catalog.objectives.values()},
                    indicadores=[i.as_dict() for i in ctx.data.catalog])


@router.get("/api/indicadores/{indicador}")
def indicator(indicador: str, ctx: Ctx) -> dict[str, Any]:
    """Definição, fonte e método de um indicador."""
    return ctx.data.catalog.get(indicador).as_dict()


@router.get("/api/indicadores/{indicador}/valores", response_model=Valores)
async def indicator_values(request: Request, indicador: str, user: Viewer, ctx: Ctx,
                           nivel: str = "estado", periodo: str | None = None,
                           unidade: str | None = None) -> Response:
    """Valores num nível e período (padrão: o ano mais recente), com intervalo de 95% e
    taxa suavizada; células pequenas suprimidas fora do território do usuário."""
    level, period = level_param(nivel), ctx.latest_period(periodo)
    ctx.data.catalog.get(indicador)
    scope = ctx.scope(user)

    def produce() -> tuple[dict[str, Any], bool]:
        rows, restricted = ctx.data.cells(indicador, level, period, scope, unidade)
        return {"indicador": indicador, "nivel": level, "periodo": period,
                "forma": _form(restricted), "valores": [cell_out(r) for r in rows]}, restricted

    return await ctx.cached(request, user, ("valores", indicador, level, period, unidade),
                            produce)


@router.get("/api/indicadores/{indicador}/serie", response_model=Serie)
async def indicator_series(request: Request, indicador: str, user: Viewer, ctx: Ctx,
                           nivel: str = "estado", unidade: str = "31",
                           tipo: str = "mes") -> Response:
    """Série de uma unidade por mês, trimestre ou ano."""
    if tipo not in PERIOD_TYPES:
        raise HTTPException(422, f"tipo de período inválido: {tipo}")
    level = level_param(nivel)
    ctx.data.catalog.get(indicador)
    scope = ctx.scope(user)

    def produce() -> tuple[dict[str, Any], bool]:
        rows, restricted = ctx.data.series(indicador, level, unidade, tipo, scope)
        return {"indicador": indicador, "nivel": level, "unidade": unidade, "tipo": tipo,
                "forma": _form(restricted), "valores": [cell_out(r) for r in rows]}, restricted

    return await ctx.cached(request, user, ("serie", indicador, level, unidade, tipo),
                            produce)


@router.get("/api/indicadores/{indicador}/ranking", response_model=Valores)
async def indicator_ranking(request: Request, indicador: str, user: Viewer, ctx: Ctx,
                            nivel: str = "municipio", periodo: str | None = None,
                            limite: Annotated[int, Query(ge=1, le=1000)] = 50) -> Response:
    """Unidades ordenadas da melhor para a pior, segundo a direção do indicador."""
    level, period = level_param(nivel), ctx.latest_period(periodo)
    ctx.data.catalog.get(indicador)
    scope = ctx.scope(user)

    def produce() -> tuple[dict[str, Any], bool]:
        rows, restricted = ctx.data.ranking(indicador, level, period, scope)
        return {"indicador": indicador, "nivel": level, "periodo": period,
                "forma": _form(restricted),
                "valores": [cell_out(r) for r in rows[:limite]]}, restricted

    return await ctx.cached(request, user, ("ranking", indicador, level, period, limite),
                            produce)


@router.get("/api/mapa/{indicador}", response_model=Mapa)
async def indicator_map(request: Request, indicador: str, user: Viewer, ctx: Ctx,
                        nivel: str = "municipio", periodo: str | None = None) -> Response:
    """Valor da unidade de cada município (para colorir o mapa de MG)."""
    level, period = level_param(nivel), ctx.latest_period(periodo)
    ctx.data.catalog.get(indicador)
    scope = ctx.scope(user)

    def produce() -> tuple[dict[str, Any], bool]:
        cells = ctx.data.by_municipality(indicador, level, period, scope)
        restricted = any(c["suppressed"] and c["value"] is not None for c in cells.values())
        return {"indicador": indicador, "nivel": level, "periodo": period,
                "forma": _form(restricted),
                "municipios": {m: {"unidade": c["unit_code"], "valor": c["value"],
                                   "suprimido": c["suppressed"]}
                               for m, c in cells.items()}}, restricted

    return await ctx.cached(request, user, ("mapa", indicador, level, period), produce)
