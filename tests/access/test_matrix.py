"""Every policy cell (role × place × data class) checked on every way out, from one table.

:data:`PROBES` says, for each API route and page that serves lake data, how to ask it about
one unit and how to read the form of the answer (allowed, public form, denied). Every
actor asks every probe about units inside and outside their territory, in one order and
then the reverse, through the answer cache; each answer must be what
:data:`rmds.access.RULES` gives for that actor's role, the unit's place and the route's
data class. The places are worked out here from the reference pack (the actors' declared
territories), not by the policy under test. A route that serves lake data without a probe,
or a route missing from the policy's table, fails the test. The command line (the operator
and the public) and its downloads run through the same table. Writes too: ``POST /fhir`` is
asked about a patient resident in each unit, so a write is placed like a read.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rmds.access import RULES, DataClass, Decision, Place
from rmds.access.routes import COMMANDS, ROUTES
from rmds.api.app import route_keys
from rmds.cli import cli
from rmds.docgen import _walk
from rmds.portfolio.plan import load_plan
from rmds.store import Store
from rmds.store.auth import Role, add_user, citizen_session
from rmds.territory import Level, ReferencePack
from tests.service_fixtures import PASSWORD, token

BH, UDI = "3106200", "3170206"
THRESHOLD = 5
ALLOW, PUBLIC, DENY = Decision.ALLOW, Decision.PUBLIC_FORM, Decision.DENY


@dataclass(frozen=True)
class Actor:
    name: str
    role: Role
    territory: str | None                 # municipality, URS or consortium code
    headers: dict[str, str]


@dataclass(frozen=True)
class Unit:
    """A municipality with a small cell, and its consortium."""

    code: str
    indicator: str
    period: str


@dataclass
class World:
    client: TestClient
    pack: ReferencePack
    consortium: str                       # a consortium with small counts
    units: list[Unit]


def place(actor: Actor, world: World, level: str, code: str) -> Place:
    """Where a unit lies for an actor, from the actor's declared territory."""
    role, own = actor.role, actor.territory
    if role in (Role.ADMIN, Role.STATE_ANALYST):
        return Place.INSIDE
    if own is None or role is Role.PROJECT_MANAGER:
        return Place.OUTSIDE
    pack = world.pack
    if level == Level.CONSORTIUM.value:
        return Place.INSIDE if role is Role.CONSORTIUM and code == own else Place.OUTSIDE
    if role in (Role.MUNICIPAL, Role.PROFESSIONAL):
        inside = code == own
    elif role is Role.REGIONAL:
        inside = pack.municipalities[code].urs == pack.units(Level.URS)[own].name
    else:
        inside = code in pack.consortium_members[own]
    return Place.INSIDE if inside else Place.OUTSIDE


# ----------------------------------------------------------------- reading answers
def _status(r: Any) -> Decision | None:
    if r.status_code in (401, 403) or (r.status_code == 303
                                       and "/entrar" in r.headers.get("location", "")):
        return DENY
    assert r.status_code == 200, (r.request.url, r.status_code, r.text[:300])
    return None


def _cell_form(cells: list[dict[str, Any]], unit: str, key: str = "unidade") -> Decision:
    [cell] = [c for c in cells if c[key] == unit]
    assert cell["suprimido"], "the probe's cell is small"
    return ALLOW if cell["valor"] is not None else PUBLIC


def _page_form(html: str, row_attr: str) -> Decision:
    match = re.search(rf'<tr {row_attr}>(.*?)</tr>', html, re.S)
    assert match, row_attr
    return PUBLIC if 'class="suprimido"' in match.group(1) else ALLOW


def _small(overview: dict[str, Any]) -> bool:
    counts = [i["realizados"] for i in overview["esperas"]] + \
        [i["na_fila"] for i in overview["fila"]] + \
        [overview["producao"][k] for k in ("realizados", "viagens_transporte",
                                           "pessoas_transportadas")]
    return any(c is not None and 0 < c < THRESHOLD for c in counts)


Probe = Callable[[TestClient, dict[str, str], Unit, World], Decision]


