"""Issue 23 in a real browser: a tabulator query run from its URL, its table downloaded as
CSV and XLSX with the page's numbers, and the state map drilled down to a municipality by
clicks."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from openpyxl import load_workbook
from playwright.sync_api import Browser

from rmds.fmt import fmt_decimal
from rmds.territory import ReferencePack, vintage_for_year
from tests.service_fixtures import PASSWORD
from tests.web.test_manager_pages import _download


def _number(text: str) -> float:
    return float(text.replace(".", "").replace(",", "."))


def test_a_tabulator_query_runs_from_its_url_and_downloads_with_the_pages_numbers(
        server: str, browser: Browser, tmp_path: Path) -> None:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    query = ("/tabulador?indicador=partos_cesareos&linhas=regiao&colunas=trimestre"
             "&conteudo=valor&de=2023-T1&ate=2023-T4")
    page.goto(server + query)
    headers = page.locator("#tabulador thead th").all_inner_texts()
    assert headers == ["Unidade", "2023-T1", "2023-T2", "2023-T3", "2023-T4"]
    shown: dict[tuple[str, str], str] = {}
    for line_on_page in page.locator("#tabulador tbody tr").all():
        unit = str(line_on_page.get_attribute("data-unidade"))
        for cell in line_on_page.locator("td").all():
            shown[(unit, str(cell.get_attribute("data-periodo")))] = cell.inner_text()
    assert len({u for u, _ in shown}) > 50          # every health region
    # the form reproduces the query: the selects hold what the URL asked for
    assert page.locator("select[name=linhas]").input_value() == "regiao"
    assert page.locator("select[name=colunas]").input_value() == "trimestre"

    path = _download(page, "#baixar-tabela-csv", tmp_path)
    lines = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig")),
                            delimiter=";"))
    at = next(i for i, line in enumerate(lines) if line and line[0] == "Código")
    header = lines[at]
    rows = [dict(zip(header, line, strict=True)) for line in lines[at + 1:]]
    matched, numbers = 0, 0
    for row in rows:
        for period in ("2023-T1", "2023-T2", "2023-T3", "2023-T4"):
            on_page = shown.get((row["Código"], period))
            if on_page is None:       # the total line: not a region
                continue
            matched += 1
            if row[period] == "":
                assert on_page in ("suprimido", "—")
            else:
                assert fmt_decimal(_number(row[period]), 2) == on_page
                numbers += 1
    assert matched == len(shown) and numbers > 0

    path = _download(page, "#baixar-tabela-xlsx", tmp_path)
    sheet = [list(r) for r in load_workbook(path, read_only=True).active.iter_rows(
        values_only=True)]
    at = next(i for i, line in enumerate(sheet) if line and line[0] == "Código")
    header = [str(h) for h in sheet[at]]
    for line in sheet[at + 1:]:
        row = dict(zip(header, line, strict=True))
        for period in ("2023-T1", "2023-T2", "2023-T3", "2023-T4"):
            on_page = shown.get((str(row["Código"]), period))
            if on_page is None:
                continue
            value = row[period]
            if value is None:
                assert on_page in ("suprimido", "—")
            else:
                assert isinstance(value, float | int)
                assert fmt_decimal(float(value), 2) == on_page

    # choosing another column type runs the new query at a new URL (the bounds, given as
    # quarters, still hold for years)
    page.select_option("select[name=colunas]", "ano")
    page.wait_for_url("**colunas=ano**")
    assert page.locator("#tabulador thead th").all_inner_texts()[1:] == ["2023"]
    context.close()


def test_the_state_map_drills_down_to_a_municipality_by_clicks(
        server: str, browser: Browser, pack: ReferencePack) -> None:
    bh = pack.municipalities["3106200"]
    vintage = vintage_for_year(2023)
    page = browser.new_page()
    page.goto(f"{server}/?indicador=partos_cesareos&nivel=macrorregiao&periodo=2023")
    area = 'svg.mapa path[data-municipio="3106200"]'
    page.locator(area).click()
    page.wait_for_url("**nivel=regiao**")
    query = parse_qs(urlparse(page.url).query)
    assert query["dentro"] == [f"macrorregiao:{bh.macro[vintage]}"]
    assert page.locator("#foco").is_visible()
    # only the macro-region's regions are ranked
    ranked = {r.get_attribute("data-unidade")
              for r in page.locator("#ranking tbody tr").all()}
    regions_of_macro = {m.region[vintage] for m in pack.municipalities.values()
                        if m.macro[vintage] == bh.macro[vintage]}
    assert ranked == regions_of_macro

    page.locator(area).click()
    page.wait_for_url("**nivel=municipio**")
    query = parse_qs(urlparse(page.url).query)
    assert query["dentro"] == [f"regiao:{bh.region[vintage]}"]
    ranked = {r.get_attribute("data-unidade")
              for r in page.locator("#ranking tbody tr").all()}
    assert ranked == {m.ibge7 for m in pack.municipalities.values()
                      if m.region[vintage] == bh.region[vintage]}

    page.locator(area).click()
    page.wait_for_url("**/municipio/3106200**")
    assert bh.name in page.locator("#titulo").inner_text()
    page.close()


def test_a_tap_on_a_chart_point_shows_its_value_and_a_municipal_user_sees_their_series(
        server: str, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.goto(f"{server}/entrar")
    page.fill("#campo-usuario", "bh")
    page.fill("#campo-senha", PASSWORD)
    page.click("#botao-entrar")
    page.goto(f"{server}/?indicador=partos_cesareos&nivel=municipio&periodo=2023")
    # the series is the user's municipality's, with the state's line to compare
    assert "Belo Horizonte" in page.inner_text("#serie-titulo")
    assert page.locator("svg.serie polyline.comparacao").count() >= 1
    point = page.locator("svg.serie circle").first
    point.scroll_into_view_if_needed()
    point.tap()
    tip = page.locator(".dica")
    assert tip.is_visible()
    assert re.search(r"\d{4}-\d{2}: [\d.,]+", tip.inner_text())
    context.close()


def test_on_a_touch_screen_the_first_tap_names_the_area_and_the_second_opens_it(
        server: str, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.goto(f"{server}/?indicador=partos_cesareos&nivel=regiao&periodo=2023")
    box = page.locator('svg.mapa path[data-municipio="3106200"]').bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.touchscreen.tap(x, y)
    tip = page.locator(".dica")
    # whichever area is under the finger: its name and value, and the page stays
    assert tip.is_visible() and tip.inner_text().endswith("toque de novo para abrir")
    assert " — " in tip.inner_text() and "nivel=regiao" in page.url
    page.touchscreen.tap(x, y)
    page.wait_for_url("**nivel=municipio**")
    context.close()
