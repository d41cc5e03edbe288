"""The FastAPI application of the JSON API under ``/api`` and FHIR ingestion at ``/fhir``
(the pages are added by :func:`rmds.server.create_app`).

Every error, whatever raised it, answers with one JSON shape::

    {"erro": {"status": 404, "tipo": "nao_encontrado", "mensagem": "...", "detalhes": []}}

(pages answer HTML). Authentication: ``Authorization: Bearer <token>`` from
``POST /api/sessao``, or the ``rmds_sessao`` cookie set by the login page. Without it the
caller is the public. What each caller may see is decided by the access policy
(:mod:`rmds.access`); every read of restricted data and every write goes to the
hash-chained audit log. One router per resource: :mod:`rmds.api.routers`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Mount, Route

from rmds import __version__
from rmds.access import AccessDenied
from rmds.access.routes import unregistered
from rmds.api.cache import ResponseCache
from rmds.api.context import ApiContext
from rmds.api.routers import ROUTERS
from rmds.api.security import install_security
from rmds.api.service import DataService
from rmds.api.snapshots import SnapshotMiddleware
from rmds.exceptions import CatalogError, ConfigurationError, RmdsError
from rmds.store import Store
from rmds.store.audit import audit_config
from rmds.store.auth import AuthError
from rmds.territory import ReferencePack

__all__ = ["DEFAULT_CACHE_BYTES", "check_routes", "create_api", "error_body", "route_keys"]

DEFAULT_CACHE_BYTES = 256 * 2**20
_TYPES = {400: "requisicao_invalida", 401: "nao_autenticado", 403: "proibido",
          404: "nao_encontrado", 405: "metodo_nao_permitido", 409: "conflito",
          422: "requisicao_invalida", 429: "muitas_tentativas", 500: "erro_interno"}

#: renders an error as a page: (request, status, message) → response
HtmlError = Callable[[Request, int, str], Response]


def error_body(status: int, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    return {"erro": {"status": status, "tipo": _TYPES.get(status, "erro"),
                     "mensagem": message, "detalhes": details or []}}


def create_api(lake_path: Path, store: Store, pack: ReferencePack, *, warm: bool = True,
               threshold: int = 5, cache_bytes: int = DEFAULT_CACHE_BYTES,
               html_error: HtmlError | None = None) -> FastAPI:
    """The API; with ``warm`` the mart is read into memory in the background at once.
    ``html_error`` renders errors outside ``/api`` and ``/fhir`` as pages."""
    data = DataService(lake_path, pack, threshold=threshold)
    from rmds.portfolio.service import load_into_store

    load_into_store(store)            # the plan's projects and milestones (idempotent)
    audit_config(store)               # a missing audit key stops the service here
    if warm:
        threading.Thread(target=data.warm, name="rmds-warm", daemon=True).start()
        data.follow()   # new snapshots are served as soon as they are committed
    ctx = ApiContext(data, store, pack, data.policy, ResponseCache(cache_bytes))

    # the lake stays open for the app's life (an ASGI lifespan may run more than once, as
    # in tests); whoever created the app closes it (``app.state.data.close()``)
    app = FastAPI(title="rmds — Rede Mineira de Dados em Saúde", version=__version__,
                  description="API de indicadores, qualidade dos dados e cargas do SUS-MG.",
                  docs_url=None, redoc_url=None)
    app.add_api_route("/docs", _api_docs, include_in_schema=False,
                      response_class=HTMLResponse)
    app.add_middleware(GZipMiddleware, minimum_size=2000)
    app.add_middleware(SnapshotMiddleware, data=data)
    app.state.ctx = ctx
    app.state.data = data
    app.state.store = store
    app.state.current_user = ctx.current_user
    app.state.audit = ctx.audit
    _errors(app, html_error)
    for router in ROUTERS:
        app.include_router(router)
    return app


#: the interactive API documentation, from files rmds serves itself (Swagger UI vendored in
#: rmds/web/static/vendor/swagger-ui): it works offline and under the strict CSP
API_DOCS_HTML = """<!doctype html>
<html lang="pt-BR"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rmds — documentação da API</title>
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
<link rel="icon" href="/static/vendor/swagger-ui/favicon-32x32.png"></head>
<body data-openapi="/openapi.json"><main id="swagger-ui"></main>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script></body></html>
"""


def _api_docs() -> HTMLResponse:
    """Documentação interativa da API (Swagger UI servido pelo próprio rmds)."""
    return HTMLResponse(API_DOCS_HTML)


def _errors(app: FastAPI, html_error: HtmlError | None) -> None:
    def wants_html(request: Request) -> bool:
        path = request.url.path
        return html_error is not None and not (
            path.startswith("/api") or path.startswith("/fhir") or path.startswith("/openapi"))

    def respond(request: Request, status: int, message: str,
                details: list[Any] | None = None) -> Response:
        if html_error is not None and wants_html(request):
            return html_error(request, status, message)
        response = JSONResponse(error_body(status, message, details), status_code=status)
        if status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    install_security(app, respond)     # bounded headers, CSRF, security headers, login guard

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "erro"
        if exc.status_code == 404 and message == "Not Found":
            message = "recurso não encontrado"
        if exc.status_code == 405:
            message = "método não permitido"
        response = respond(request, exc.status_code, message)
        response.headers.update(exc.headers or {})      # Retry-After of a 429
        return response

    @app.exception_handler(AccessDenied)
    async def denied(request: Request, exc: AccessDenied) -> Response:
        return respond(request, exc.status, str(exc))

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


def route_keys(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route of an app (a mount counts as one GET), routers
    included in it too (FastAPI keeps an included router as one route holding its own)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            yield from route_keys(included.routes, prefix + getattr(context, "prefix", ""))
        elif isinstance(route, Mount):
            yield "GET", prefix + route.path
        elif isinstance(route, Route) or hasattr(route, "methods"):
            for method in sorted(getattr(route, "methods", None) or ()):
                if method != "HEAD":
                    yield method, prefix + str(getattr(route, "path", ""))


def check_routes(app: FastAPI) -> None:
    """Refuse an app with a route the access policy does not know."""
    missing = unregistered(route_keys(app.routes))
    if missing:
        raise ConfigurationError(
            "rotas sem classe de dados na política de acesso (rmds/access/routes.py): "
            + ", ".join(f"{m} {p}" for m, p in missing))
