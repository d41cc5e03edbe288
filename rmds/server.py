"""The whole server: the API (:mod:`rmds.api`) and the pages (:mod:`rmds.web`), checked
against the access policy's table of routes before it serves anything."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from rmds.api.app import DEFAULT_CACHE_BYTES, check_routes, create_api
from rmds.store import Store
from rmds.territory import ReferencePack
from rmds.web.admin_pages import register_admin
from rmds.web.care_pages import register_care
from rmds.web.citizen_pages import register_citizen
from rmds.web.pages import error_page, register
from rmds.web.portfolio_pages import register_portfolio_forms
from rmds.web.tabulator_page import register_tabulator
from rmds.web.unit_pages import register_units

__all__ = ["create_app"]


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
