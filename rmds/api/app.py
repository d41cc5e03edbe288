"""The FastAPI application: the JSON API under ``/api``, FHIR ingestion at ``/fhir`` and the
web pages.

Every error, whatever raised it, answers with one JSON shape::

    {"erro": {"status": 404, "tipo": "nao_encontrado", "mensagem": "...", "detalhes": []}}

(pages answer HTML). Authentication: ``Authorization: Bearer <token>`` from
``POST /api/sessao``, or the ``rmds_sessao`` cookie set by the login page. Without it the
caller is the public: aggregates only, small cells suppressed. Every read of restricted data
and every write goes to the hash-chained audit log.
"""

import datetime as dt
import gzip
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from rmds import __version__
from rmds.api.security import attempt_login, client_address, install_security, reason_header
from rmds.api.service import DataService
from rmds.api.snapshots import SnapshotMiddleware
from rmds.exceptions import CatalogError, InputError, RmdsError
from rmds.indicators.catalog import PERIOD_TYPES
from rmds.store import Store
from rmds.store.audit import audit_config, record
from rmds.store.auth import PUBLIC_USER, AuthError, Role, User, logout, user_for_token
from rmds.territory import Level, ReferencePack, Vintage

__all__ = ["create_app"]

COOKIE = "rmds_sessao"
LEVELS = tuple(level.value for level in Level)
_TYPES = {400: "requisicao_invalida", 401: "nao_autenticado", 403: "proibido",
          404: "nao_encontrado", 405: "metodo_nao_permitido", 409: "conflito",
          422: "requisicao_invalida", 429: "muitas_tentativas", 500: "erro_interno"}


def error_body(status: int, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    return {"erro": {"status": status, "tipo": _TYPES.get(status, "erro"),
                     "mensagem": message, "detalhes": details or []}}


class Credentials(BaseModel):
    usuario: str = Field(min_length=1, max_length=80, pattern=r"^[^\x00-\x1f\x7f]+$")
    senha: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00]+$")


