"""A page for every territorial unit (municipality, region, macro-region, URS, consortium,
state): how it does against the units above it and over time, grouped by the plan's
objectives; a municipality's data-quality diagnosis; the methods page that explains the
numbers (intervals, smoothing, suppression, maturity)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rmds.api.context import ApiContext
from rmds.indicators.targets import load_targets
from rmds.store.auth import PUBLIC_USER, Role, User
from rmds.territory import Level
from rmds.web.charts import line_chart
from rmds.web.pages import DRILL, LEVEL_LABELS, PERIOD, render

__all__ = ["register_units", "unit_page", "versus"]


def _viewer(ctx: ApiContext, request: Request) -> User:
    try:
        return ctx.current_user(request)
    except HTTPException:
        return PUBLIC_USER


def _page(name: str, request: Request, user: User, **context: Any) -> HTMLResponse:
    return render(name, user=user, levels=LEVEL_LABELS, path=request.url.path, **context)


def versus(cell: Mapping[str, Any] | None, other: Mapping[str, Any] | None,
           higher_is_better: bool) -> str | None:
    """Whether ``cell`` is better or worse than ``other`` (another unit, or the same unit a
    year before), said only when ``other``'s value lies outside ``cell``'s 95% interval:
    "melhor", "pior" or "semelhante"; None when either value is unknown."""
    if not cell or not other or cell.get("value") is None or other.get("value") is None:
        return None
    low, high = cell.get("ci_low"), cell.get("ci_high")
    value, reference = float(cell["value"]), float(other["value"])
    if low is not None and high is not None and float(low) <= reference <= float(high):
        return "semelhante"
    if value == reference:
        return "semelhante"
    return "melhor" if (value > reference) == higher_is_better else "pior"


def unit_page(app: FastAPI, request: Request, level: str, code: str, periodo: str | None
              ) -> Response:
    """How a territorial unit is doing against the units above it (its region or
    macro-region, and the state) and over time, indicator by indicator, grouped by
    the plan's objectives."""
    ctx: ApiContext = app.state.ctx
    data = ctx.data
    user = _viewer(ctx, request)
    if periodo is not None and not PERIOD.fullmatch(periodo):
        raise HTTPException(422, "período inválido: use AAAA, AAAA-Tn ou AAAA-MM")
    period = periodo or data.latest_year()
    if period is None:
        return _page("vazio.html", request, user)
    year = int(period[:4])
    vintage = ctx.data.pack.vintage_for_year(year)
    units = data.pack.units(Level(level), vintage)
    if code not in units:
        what = "município" if level == Level.MUNICIPALITY.value else LEVEL_LABELS[level]
        raise HTTPException(404, f"{what.lower()} não encontrado: {code}")
    unit = units[code]
    members = data.pack.members(unit) if level != Level.MUNICIPALITY.value else []
    first = data.pack.municipalities[code] if level == Level.MUNICIPALITY.value \
        else (members[0] if members else None)
    compare: list[tuple[str, str, str]] = []      # (level, code, label)
    if first is not None and level == Level.MUNICIPALITY.value:
        compare.append(("regiao", first.region[vintage],
                        f"Região {first.region_name[vintage]}"))
    elif first is not None and level == Level.REGION.value:
        compare.append(("macrorregiao", first.macro[vintage],
                        f"Macro {first.macro_name[vintage]}"))
    if level != Level.STATE.value:
        compare.append(("estado", "31", "Minas Gerais"))
    scope = ctx.scope(user)
    own, restricted = data.unit_cells(level, code, scope)
    others = []
    for other_level, other_code, label in compare:
        cells, shown = data.unit_cells(other_level, other_code, scope)
        restricted |= shown
        others.append((label, cells))
    quarters = [q for q in data.periods("trimestre")]
    previous = str(year - 1) if len(period) == 4 else None
    groups: dict[str, list[dict[str, Any]]] = {}
    state_cells = others[-1][1] if others else {}
    targets = load_targets()
    for ind in data.catalog:
        cell = own.get((ind.id, period))
        trend = [(q, (own.get((ind.id, q)) or {}).get("value"), None, None)
                 for q in quarters]
        official = targets.get(ind.id)
        groups.setdefault(ind.objective, []).append({
            "ind": ind, "own": cell, "target": official,
            "met": official.met(cell.get("value")) if official and cell else None,
            "others": [cells.get((ind.id, period)) for _, cells in others],
            "versus": versus(cell, state_cells.get((ind.id, period)),
                             ind.higher_is_better),
            "change": versus(cell, own.get((ind.id, previous)) if previous else None,
                             ind.higher_is_better),
            "trend": line_chart(
                trend, 160, 40, title=f"{ind.name}, por trimestre",
                target=(official.value, official.label) if official else None,
                compare=[(label, [(cells.get((ind.id, q)) or {}).get("value")
                                  for q in quarters]) for label, cells in others])})
    objectives = data.catalog.objectives
    grouped = [(objectives[o].text if o in objectives else "Outros", rows)
               for o, rows in groups.items()]
    if restricted:
        ctx.audit(request, user, "leitura_restrita", territory=code)
    quality = None
    if level == Level.MUNICIPALITY.value:
        quality = next((q for q in data.quality_ranking() if q["municipio"] == code),
                       None)
    parents = []
    if first is not None and level in (Level.MUNICIPALITY.value, Level.REGION.value):
        if level == Level.MUNICIPALITY.value:
            parents.append(("regiao", first.region[vintage], first.region_name[vintage],
                            "Região de saúde"))
        parents.append(("macrorregiao", first.macro[vintage], first.macro_name[vintage],
                        "Macrorregião"))
    return _page("unidade.html", request, user, unit=unit, level=level, period=period,
                groups=grouped, compare=[label for _, _, label in compare],
                quality=quality, parents=parents, members=len(members),
                years=data.periods("ano"), quarters=quarters, previous=previous,
                drill=DRILL.get(level), lists=ctx.worklists_in(user, level, code),
                lists_of=unit.name, show_indicator=True)



