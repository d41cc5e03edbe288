"""The strategic portfolio: the seed's projects, weekly monitoring, the PDF report,
permissions."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from fastapi.testclient import TestClient

from rmds.portfolio.pdf import html_to_pdf
from rmds.portfolio.plan import load_plan
from rmds.portfolio.service import STATUSES, weekly_report
from rmds.store import Store
from rmds.store.auth import Role, add_user
from rmds.territory.model import fold
from rmds.web.pages import ENV
from tests.service_fixtures import PASSWORD, token

SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _letters(text: str) -> str:
    return "".join(ch for ch in fold(text) if ch.isalnum())


def _seed_text() -> str:
    [path] = sorted(SEED.glob("001_*.txt"))
    return path.read_text(encoding="utf-8")


def test_the_plan_holds_the_seeds_projects_units_and_objectives() -> None:
    plan = load_plan()
    text = _seed_text()
    managers = re.findall(r"Gerente: (.+?) - ([A-Z]+)", text)
    assert len(managers) == len(plan.projects) == 18
    assert plan.projects_announced == 22
    # every project has the unit the seed gives, and no person's name anywhere
    assert sorted(unit for _, unit in managers) == sorted(p.unit for p in plan.projects)
    plan_text = (Path(__file__).resolve().parents[2] / "rmds" / "portfolio"
                 / "plan.toml").read_text(encoding="utf-8")
    for name, _ in managers:
        assert name not in plan_text
    for project in plan.projects:
        assert project.name.split()[0] in text
        assert project.challenge[:40] in text.replace("Reducir", "Reduzir")
        assert project.objectives and set(project.objectives) <= set(plan.objectives)
        for milestone in project.milestones:
            core = _letters(milestone.split(" (")[0].split(":")[-1])[:15]
            assert core in _letters(text), milestone
    assert len(plan.objectives) == 15
    assert {o.group for o in plan.objectives.values()} == {"SUS", "SES"}
    assert plan.mission in text and "Colaboração" in plan.values
    by_id = {p.id: p for p in plan.projects}
    assert by_id["projeto-aurora"].objectives == ("OE04",)
    assert by_id["vacina-mais-minas"].objectives == ("OE08",)
    assert "oncologia_tratamento_60_dias" in by_id["sus-em-redes-oncologia"].indicators


def test_the_board_shows_every_project(client: TestClient) -> None:
    assert client.get("/api/carteira").status_code == 401
    board = client.get("/api/carteira", headers=token(client, "ana")).json()
    assert len(board["projetos"]) == 18
    assert sum(len(p["milestones"]) for p in board["projetos"]) == sum(
        len(p.milestones) for p in load_plan().projects)
    assert set(board["objetivos"]) == {f"OE{i:02d}" for i in range(1, 16)}


@pytest.fixture(scope="module")
def monitored(client: TestClient, store: Store) -> dict[str, str]:
    """A week in the life of the portfolio: a status, a late milestone, an escalated point."""
    suffix = store.engine.dialect.name
    add_user(store, f"aurora-{suffix}", PASSWORD, Role.PROJECT_MANAGER, "projeto-aurora")
    add_user(store, f"aest-{suffix}", PASSWORD, Role.STRATEGY_OFFICE)
    manager = token(client, f"aurora-{suffix}")
    office = token(client, f"aest-{suffix}")
    week = "2024-03-06"
    r = client.post("/api/carteira/projetos/projeto-aurora/status", headers=manager,
                    json={"situacao": "atencao", "percentual": 40,
                          "nota": "Portal Aurora depende de contrato", "semana": week})
    assert r.status_code == 200, r.text
    project = client.get("/api/carteira/projetos/projeto-aurora", headers=manager).json()
    portal = next(m for m in project["milestones"] if m["name"] == "Lançamento do Portal Aurora")
    r = client.put(f"/api/carteira/marcos/{portal['id']}", headers=office,
                   json={"prazo": "2024-02-29"})
    assert r.status_code == 200, r.text
    r = client.post("/api/carteira/projetos/projeto-aurora/pontos-criticos", headers=manager,
                    json={"descricao": "Contrato do portal parado na assessoria jurídica",
                          "unidade_responsavel": "SUBRAS", "gravidade": "alta"})
    point = r.json()["id"]
    assert client.post(f"/api/carteira/pontos-criticos/{point}/escalar",
                       headers=manager).status_code == 200
    return {"week": week, "manager": f"aurora-{suffix}", "office": f"aest-{suffix}"}


def test_status_late_milestone_and_escalated_point_reach_the_weekly_report(
        client: TestClient, store: Store, monitored: dict[str, str]) -> None:
    report = client.get(f"/api/carteira/relatorio?semana={monitored['week']}",
                        headers=token(client, "ana")).json()
    assert report["semana"] == "2024-03-04"
    assert [u["project_id"] for u in report["atualizacoes"]] == ["projeto-aurora"]
    assert report["por_situacao"]["atencao"] == 1
    assert [m["name"] for m in report["marcos_atrasados"]] == ["Lançamento do Portal Aurora"]
    assert [c["description"] for c in report["pauta_colegiado"]] == [
        "Contrato do portal parado na assessoria jurídica"]
    # the board highlights the late milestone
    board = client.get("/api/carteira", headers=token(client, "ana")).json()
    aurora = next(p for p in board["projetos"] if p["id"] == "projeto-aurora")
    assert aurora["late_milestones"] == 1 and aurora["current_status"] == "atencao"
    page = client.get("/carteira/pauta", headers=token(client, "ana"))
    assert "Contrato do portal parado" in page.text


def test_the_weekly_report_renders_to_pdf_and_its_pages_read_as_images(
        store: Store, monitored: dict[str, str]) -> None:
    report = weekly_report(store, dt.date.fromisoformat(monitored["week"]))
    html = ENV.get_template("relatorio.html").render(r=report, statuses=STATUSES)
    data = html_to_pdf(html)
    assert data.startswith(b"%PDF")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"relatorio-semanal-{store.engine.dialect.name}.pdf").write_bytes(data)
    pdf = pdfium.PdfDocument(data)
    assert len(pdf) >= 1
    text = ""
    for index in range(len(pdf)):
        page = pdf[index]
        image = page.render(scale=1.5, rev_byteorder=True).to_numpy()   # RGB
        height, width = image.shape[:2]
        assert width > 800 and height > 1000            # an A4/Letter page at 108 dpi
        ink = (image[..., :3].astype(np.int32).sum(axis=2) < 384).mean()
        assert 0.005 < ink < 0.5                          # printed, not blank, not black
        # the header colour of the tables is there (light blue #dbe7f3)
        blue = np.all(np.abs(image[..., :3].astype(np.int32) - [219, 231, 243]) < 8, axis=2)
        assert blue.any()
        text += page.get_textpage().get_text_range()
    assert "Projeto Aurora" in text and "Lançamento do Portal Aurora" in text
    assert "Contrato do portal parado" in text and "Atenção" in text


def test_a_project_manager_cannot_edit_another_project(
        client: TestClient, store: Store, monitored: dict[str, str]) -> None:
    manager = token(client, monitored["manager"])
    body = {"situacao": "atrasado", "percentual": 10, "nota": "x"}
    r = client.post("/api/carteira/projetos/opera-mais/status", headers=manager, json=body)
    assert r.status_code == 403 and r.json()["erro"]["tipo"] == "proibido"
    opera = client.get("/api/carteira/projetos/opera-mais", headers=manager).json()
    r = client.put(f"/api/carteira/marcos/{opera['milestones'][0]['id']}", headers=manager,
                   json={"concluido_em": "2024-01-01"})
    assert r.status_code == 403
    r = client.post("/api/carteira/projetos/opera-mais/pontos-criticos", headers=manager,
                    json={"descricao": "x", "unidade_responsavel": "SUBRAS",
                          "gravidade": "baixa"})
    assert r.status_code == 403
    # a municipal manager reads but edits nothing; the strategy office edits any project
    assert client.post("/api/carteira/projetos/projeto-aurora/status",
                       headers=token(client, "bh"), json=body).status_code == 403
    assert client.get("/api/carteira", headers=token(client, "bh")).status_code == 200
    assert client.post("/api/carteira/projetos/opera-mais/status",
                       headers=token(client, monitored["office"]),
                       json={**body, "semana": "2024-03-06"}).status_code == 200
    assert client.post("/api/carteira/projetos/opera-mais/status",
                       json=body).status_code == 401


def test_a_status_given_twice_in_one_week_is_one_row_the_latest(
        client: TestClient, store: Store) -> None:
    """The weekly report lists each project once per week: a second status in the same
    week corrects the first (it used to list both)."""
    suffix = store.engine.dialect.name
    project = load_plan().projects[1].id
    add_user(store, f"gp-duas-{suffix}", PASSWORD, Role.PROJECT_MANAGER, project)
    manager = token(client, f"gp-duas-{suffix}")
    for status, percent in (("atencao", 30), ("no_prazo", 35)):
        r = client.post(f"/api/carteira/projetos/{project}/status", headers=manager,
                        json={"situacao": status, "percentual": percent, "nota": "semana",
                              "semana": "2024-05-08"})
        assert r.status_code == 200, r.text
    report = client.get("/api/carteira/relatorio?semana=2024-05-06",
                        headers=token(client, "ana")).json()
    rows = [u for u in report["atualizacoes"] if u["project_id"] == project]
    assert [(u["status"], u["percent"]) for u in rows] == [("no_prazo", 35)]
