"""The pages in a real headless browser (Debian's Chromium, driven by Playwright).

Screenshots of every step are kept in ``test-artifacts/screenshots``.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page

from rmds.care.worklists import load_worklists
from rmds.store import Store
from tests.service_fixtures import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"


def _fills(page: Page) -> list[str]:
    fills = page.eval_on_selector_all("#mapa svg path",
                                      "ps => ps.map(p => p.getAttribute('fill'))")
    return [str(f) for f in fills]


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_login_then_switch_level_and_indicator_on_the_painel(
        server: str, browser: Browser, store: Store) -> None:
    engine = store.engine.dialect.name
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/entrar")
    page.fill("#campo-usuario", "ana")
    page.fill("#campo-senha", PASSWORD)
    page.click("#botao-entrar")
    page.wait_for_url(f"{server}/inicio")
    assert "Olá, ana" in page.inner_text("#titulo")
    _shot(page, f"01-inicio-{engine}")

    page.goto(f"{server}/?indicador=partos_cesareos")
    assert page.get_attribute("#titulo", "data-nivel") == "municipio"
    assert page.locator("#mapa svg path").count() == 853
    by_municipality = _fills(page)
    assert len(set(by_municipality)) >= 4            # a choropleth, not one colour
    assert page.locator("#ranking tbody tr").count() == 853
    _shot(page, f"02-painel-municipios-{engine}")

    with page.expect_navigation():
        page.select_option("#nivel", "macrorregiao")
    assert page.get_attribute("#titulo", "data-nivel") == "macrorregiao"
    assert page.locator("#ranking tbody tr").count() == 16
    by_macro = _fills(page)
    assert by_macro != by_municipality
    assert len(set(by_macro)) <= 6                   # 16 units in at most 5 classes + grey
    _shot(page, f"03-painel-macrorregioes-{engine}")

    title = page.inner_text("#titulo")
    with page.expect_navigation():
        page.select_option("#indicador", "internacao_fora_regiao")
    assert page.get_attribute("#titulo", "data-indicador") == "internacao_fora_regiao"
    assert page.inner_text("#titulo") != title
    assert _fills(page) != by_macro
    first_row = page.inner_text("#ranking tbody tr >> nth=0")
    assert first_row and "suprimido" not in first_row
    _shot(page, f"04-painel-internacao-fora-da-regiao-{engine}")

    page.goto(f"{server}/municipio/3106200")
    assert "Belo Horizonte" in page.inner_text("#titulo")
    assert page.locator("#indicadores tbody tr").count() >= 25
    # the work lists of the municipality, for whoever holds it (the state analyst)
    assert page.locator("#listas-nominais li").count() == len(load_worklists())
    _shot(page, f"05-municipio-{engine}")
    page.goto(f"{server}/?indicador=cobertura_penta_d3")
    assert page.locator("#listas-nominais li").count() == 1
    assert "vacina atrasada" in page.inner_text("#listas-nominais")
    page.goto(f"{server}/qualidade")
    assert page.locator("#mapa svg path").count() == 853
    _shot(page, f"06-qualidade-{engine}")
    page.close()


def test_the_public_painel_hides_small_cells(server: str, browser: Browser) -> None:
    page = browser.new_page()
    page.goto(f"{server}/?indicador=mortalidade_infantil&nivel=municipio")
    cells = page.locator("#ranking td.suprimido")
    assert cells.count() > 0
    assert page.locator("#entrar").count() == 1
    # counts of people on the work lists: never for the public
    page.goto(f"{server}/?indicador=cobertura_penta_d3")
    assert page.locator("#listas-nominais").count() == 0
    page.goto(f"{server}/municipio/3106200")
    assert page.locator("#listas-nominais").count() == 0
    page.goto(f"{server}/cargas")
    assert page.url.endswith("/entrar?proxima=/cargas")
    page.close()


def test_portfolio_board_and_project_page(server: str, browser: Browser, store: Store) -> None:
    engine = store.engine.dialect.name
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/carteira")
    assert page.url.endswith("/entrar?proxima=/carteira")
    page.fill("#campo-usuario", "ana")
    page.fill("#campo-senha", PASSWORD)
    page.click("#botao-entrar")
    page.wait_for_url(f"{server}/carteira")
    cards = page.locator(".cartao")
    projects = set(cards.evaluate_all("cs => cs.map(c => c.dataset.projeto)"))
    assert len(projects) == 18
    assert page.locator("section.objetivo[data-objetivo='OE04']").count() == 1
    _shot(page, f"07-carteira-{engine}")
    with page.expect_navigation():
        page.click(".cartao[data-projeto='projeto-aurora'] >> nth=0")
    assert "Projeto Aurora" in page.inner_text("#titulo")
    assert page.locator("#marcos tbody tr").count() == 5
    assert page.locator("#indicadores tbody tr").count() == 4
    _shot(page, f"08-projeto-aurora-{engine}")
    page.close()
