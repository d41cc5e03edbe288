"""The whole server: the API (:mod:`rmds.api`) and the pages (:mod:`rmds.web`), checked
against the access policy's table of routes before it serves anything."""

from __future__ import annotations

import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request, Response

from rmds.api.app import DEFAULT_CACHE_BYTES, check_routes, create_api
from rmds.settings import SETTINGS, Settings
from rmds.store import Store
from rmds.territory import ReferencePack
from rmds.web.admin_pages import register_admin
from rmds.web.care_pages import register_care
from rmds.web.citizen_pages import register_citizen
from rmds.web.pages import error_page, register
from rmds.web.portfolio_pages import register_portfolio_forms
from rmds.web.tabulator_page import register_tabulator
from rmds.web.unit_pages import register_units

__all__ = ["app_from_environment", "create_app", "served_app", "worker_environment"]

#: the lake a worker serves (``rmds serve --workers``: set by the command for its workers)
LAKE_ENV = "RMDS_LAKE"


def create_app(lake_path: Path, store: Store, pack: ReferencePack, *, warm: bool = True,
               threshold: int = 5, cache_bytes: int = DEFAULT_CACHE_BYTES) -> FastAPI:
    """The API and the pages over one lake; with ``warm`` the mart is read into memory in
    the background at once. Whoever creates the app closes the lake
    (``app.state.data.close()``)."""
    app = create_api(lake_path, store, pack, warm=warm, threshold=threshold,
                     cache_bytes=cache_bytes, html_error=error_page)
    register(app)
    register_care(app)
    register_citizen(app)
    register_units(app)
    register_admin(app)
    register_portfolio_forms(app)
    register_tabulator(app)
    check_routes(app)
    return app


def served_app(settings: Settings, lake_path: Path) -> FastAPI:
    """The app as ``rmds serve`` runs it: the store, the reference pack, the small-cell
    threshold, the cache and the security policy of ``settings``."""
    from rmds.api.security import SecurityPolicy
    from rmds.store import open_store

    app = create_app(lake_path, open_store(settings.store),
                     ReferencePack(settings.reference_dir, settings.population_source),
                     threshold=settings.small_cell_threshold,
                     cache_bytes=settings.api_cache_mb * 2**20)
    app.state.security = SecurityPolicy.resolve(settings.trusted_proxies or None,
                                                settings.secure_cookie)
    return app


def worker_environment(settings: Settings, lake_path: Path) -> dict[str, str]:
    """The environment that makes each worker process resolve exactly the command's
    settings (command-line options included) and serve its lake."""
    values = {s.env: getattr(settings, s.name, None) for s in SETTINGS}
    found = {env: str(value) for env, value in values.items() if value not in (None, "")}
    found[LAKE_ENV] = str(lake_path)
    return found


def app_from_environment() -> FastAPI:
    """The app of one worker of ``rmds serve --workers N`` (uvicorn's factory, called in
    each worker process): settings from the environment :func:`worker_environment` set.
    Every worker reads the same lake (readers never wait for writers) and writes the same
    audit chain (each append takes the store's write lock); sessions live in the store, so
    a signed-in user may reach any worker."""
    settings = Settings.resolve()
    app = served_app(settings, Path(os.environ.get(LAKE_ENV) or settings.lake))
    app.router.on_shutdown.append(app.state.data.close)
    worker = secrets.token_hex(4)       # which worker answered (an operator's clue), no pid

    @app.middleware("http")
    async def name_the_worker(request: Request,
                              call_next: Callable[[Request], Awaitable[Response]]
                              ) -> Response:
        response = await call_next(request)
        response.headers["X-Rmds-Worker"] = worker
        return response

    return app