def _values(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    r = c.get(f"/api/indicadores/{u.indicator}/valores?nivel=municipio&periodo={u.period}",
              headers=h)
    return _status(r) or _cell_form(r.json()["valores"], u.code)


def _ranking(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    r = c.get(f"/api/indicadores/{u.indicator}/ranking?nivel=municipio&periodo={u.period}"
              "&limite=1000", headers=h)
    return _status(r) or _cell_form(r.json()["valores"], u.code)


def _series(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    r = c.get(f"/api/indicadores/{u.indicator}/serie?nivel=municipio&unidade={u.code}"
              "&tipo=ano", headers=h)
    return _status(r) or _cell_form([x for x in r.json()["valores"]
                                     if x["periodo"] == u.period], u.code)


def _map(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    r = c.get(f"/api/mapa/{u.indicator}?nivel=municipio&periodo={u.period}", headers=h)
    if (d := _status(r)) is not None:
        return d
    return _cell_form([{**v, "m": m} for m, v in r.json()["municipios"].items()], u.code,
                      key="m")


def _panel(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    r = c.get(f"/?indicador={u.indicator}&nivel=municipio&periodo={u.period}", headers=h)
    return _status(r) or _page_form(r.text, f'data-unidade="{u.code}"')


def _municipality_page(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    r = c.get(f"/municipio/{u.code}?periodo={u.period}", headers=h)
    return _status(r) or _page_form(r.text, f'data-indicador="{u.indicator}"')


def _tabulator_api(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    r = c.get(f"/api/tabulador?indicador={u.indicator}&linhas=municipio&colunas=ano"
              f"&de={u.period}&ate={u.period}", headers=h)
    if (d := _status(r)) is not None:
        return d
    [row] = [line for line in r.json()["linhas_tabela"] if line["unidade"] == u.code]
    return ALLOW if row["valores"][0] is not None else PUBLIC


def _tabulator_page(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    r = c.get(f"/tabulador?indicador={u.indicator}&linhas=municipio&colunas=ano"
              f"&de={u.period}&ate={u.period}", headers=h)
    return _status(r) or _page_form(r.text, f'data-unidade="{u.code}"')


def _unit_page(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    """/unidade/municipio/… is the municipality's page (a redirect, followed)."""
    r = c.get(f"/unidade/municipio/{u.code}?periodo={u.period}", headers=h)
    return _status(r) or _page_form(r.text, f'data-indicador="{u.indicator}"')


def _quality_page(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    return _status(c.get(f"/qualidade/{u.code}", headers=h, follow_redirects=False)) \
        or ALLOW


def _consortium_api(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    r = c.get(f"/api/consorcios/{w.consortium}", headers=h)
    return _status(r) or (ALLOW if _small(r.json()) else PUBLIC)


def _consortium_page(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    r = c.get(f"/consorcio/{w.consortium}", headers=h)
    return _status(r) or (PUBLIC if 'class="suprimido"' in r.text else ALLOW)


def _quality_detail(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    return _status(c.get(f"/api/qualidade/{u.code}", headers=h)) or ALLOW


def _queue(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    return _status(c.get(f"/api/filas?municipio={u.code}&limite=5", headers=h)) or ALLOW


def _state_wide(url: str) -> Probe:
    def probe(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
        return _status(c.get(url, headers=h, follow_redirects=False)) or ALLOW
    return probe


def _fhir(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    # a write is placed by the patient's residence (the unit): a Bundle of a type the
    # reader refuses, so whoever passes the policy gets an error for the body and nothing
    # loads
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"fullUrl": "urn:uuid:p", "resource": {"resourceType": "Patient", "id": "matriz",
                                               "address": [{"city": u.code}]}}]}
    r = c.post("/fhir", json=bundle, headers=h)
    if r.status_code in (401, 403):
        return DENY
    if r.status_code == 422 or (r.status_code == 200 and all(
            lot["situacao"] == "erro" for lot in r.json()["lotes"])):
        return ALLOW
    pytest.fail(r.text)


def _aggregate(url: str) -> Probe:
    return _state_wide(url)


def _quality_ranking(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    """The unit's own aggregate (its maturity score) in the state's ranking."""
    r = c.get("/api/qualidade", headers=h)
    if (d := _status(r)) is not None:
        return d
    [row] = [q for q in r.json() if q["municipio"] == u.code]
    return ALLOW if row["nota"] is not None else PUBLIC


def _resident(w: World, code: str) -> int:
    """A person of the index all of whose records place them in municipality ``code``."""
    cursor = w.client.app.state.data.cursor()  # type: ignore[attr-defined]
    rows = cursor.execute(
        "SELECT l.person_id FROM person_links l JOIN (SELECT source_system || '|' || "
        "source_file || '|' || coalesce(record_key, CAST(source_row AS VARCHAR)) || '|' || "
        "role AS uid, residence_municipality AS m FROM identity_records) r "
        "ON l.record_uid = r.uid GROUP BY l.person_id HAVING bool_and(r.m = ?) "
        "ORDER BY 1 LIMIT 1", [code]).fetchall()
    assert rows, f"the fixture has a linked resident of {code}"
    return int(rows[0][0])


def _care_record(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    """Allowed with a purpose; else, with a written justification: break the glass."""
    person = str(_resident(w, u.code))
    purpose = "auditoria" if h and c.get("/api/eu", headers=h).json().get(
        "papel") == Role.ADMIN.value else "cuidado"
    body = {"pessoa": person, "finalidade": purpose}
    if _status(c.post("/api/prontuario", json=body, headers=h)) is None:
        return ALLOW
    glass = {**body, "justificativa": "paciente atendido em urgência fora do município"}
    r = c.post("/api/prontuario", json=glass, headers=h)
    if _status(r) is None:
        assert r.json()["acesso"]["quebra_de_vidro"]
        return Decision.BREAK_GLASS
    return DENY


def _summary(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    """The same rule as the record, through the FHIR $summary."""
    url = f"/fhir/Patient/{_resident(w, u.code)}/$summary"
    purpose = "auditoria" if h and c.get("/api/eu", headers=h).json().get(
        "papel") == Role.ADMIN.value else "cuidado"
    if _status(c.get(url, params={"finalidade": purpose}, headers=h)) is None:
        return ALLOW
    r = c.get(url, params={"finalidade": purpose, "justificativa":
                           "paciente atendido em urgência fora do município"}, headers=h)
    return DENY if _status(r) is not None else Decision.BREAK_GLASS


def _care_form(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    """The form: for whoever may open a record somewhere."""
    return _status(c.get("/prontuario", headers=h, follow_redirects=False)) or ALLOW


def _care_page(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    """The page: the same rule as the API's route."""
    purpose = "auditoria" if h and c.get("/api/eu", headers=h).json().get(
        "papel") == Role.ADMIN.value else "cuidado"
    body = {"pessoa": str(_resident(w, u.code)), "finalidade": purpose}
    if _status(c.post("/prontuario", data=body, headers=h, follow_redirects=False)) is None:
        return ALLOW
    r = c.post("/prontuario", headers=h, follow_redirects=False, data={
        **body, "justificativa": "paciente atendido em urgência fora do município"})
    if _status(r) is None:
        assert 'data-quebra-de-vidro="sim"' in r.text
        return Decision.BREAK_GLASS
    return DENY


def _corrections(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    """The review queue of citizens' reports: whoever opens records without breaking the
    glass somewhere (the professional in their municipality, the administrator)."""
    return _status(c.get("/correcoes", headers=h, follow_redirects=False)) or ALLOW


def _resolve_report(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    """Marking a citizen's report reviewed: the same reviewers as the queue (a report that
    does not exist answers 404 to them, after the policy let them in)."""
    r = c.post("/correcoes/999999/resolver", headers=h, follow_redirects=False)
    return ALLOW if r.status_code == 404 else _status(r) or ALLOW


def _judge_glass(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
    """A verdict on a break-glass opening: the same reviewers as the queue (an opening that
    does not exist answers 404 to them, after the policy let them in)."""
    r = c.post("/correcoes/quebras/999999/parecer", data={"parecer": "justificada"},
               headers=h, follow_redirects=False)
    return ALLOW if r.status_code == 404 else _status(r) or ALLOW


def _lists(path: str) -> Probe:
    """A work list (page or download) of the unit's municipality: the care rule with care
    coordination as the purpose. Where the policy's cell is breaking the glass, the route
    says so and refuses: a list of named people is never had that way."""
    def probe(c: TestClient, h: dict[str, str], u: Unit, w: World) -> Decision:
        r = c.get(f"{path}?municipio={u.code}", headers=h, follow_redirects=False)
        if r.status_code == 403 and "quebra de vidro" in r.text:
            return Decision.BREAK_GLASS
        return _status(r) or ALLOW
    return probe


#: route → (probe, the level and code of the unit it asks about: None for the whole state)
PROBES: dict[tuple[str, str], tuple[Probe, str | None]] = {
    ("GET", "/api/indicadores/{indicador}/valores"): (_values, "municipio"),
    ("GET", "/api/indicadores/{indicador}/ranking"): (_ranking, "municipio"),
    ("GET", "/api/indicadores/{indicador}/serie"): (_series, "municipio"),
    ("GET", "/api/mapa/{indicador}"): (_map, "municipio"),
    ("GET", "/"): (_panel, "municipio"),
    ("GET", "/municipio/{codigo}"): (_municipality_page, "municipio"),
    ("GET", "/api/consorcios/{sigla}"): (_consortium_api, "consorcio"),
    ("GET", "/consorcio/{sigla}"): (_consortium_page, "consorcio"),
    ("GET", "/api/qualidade/{municipio}"): (_quality_detail, "municipio"),
    ("GET", "/api/filas"): (_queue, "municipio"),
    ("GET", "/filas"): (_state_wide("/filas"), "own"),
    ("GET", "/api/cargas"): (_state_wide("/api/cargas"), None),
    ("GET", "/cargas"): (_state_wide("/cargas"), None),
    ("GET", "/api/quarentena"): (_state_wide("/api/quarentena?limite=5"), None),
    ("POST", "/fhir"): (_fhir, "municipio"),
    ("GET", "/api/qualidade"): (_quality_ranking, "municipio"),
    ("GET", "/api/consorcios"): (_aggregate("/api/consorcios"), None),
    ("GET", "/qualidade"): (_aggregate("/qualidade"), None),
    ("GET", "/consorcios"): (_aggregate("/consorcios"), None),
    ("POST", "/api/prontuario"): (_care_record, "municipio"),
    ("GET", "/fhir/Patient/{pessoa}/$summary"): (_summary, "municipio"),
    ("GET", "/prontuario"): (_care_form, "own"),
    ("POST", "/prontuario"): (_care_page, "municipio"),
    ("GET", "/correcoes"): (_corrections, "own"),
    ("POST", "/correcoes/{aviso}/resolver"): (_resolve_report, "own"),
    ("POST", "/correcoes/quebras/{seq}/parecer"): (_judge_glass, "own"),
    ("GET", "/listas"): (_lists("/listas"), "municipio"),
    ("GET", "/listas/{lista}.csv"): (_lists("/listas/vacinas_atrasadas_menores_2.csv"),
                                     "municipio"),
    ("GET", "/api/listas"): (_lists("/api/listas"), "municipio"),
    ("GET", "/api/listas/{lista}"): (_lists("/api/listas/vacinas_atrasadas_menores_2"),
                                     "municipio"),
    ("GET", "/api/tabulador"): (_tabulator_api, "municipio"),
    ("GET", "/tabulador"): (_tabulator_page, "municipio"),
    ("GET", "/unidade/{nivel}/{codigo}"): (_unit_page, "municipio"),
    ("GET", "/qualidade/{codigo}"): (_quality_page, "municipio"),
}


# ------------------------------------------------------------------------ fixtures
def _small_cell(client: TestClient, code: str) -> Unit:
    cursor = client.app.state.data.cursor()  # type: ignore[attr-defined]
    rows = cursor.execute(
        "SELECT indicator_id, period FROM indicator_values WHERE level = 'municipio' AND "
        "unit_code = ? AND suppressed AND value IS NOT NULL AND period_type = 'ano' "
        "ORDER BY 1, 2 LIMIT 1", [code]).fetchall()
    assert rows, f"the fixture has a small cell in {code}"
    return Unit(code, rows[0][0], rows[0][1])


@pytest.fixture(scope="module")
def world(client: TestClient, pack: ReferencePack) -> World:
    analyst = token(client, "ana")
    # a consortium whose restricted overview has small counts, and a member with small cells
    for sigla in sorted(s for s, m in pack.consortium_members.items() if m):
        if _small(client.get(f"/api/consorcios/{sigla}", headers=analyst).json()):
            break
    else:
        pytest.fail("no consortium of the fixture has small counts")
    cursor = client.app.state.data.cursor()  # type: ignore[attr-defined]
    member = cursor.execute(
        "SELECT unit_code FROM indicator_values WHERE level = 'municipio' AND suppressed "
        "AND value IS NOT NULL AND period_type = 'ano' AND list_contains(?, unit_code) "
        "ORDER BY 1 LIMIT 1", [sorted(pack.consortium_members[sigla])]).fetchall()[0][0]
    units = [_small_cell(client, code) for code in (BH, UDI, member)]
    return World(client, pack, sigla, units)


@pytest.fixture(scope="module")
def actors(client: TestClient, store: Store, world: World) -> list[Actor]:
    suffix = store.engine.dialect.name
    project = load_plan().projects[0].id
    declared = [("adm", Role.ADMIN, None), ("ana", Role.STATE_ANALYST, None),
                ("urs", Role.REGIONAL, "belo-horizonte"), ("mun", Role.MUNICIPAL, BH),
                ("cons", Role.CONSORTIUM, world.consortium),
                ("prof", Role.PROFESSIONAL, BH), ("aest", Role.STRATEGY_OFFICE, None),
                ("gp", Role.PROJECT_MANAGER, project)]
    out = [Actor("publico", Role.PUBLIC, None, {})]
    for short, role, territory in declared:
        name = f"matriz-{short}-{suffix}"
        add_user(store, name, PASSWORD, role, territory)
        out.append(Actor(name, role, None if role is Role.PROJECT_MANAGER else territory,
                         token(client, name)))
    # a citizen signed in through the identity provider: like the public on every route
    session, citizen = citizen_session(store, "19100000000")
    out.append(Actor(citizen.username, Role.CITIZEN, None,
                     {"Authorization": f"Bearer {session}"}))
    return out


# --------------------------------------------------------------------------- tests
def test_every_route_is_in_the_policy_table_and_every_data_route_has_a_probe(
        app: FastAPI) -> None:
    keys = set(route_keys(app.routes))
    assert keys - set(ROUTES) == set(), "routes the access policy does not know"
    assert set(ROUTES) - keys == set(), "the policy lists routes the app does not have"
    data_routes = {k for k, cls in ROUTES.items() if isinstance(cls, DataClass)}
    assert data_routes - set(PROBES) == set(), "data routes without a probe"


def test_every_cli_command_is_in_the_policy_table() -> None:
    commands = {" ".join(path[1:]) for path, command in _walk(cli, ["rmds"])
                if not isinstance(command, click.Group) or command.invoke_without_command}
    commands.discard("")
    assert commands == set(COMMANDS)


def _expected(actor: Actor, world: World, unit: Unit, level: str | None,
              cls: DataClass) -> tuple[Place, Decision]:
    if level is None:          # the whole state: inside only for the state roles
        where = place(actor, world, "estado", "31") if actor.role in (
            Role.ADMIN, Role.STATE_ANALYST) else Place.OUTSIDE
    elif level == "own":       # the actor's own territory (or the state when they have none)
        where = Place.INSIDE if actor.role in (Role.ADMIN, Role.STATE_ANALYST) or (
            actor.territory is not None) else Place.OUTSIDE
    elif level == "consorcio":
        where = place(actor, world, level, world.consortium)
    else:
        where = place(actor, world, level, unit.code)
    return where, RULES[actor.role, where, cls]


def test_every_policy_cell_on_every_route_through_the_cache(
        world: World, actors: list[Actor]) -> None:
    client = world.client
    client.app.state.ctx.cache.clear()  # type: ignore[attr-defined]
    seen: set[tuple[Role, Place, DataClass]] = set()
    problems = []
    for order in (actors, actors[::-1]):
        for unit in world.units:
            for key, (probe, level) in PROBES.items():
                if level not in ("municipio", None) and unit != world.units[0]:
                    continue               # not about the unit: asked once per order
                if level is None and unit != world.units[0]:
                    continue
                cls = ROUTES[key]
                assert isinstance(cls, DataClass)
                for actor in order:
                    where, expected = _expected(actor, world, unit, level, cls)
                    got = probe(client, actor.headers, unit, world)
                    seen.add((actor.role, where, cls))
                    if got is not expected:
                        problems.append((actor.role.value, where.value, cls.value,
                                         f"{key[0]} {key[1]}", unit.code, got.value,
                                         expected.value))
    assert problems == [], "\n".join(map(str, problems))
    # every reachable cell was asked: the state roles hold everything (inside only), the
    # roles without territory hold nothing (outside only), the scoped roles both
    reachable = {(role, where, cls) for (role, where, cls) in RULES
                 if not (role in (Role.ADMIN, Role.STATE_ANALYST) and where is Place.OUTSIDE)
                 and not (role in (Role.PUBLIC, Role.STRATEGY_OFFICE, Role.PROJECT_MANAGER,
                                   Role.CITIZEN) and where is Place.INSIDE)}
    assert reachable - seen == set()


# ----------------------------------------------------------------- command line
def test_the_command_line_and_its_downloads_follow_the_same_table(
        world: World, tmp_path: Path) -> None:
    """The command line has two actors: the operator (administrator) and, where a command
    offers a public form, the public."""
    # the service's own lake: the live lake lets commands read it while the app serves it
    lake = Path(world.client.app.state.data.lake_path)  # type: ignore[attr-defined]
    runner = CliRunner()
    unit = world.units[1]
    for role, public in ((Role.ADMIN, False), (Role.PUBLIC, True)):
        where = Place.INSIDE if role is Role.ADMIN else Place.OUTSIDE
        # indicators show: small cells
        args = ["indicators", "show", unit.indicator, "--lake", str(lake), "--level",
                "municipio", "--period", unit.period, "--json"]
        shown = runner.invoke(cli, args + ([] if public else ["--restricted"]))
        assert shown.exit_code == 0, shown.output
        [cell] = [c for c in json.loads(shown.output)["valores"]
                  if c["unit_code"] == unit.code]
        got = ALLOW if cell["value"] is not None else PUBLIC
        assert got is RULES[role, where, DataClass.SMALL_CELL], role
        # the export download: small cells
        target = tmp_path / f"mart-{role.value}.csv"
        args = ["indicators", "export", str(target), "--lake", str(lake)]
        made = runner.invoke(cli, args + ([] if public else ["--restricted"]))
        assert made.exit_code == 0, made.output
        with target.open(encoding="utf-8") as handle:
            [row] = [r for r in csv.DictReader(handle)
                     if (r["indicator_id"], r["level"], r["unit_code"], r["period"])
                     == (unit.indicator, "municipio", unit.code, unit.period)]
        got = ALLOW if row["value"] else PUBLIC
        assert got is RULES[role, where, DataClass.SMALL_CELL], role
    # identity and record-level data: the operator only (the command line has no public
    # form for them), as the table allows the administrator
    assert RULES[Role.ADMIN, Place.INSIDE, DataClass.IDENTITY] is ALLOW
    exported = runner.invoke(cli, ["export", "parquet", str(tmp_path / "pq"), "--lake",
                                   str(lake), "--include-protected"])
    assert exported.exit_code == 0, exported.output
    assert (tmp_path / "pq" / "identity_records").exists()
    report = runner.invoke(cli, ["consortia", "report", world.consortium, "--lake", str(lake),
                                 "--json"])
    assert report.exit_code == 0, report.output
    assert _small(json.loads(report.output))      # the operator sees the small counts
