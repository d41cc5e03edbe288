"""axe-core on every page, as every role (issue 23): no serious or critical violation of
WCAG 2.x A/AA. axe-core comes from the ``axe-playwright-python`` package (installed by the
setup step from the package index); nothing is loaded from a CDN."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from rmds.portfolio.plan import load_plan
from rmds.store import Store
from rmds.store.auth import Role, add_user
from rmds.territory import ReferencePack
from tests.service_fixtures import PASSWORD
from tests.web.conftest import sign_in

AXE = Path(str(resources.files("axe_playwright_python") / "axe.min.js"))
# /docs is not here: it is Swagger UI as published (vendored unchanged), whose own markup
# axe flags (colour contrast of its method labels, buttons nested in its summaries); rmds
# does not patch third-party markup, and the page is for developers, not for managers
PAGES = ["/", "/?nivel=estado", "/?nivel=regiao&indicador=cobertura_penta_d3",
         "/municipio/3106200", "/qualidade", "/consorcios", "/filas", "/carteira",
         "/carteira/pauta", "/carteira/relatorio", "/cargas", "/inicio", "/entrar",
         "/municipio/9999999", "/tabulador",
         "/tabulador?linhas=regiao&colunas=mes&conteudo=numerador",
         "/?nivel=macrorregiao&indicador=cobertura_penta_d3", "/metodos",
         "/unidade/urs/belo-horizonte", "/unidade/consorcio/CISMARG", "/qualidade/3106200",
         "/usuarios", "/busca?q=sao", "/tabulador?contagem=obitos&linhas=faixa_etaria",
         "/prontuario", "/correcoes", "/meus-dados"]


def _violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


@pytest.fixture(scope="module")
def accounts(store: Store, pack: ReferencePack) -> list[tuple[str | None, Role]]:
    sigla = sorted(s for s, members in pack.consortium_members.items() if members)[0]
    project = load_plan().projects[0].id
    suffix = store.engine.dialect.name
    made: list[tuple[str | None, Role]] = [(None, Role.PUBLIC)]
    for role, scope in ((Role.ADMIN, None), (Role.STATE_ANALYST, None),
                        (Role.REGIONAL, "belo-horizonte"), (Role.MUNICIPAL, "3106200"),
                        (Role.CONSORTIUM, sigla), (Role.PROFESSIONAL, "3106200"),
                        (Role.STRATEGY_OFFICE, None), (Role.PROJECT_MANAGER, project)):
        name = f"axe-{role.value}-{suffix}"
        add_user(store, name, PASSWORD, role, scope)
        made.append((name, role))
    return made


@pytest.fixture(scope="module")
def pages(pack: ReferencePack) -> list[str]:
    """Every page: the fixed ones and those named by a consortium or a project."""
    sigla = sorted(s for s, members in pack.consortium_members.items() if members)[0]
    return [*PAGES, f"/consorcio/{sigla}", f"/carteira/projeto/{load_plan().projects[0].id}"]


def _check(server: str, browser: Browser, accounts: list[tuple[str | None, Role]],
           pages: list[str]) -> None:
    found: list[tuple[str, str, str, int]] = []
    for name, role in accounts:
        # the pages forbid inline scripts (CSP); the test context lets axe in
        context = browser.new_context(bypass_csp=True)
        page = context.new_page()
        if name:
            sign_in(page, server, name)
            page.wait_for_url("**/inicio")
        for path in pages:
            page.goto(f"{server}{path}")
            for v in _violations(page):
                found.append((role.value, path, v["id"], len(v["nodes"])))
        context.close()
    summary = sorted({(path, rule, nodes) for _, path, rule, nodes in found})
    assert found == [], (summary, sorted({role for role, *_ in found}))


def test_no_serious_or_critical_violation_on_any_page_public_and_administrator(
        server: str, browser: Browser, accounts: list[tuple[str | None, Role]],
        pages: list[str], store: Store) -> None:
    """The public and the administrator (who sees every page) in the default run; on the
    PostgreSQL store (the same pages, only the sign-in differs) the administrator alone."""
    postgresql = store.engine.dialect.name == "postgresql"
    wanted = (Role.ADMIN,) if postgresql else (Role.PUBLIC, Role.ADMIN)
    _check(server, browser, [a for a in accounts if a[1] in wanted], pages)


@pytest.mark.slow
def test_no_serious_or_critical_violation_on_any_page_for_any_role(
        server: str, browser: Browser, accounts: list[tuple[str | None, Role]],
        pages: list[str]) -> None:
    """Every role on every page (about 270 page loads: run alone with -m slow)."""
    _check(server, browser, accounts, pages)
