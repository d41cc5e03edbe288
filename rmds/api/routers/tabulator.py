"""The tabulator's API: one indicator as units × periods (see :mod:`rmds.api.tabulate`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from rmds.api.context import ApiContext, Ctx, Viewer, refuse_unknown_parameters
from rmds.api.tabulate import COLUMNS, CONTENTS, TabulatorError, TabulatorQuery, tabulate
from rmds.downloads import Download, slug
from rmds.fmt import fmt_date

__all__ = ["query_of", "router", "table_download"]

router = APIRouter(tags=["tabulador"], dependencies=[Depends(refuse_unknown_parameters)])

Formato = Annotated[str, Query(pattern="^(json|csv|xlsx)$",
                               description="json (padrão), csv ou xlsx (download)")]


def query_of(ctx: ApiContext, indicador: str, linhas: str, colunas: str, conteudo: str,
             de: str | None, ate: str | None, dentro: str | None,
             contagem: str | None = None) -> TabulatorQuery:
    """The query of a URL, or a 422 naming every problem; an unknown indicator is a 404."""
    if not contagem:
        ctx.data.catalog.get(indicador)
    try:
        return TabulatorQuery.parse(indicador, linhas, colunas, conteudo, de, ate, dentro,
                                    contagem)
    except TabulatorError as error:
        raise HTTPException(422, str(error)) from error


def table_download(ctx: ApiContext, query: TabulatorQuery) -> Any:
    """The header block and the wide table of a tabulator answer, for CSV and XLSX."""
    def describe(body: dict[str, Any], snapshot: int | None) -> Download:
        periods: list[str] = body["periodos"]
        if query.contagem:
            what = [("Contagem", f"{body['medida']} ({query.contagem})"),
                    *(("Nota", note) for note in body["notas"])]
            title, ident = body["medida"], query.contagem
        else:
            indicator = ctx.data.catalog.get(query.indicador)
            what = [("Indicador", f"{indicator.name} ({indicator.id})"),
                    ("Definição", indicator.definition), ("Fonte", indicator.source),
                    ("Conteúdo", CONTENTS[query.conteudo][1])]
            title, ident = indicator.name, indicator.id
        about = [
            *what,
            ("Linhas", query.linhas), ("Colunas", COLUMNS[query.colunas]),
            ("Períodos", f"{periods[0]} a {periods[-1]}" if periods else "nenhum"),
            ("Dentro de", body["dentro"] or "Minas Gerais"),
            ("Snapshot do lago", "" if snapshot is None else str(snapshot)),
            ("Forma", "restrita (inclui células pequenas do seu território)"
             if body["forma"] == "restrita" else "pública"),
            ("Supressão", f"contagens de 1 a {ctx.policy.threshold - 1} não são publicadas: "
             "a célula fica em branco e a coluna 'Períodos suprimidos' os lista"),
            ("Consulta", query.url()),
            ("Gerado em", fmt_date(dt.date.today())),
        ]
        columns = [("unidade", "Código"), ("nome", "Unidade territorial"),
                   *((p, p) for p in periods), ("suprimidos", "Períodos suprimidos")]
        rows = []
        for line in [*body["linhas_tabela"], {**body["total"], "nome":
                                               f"Total — {body['total']['nome']}"}]:
            row: dict[str, Any] = {"unidade": line["unidade"], "nome": line["nome"]}
            row.update(zip(periods, line["valores"], strict=True))
            row["suprimidos"] = ", ".join(
                p for p, hidden in zip(periods, line["suprimidas"], strict=True) if hidden)
            rows.append(row)
        name = slug(f"{ident} tabulador {query.linhas} {query.colunas} "
                    f"{query.conteudo}")
        return Download(name, f"{title} — tabulador", about, columns, rows)
    return describe


@router.get("/api/tabulador")
async def tabulator(request: Request, user: Viewer, ctx: Ctx,
                    indicador: str = "mortalidade_infantil", linhas: str = "municipio",
                    colunas: str = "mes", conteudo: str = "valor", de: str | None = None,
                    ate: str | None = None, dentro: str | None = None,
                    contagem: str | None = None, formato: Formato = "json") -> Response:
    """Tabulador (como o TabNet): um indicador em unidades territoriais (linhas) × períodos
    (colunas), com o total do território na última linha. `conteudo`: valor, numerador
    ou denominador; `de`/`ate`: primeiro e último período (AAAA, AAAA-Tn ou AAAA-MM);
    `dentro`: só as unidades dentro de outra (ex.: `regiao:31001`). Com `contagem`
    (nascidos_vivos, obitos, internacoes, doses, procedimentos_ambulatoriais), conta
    registros por residência em vez do indicador; as linhas podem ser um nível territorial
    ou sexo, faixa_etaria, raca_cor, capitulo_cid, vacina, grupo_procedimento."""
    query = query_of(ctx, indicador, linhas, colunas, conteudo, de, ate, dentro, contagem)
    scope = ctx.scope(user)

    def produce() -> tuple[dict[str, Any], bool]:
        try:
            return tabulate(ctx.data, query, scope)
        except TabulatorError as error:
            raise HTTPException(422, str(error)) from error

    key = ("tabulador", query)
    if formato != "json":
        return await ctx.download(request, user, key, produce, table_download(ctx, query),
                                  formato)
    return await ctx.cached(request, user, key, produce)
