"""The strategic portfolio's web forms: the week's status, a milestone's dates, a critical
point opened, taken to the collegiate or resolved — by the roles the portfolio's rules allow
(:func:`rmds.portfolio.service.can_edit`: the project's manager and the strategy office),
through the same service functions as the API, so the same checks and audit apply. Each
form answers with a redirect to the project's page, which says what was done."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from rmds.api.context import ApiContext
from rmds.fmt import parse_date
from rmds.portfolio import service
from rmds.store.auth import Role, User

__all__ = ["register_portfolio_forms"]

NOTE = 1000


def _date(value: str, field: str) -> dt.date | None:
    if not value.strip():
        return None
    try:
        return parse_date(value)
    except ValueError as error:
        raise HTTPException(422, f"{field}: data inválida {value!r} (use DD/MM/AAAA)"
                            ) from error


def _text(value: str, field: str, required: bool = True) -> str:
    text = value.strip()
    if required and not text:
        raise HTTPException(422, f"{field}: preencha o campo")
    if len(text) > NOTE or "\x00" in text:
        raise HTTPException(422, f"{field}: até {NOTE} caracteres")
    return text


def register_portfolio_forms(app: FastAPI) -> None:
    ctx: ApiContext = app.state.ctx

    def editor(request: Request) -> User:
        user = ctx.current_user(request)
        if user.role is Role.PUBLIC:
            raise HTTPException(401, "entre para alterar a carteira")
        return user

    def back(project_id: str, done: str) -> Response:
        return RedirectResponse(f"/carteira/projeto/{quote(project_id)}?feito={quote(done)}",
                                status_code=303)

    @app.post("/carteira/projeto/{projeto}/status", include_in_schema=False)
    def status_form(request: Request, projeto: str, situacao: str = Form(...),
                    percentual: int = Form(..., ge=0, le=100), nota: str = Form(""),
                    semana: str = Form("")) -> Response:
        if situacao not in service.STATUSES:
            raise HTTPException(422, f"situação inválida: {situacao}")
        service.add_status(ctx.store, editor(request), projeto, situacao, percentual,
                           _text(nota, "nota", required=False), _date(semana, "semana"))
        return back(projeto, "status registrado")

    @app.post("/carteira/marco/{marco}", include_in_schema=False)
    def milestone_form(request: Request, marco: int, projeto: str = Form(...),
                       prazo: str = Form(""), concluido_em: str = Form("")) -> Response:
        service.set_milestone(ctx.store, editor(request), marco, due=_date(prazo, "prazo"),
                              done=_date(concluido_em, "concluído em"))
        return back(projeto, "marco atualizado")

    @app.post("/carteira/projeto/{projeto}/ponto-critico", include_in_schema=False)
    def critical_form(request: Request, projeto: str, descricao: str = Form(...),
                      unidade_responsavel: str = Form(...),
                      gravidade: str = Form(...)) -> Response:
        if gravidade not in service.SEVERITIES:
            raise HTTPException(422, f"gravidade inválida: {gravidade}")
        service.add_critical_point(ctx.store, editor(request), projeto,
                                   _text(descricao, "descrição"),
                                   _text(unidade_responsavel, "unidade responsável"),
                                   gravidade)
        return back(projeto, "ponto crítico aberto")

    @app.post("/carteira/ponto-critico/{ponto}/escalar", include_in_schema=False)
    def escalate_form(request: Request, ponto: int, projeto: str = Form(...)) -> Response:
        service.escalate(ctx.store, editor(request), ponto)
        return back(projeto, "ponto crítico levado ao colegiado")

    @app.post("/carteira/ponto-critico/{ponto}/resolver", include_in_schema=False)
    def resolve_form(request: Request, ponto: int, projeto: str = Form(...),
                     resolucao: str = Form(...)) -> Response:
        service.resolve(ctx.store, editor(request), ponto, _text(resolucao, "resolução"))
        return back(projeto, "ponto crítico resolvido")