def _plain(text: str) -> str:
    """Lower case without accents: "São João del-Rei" → "sao joao del-rei"."""
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).strip()


def search(app: FastAPI, text: str, year: int) -> list[tuple[str, str, str]]:
    """Territorial units whose name contains ``text`` (accents and case ignored) or whose
    code is ``text``: (level, code, name), municipalities first, then by name."""
    ctx: ApiContext = app.state.ctx
    wanted = _plain(text)
    if not wanted:
        return []
    vintage = ctx.data.pack.vintage_for_year(year)
    found = []
    for level in (Level.MUNICIPALITY, Level.REGION, Level.MACRO, Level.URS,
                  Level.CONSORTIUM):
        for unit in ctx.data.pack.units(level, vintage).values():
            if wanted in _plain(unit.name) or wanted == unit.code.casefold():
                found.append((level.value, unit.code, unit.name))
    order = {level.value: n for n, level in enumerate(Level)}
    found.sort(key=lambda f: (order[f[0]], _plain(f[2]) != wanted, _plain(f[2])))
    return found


def register_units(app: FastAPI) -> None:
    """The unit pages (the municipality's is registered with the Painel's pages and built
    here), the quality diagnosis and the methods page."""
    ctx: ApiContext = app.state.ctx

    @app.get("/busca", response_class=HTMLResponse, include_in_schema=False)
    def busca(request: Request, q: str = "") -> Response:
        """Find a municipality, region, macro-region, URS or consortium by name or code;
        one match (or an exact name) opens its page."""
        user = _viewer(ctx, request)
        year = int(ctx.data.latest_year() or "2023")
        found = search(app, q[:100], year)
        # an exact name opens its unit; where units share a name (the municipality, its
        # URS), the municipality, listed first
        exact = [f for f in found if _plain(f[2]) == _plain(q)]
        if len(found) == 1 or exact:
            level, code, _ = found[0] if len(found) == 1 else exact[0]
            target = f"/municipio/{code}" if level == Level.MUNICIPALITY.value \
                else f"/unidade/{level}/{code}"
            return RedirectResponse(target, status_code=303)
        return _page("busca.html", request, user, q=q, found=found[:100],
                     total=len(found))

    @app.get("/unidade/{nivel}/{codigo}", response_class=HTMLResponse,
             include_in_schema=False)
    def unidade(request: Request, nivel: str, codigo: str, periodo: str | None = None
                ) -> Response:
        if nivel not in LEVEL_LABELS:
            raise HTTPException(404, f"nível desconhecido: {nivel}")
        if nivel == Level.MUNICIPALITY.value:
            return RedirectResponse(f"/municipio/{codigo}" + (
                f"?periodo={periodo}" if periodo else ""), status_code=308)
        return unit_page(app, request, nivel, codigo, periodo)

    @app.get("/qualidade/{codigo}", response_class=HTMLResponse, include_in_schema=False)
    def qualidade_municipio(request: Request, codigo: str) -> Response:
        """A municipality's data-maturity diagnosis, rule by rule (record counts: for the
        roles that may read that municipality's records, as the API)."""
        from rmds.api.reads import quality_detail
        from rmds.quality.rules import load_rules

        user = _viewer(ctx, request)
        if codigo not in ctx.data.municipalities:
            raise HTTPException(404, f"município não encontrado: {codigo}")
        if user.role is Role.PUBLIC:
            return RedirectResponse(f"/entrar?proxima=/qualidade/{codigo}", status_code=303)
        detail = quality_detail(ctx.data, ctx.scope(user), codigo)
        ctx.audit(request, user, "leitura_restrita", territory=codigo)
        rules = {r.id: r for r in load_rules()}
        return _page("qualidade_municipio.html", request, user, detail=detail, rules=rules,
                    municipality=ctx.data.municipalities[codigo], code=codigo)

    @app.get("/metodos", response_class=HTMLResponse, include_in_schema=False)
    def metodos(request: Request) -> Response:
        return _page("metodos.html", request, _viewer(ctx, request),
                     threshold=ctx.policy.threshold)

