"""Issue 23 in a real browser: the Painel's table downloads as CSV and as XLSX with the
numbers the page shows, and the API documentation works with nothing from the internet."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import httpx
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page

from rmds.fmt import fmt_decimal
from rmds.portfolio.plan import load_plan
from rmds.store import Store
from rmds.store.auth import Role, add_user
from rmds.territory import ReferencePack
from tests.service_fixtures import PASSWORD
from tests.web.conftest import sign_in


def _page_values(page: Page) -> dict[str, str]:
    """unit → the value cell's text as the ranking table shows it."""
    return {str(row.get_attribute("data-unidade")): row.locator("td").nth(2).inner_text()
            for row in page.locator("#ranking tbody tr").all()}


def _table(lines: list[list[object]]) -> list[dict[str, object]]:
    blank = next(i for i, line in enumerate(lines) if all(v in (None, "") for v in line))
    header, *rows = lines[blank + 1:]
    return [dict(zip([str(h) for h in header], row, strict=True)) for row in rows]


def _download(page: Page, selector: str, folder: Path) -> Path:
    with page.expect_download() as info:
        page.click(selector)
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


def test_the_ranking_downloads_as_csv_and_xlsx_with_the_numbers_on_the_page(
        server: str, browser: Browser, tmp_path: Path) -> None:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    sign_in(page, server, "bh")
    page.goto(f"{server}/?indicador=partos_cesareos&nivel=municipio&periodo=2023")
    shown = _page_values(page)
    assert len(shown) > 800 and any(v == "suprimido" for v in shown.values())

    path = _download(page, "#baixar-csv", tmp_path)
    assert path.suffix == ".csv"
    text = path.read_bytes().decode("utf-8-sig")
    rows = _table([list(r) for r in csv.reader(io.StringIO(text), delimiter=";")])
    assert {str(r["Código"]) for r in rows} == set(shown)
    for row in rows:
        on_page = shown[str(row["Código"])]
        if row["Valor"] == "":   # suppressed, or no data (the page's dash)
            assert on_page == ("suprimido" if row["Suprimido"] == "sim" else "—")
        else:
            value = float(str(row["Valor"]).replace(",", "."))
            assert fmt_decimal(value, 2) == on_page

    path = _download(page, "#baixar-xlsx", tmp_path)
    assert path.suffix == ".xlsx"
    sheet = load_workbook(path, read_only=True).active
    rows = _table([list(r) for r in sheet.iter_rows(values_only=True)])
    assert {str(r["Código"]) for r in rows} == set(shown)
    for row in rows:
        on_page = shown[str(row["Código"])]
        if row["Valor"] is None:
            assert on_page == ("suprimido" if row["Suprimido"] == "sim" else "—")
        else:
            assert isinstance(row["Valor"], float | int)
            assert fmt_decimal(float(row["Valor"]), 2) == on_page
    context.close()


