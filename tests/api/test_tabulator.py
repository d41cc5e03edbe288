"""The tabulator (issue 23): a query is its URL; its cells are the mart's in the form the
caller may see; no cell suppressed in the public form is ever open in a tabulator answer or
in its downloads."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from rmds.indicators.mart import select_sql
from rmds.territory import Level, ReferencePack, vintage_for_year
from tests.service_fixtures import token


def _public_mart(app: FastAPI) -> list[dict[str, Any]]:
    """Every cell of the mart in its public form, read with SQL, not through the API."""
    cur = app.state.ctx.data.cursor()
    result = cur.execute(select_sql(True))
    names = [d[0] for d in result.description]
    return [dict(zip(names, r, strict=True)) for r in result.fetchall()]


def _grid(answer: dict[str, Any]) -> dict[tuple[str, str], tuple[Any, bool]]:
    periods = answer["periodos"]
    return {(line["unidade"], p): (v, hidden)
            for line in answer["linhas_tabela"]
            for p, v, hidden in zip(periods, line["valores"], line["suprimidas"],
                                    strict=True)}


def test_the_query_is_its_url_and_the_cells_are_the_marts(
        client: TestClient, app: FastAPI) -> None:
    url = ("/api/tabulador?indicador=mortalidade_infantil&linhas=regiao&colunas=trimestre"
           "&conteudo=numerador&de=2023-T2&ate=2023-T4")
    answer = client.get(url, headers=token(client, "ana")).json()
    assert answer["periodos"] == ["2023-T2", "2023-T3", "2023-T4"]
    cur = app.state.ctx.data.cursor()
    rows = cur.execute(
        "SELECT unit_code, period, numerator FROM indicator_values WHERE indicator_id = ? "
        "AND level = 'regiao' AND period IN ('2023-T2', '2023-T3', '2023-T4')",
        ["mortalidade_infantil"]).fetchall()
    assert rows
    grid = _grid(answer)
    # a state analyst sees every cell open, so the table is the mart's numerators
    assert {k: v for k, (v, _) in grid.items()} == {(u, p): n for u, p, n in rows}
    state = cur.execute(
        "SELECT period, numerator FROM indicator_values WHERE indicator_id = ? AND "
        "level = 'estado' AND period IN ('2023-T2', '2023-T3', '2023-T4') ORDER BY 1",
        ["mortalidade_infantil"]).fetchall()
    assert answer["total"]["valores"] == [n for _, n in state]
    # the page with the same parameters shows the same table and links its API query
    page = client.get(url.replace("/api/tabulador", "/tabulador"),
                      headers=token(client, "ana"))
    assert page.status_code == 200
    assert 'id="tabulador"' in page.text and "2023-T3" in page.text


def test_within_keeps_the_units_inside_and_totals_that_unit(
        client: TestClient, pack: ReferencePack) -> None:
    bh = pack.municipalities["3106200"]
    region = bh.region[vintage_for_year(2023)]
    inside = {m.ibge7 for m in pack.municipalities.values()
              if m.region[vintage_for_year(2023)] == region}
    answer = client.get(f"/api/tabulador?indicador=partos_cesareos&linhas=municipio"
                        f"&colunas=ano&dentro=regiao:{region}").json()
    assert {line["unidade"] for line in answer["linhas_tabela"]} <= inside
    assert "3106200" in {line["unidade"] for line in answer["linhas_tabela"]}
    assert answer["total"]["unidade"] == region
    regional = client.get(f"/api/indicadores/partos_cesareos/valores?nivel=regiao"
                          f"&periodo=2023&unidade={region}").json()["valores"][0]
    assert answer["total"]["valores"] == [regional["valor"]]
    units = pack.units(Level.REGION, vintage_for_year(2023))
    assert answer["total"]["nome"] == units[region].name


def test_bad_queries_are_told_at_once_in_portuguese(client: TestClient) -> None:
    bad = client.get("/api/tabulador?indicador=mortalidade_infantil&linhas=bairro"
                     "&colunas=semana&conteudo=media")
    assert bad.status_code == 422
    text = bad.text
    assert "linhas inválidas" in text and "colunas inválidas" in text \
        and "conteúdo inválido" in text
    assert client.get("/api/tabulador?indicador=nao_existe").status_code == 404
    assert client.get("/api/tabulador?indicador=mortalidade_infantil&dentro=regiao"
                      ).status_code == 422
    assert "de inválido" in client.get(
        "/api/tabulador?indicador=mortalidade_infantil&de=2023-13").text


def test_bounds_of_one_period_type_select_columns_of_another(client: TestClient) -> None:
    months = client.get("/api/tabulador?indicador=partos_cesareos&linhas=estado"
                        "&colunas=mes&de=2023-T2&ate=2023").json()["periodos"]
    assert months == [f"2023-{m:02d}" for m in range(4, 13)]
    years = client.get("/api/tabulador?indicador=partos_cesareos&linhas=estado"
                       "&colunas=ano&de=2023-05&ate=2023-05").json()["periodos"]
    assert years == ["2023"]


def test_no_cell_suppressed_in_the_public_form_is_open_in_the_tabulator(
        client: TestClient, app: FastAPI) -> None:
    """For every indicator, level and period type: each cell the public form suppresses is
    blank in the public tabulator's JSON, CSV and XLSX, and the tabulator shows no cell
    the public form does not have."""
    public = _public_mart(app)
    hidden = {(r["indicator_id"], r["level"], r["period_type"], r["unit_code"], r["period"])
              for r in public if r["suppressed"]}
    assert hidden, "the small synthetic lake has suppressed cells"
    opened: dict[tuple[str, ...], Any] = {
        (r["indicator_id"], r["level"], r["period_type"], r["unit_code"], r["period"]):
        r["value"] for r in public if not r["suppressed"]}
    checked = 0
    groups = sorted({k[:3] for k in hidden})
    for indicator, level, period_type in groups:
        url = (f"/api/tabulador?indicador={indicator}&linhas={level}&colunas={period_type}"
               f"&conteudo=valor")
        answer = client.get(url)
        assert answer.status_code == 200, (url, answer.text)
        grid = _grid(answer.json())
        for key, (value, suppressed) in grid.items():
            full = (indicator, level, period_type, *key)
            if full in hidden:
                assert value is None and suppressed, full
                checked += 1
            else:
                assert value == opened.get(full), full
    assert checked == len(hidden)
    # the downloads of one group with suppressed cells: blank where the JSON is blank
    indicator, level, period_type = groups[0]
    base = f"/api/tabulador?indicador={indicator}&linhas={level}&colunas={period_type}"
    answer = client.get(base).json()
    grid = _grid(answer)
    text = client.get(base + "&formato=csv").content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    header_at = next(i for i, line in enumerate(lines) if line and line[0] == "Código")
    header = lines[header_at]
    for line in lines[header_at + 1:]:
        row = dict(zip(header, line, strict=True))
        for period in answer["periodos"]:
            cell = grid.get((row["Código"], period))
            if cell is not None and cell[1]:
                assert row[period] == "" and period in row["Períodos suprimidos"]
    book = load_workbook(io.BytesIO(client.get(base + "&formato=xlsx").content),
                         read_only=True)
    sheet = [list(r) for r in book.active.iter_rows(values_only=True)]
    header_at = next(i for i, line in enumerate(sheet) if line and line[0] == "Código")
    header = [str(h) for h in sheet[header_at]]
    for line in sheet[header_at + 1:]:
        row = dict(zip(header, line, strict=True))
        for period in answer["periodos"]:
            cell = grid.get((str(row["Código"]), period))
            if cell is not None and cell[1]:
                assert row[period] is None
