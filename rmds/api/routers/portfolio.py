"""The strategic portfolio: read by anyone signed in, edited under the portfolio's rules
(:func:`rmds.portfolio.service.can_edit`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from rmds.api.context import Ctx, Viewer, refuse_unknown_parameters
from rmds.store.auth import Role, User

__all__ = ["router"]


async def reader(user: Viewer) -> User:
    if user.role is Role.PUBLIC:
        raise HTTPException(401, "a carteira é vista por quem entra no rmds")
    return user


router = APIRouter(tags=["carteira"], dependencies=[Depends(refuse_unknown_parameters)])
Reader = Annotated[User, Depends(reader)]
RowId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


class StatusIn(BaseModel):
    situacao: str = Field(pattern=r"^(no_prazo|atencao|atrasado|concluido|suspenso)$")
    percentual: int = Field(ge=0, le=100)
    nota: str = Field(max_length=1000, pattern=r"^[^\x00]*$")
    semana: dt.date | None = None


class MilestoneIn(BaseModel):
    prazo: dt.date | None = None
    concluido_em: dt.date | None = None


class CriticalIn(BaseModel):
    descricao: str = Field(min_length=1, max_length=1000, pattern=r"^[^\x00]+$")
    unidade_responsavel: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9-]+$")
    gravidade: str = Field(pattern=r"^(baixa|media|alta)$")


class ResolutionIn(BaseModel):
    resolucao: str = Field(min_length=1, max_length=1000, pattern=r"^[^\x00]+$")


def _plain(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value, default=str))


@router.get("/api/carteira")
def portfolio_board(user: Reader, ctx: Ctx) -> dict[str, Any]:
    """Todos os projetos, com situação, percentual e marcos atrasados."""
    from rmds.portfolio.plan import load_plan
    from rmds.portfolio.service import board

    plan = load_plan()
    return {"missao": plan.mission, "visao": plan.vision, "valores": list(plan.values),
            "objetivos": {o.id: {"texto": o.text, "grupo": o.group}
                          for o in plan.objectives.values()},
            "projetos_anunciados": plan.projects_announced,
            "projetos": _plain(board(ctx.store))}


@router.get("/api/carteira/projetos/{projeto}")
def portfolio_project(projeto: str, user: Reader, ctx: Ctx) -> dict[str, Any]:
    """Um projeto: marcos, status semanais, pontos críticos, entregas."""
    from rmds.portfolio.service import project

    return dict(_plain(project(ctx.store, projeto)))


@router.post("/api/carteira/projetos/{projeto}/status")
def portfolio_status(projeto: str, body: StatusIn, user: Reader, ctx: Ctx) -> dict[str, str]:
    """Status da semana (gerente do projeto ou escritório de estratégia)."""
    from rmds.portfolio.service import add_status

    add_status(ctx.store, user, projeto, body.situacao, body.percentual, body.nota,
               body.semana)
    return {"status": "registrado"}


@router.put("/api/carteira/marcos/{marco}")
def portfolio_milestone(marco: RowId, body: MilestoneIn, user: Reader, ctx: Ctx
                        ) -> dict[str, str]:
    """Prazo ou conclusão de um marco."""
    from rmds.portfolio.service import set_milestone

    set_milestone(ctx.store, user, marco, due=body.prazo, done=body.concluido_em)
    return {"status": "registrado"}


@router.post("/api/carteira/projetos/{projeto}/pontos-criticos")
def portfolio_critical(projeto: str, body: CriticalIn, user: Reader, ctx: Ctx
                       ) -> dict[str, int]:
    """Abre um ponto crítico."""
    from rmds.portfolio.service import add_critical_point

    return {"id": add_critical_point(ctx.store, user, projeto, body.descricao,
                                     body.unidade_responsavel, body.gravidade)}


@router.post("/api/carteira/pontos-criticos/{ponto}/escalar")
def portfolio_escalate(ponto: RowId, user: Reader, ctx: Ctx) -> dict[str, str]:
    """Leva o ponto crítico à pauta compartilhada do colegiado."""
    from rmds.portfolio.service import escalate

    escalate(ctx.store, user, ponto)
    return {"status": "escalado"}


@router.post("/api/carteira/pontos-criticos/{ponto}/resolver")
def portfolio_resolve(ponto: RowId, body: ResolutionIn, user: Reader, ctx: Ctx
                      ) -> dict[str, str]:
    """Registra a resolução de um ponto crítico."""
    from rmds.portfolio.service import resolve

    resolve(ctx.store, user, ponto, body.resolucao)
    return {"status": "resolvido"}


@router.get("/api/carteira/relatorio")
def portfolio_report(user: Reader, ctx: Ctx, semana: dt.date | None = None
                     ) -> dict[str, Any]:
    """Relatório de monitoramento da semana."""
    from rmds.portfolio.service import weekly_report

    return dict(_plain(weekly_report(ctx.store, semana)))