def test_the_api_documentation_works_offline(server: str, browser: Browser) -> None:
    """/docs with every request outside the server refused: Swagger UI still renders the
    operations, and the page breaks no Content-Security-Policy rule."""
    context = browser.new_context()
    outside: list[str] = []

    def only_local(route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        if url.startswith(server):
            route.continue_()  # type: ignore[attr-defined]
        else:
            outside.append(url)
            route.abort()  # type: ignore[attr-defined]

    context.route(re.compile(".*"), only_local)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(f"{server}/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() > 20
    assert page.get_by_text("/api/indicadores/{indicador}/valores").count() >= 1
    assert outside == []
    assert not [p for p in problems if "Content Security Policy" in p], problems
    context.close()


def test_the_indicator_menu_walks_by_keyboard_without_reloading(
        server: str, browser: Browser) -> None:
    page = browser.new_page()
    page.goto(f"{server}/?indicador=partos_cesareos&nivel=municipio&periodo=2023")
    page.evaluate("window.__naoRecarregou = true")
    page.focus("#indicador")
    first = page.input_value("#indicador")
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    chosen = page.input_value("#indicador")
    assert chosen != first
    assert page.evaluate("window.__naoRecarregou === true"), "an arrow key reloaded the page"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert f"indicador={chosen}" in page.url
    assert page.locator("#titulo").get_attribute("data-indicador") == chosen
    page.close()


def test_the_map_legend_never_repeats_a_range_and_marks_suppressed_apart(
        server: str, browser: Browser) -> None:
    page = browser.new_page()
    for level in ("municipio", "estado"):
        page.goto(f"{server}/?indicador=partos_cesareos&nivel={level}&periodo=2023-T3")
        labels = page.locator(".legenda li").all_inner_texts()
        assert len(labels) == len(set(labels)), labels
        assert "suprimido (contagem pequena)" in labels and "sem dado" in labels
    assert any("um só valor" in text for text in labels)   # the state level: one unit
    page.close()


PAGES = ["/", "/?nivel=estado", "/?nivel=regiao", "/municipio/3106200", "/qualidade",
         "/consorcios", "/filas", "/carteira", "/carteira/pauta", "/carteira/relatorio",
         "/cargas", "/inicio", "/docs", "/tabulador",
         "/tabulador?linhas=municipio&colunas=mes&conteudo=numerador",
         "/?nivel=macrorregiao", "/metodos", "/unidade/urs/belo-horizonte",
         "/qualidade/3106200", "/usuarios", "/tabulador?contagem=doses&linhas=vacina",
         "/busca?q=sao", "/unidade/consorcio/CISMARG", "/prontuario"]


def _first_link(page: Page, prefix: str) -> str | None:
    hrefs = page.eval_on_selector_all(
        "main a[href]", "as => as.map(a => a.getAttribute('href'))")
    return next((str(h) for h in hrefs if str(h).startswith(prefix)), None)


def test_no_page_scrolls_sideways_on_a_phone(server: str, browser: Browser) -> None:
    """At 390 × 844, as the public and as an administrator, every page's document is no
    wider than the screen (wide tables scroll inside themselves)."""
    for who in (None, "adm"):
        context = browser.new_context(viewport={"width": 390, "height": 844},
                                      is_mobile=True, has_touch=True)
        page = context.new_page()
        paths = ["/entrar", *PAGES]
        if who:
            sign_in(page, server, who)
        page.goto(f"{server}/consorcios")
        extra = [_first_link(page, "/consorcio/")]
        page.goto(f"{server}/carteira")
        extra.append(_first_link(page, "/carteira/projeto/"))
        wide = []
        for path in paths + [p for p in extra if p]:
            response = page.goto(f"{server}{path}")
            assert response is not None
            if path == "/docs":
                page.wait_for_selector(".opblock", timeout=30_000)
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                wide.append((path, width, response.status))
        assert wide == [], (who, wide)
        context.close()


def test_every_role_home_links_to_pages_that_answer(
        server: str, store: Store, pack: ReferencePack) -> None:
    """Each role's home (/inicio) lists its own pages first, and every link works: the
    project manager's first link is their project, the consortium manager's their
    consortium (no 'nível inválido: projeto')."""
    sigla = sorted(s for s, members in pack.consortium_members.items() if members)[0]
    project = load_plan().projects[0].id
    suffix = store.engine.dialect.name
    roles = [(Role.ADMIN, None), (Role.STATE_ANALYST, None),
             (Role.REGIONAL, "belo-horizonte"), (Role.MUNICIPAL, "3106200"),
             (Role.CONSORTIUM, sigla), (Role.PROFESSIONAL, "3106200"),
             (Role.STRATEGY_OFFICE, None), (Role.PROJECT_MANAGER, project)]
    first_links = {}
    for role, scope in roles:
        name = f"inicio-{role.value}-{suffix}"
        add_user(store, name, PASSWORD, role, scope)
        with httpx.Client(base_url=server, follow_redirects=True, timeout=60) as client:
            home = client.post("/entrar", data={"usuario": name, "senha": PASSWORD})
            assert home.status_code == 200 and "/inicio" in str(home.url)
            links = re.findall(r'<ul id="atalhos">(.*?)</ul>', home.text, re.S)[0]
            hrefs = [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', links)]
            assert hrefs, role
            first_links[role] = hrefs[0]
            for href in hrefs:
                got = client.get(href)
                assert got.status_code == 200, (role, href, got.status_code)
    assert first_links[Role.PROJECT_MANAGER] == f"/carteira/projeto/{project}"
    assert first_links[Role.CONSORTIUM] == f"/consorcio/{sigla}"
    assert first_links[Role.MUNICIPAL] == "/municipio/3106200"
    assert first_links[Role.STRATEGY_OFFICE] == "/carteira"


def test_an_error_page_keeps_the_signed_in_header(server: str) -> None:
    with httpx.Client(base_url=server, follow_redirects=True, timeout=60) as client:
        assert client.post("/entrar", data={"usuario": "bh", "senha": PASSWORD}
                           ).status_code == 200
        missing = client.get("/municipio/9999999")
        assert missing.status_code == 404
        assert 'id="usuario"' in missing.text and "/sair" in missing.text
        assert 'id="entrar"' not in missing.text
    public = httpx.get(f"{server}/municipio/9999999", timeout=60)
    assert public.status_code == 404 and 'id="entrar"' in public.text


def test_the_weekly_report_takes_the_week_as_people_type_it(server: str) -> None:
    with httpx.Client(base_url=server, follow_redirects=True, timeout=60) as client:
        assert client.post("/entrar", data={"usuario": "ana", "senha": PASSWORD}
                           ).status_code == 200
        typed = client.get("/carteira/relatorio?semana=30/11/2026")
        iso = client.get("/carteira/relatorio?semana=2026-11-30")
        assert typed.status_code == iso.status_code == 200
        assert "30/11/2026" in typed.text or "2026-11-30" in typed.text
        assert client.get("/carteira/relatorio?semana=31/02/2026").status_code == 422
        assert client.get("/carteira/relatorio?semana=x").status_code == 422
