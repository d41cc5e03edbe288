"""Care across levels in a real browser, role by role: the clinician opens a resident's
record with a purpose, a non-resident only by breaking the glass (flagged); the municipal
manager, the analyst and the public are refused every record and review route; the citizen
signs in (the local OpenID Connect provider, as gov.br), sees their record and an access log
with exactly the accesses made here, and nobody else's data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, Page

from rmds.api.oidc import LocalProvider
from rmds.care.accesslog import access_log
from rmds.care.record import care_record, own_cpf_holders
from rmds.store import Store
from tests.web.conftest import sign_in
from tests.web.test_accessibility import _violations

BH, UDI = "3106200", "3170206"
WHY = "paciente de Uberlândia atendido em urgência em Belo Horizonte"


@pytest.fixture
def oidc(app: FastAPI) -> Iterator[None]:
    before = app.state.oidc
    app.state.oidc = LocalProvider()
    yield
    app.state.oidc = before


def _signed_in(browser: Browser, server: str, who: str | None) -> tuple[BrowserContext, Page]:
    context = browser.new_context()
    page = context.new_page()
    if who:
        sign_in(page, server, who)
        page.wait_for_url(f"{server}/inicio")
    return context, page


def _open(page: Page, server: str, person: int, justification: str = "") -> None:
    page.goto(f"{server}/prontuario")
    page.fill("input[name=pessoa]", str(person))
    page.select_option("select[name=finalidade]", "cuidado")
    if justification:
        page.fill("#justificativa", justification)
    page.click("#abrir button[type=submit]")


def test_care_role_by_role_in_the_browser(server: str, browser: Browser, client: TestClient,
                                          store: Store, users: dict[str, str],
                                          oidc: None) -> None:
    cursor = client.app.state.data.cursor()  # type: ignore[attr-defined]
    resident = own_cpf_holders(cursor, BH, 1)[0][0]
    # a citizen of Uberlândia nobody has looked at yet in this session
    visitor, cpf = next((p, c) for p, c in own_cpf_holders(cursor, UDI, 20)
                        if not access_log(store, p).entries)

    # the clinician of Belo Horizonte
    context, page = _signed_in(browser, server, "prof")
    _open(page, server, resident)
    assert page.get_attribute("#acesso", "data-quebra-de-vidro") == "nao"
    assert page.locator("#linha-do-tempo tbody tr").count() == len(
        care_record(cursor, resident).timeline)
    _open(page, server, visitor)                                  # not a resident
    assert "quebra de vidro" in (page.text_content("#erro") or "")
    assert page.locator("#acesso").count() == 0
    _open(page, server, visitor, WHY)
    assert page.get_attribute("#acesso", "data-quebra-de-vidro") == "sim"
    assert WHY in (page.text_content("#acesso") or "")
    context.close()

    # management and the public: refused on every record and review route
    for who in ("bh", "ana", None):
        context, page = _signed_in(browser, server, who)
        for path in ("/prontuario", "/correcoes", f"/fhir/Patient/{resident}/$summary",
                     "/meus-dados/fhir"):
            response = page.goto(f"{server}{path}")
            assert response is not None
            if who is None and path in ("/prontuario", "/correcoes"):
                assert page.url.startswith(f"{server}/entrar"), path   # sign in first
            else:
                assert response.status in (401, 403), (who, path, response.status)
        answer = page.request.post(f"{server}/api/prontuario", data={
            "pessoa": str(resident), "finalidade": "cuidado"})
        assert answer.status in (401, 403), (who, answer.status)
        assert answer.status == (401 if who is None else 403)
        context.close()

    # the citizen, through the identity provider (axe let in past the CSP, as in the
    # accessibility tests)
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(f"{server}/meus-dados")
    page.click("#entrar-govbr")
    page.fill("#cpf", cpf)
    page.click("#provedor-local button[type=submit]")
    page.wait_for_url(f"{server}/meus-dados")
    assert page.get_attribute("#registro-integro", "data-integro") == "sim"
    rows = page.locator("#acessos tbody tr")
    seen = [(rows.nth(i).get_attribute("data-usuario"),
             rows.nth(i).get_attribute("data-quebra-de-vidro")) for i in range(rows.count())]
    me = seen[-1][0]
    assert me is not None and me.startswith("cidadao-")
    # exactly the accesses made in this test: the broken glass, then their own read
    assert seen == [("prof", "sim"), (me, "nao")]
    assert WHY in (page.text_content("#acessos") or "")
    # their record, nobody else's
    record = care_record(cursor, visitor)
    assert page.locator("#linha-do-tempo tbody tr").count() == len(record.timeline)
    assert page.locator("#vacinas tbody tr").count() == len(record.items("vacina"))
    others = {i.name for i in care_record(cursor, resident).identifications if i.name}
    mine = {i.name for i in record.identifications if i.name}
    text = page.content()
    assert not any(name in text for name in others - mine)
    assert _violations(page) == []          # WCAG 2.1 A/AA: nothing serious or critical
    context.close()