def create_app(lake_path: Path, store: Store, pack: ReferencePack, *,
               warm: bool = True, threshold: int = 5) -> FastAPI:
    """The app; with ``warm`` the mart is read into memory in the background at once."""
    data = DataService(lake_path, pack)
    from rmds.portfolio.service import load_into_store

    load_into_store(store)            # the plan's projects and milestones (idempotent)
    audit_config(store)               # a missing audit key stops the service here
    if warm:
        threading.Thread(target=data.warm, name="rmds-warm", daemon=True).start()
        data.follow()   # new snapshots are served as soon as they are committed
    write_lock = threading.Lock()

    # the lake stays open for the app's life (an ASGI lifespan may run more than once, as
    # in tests); whoever created the app closes it (``app.state.data.close()``)
    app = FastAPI(title="rmds — Rede Mineira de Dados em Saúde", version=__version__,
                  description="API de indicadores, qualidade dos dados e cargas do SUS-MG.")
    app.add_middleware(GZipMiddleware, minimum_size=2000)
    app.add_middleware(SnapshotMiddleware, data=data)
    app.state.data = data
    app.state.store = store

    # ------------------------------------------------------------------ errors
    def wants_html(request: Request) -> bool:
        path = request.url.path
        return not (path.startswith("/api") or path.startswith("/fhir")
                    or path.startswith("/openapi"))

    def respond(request: Request, status: int, message: str,
                details: list[Any] | None = None) -> Response:
        if wants_html(request):
            from rmds.web.pages import error_page

            return error_page(request, status, message)
        return JSONResponse(error_body(status, message, details), status_code=status)

    install_security(app, respond)     # bounded headers, CSRF, security headers, throttle

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "erro"
        if exc.status_code == 404 and message == "Not Found":
            message = "recurso não encontrado"
        if exc.status_code == 405:
            message = "método não permitido"
        response = respond(request, exc.status_code, message)
        response.headers.update(exc.headers or {})      # Retry-After of a 429
        if exc.status_code == 401 and not wants_html(request):
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        details = [{"campo": ".".join(str(p) for p in e.get("loc", ())),
                    "mensagem": e.get("msg", "")} for e in exc.errors()]
        return respond(request, 422, "parâmetros inválidos", details)

    @app.exception_handler(RmdsError)
    async def rmds_error(request: Request, exc: RmdsError) -> Response:
        from rmds.portfolio.service import PortfolioError

        status = 404 if isinstance(exc, (CatalogError, LookupError)) else (
            401 if isinstance(exc, AuthError) else
            403 if isinstance(exc, PortfolioError) else 400)
        details = [str(p) for p in getattr(exc, "problems", ())]
        return respond(request, status, str(exc).splitlines()[0], details)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        return respond(request, 500, "erro interno; a equipe foi avisada pelo log")

    # ---------------------------------------------------------------- identity
    def _token(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else None
        return token or request.cookies.get(COOKIE)

    async def api_user(request: Request) -> User:
        """The caller; the store is only consulted when a token is given."""
        if not _token(request):
            return PUBLIC_USER
        return await run_in_threadpool(current_user, request)

    responses: dict[tuple[Any, ...], tuple[bytes, bytes, bool]] = {}

    async def cached(request: Request, user: User,
                     produce: Callable[[], tuple[dict[str, Any], bool]]) -> Response:
        """Answer from the encoded-response cache (per request, scope and mart run), and
        audit a restricted answer every time it is served."""
        scope_key = ("estado" if user.role.is_state else
                     "publico" if user.role is Role.PUBLIC else user.scope)
        key = (request.url.path, tuple(sorted(request.query_params.multi_items())),
               scope_key, data.run_id())
        hit = responses.get(key)
        if hit is None:
            # once the mart is in memory an answer is a few milliseconds of CPU: made on the
            # event loop, it avoids handing the GIL back and forth with a worker thread
            body, restricted = produce() if data.ready else await run_in_threadpool(produce)
            raw = orjson.dumps(body, default=str)
            hit = (raw, gzip.compress(raw, compresslevel=1), restricted)
            if len(responses) > 20_000:
                responses.clear()
            responses[key] = hit
        if hit[2]:
            await run_in_threadpool(audit, request, user, "leitura_restrita")
        if "gzip" in request.headers.get("accept-encoding", "") and len(hit[0]) > 2000:
            return Response(hit[1], media_type="application/json",
                            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        return Response(hit[0], media_type="application/json")

    def current_user(request: Request) -> User:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else None
        token = token or request.cookies.get(COOKIE)
        if not token:
            return PUBLIC_USER
        user = user_for_token(store, token)
        if user is None:
            raise HTTPException(401, "sessão inválida ou expirada; entre novamente")
        return user

    def origin(request: Request) -> str:
        return client_address(request)

    def audit(request: Request, user: User, action: str, territory: str | None = None,
              reason: str | None = None) -> None:
        resource = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        record(store, username=user.username, role=user.role.value, action=action,
               resource=resource, territory=territory, origin=origin(request),
               reason=reason or reason_header(request))

    def require(user: User, *roles: Role) -> None:
        if user.role is Role.PUBLIC:
            raise HTTPException(401, "é preciso entrar para ver este recurso")
        if user.role not in roles:
            raise HTTPException(403, "seu papel não dá acesso a este recurso")

    UserDep = Annotated[User, Depends(api_user)]
    app.state.current_user = current_user
    app.state.audit = audit

    def level_param(nivel: str) -> str:
        if nivel not in LEVELS:
            raise HTTPException(422, f"nível inválido: {nivel} (use {', '.join(LEVELS)})")
        return nivel

    def period_param(periodo: str | None) -> str:
        period = periodo or data.latest_year()
        if period is None:
            raise HTTPException(404, "ainda não há indicadores calculados no lago")
        import re

        if not re.fullmatch(r"\d{4}(-T[1-4]|-(0[1-9]|1[0-2]))?", period):
            raise HTTPException(422, f"período inválido: {period} (AAAA, AAAA-Tn, AAAA-MM)")
        return period

    # --------------------------------------------------------------------- API
    @app.get("/api/saude", tags=["serviço"])
    async def health() -> dict[str, Any]:
        """Serviço no ar (sem acesso a dados); ``aquecido``: indicadores já em memória."""
        return {"status": "ok", "versao": __version__, "aquecido": data.ready}

    @app.post("/api/sessao", tags=["acesso"])
    def create_session(request: Request, credentials: Credentials) -> dict[str, Any]:
        """Entra com usuário e senha; devolve um token de sessão (expira em 8 horas)."""
        token, user = attempt_login(request, store, credentials.usuario, credentials.senha)
        return {"token": token, "usuario": user.username, "papel": user.role.value,
                "escopo": user.scope}

    @app.delete("/api/sessao", tags=["acesso"])
    def end_session(request: Request, user: UserDep) -> dict[str, str]:
        """Sai (o token deixa de valer)."""
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else \
            request.cookies.get(COOKIE)
        if token:
            logout(store, token)
        return {"status": "encerrada"}

    @app.get("/api/eu", tags=["acesso"])
    def me(user: UserDep) -> dict[str, Any]:
        """Quem está chamando: papel e território."""
        return {"usuario": user.username, "papel": user.role.value,
                "papel_nome": user.role.label, "escopo": user.scope}

    @app.get("/api/territorio/{nivel}", tags=["território"])
    def territory(nivel: str, vintage: Vintage = Vintage.PDR_CURRENT) -> list[dict[str, str]]:
        """Unidades de um nível territorial."""
        return data.units(level_param(nivel), vintage)

    @app.get("/api/indicadores", tags=["indicadores"])
    def catalog() -> dict[str, Any]:
        """O catálogo: indicadores e objetivos estratégicos."""
        return {"objetivos": {o.id: o.text for o in data.catalog.objectives.values()},
                "indicadores": [i.as_dict() for i in data.catalog]}

    @app.get("/api/indicadores/{indicador}", tags=["indicadores"])
    def indicator(indicador: str) -> dict[str, Any]:
        """Definição, fonte e método de um indicador."""
        return data.catalog.get(indicador).as_dict()

    def _cells_body(rows: list[dict[str, Any]], restricted: bool, **extra: Any
                    ) -> tuple[dict[str, Any], bool]:
        return {**extra, "forma": "restrita" if restricted else "publica",
                "valores": rows}, restricted

    @app.get("/api/indicadores/{indicador}/valores", tags=["indicadores"])
    async def indicator_values(request: Request, indicador: str, user: UserDep,
                               nivel: str = "estado", periodo: str | None = None,
                               unidade: str | None = None) -> Response:
        """Valores num nível e período (padrão: o ano mais recente), com intervalo de 95% e
        taxa suavizada; células pequenas suprimidas fora do território do usuário."""
        level, period = level_param(nivel), period_param(periodo)
        data.catalog.get(indicador)

        def produce() -> tuple[dict[str, Any], bool]:
            rows, restricted = data.cells(indicador, level, period, data.scope(user), unidade)
            return _cells_body(rows, restricted, indicador=indicador, nivel=level,
                               periodo=period)

        return await cached(request, user, produce)

    @app.get("/api/indicadores/{indicador}/serie", tags=["indicadores"])
    async def indicator_series(request: Request, indicador: str, user: UserDep,
                               nivel: str = "estado", unidade: str = "31",
                               tipo: str = "mes") -> Response:
        """Série de uma unidade por mês, trimestre ou ano."""
        if tipo not in PERIOD_TYPES:
            raise HTTPException(422, f"tipo de período inválido: {tipo}")
        level = level_param(nivel)
        data.catalog.get(indicador)

        def produce() -> tuple[dict[str, Any], bool]:
            rows, restricted = data.series(indicador, level, unidade, tipo, data.scope(user))
            return _cells_body(rows, restricted, indicador=indicador, nivel=level,
                               unidade=unidade, tipo=tipo)

        return await cached(request, user, produce)

    @app.get("/api/indicadores/{indicador}/ranking", tags=["indicadores"])
    async def indicator_ranking(request: Request, indicador: str, user: UserDep,
                                nivel: str = "municipio", periodo: str | None = None,
                                limite: Annotated[int, Query(ge=1, le=1000)] = 50
                                ) -> Response:
        """Unidades ordenadas da melhor para a pior, segundo a direção do indicador."""
        level, period = level_param(nivel), period_param(periodo)
        data.catalog.get(indicador)

        def produce() -> tuple[dict[str, Any], bool]:
            rows, restricted = data.ranking(indicador, level, period, data.scope(user))
            return _cells_body(rows[:limite], restricted, indicador=indicador, nivel=level,
                               periodo=period)

        return await cached(request, user, produce)

    @app.get("/api/mapa/{indicador}", tags=["indicadores"])
    async def indicator_map(request: Request, indicador: str, user: UserDep,
                            nivel: str = "municipio", periodo: str | None = None
                            ) -> Response:
        """Valor da unidade de cada município (para colorir o mapa de MG)."""
        level, period = level_param(nivel), period_param(periodo)
        data.catalog.get(indicador)

        def produce() -> tuple[dict[str, Any], bool]:
            cells = data.by_municipality(indicador, level, period, data.scope(user))
            restricted = any(c["suppressed"] and c["value"] is not None
                             for c in cells.values())
            return {"indicador": indicador, "nivel": level, "periodo": period,
                    "municipios": {m: {"unidade": c["unit_code"], "valor": c["value"],
                                       "suprimido": c["suppressed"]}
                                   for m, c in cells.items()}}, restricted

        return await cached(request, user, produce)

    @app.get("/api/qualidade", tags=["qualidade"])
    def quality() -> list[dict[str, Any]]:
        """Nota de maturidade dos dados de cada município, do menor para o maior."""
        return data.quality_ranking()

    @app.get("/api/qualidade/{municipio}", tags=["qualidade"])
    def quality_detail(request: Request, municipio: str, user: UserDep) -> dict[str, Any]:
        """Diagnóstico completo (regras, contagens) de um município do seu território."""
        if user.role is Role.PUBLIC:
            raise HTTPException(401, "é preciso entrar para ver o diagnóstico detalhado")
        if not data.scope(user).covers(Level.MUNICIPALITY.value, municipio):
            raise HTTPException(403, "este município não está no seu território")
        detail = data.quality_detail(municipio)
        if detail is None:
            raise HTTPException(404, "município sem diagnóstico (rode 'rmds quality report')")
        audit(request, user, "leitura_restrita", territory=municipio)
        return detail

    @app.get("/api/cargas", tags=["cargas"])
    def batches(request: Request, user: UserDep) -> list[dict[str, Any]]:
        """Lotes carregados no lago (analistas)."""
        require(user, Role.ADMIN, Role.STATE_ANALYST)
        audit(request, user, "leitura_restrita")
        return data.batches()

    @app.get("/api/quarentena", tags=["cargas"])
    def quarantine(request: Request, user: UserDep,
                   limite: Annotated[int, Query(ge=1, le=10_000)] = 200
                   ) -> list[dict[str, Any]]:
        """Linhas recusadas e o motivo (analistas; podem conter dados pessoais)."""
        require(user, Role.ADMIN, Role.STATE_ANALYST)
        audit(request, user, "leitura_dados_pessoais")
        return data.quarantine(limite)

    # --------------------------------------------------------------- consortia
    @app.get("/api/consorcios", tags=["consórcios"])
    def consortia() -> dict[str, Any]:
        """Consórcios conhecidos e quão completo é o rol (aviso a mostrar)."""
        from rmds.consortia.report import consortia_list

        return consortia_list(data.cursor(), pack)

    @app.get("/api/consorcios/{sigla}", tags=["consórcios"])
    def consortium(sigla: str, user: UserDep,
                   ano: Annotated[int | None, Query(ge=2000, le=2100)] = None
                   ) -> dict[str, Any]:
        """Membros, população coberta, produção, esperas (mediana e p90) e fila por tipo de
        serviço. Público: contagens pequenas suprimidas."""
        from rmds.consortia.report import consortium_overview, public_form

        overview = consortium_overview(data.cursor(), pack, sigla, ano)
        if not data.scope(user).covers(Level.CONSORTIUM.value, sigla):
            overview = public_form(overview, threshold)
        return overview

    @app.get("/api/filas", tags=["consórcios"])
    def queue_view(request: Request, user: UserDep, consorcio: str | None = None,
                   municipio: str | None = None,
                   limite: Annotated[int, Query(ge=1, le=5000)] = 500) -> dict[str, Any]:
        """Encaminhamentos na fila (sem identificação de pacientes), só dos municípios do
        território do usuário."""
        from rmds.consortia.queues import data_date, queue, queue_items

        if user.role is Role.PUBLIC:
            raise HTTPException(401, "é preciso entrar para ver as filas")
        allowed = data.municipalities_of(user)
        chosen: set[str] | None = None if allowed is None else set(allowed)
        if municipio is not None:
            if allowed is not None and municipio not in allowed:
                raise HTTPException(403, "este município não está no seu território")
            chosen = {municipio}
        if consorcio is not None:
            if user.role is Role.CONSORTIUM and consorcio != user.scope_code:
                raise HTTPException(403, "este consórcio não é o seu")
            members = {m.municipality for m in data.memberships()
                       if m.consortium == consorcio}
            chosen = members if chosen is None else chosen & members
        cursor = data.cursor()
        at = data_date(cursor) or dt.date.today()
        audit(request, user, "leitura_restrita", territory=consorcio or municipio)
        return {"data_de_referencia": at.isoformat(), "resumo": queue(cursor, at, chosen),
                "itens": queue_items(cursor, at, chosen, limite)}

    # --------------------------------------------------------------- portfolio
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
        unidade_responsavel: str = Field(min_length=1, max_length=40,
                                         pattern=r"^[A-Za-z0-9-]+$")
        gravidade: str = Field(pattern=r"^(baixa|media|alta)$")

    class ResolutionIn(BaseModel):
        resolucao: str = Field(min_length=1, max_length=1000, pattern=r"^[^\x00]+$")

    RowId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]

    def reader(user: User) -> None:
        if user.role is Role.PUBLIC:
            raise HTTPException(401, "a carteira é vista por quem entra no rmds")

    @app.get("/api/carteira", tags=["carteira"])
    def portfolio_board(user: UserDep) -> dict[str, Any]:
        """Todos os projetos, com situação, percentual e marcos atrasados."""
        from rmds.portfolio.plan import load_plan
        from rmds.portfolio.service import board

        reader(user)
        plan = load_plan()
        return {"missao": plan.mission, "visao": plan.vision, "valores": list(plan.values),
                "objetivos": {o.id: {"texto": o.text, "grupo": o.group}
                              for o in plan.objectives.values()},
                "projetos_anunciados": plan.projects_announced,
                "projetos": orjson.loads(orjson.dumps(board(store), default=str))}

    @app.get("/api/carteira/projetos/{projeto}", tags=["carteira"])
    def portfolio_project(projeto: str, user: UserDep) -> dict[str, Any]:
        """Um projeto: marcos, status semanais, pontos críticos, entregas."""
        from rmds.portfolio.service import project

        reader(user)
        return dict(orjson.loads(orjson.dumps(project(store, projeto), default=str)))

    @app.post("/api/carteira/projetos/{projeto}/status", tags=["carteira"])
    def portfolio_status(projeto: str, body: StatusIn, user: UserDep) -> dict[str, str]:
        """Status da semana (gerente do projeto ou escritório de estratégia)."""
        from rmds.portfolio.service import add_status

        reader(user)
        add_status(store, user, projeto, body.situacao, body.percentual, body.nota,
                   body.semana)
        return {"status": "registrado"}

    @app.put("/api/carteira/marcos/{marco}", tags=["carteira"])
    def portfolio_milestone(marco: RowId, body: MilestoneIn, user: UserDep) -> dict[str, str]:
        """Prazo ou conclusão de um marco."""
        from rmds.portfolio.service import set_milestone

        reader(user)
        set_milestone(store, user, marco, due=body.prazo, done=body.concluido_em)
        return {"status": "registrado"}

    @app.post("/api/carteira/projetos/{projeto}/pontos-criticos", tags=["carteira"])
    def portfolio_critical(projeto: str, body: CriticalIn, user: UserDep) -> dict[str, int]:
        """Abre um ponto crítico."""
        from rmds.portfolio.service import add_critical_point

        reader(user)
        return {"id": add_critical_point(store, user, projeto, body.descricao,
                                         body.unidade_responsavel, body.gravidade)}

    @app.post("/api/carteira/pontos-criticos/{ponto}/escalar", tags=["carteira"])
    def portfolio_escalate(ponto: RowId, user: UserDep) -> dict[str, str]:
        """Leva o ponto crítico à pauta compartilhada do colegiado."""
        from rmds.portfolio.service import escalate

        reader(user)
        escalate(store, user, ponto)
        return {"status": "escalado"}

    @app.post("/api/carteira/pontos-criticos/{ponto}/resolver", tags=["carteira"])
    def portfolio_resolve(ponto: RowId, body: ResolutionIn, user: UserDep) -> dict[str, str]:
        """Registra a resolução de um ponto crítico."""
        from rmds.portfolio.service import resolve

        reader(user)
        resolve(store, user, ponto, body.resolucao)
        return {"status": "resolvido"}

    @app.get("/api/carteira/relatorio", tags=["carteira"])
    def portfolio_report(user: UserDep, semana: dt.date | None = None) -> dict[str, Any]:
        """Relatório de monitoramento da semana."""
        from rmds.portfolio.service import weekly_report

        reader(user)
        return dict(orjson.loads(orjson.dumps(weekly_report(store, semana), default=str)))

    @app.post("/fhir", tags=["FHIR"])
    def fhir_bundle(request: Request, user: UserDep,
                    bundle: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        """Recebe um Bundle FHIR R4 (collection, transaction ou batch) e o carrega no lago
        pelo mesmo caminho de `rmds ingest`: recursos inválidos vão para a quarentena."""
        require(user, Role.ADMIN, Role.STATE_ANALYST, Role.PROFESSIONAL)
        if bundle.get("resourceType") != "Bundle":
            raise HTTPException(422, "o corpo deve ser um recurso FHIR Bundle")
        from rmds.lake.ingest import ingest

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"bundle-{int(time.time() * 1000)}.json"
            path.write_bytes(orjson.dumps(bundle))
            try:
                with write_lock, data.writer() as lake:
                    outcomes = ingest(lake, [path], pack)
                data.refresh()   # the next request reads what was just written
            except InputError as error:
                raise HTTPException(422, str(error).splitlines()[0]) from None
        audit(request, user, "escrita", reason="POST /fhir")
        out = []
        for o in outcomes:
            batch = o.batch or {}
            out.append({"situacao": o.status, "lote": batch.get("batch_id"),
                        "lidas": batch.get("rows_read"), "aceitas": batch.get("rows_accepted"),
                        "quarentena": batch.get("rows_quarantined"), "erro": o.error})
        return {"lotes": out}

    # ------------------------------------------------------------------- pages
    from rmds.web.pages import register

    register(app, data, store, current_user, audit, threshold)
    return app
