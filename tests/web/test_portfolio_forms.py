"""The portfolio's web forms (issue 23): the project's manager enters the week's status,
a milestone's completion and a critical point from the page; someone else may not."""

from __future__ import annotations

from fastapi.testclient import TestClient
from playwright.sync_api import Browser

from rmds.portfolio.plan import load_plan
from rmds.store import Store
from rmds.store.auth import Role, add_user
from tests.service_fixtures import PASSWORD, token


def test_the_manager_edits_the_project_from_its_page(server: str, browser: Browser,
                                                     store: Store) -> None:
    project = load_plan().projects[-1]
    name = f"gerente-forms-{store.engine.dialect.name}"
    add_user(store, name, PASSWORD, Role.PROJECT_MANAGER, project.id)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/entrar")
    page.fill("#campo-usuario", name)
    page.fill("#campo-senha", PASSWORD)
    page.click("#botao-entrar")
    page.goto(f"{server}/carteira/projeto/{project.id}")
    before = page.locator("#status tbody tr").count()

    page.select_option("#form-status select[name=situacao]", "atencao")
    page.fill("#form-status input[name=percentual]", "40")
    page.fill("#form-status textarea[name=nota]", "Licitação atrasada uma semana")
    page.click("#form-status button[type=submit]")
    page.wait_for_url("**feito=**")
    assert "status registrado" in page.inner_text("#feito")
    assert page.locator("#status tbody tr").count() == before + 1
    assert "Licitação atrasada uma semana" in page.inner_text("#status")

    page.fill("#form-ponto textarea[name=descricao]", "Falta de médico regulador")
    page.fill("#form-ponto input[name=unidade_responsavel]", "SRAS")
    page.select_option("#form-ponto select[name=gravidade]", "alta")
    page.click("#form-ponto button[type=submit]")
    page.wait_for_url("**feito=**")
    row = page.locator("#pontos tbody tr", has_text="Falta de médico regulador")
    assert row.count() == 1
    row.locator("input[name=resolucao]").fill("Contratado em caráter emergencial")
    row.locator("button", has_text="Resolver").click()
    page.wait_for_url("**feito=**")
    assert "Contratado em caráter emergencial" in page.inner_text("#pontos")

    first = page.locator("#marcos tbody tr").first
    first.locator("input[name=concluido_em]").fill("02/12/2026")
    first.locator("button[type=submit]").click()
    page.wait_for_url("**feito=**")
    assert "02/12/2026" in page.locator("#marcos tbody tr").first.inner_text()
    page.close()


def test_someone_else_sees_no_form_and_cannot_post(client: TestClient) -> None:
    project = load_plan().projects[-1]
    analyst = token(client, "ana")
    page = client.get(f"/carteira/projeto/{project.id}", headers=analyst)
    assert page.status_code == 200 and 'id="form-status"' not in page.text
    posted = client.post(f"/carteira/projeto/{project.id}/status", headers=analyst,
                         data={"situacao": "atrasado", "percentual": "10"})
    assert posted.status_code == 403
    bad = client.post(f"/carteira/projeto/{project.id}/status", headers=analyst,
                      data={"situacao": "otimo", "percentual": "10"})
    assert bad.status_code == 422
