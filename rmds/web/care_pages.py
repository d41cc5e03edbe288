"""The care record's page (``/prontuario``): a form (person, purpose, justification for
breaking the glass) and the record, opened through :func:`rmds.care.opening.open_record`
like the API's route, so the same policy and the same audit entry apply."""

from __future__ import annotations

from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from rmds.access import AccessDenied, DataClass, Purpose
from rmds.api.context import ApiContext
from rmds.care.html import record_html
from rmds.care.opening import open_record
from rmds.care.projection import KeptRecord
from rmds.care.record import CareRecord, PersonNotFound
from rmds.care.worklists import audited_export, load_worklists
from rmds.store.auth import PUBLIC_USER, Role, User
from rmds.web.pages import ENV, LEVEL_LABELS, render

__all__ = ["record_page_part", "register_care"]


def record_page_part(record: CareRecord) -> Markup:
    """The person's part of the record page: kept whole with the record when it was
    (:func:`rmds.care.projection.keep_whole`), else written now; the same HTML."""
    kept = record.html if isinstance(record, KeptRecord) else None
    return Markup(kept if kept is not None else record_html(record))


ENV.filters["prontuario_html"] = record_page_part


def register_care(app: FastAPI) -> None:
    ctx: ApiContext = app.state.ctx

    def viewer(request: Request) -> User:
        try:
            return ctx.current_user(request)
        except HTTPException:
            return PUBLIC_USER

    def form(request: Request, user: User, status: int = 200, **extra: object
             ) -> HTMLResponse:
        return render("prontuario.html", status=status, user=user, levels=LEVEL_LABELS,
                      path=request.url.path, purposes=list(Purpose), **extra)

    def allowed(request: Request, user: User) -> Response | None:
        if user.role is Role.PUBLIC:
            return RedirectResponse("/entrar?proxima=/prontuario", status_code=303)
        if not ctx.policy.may_read_somewhere(user.role, DataClass.CARE):
            raise AccessDenied("o prontuário é só para quem cuida do paciente",
                               signed_in=True)
        return None

    @app.get("/prontuario", response_class=HTMLResponse, include_in_schema=False)
    def care_form(request: Request) -> Response:
        user = viewer(request)
        return allowed(request, user) or form(request, user)

    @app.post("/prontuario", response_class=HTMLResponse, include_in_schema=False)
    def care_page(request: Request, pessoa: str = Form(..., max_length=20),
                  finalidade: str = Form("", max_length=40),
                  justificativa: str = Form("", max_length=400)) -> Response:
        user = viewer(request)
        refused = allowed(request, user)
        if refused is not None:
            return refused
        try:
            opened = open_record(ctx.data.cursor, ctx.store, ctx.policy, ctx.scope(user),
                                 projection=ctx.data.care(),
                                 username=user.username, key=pessoa, purpose=finalidade,
                                 justification=justificativa or None,
                                 origin=ctx.origin(request))
        except PersonNotFound as error:
            return form(request, user, 404, error=str(error))
        except AccessDenied as error:
            return form(request, user, 403, error=str(error), glass="quebra de vidro" in
                        str(error), pessoa=pessoa, finalidade=finalidade)
        return form(request, user, record=opened.record, grant=opened.grant)

    # ------------------------------------------------------------------ work lists
    @app.get("/listas", response_class=HTMLResponse, include_in_schema=False)
    async def worklists_page(request: Request, municipio: str | None = Query(
            None, pattern=r"^\d{7}$")) -> Response:
        user = viewer(request)
        refused = allowed(request, user)
        if refused is not None:
            return refused
        town = ctx.team_town(user, municipio)
        lists = load_worklists()
        found = await run_in_threadpool(ctx.team_counts, user, town)
        return render("listas.html", user=user, levels=LEVEL_LABELS, path=request.url.path,
                      lists=list(lists.values()), found=found, town=town,
                      town_name=ctx.data.municipalities[town])

    @app.get("/listas/{lista}.csv", include_in_schema=False)
    async def worklist_download(request: Request, lista: str, municipio: str | None = Query(
            None, pattern=r"^\d{7}$")) -> Response:
        user = viewer(request)
        if user.role is Role.PUBLIC:
            raise AccessDenied("é preciso entrar para ver este recurso", signed_in=False)
        town = ctx.team_town(user, municipio)

        def made() -> bytes:
            wl, entries = ctx.team_list(user, town, lista)
            return audited_export(ctx.store, entries, wl, username=user.username,
                                  role=user.role.value, territory=town,
                                  origin=ctx.origin(request))

        content = await run_in_threadpool(made)
        return Response(content, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{lista}-{town}.csv"'})
