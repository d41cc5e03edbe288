"""User administration from the web, for the administrator alone
(:func:`rmds.access.policy.require_administrator`): reset a password (a temporary one shown
once, sessions ended), disable or enable a user. Every action is audited; forms posted from
another site are refused at the edge (rmds.api.security)."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rmds.access.policy import require_administrator
from rmds.api.context import ApiContext
from rmds.exceptions import ConfigurationError
from rmds.store.auth import (
    PUBLIC_USER,
    Role,
    User,
    disable_user,
    enable_user,
    failed_logins,
    list_users,
    set_password,
)
from rmds.web.pages import LEVEL_LABELS, render

__all__ = ["register_admin"]


def _viewer(ctx: ApiContext, request: Request) -> User:
    try:
        return ctx.current_user(request)
    except HTTPException:
        return PUBLIC_USER


def _page(name: str, request: Request, user: User, **context: Any) -> HTMLResponse:
    return render(name, user=user, levels=LEVEL_LABELS, path=request.url.path, **context)


def register_admin(app: FastAPI) -> None:
    ctx: ApiContext = app.state.ctx

    def _administrator(request: Request) -> User | Response:
        user = _viewer(ctx, request)
        if user.role is Role.PUBLIC:
            return RedirectResponse("/entrar?proxima=/usuarios", status_code=303)
        require_administrator(user.role)
        return user

    @app.get("/usuarios", response_class=HTMLResponse, include_in_schema=False)
    def usuarios(request: Request) -> Response:
        """Users, for the administrator: reset a password, disable or enable a user."""
        user = _administrator(request)
        if isinstance(user, Response):
            return user
        return _page("usuarios.html", request, user, users=list_users(ctx.store),
                    failures=failed_logins(ctx.store), done=None)

    @app.post("/usuarios/{usuario}/senha", response_class=HTMLResponse,
              include_in_schema=False)
    def usuarios_senha(request: Request, usuario: str) -> Response:
        """A new temporary password, shown once to the administrator; the user's sessions
        end. Audited."""
        user = _administrator(request)
        if isinstance(user, Response):
            return user
        temporary = secrets.token_urlsafe(12)
        try:
            set_password(ctx.store, usuario, temporary)
        except ConfigurationError as error:
            raise HTTPException(404, str(error)) from error
        ctx.audit(request, user, "senha_redefinida", reason=f"usuário {usuario}")
        return _page("usuarios.html", request, user, users=list_users(ctx.store),
                    failures=failed_logins(ctx.store),
                    done=f"Senha provisória de {usuario}: {temporary} — entregue-a ao usuário "
                         "por um canal seguro; ela não será mostrada de novo.")

    @app.post("/usuarios/{usuario}/ativo", response_class=HTMLResponse,
              include_in_schema=False)
    def usuarios_ativo(request: Request, usuario: str, ativo: str = Form(...)) -> Response:
        """Disable a user (their sessions end) or enable them again. Audited."""
        user = _administrator(request)
        if isinstance(user, Response):
            return user
        if usuario.lower() == user.username.lower():
            raise HTTPException(422, "o administrador não desativa a si mesmo")
        try:
            (enable_user if ativo == "sim" else disable_user)(ctx.store, usuario)
        except ConfigurationError as error:
            raise HTTPException(404, str(error)) from error
        action = "usuario_reativado" if ativo == "sim" else "usuario_desativado"
        ctx.audit(request, user, action, reason=f"usuário {usuario}")
        return _page("usuarios.html", request, user, users=list_users(ctx.store),
                    failures=failed_logins(ctx.store),
                    done=f"Usuário {usuario} {'reativado' if ativo == 'sim' else 'desativado'}.")

