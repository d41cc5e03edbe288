"""The service's health and the session: log in, log out, who am I."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from rmds import __version__
from rmds.api.context import Ctx, Viewer, bearer, refuse_unknown_parameters
from rmds.api.models import Saude, Sessao, Usuario
from rmds.api.security import attempt_login
from rmds.store.auth import logout

__all__ = ["Credentials", "router"]

router = APIRouter(dependencies=[Depends(refuse_unknown_parameters)])


class Credentials(BaseModel):
    usuario: str = Field(min_length=1, max_length=80, pattern=r"^[^\x00-\x1f\x7f]+$")
    senha: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00]+$")


@router.get("/api/saude", tags=["serviço"])
async def health(ctx: Ctx) -> Saude:
    """Serviço no ar (sem acesso a dados); ``aquecido``: indicadores já em memória."""
    return Saude(status="ok", versao=__version__, aquecido=ctx.data.ready)


@router.post("/api/sessao", tags=["acesso"])
def create_session(request: Request, credentials: Credentials, ctx: Ctx) -> Sessao:
    """Entra com usuário e senha; devolve um token de sessão (expira em 8 horas)."""
    # growing delays (429) before the password is looked at; one answer for every failure;
    # success and failure both audited (the attempted name, never the password)
    token, user = attempt_login(request, ctx.store, credentials.usuario, credentials.senha)
    return Sessao(token=token, usuario=user.username, papel=user.role.value,
                  escopo=user.scope)


@router.delete("/api/sessao", tags=["acesso"])
def end_session(request: Request, user: Viewer, ctx: Ctx) -> dict[str, str]:
    """Sai (o token deixa de valer)."""
    token = bearer(request)
    if token:
        logout(ctx.store, token)
    return {"status": "encerrada"}


@router.get("/api/eu", tags=["acesso"])
def me(user: Viewer) -> Usuario:
    """Quem está chamando: papel e território."""
    return Usuario(usuario=user.username, papel=user.role.value, papel_nome=user.role.label,
                   escopo=user.scope)
