"""The pages: Painel, Município, Qualidade, Cargas, login and each role's home."""

from __future__ import annotations

import datetime as dt
import gzip
import re
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from rmds.access import DataClass
from rmds.api.cache import Encoded
from rmds.api.context import ApiContext
from rmds.api.reads import consortium as read_consortium
from rmds.api.reads import queue_summary
from rmds.fmt import fmt_date, fmt_decimal, fmt_int, parse_date
from rmds.indicators.targets import load_targets
from rmds.store.auth import (
    LOGIN_FAILED,
    PUBLIC_USER,
    AuthError,
    Role,
    User,
    logout,
)
from rmds.territory import Level
from rmds.web.charts import MISSING, SUPPRESSED, classes, colour, line_chart, mesh

__all__ = ["error_page", "register"]

HERE = Path(__file__).parent
ENV = Environment(loader=FileSystemLoader(HERE / "templates"),
                  autoescape=select_autoescape(["html"]))
ENV.filters["num"] = lambda v, places=1: fmt_decimal(v, places) if v is not None else "—"
ENV.filters["int"] = lambda v: fmt_int(int(v)) if v is not None else "—"


def _date_filter(value: object) -> str:
    """A date (or its ISO text, as the store returns it) as DD/MM/AAAA; "" for none."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            return fmt_date(dt.date.fromisoformat(value[:10]))
        except ValueError:
            return value
    if isinstance(value, dt.date):
        return fmt_date(value)
    return str(value)


ENV.filters["data"] = _date_filter
LEVEL_LABELS = {level.value: level.label for level in Level}
QUALITY_COLOURS = {"avançada": "#1a9850", "intermediária": "#a6d96a", "básica": "#fdae61",
                   "inicial": "#d73027", "sem dados": MISSING}
COOKIE = "rmds_sessao"
PERIOD = re.compile(r"\d{4}(-T[1-4]|-(0[1-9]|1[0-2]))?")



def home_links(user: User) -> list[tuple[str, str]]:
    """What each role needs first on its home page, most used first: (label, link)."""
    role, code = user.role, user.scope_code or ""
    painel = f"/?nivel={user.scope_level}" if user.scope_level in LEVEL_LABELS else \
        "/?nivel=municipio"
    by_role: dict[Role, list[tuple[str, str]]] = {
        Role.ADMIN: [("Cargas e quarentena", "/cargas"), ("Usuários", "/usuarios"),
                     ("Painel de indicadores", painel),
                     ("Qualidade dos dados", "/qualidade"), ("Carteira estratégica",
                                                             "/carteira")],
        Role.STATE_ANALYST: [("Painel de indicadores", painel),
                             ("Qualidade dos dados", "/qualidade"),
                             ("Cargas e quarentena", "/cargas"),
                             ("Consórcios", "/consorcios"), ("Filas", "/filas")],
        Role.REGIONAL: [("Sua URS", f"/unidade/urs/{code}"), ("Painel da sua URS", painel),
                        ("Qualidade dos dados", "/qualidade"),
                        ("Filas dos consórcios", "/filas")],
        Role.MUNICIPAL: [("Seu município", f"/municipio/{code}"),
                         ("Painel de indicadores", painel),
                         ("Qualidade dos seus dados", f"/qualidade/{code}"),
                         ("Filas", "/filas")],
        Role.CONSORTIUM: [("Seu consórcio", f"/consorcio/{code}"), ("Filas", "/filas"),
                          ("Painel por consórcio", painel)],
        Role.PROFESSIONAL: [("Seu município", f"/municipio/{code}"),
                            ("Painel de indicadores", painel)],
        Role.STRATEGY_OFFICE: [("Carteira estratégica", "/carteira"),
                               ("Pauta do colegiado", "/carteira/pauta"),
                               ("Relatório semanal", "/carteira/relatorio"),
                               ("Painel de indicadores", "/?nivel=municipio")],
        Role.PROJECT_MANAGER: [("Seu projeto", f"/carteira/projeto/{code}"),
                               ("Carteira estratégica", "/carteira"),
                               ("Painel de indicadores", "/?nivel=municipio")],
    }
    return by_role.get(role, [("Painel de indicadores", "/")])

#: the Painel's drill-down: a click on the map at one level opens the next one down, within
#: the unit clicked (the municipality level opens the municipality's page)
DRILL = {"estado": "macrorregiao", "macrorregiao": "regiao", "regiao": "municipio",
         "urs": "municipio", "consorcio": "municipio"}
OUT_OF_FOCUS = "#f0f0f0"


def _within_param(dentro: str | None) -> tuple[str, str] | None:
    """``nivel:codigo`` of the Painel's and the tabulator's ``dentro`` parameter."""
    if not dentro:
        return None
    level, _, code = dentro.partition(":")
    if level not in LEVEL_LABELS or not code:
        raise HTTPException(422, f"filtro 'dentro' inválido: {dentro} (use nível:código)")
    return level, code


def _drill(indicator: str, level: str, period: str, municipality: str, unit: str) -> str:
    """Where a click on ``municipality`` in the map of ``level`` leads."""
    below = DRILL.get(level)
    if below is None:
        return f"/municipio/{municipality}?periodo={period}"
    return "/?" + urlencode({"indicador": indicator, "nivel": below, "periodo": period,
                             "dentro": f"{level}:{unit}"})


def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(ENV.get_template(name).render(**context), status_code=status)


def error_page(request: Request, status: int, message: str) -> Response:
    """An error as a page, under the header of whoever is signed in (the public header
    only for the public or an expired session)."""
    user = PUBLIC_USER
    current = getattr(request.app.state, "current_user", None)
    if current is not None and status != 401:
        try:
            user = current(request)
        except HTTPException:
            user = PUBLIC_USER
    return render("erro.html", status=status, user=user, status_code=status,
                  message=message, levels=LEVEL_LABELS)


def register(app: FastAPI) -> None:
    """The pages, over the API's context (``app.state.ctx``): the same services, the same
    access policy."""
    ctx: ApiContext = app.state.ctx
    data, store, audit = ctx.data, ctx.store, ctx.audit
    from rmds.portfolio.pdf import ReportRenderer

    # the weekly report's PDFs: cached, and at most two Chromium renders at a time
    app.state.reports = ReportRenderer()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def viewer(request: Request) -> User:
        try:
            return ctx.current_user(request)
        except HTTPException:
            return PUBLIC_USER

    def _unit_name(unit: tuple[str, str], year: int) -> str:
        vintage = data.pack.vintage_for_year(year)
        known = data.pack.units(Level(unit[0]), vintage).get(unit[1])
        return known.name if known is not None else unit[1]

    def page(name: str, request: Request, user: User, **context: Any) -> HTMLResponse:
        return render(name, user=user, levels=LEVEL_LABELS, path=request.url.path, **context)

    def cached_page(request: Request, user: User, key: Hashable,
                    build: Callable[[], tuple[bytes, bool]]) -> Response:
        """A page from the answer cache (as the API's answers: keyed by the page's
        parameters, the viewer and the lake's snapshot; stored gzipped once): the Painel is
        the most visited page and its map and ranking are the same for every visitor of a
        scope. A page showing restricted cells is audited every time it is served."""
        full = ("pagina", key, user.username, user.role, ctx.scope(user), data.run_id())
        hit = ctx.cache.get(full)
        if hit is None:
            raw, restricted = build()
            # kept gzipped only (a fifth of the page): nearly every browser takes it as is
            hit = Encoded(b"", gzip.compress(raw, compresslevel=1), restricted)
            ctx.cache.put(full, hit)
        if hit.restricted:
            audit(request, user, "leitura_restrita")
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(hit.gzipped, media_type="text/html; charset=utf-8",
                            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        return Response(gzip.decompress(hit.gzipped), media_type="text/html; charset=utf-8")

    def _series_chart(indicator: str, name: str, unit: str, goal: tuple[float, str] | None,
                      user: User, within: tuple[str, str] | None, scope: Any
                      ) -> tuple[str, str, tuple[str, str]]:
        """The Painel's monthly series: of the unit in focus (``dentro``), else of the
        viewer's own territory, else of the state; compared with the state."""
        level, code = within or ((user.scope_level, user.scope_code)
                                 if user.scope_level in LEVEL_LABELS and user.scope_code
                                 else ("estado", "31"))
        series, _ = data.series(indicator, level, code, "mes", scope)
        label = "Minas Gerais" if level == "estado" else _unit_name((level, code), int(
            (data.latest_year() or "2023")[:4]))
        compare: list[tuple[str, list[float | None]]] = []
        if level != "estado":
            state, _ = data.series(indicator, "estado", "31", "mes", scope)
            by_period = {r["period"]: r["value"] for r in state}
            compare.append(("Minas Gerais", [by_period.get(r["period"]) for r in series]))
        chart = line_chart([(r["period"], r["value"], r["ci_low"], r["ci_high"])
                            for r in series], title=f"{name}, {label}, por mês", unit=unit,
                           target=goal, compare=compare)
        return chart, label, (level, code)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def painel(request: Request, indicador: str = "mortalidade_infantil",
               nivel: str = "municipio", periodo: str | None = None,
               dentro: str | None = None) -> Response:
        user = viewer(request)
        if nivel not in LEVEL_LABELS:
            raise HTTPException(422, f"nível inválido: {nivel}")
        within = _within_param(dentro)
        ind = data.catalog.get(indicador)
        official = load_targets().get(indicador)
        goal = (official.value, official.label) if official else None
        years = data.periods("ano")
        quarters = data.periods("trimestre")
        months = data.periods("mes")
        period = periodo or (years[-1] if years else None)
        if period is None:
            return page("vazio.html", request, user)
        if period not in years + quarters + months:
            raise HTTPException(404, f"período sem dados: {period}")
        scope = ctx.scope(user)
        shown_period: str = period

        def build() -> tuple[bytes, bool]:
            period = shown_period
            rows, restricted = data.ranking(indicador, nivel, period, scope)
            cells = data.by_municipality(indicador, nivel, period, scope)
            year = int(period[:4])
            focus, focus_name = None, None
            if within is not None:
                from rmds.api.tabulate import units_within

                keep = units_within(data, nivel, within, year)
                rows = [r for r in rows if r["unit_code"] in keep]
                placed = data.parent_of(within[0], data.pack.vintage_for_year(year), year)
                focus = {m for m, codes in placed.items() if within[1] in codes}
                focus_name = _unit_name(within, year)
            values = [float(r["value"]) for r in rows if r["value"] is not None]
            breaks, bands = classes(values, ind.higher_is_better)
            fills, titles, links = {}, {}, {}
            names = {r["unit_code"]: r["unit_name"] or r["unit_code"] for r in rows}
            for muni, cell in cells.items():
                if focus is not None and muni not in focus:
                    fills[muni] = OUT_OF_FOCUS
                    continue
                fills[muni] = colour(cell["value"], breaks, bands, bool(cell["suppressed"]))
                shown = ("suprimido" if cell["suppressed"] and cell["value"] is None
                         else fmt_decimal(cell["value"], 2) if cell["value"] is not None else "—")
                titles[muni] = f"{data.municipalities.get(muni, muni)} — " \
                               f"{names.get(cell['unit_code'], cell['unit_code'])}: {shown}"
                links[muni] = _drill(indicador, nivel, period, muni, cell["unit_code"])
            chart, chart_title, series_unit = _series_chart(
                indicador, ind.name, ind.unit, goal, user, within, scope)
            best_first = bands[::-1] if ind.higher_is_better else bands
            legend = [(b.colour, b.label) for b in best_first]
            svg = mesh(data.pack.geometry_path(Level.MUNICIPALITY)).svg(fills, titles, links)
            notice = None
            if nivel == Level.CONSORTIUM.value:
                from rmds.consortia.roster import roster_status

                notice = roster_status(data.cursor(), data.pack)["aviso"] or None
            html = page("painel.html", request, user, ind=ind, notice=notice,
                        catalog=list(data.catalog),
                        nivel=nivel, period=period, years=years, quarters=quarters,
                        months=months, rows=rows, svg=svg, legend=legend, chart=chart,
                        vintage=data.pack.vintage_for_year(int(period[:4])).label,
                        restricted=restricted, suppressed_colour=SUPPRESSED,
                        missing_colour=MISSING, dentro=dentro if within else None,
                        focus_name=focus_name, drill=DRILL.get(nivel), target=official,
                    chart_title=chart_title, series_unit=series_unit,
                    lists=ctx.worklists_in(user, *series_unit, indicator=indicador))
            return bytes(html.body), restricted

        return cached_page(request, user, ("painel", indicador, nivel, period, dentro),
                           build)

    @app.get("/municipio/{codigo}", response_class=HTMLResponse, include_in_schema=False)
    def municipio(request: Request, codigo: str, periodo: str | None = None) -> Response:
        from rmds.web.unit_pages import unit_page

        return unit_page(app, request, Level.MUNICIPALITY.value, codigo, periodo)

    @app.get("/qualidade", response_class=HTMLResponse, include_in_schema=False)
    def qualidade(request: Request) -> Response:
        user = viewer(request)
        ranking = data.quality_ranking()
        fills = {q["municipio"]: QUALITY_COLOURS.get(q["nivel"], MISSING) for q in ranking}
        titles = {q["municipio"]: f"{q['nome']}: {fmt_decimal(q['nota'], 1)} ({q['nivel']})"
                  for q in ranking}
        svg = mesh(data.pack.geometry_path(Level.MUNICIPALITY)).svg(fills, titles)
        return page("qualidade.html", request, user, ranking=ranking, svg=svg,
                    colours=QUALITY_COLOURS)

    @app.get("/consorcios", response_class=HTMLResponse, include_in_schema=False)
    def consorcios(request: Request) -> Response:
        from rmds.consortia.report import consortia_list

        return page("consorcios.html", request, viewer(request),
                    listing=consortia_list(data.cursor(), data.pack))

    @app.get("/consorcio/{sigla}", response_class=HTMLResponse, include_in_schema=False)
    def consorcio(request: Request, sigla: str) -> Response:
        user = viewer(request)
        overview, restricted = read_consortium(data, ctx.scope(user), sigla)
        if restricted:
            audit(request, user, "leitura_restrita", territory=sigla)
        members = {m["municipio"] for m in overview["membros"]}
        fills = {code: "#08519c" for code in members}
        titles = {code: f"{data.municipalities[code]} — membro" for code in members}
        svg = mesh(data.pack.geometry_path(Level.MUNICIPALITY)).svg(fills, titles)
        return page("consorcio.html", request, user, c=overview, svg=svg)

    @app.get("/filas", response_class=HTMLResponse, include_in_schema=False)
    def filas(request: Request) -> Response:
        user = viewer(request)
        if user.role is Role.PUBLIC:
            return RedirectResponse("/entrar?proxima=/filas", status_code=303)
        answer = queue_summary(data, ctx.scope(user), limit=300)
        audit(request, user, "leitura_restrita")
        return page("filas.html", request, user, items=answer["itens"],
                    summary=answer["resumo"], at=answer["data_de_referencia"],
                    names=data.municipalities)

    def _reader(request: Request) -> User | Response:
        user = viewer(request)
        if user.role is Role.PUBLIC:
            return RedirectResponse(f"/entrar?proxima={request.url.path}", status_code=303)
        return user

    @app.get("/carteira", response_class=HTMLResponse, include_in_schema=False)
    def carteira(request: Request) -> Response:
        from rmds.portfolio.plan import load_plan
        from rmds.portfolio.service import STATUSES, board

        user = _reader(request)
        if isinstance(user, Response):
            return user
        projects = board(store)
        by_objective: dict[str, list[dict[str, Any]]] = {}
        for project in projects:
            for objective in project["objectives"]:
                by_objective.setdefault(objective, []).append(project)
        return page("carteira.html", request, user, plan=load_plan(), projects=projects,
                    by_objective=by_objective, statuses=STATUSES)

    @app.get("/carteira/projeto/{projeto}", response_class=HTMLResponse,
             include_in_schema=False)
    def carteira_projeto(request: Request, projeto: str, feito: str | None = None
                         ) -> Response:
        from rmds.portfolio.service import SEVERITIES, STATUSES, can_edit, project

        user = _reader(request)
        if isinstance(user, Response):
            return user
        item = project(store, projeto)
        year = data.latest_year()
        state, _ = data.unit_cells("estado", "31", ctx.scope(user))
        quarters = data.periods("trimestre")
        indicators = []
        for ident in item["indicators"]:
            ind = data.catalog.get(ident)
            trend = [(q, (state.get((ident, q)) or {}).get("value"), None, None)
                     for q in quarters]
            indicators.append({"ind": ind, "cell": state.get((ident, year or "")),
                               "trend": line_chart(trend, 160, 40,
                                              title=f"{ind.name}, por trimestre")})
        return page("projeto.html", request, user, p=item, statuses=STATUSES,
                    indicators=indicators, year=year, editable=can_edit(user, projeto),
                    done=feito[:80] if feito else None, severities=SEVERITIES)

    @app.get("/carteira/pauta", response_class=HTMLResponse, include_in_schema=False)
    def carteira_pauta(request: Request) -> Response:
        from rmds.portfolio.service import weekly_report

        user = _reader(request)
        if isinstance(user, Response):
            return user
        return page("pauta.html", request, user, report=weekly_report(store))

    def _report(semana: str | None) -> tuple[str, str]:
        """The weekly report's HTML, and the week it is for."""

        from rmds.portfolio.service import STATUSES, weekly_report

        try:
            week = parse_date(semana) if semana else None
        except ValueError:
            raise HTTPException(422, "semana inválida: informe a data como DD/MM/AAAA "
                                "(ou AAAA-MM-DD)") from None
        report = weekly_report(store, week)
        html = ENV.get_template("relatorio.html").render(r=report, statuses=STATUSES)
        return html, str(week or "atual")

    def _report_html(semana: str | None) -> str:
        return _report(semana)[0]

    @app.get("/carteira/relatorio", response_class=HTMLResponse, include_in_schema=False)
    def carteira_relatorio(request: Request, semana: str | None = None) -> Response:
        user = _reader(request)
        if isinstance(user, Response):
            return user
        return HTMLResponse(_report_html(semana))

    @app.get("/carteira/relatorio.pdf", include_in_schema=False)
    def carteira_relatorio_pdf(request: Request, semana: str | None = None) -> Response:
        from rmds.portfolio.pdf import RenderBusy, ReportRenderer

        user = _reader(request)
        if isinstance(user, Response):
            return user
        html, week = _report(semana)
        renderer: ReportRenderer = request.app.state.reports
        try:
            pdf = renderer.pdf(week, html)
        except RenderBusy as busy:
            raise HTTPException(503, str(busy),
                                headers={"Retry-After": str(busy.retry_after)}) from None
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": "inline; filename=relatorio.pdf"})

    @app.get("/cargas", response_class=HTMLResponse, include_in_schema=False)
    def cargas(request: Request) -> Response:
        user = viewer(request)
        if user.role is Role.PUBLIC:
            return RedirectResponse("/entrar?proxima=/cargas", status_code=303)
        ctx.policy.require(ctx.scope(user), DataClass.RECORD)      # the whole state's loads
        # the quarantine shown beside may hold personal data
        ctx.policy.require(ctx.scope(user), DataClass.IDENTITY)
        audit(request, user, "leitura_restrita")
        return page("cargas.html", request, user, batches=data.batches(),
                    quarantine=data.quarantine(50))

    @app.get("/entrar", response_class=HTMLResponse, include_in_schema=False)
    def entrar(request: Request, proxima: str = "/inicio") -> Response:
        return page("entrar.html", request, viewer(request), proxima=proxima, message=None)

    @app.post("/entrar", response_class=HTMLResponse, include_in_schema=False)
    def entrar_post(request: Request, usuario: str = Form(...), senha: str = Form(...),
                    proxima: str = Form("/inicio")) -> Response:
        from rmds.api.security import attempt_login, secure_cookie

        try:
            if any(ord(ch) < 32 for ch in usuario) or "\x00" in senha:
                raise AuthError(LOGIN_FAILED)
            token, _ = attempt_login(request, store, usuario[:80], senha[:200])
        except AuthError as error:
            return page("entrar.html", request, PUBLIC_USER, proxima=proxima,
                        message=str(error))
        except HTTPException as refused:       # too many attempts: wait and try again
            shown = page("entrar.html", request, PUBLIC_USER, proxima=proxima,
                         message=str(refused.detail))
            shown.status_code = refused.status_code
            shown.headers.update(refused.headers or {})
            return shown
        target = proxima if proxima.startswith("/") and not proxima.startswith("//") \
            else "/inicio"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=8 * 3600,
                            secure=secure_cookie(request))
        return response

    @app.get("/sair", include_in_schema=False)
    def sair(request: Request) -> Response:
        token = request.cookies.get(COOKIE)
        if token:
            logout(store, token)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/inicio", response_class=HTMLResponse, include_in_schema=False)
    def inicio(request: Request) -> Response:
        user = viewer(request)
        if user.role is Role.PUBLIC:
            return RedirectResponse("/entrar", status_code=303)
        units: list[tuple[str, str]] = []
        if user.scope_level == Level.MUNICIPALITY.value and user.scope_code:
            units = [(user.scope_code, data.municipalities.get(user.scope_code, ""))]
        elif user.scope_level and user.scope_code:
            for v in (data.pack.current_vintage,):
                parents = data.parent_of(user.scope_level, v)
                units = sorted((m, data.municipalities[m]) for m, codes in parents.items()
                               if user.scope_code in codes)
        return page("inicio.html", request, user, units=units, links=home_links(user))
