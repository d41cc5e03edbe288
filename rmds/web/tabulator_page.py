"""The tabulator's page (``/tabulador``): the form, the table and its downloads, over
:mod:`rmds.api.tabulate` like the API's route."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from rmds.api.context import ApiContext
from rmds.store.auth import PUBLIC_USER, User
from rmds.web.pages import LEVEL_LABELS, render

__all__ = ["register_tabulator"]


def _viewer(ctx: ApiContext, request: Request) -> User:
    try:
        return ctx.current_user(request)
    except HTTPException:
        return PUBLIC_USER


def _page(name: str, request: Request, user: User, **context: Any) -> HTMLResponse:
    return render(name, user=user, levels=LEVEL_LABELS, path=request.url.path, **context)


def register_tabulator(app: FastAPI) -> None:
    ctx: ApiContext = app.state.ctx

    @app.get("/tabulador", response_class=HTMLResponse, include_in_schema=False)
    def tabulador(request: Request, indicador: str = "mortalidade_infantil",
                  linhas: str = "municipio", colunas: str = "ano", conteudo: str = "valor",
                  de: str | None = None, ate: str | None = None,
                  dentro: str | None = None, contagem: str | None = None) -> Response:
        from rmds.api.routers.tabulator import query_of
        from rmds.api.tabulate import COLUMNS, CONTENTS, TabulatorError, tabulate

        user = _viewer(ctx, request)
        from rmds.api.counts import CATEGORIES, MEASURES

        query = query_of(ctx, indicador, linhas, colunas, conteudo, de, ate, dentro,
                         contagem)
        try:
            table, restricted = tabulate(ctx.data, query, ctx.scope(user))
        except TabulatorError as error:
            raise HTTPException(422, str(error)) from error
        if restricted:
            ctx.audit(request, user, "leitura_restrita")
        every = sorted(set(ctx.data.periods("mes") + ctx.data.periods("trimestre")
                           + ctx.data.periods("ano")))
        return _page("tabulador.html", request, user, q=query, t=table,
                    catalog=list(ctx.data.catalog), ind=ctx.data.catalog.get(indicador),
                    contents={k: v[1] for k, v in CONTENTS.items()}, columns=COLUMNS,
                    every=every, api=query.url("/api/tabulador"),
                    measures={k: m.label for k, m in MEASURES.items()},
                    categories={k: v for k, v in CATEGORIES.items()
                                if contagem in MEASURES
                                and k in MEASURES[contagem].categories},
                    whole=replace(query, dentro=None).url())

