"""Indicators: the catalog, values, series, rankings and the map.

Every answer with cells goes through the answer cache keyed by the parsed parameters, the
caller's scope and the lake's run (:meth:`rmds.api.context.ApiContext.cached`); the cells
are masked by the access policy (small cells blank outside the caller's territory).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from rmds.api.context import ApiContext, Ctx, Viewer, level_param, refuse_unknown_parameters
from rmds.api.models import Catalogo, Mapa, Serie, Valores, cell_out
from rmds.downloads import Download, slug
from rmds.fmt import fmt_date
from rmds.indicators.catalog import PERIOD_TYPES

__all__ = ["router"]

router = APIRouter(tags=["indicadores"], dependencies=[Depends(refuse_unknown_parameters)])


def _form(restricted: bool) -> str:
    return "restrita" if restricted else "publica"


#: every format an answer with cells comes in: JSON, or a file to download
Formato = Annotated[str, Query(pattern="^(json|csv|xlsx)$",
                               description="json (padrão), csv ou xlsx (download)")]

#: an indicator cell's columns in a download, with their Portuguese headers
CELL_COLUMNS = (("unidade", "Código"), ("nome_unidade", "Unidade territorial"),
                ("periodo", "Período"), ("numerador", "Numerador"),
                ("denominador", "Denominador"), ("valor", "Valor"),
                ("ic_inferior", "IC 95% inferior"), ("ic_superior", "IC 95% superior"),
                ("suavizado", "Valor suavizado (Bayes empírico)"),
                ("suprimido", "Suprimido"))


def _describe(ctx: ApiContext, what: str, columns: tuple[tuple[str, str], ...] = CELL_COLUMNS,
              ) -> Any:
    """The header block and columns of a download of indicator cells (``what`` names the
    view: valores, série, ranking, mapa)."""
    def describe(body: dict[str, Any], snapshot: int | None) -> Download:
        indicator = ctx.data.catalog.get(body["indicador"])
        where = body.get("periodo") or f"série por {body.get('tipo', 'período')}"
        unit = f" — unidade {body['unidade']}" if body.get("unidade") else ""
        threshold = ctx.policy.threshold
        about = [
            ("Indicador", f"{indicator.name} ({indicator.id})"),
            ("Definição", indicator.definition),
            ("Fonte", indicator.source),
            ("Unidade de medida", f"{indicator.unit} (× {indicator.multiplier:g})"
             if indicator.multiplier != 1 else indicator.unit),
            ("Período", where),
            ("Nível territorial", f"{body['nivel']}{unit}"),
            ("Snapshot do lago", "" if snapshot is None else str(snapshot)),
            ("Forma", "restrita (inclui células pequenas do seu território)"
             if body["forma"] == "restrita" else "pública"),
            ("Supressão", f"contagens de 1 a {threshold - 1} no numerador ou no denominador "
             "não são publicadas: a célula fica em branco e a coluna 'Suprimido' diz 'sim' "
             "(supressão complementar onde a diferença revelaria a célula)"),
            ("Gerado em", fmt_date(dt.date.today())),
        ]
        when = body.get("periodo") or body.get("tipo", "")
        name = slug(f"{indicator.id} {what} {body['nivel']} {when}")
        rows = body["valores"] if "valores" in body else [
            {"municipio": municipality, "unidade_nivel": cell["unidade"],
             "valor": cell["valor"], "suprimido": cell["suprimido"]}
            for municipality, cell in body["municipios"].items()]
        return Download(name, f"{indicator.name} — {what}", about, columns, rows)
    return describe


@router.get("/api/indicadores")
def catalog(ctx: Ctx) -> Catalogo:
    """O catálogo: indicadores e objetivos estratégicos."""
    return Catalogo(objetivos={o.id: o.text for o in ctx.data.catalog.objectives.values()},
                    indicadores=[i.as_dict() for i in ctx.data.catalog])


@router.get("/api/indicadores/{indicador}")
def indicator(indicador: str, ctx: Ctx) -> dict[str, Any]:
    """Definição, fonte e método de um indicador, com a meta oficial quando existe."""
    from rmds.indicators.targets import load_targets

    official = load_targets().get(indicador)
    return {**ctx.data.catalog.get(indicador).as_dict(),
            "meta": official.as_dict() if official else None}


@router.get("/api/indicadores/{indicador}/valores", response_model=Valores)
async def indicator_values(request: Request, indicador: str, user: Viewer, ctx: Ctx,
                           nivel: str = "estado", periodo: str | None = None,
                           unidade: str | None = None, formato: Formato = "json") -> Response:
    """Valores num nível e período (padrão: o ano mais recente), com intervalo de 95% e
    taxa suavizada; células pequenas suprimidas fora do território do usuário."""
    level, period = level_param(nivel), ctx.latest_period(periodo)
    ctx.data.catalog.get(indicador)
    scope = ctx.scope(user)

    def produce() -> tuple[dict[str, Any], bool]:
        rows, restricted = ctx.data.cells(indicador, level, period, scope, unidade)
        return {"indicador": indicador, "nivel": level, "periodo": period,
                "forma": _form(restricted), "valores": [cell_out(r) for r in rows]}, restricted

    key = ("valores", indicador, level, period, unidade)
    if formato != "json":
        return await ctx.download(request, user, key, produce, _describe(ctx, "valores"),
                                  formato)
    return await ctx.cached(request, user, key, produce)


@router.get("/api/indicadores/{indicador}/serie", response_model=Serie)
async def indicator_series(request: Request, indicador: str, user: Viewer, ctx: Ctx,
                           nivel: str = "estado", unidade: str = "31",
                           tipo: str = "mes", formato: Formato = "json") -> Response:
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

    key = ("serie", indicador, level, unidade, tipo)
    if formato != "json":
        return await ctx.download(request, user, key, produce, _describe(ctx, "série"),
                                  formato)
    return await ctx.cached(request, user, key, produce)


@router.get("/api/indicadores/{indicador}/ranking", response_model=Valores)
async def indicator_ranking(request: Request, indicador: str, user: Viewer, ctx: Ctx,
                            nivel: str = "municipio", periodo: str | None = None,
                            limite: Annotated[int, Query(ge=1, le=1000)] = 50,
                            formato: Formato = "json") -> Response:
    """Unidades ordenadas da melhor para a pior, segundo a direção do indicador."""
    level, period = level_param(nivel), ctx.latest_period(periodo)
    ctx.data.catalog.get(indicador)
    scope = ctx.scope(user)

    def produce() -> tuple[dict[str, Any], bool]:
        rows, restricted = ctx.data.ranking(indicador, level, period, scope)
        return {"indicador": indicador, "nivel": level, "periodo": period,
                "forma": _form(restricted),
                "valores": [cell_out(r) for r in rows[:limite]]}, restricted

    key = ("ranking", indicador, level, period, limite)
    if formato != "json":
        return await ctx.download(request, user, key, produce, _describe(
            ctx, "ranking", (("posicao", "Posição"), *CELL_COLUMNS)), formato)
    return await ctx.cached(request, user, key, produce)


@router.get("/api/mapa/{indicador}", response_model=Mapa)
async def indicator_map(request: Request, indicador: str, user: Viewer, ctx: Ctx,
                        nivel: str = "municipio", periodo: str | None = None,
                        formato: Formato = "json") -> Response:
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

    key = ("mapa", indicador, level, period)
    if formato != "json":
        return await ctx.download(request, user, key, produce, _describe(ctx, "mapa", (
            ("municipio", "Município (IBGE)"), ("unidade_nivel", f"Unidade ({level})"),
            ("valor", "Valor"), ("suprimido", "Suprimido"))), formato)
    return await ctx.cached(request, user, key, produce)
