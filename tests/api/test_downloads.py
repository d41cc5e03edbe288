"""Issue 23: every table of indicator cells downloads as CSV (the way Brazilian Excel opens
it) and as XLSX, with a header block, the same numbers as the JSON answer, and every
suppressed cell still suppressed."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from rmds.api.context import ApiContext
from rmds.downloads import csv_number
from tests.service_fixtures import token

HEADERS = {"Código": "unidade", "Valor": "valor", "Numerador": "numerador",
           "Denominador": "denominador", "Suprimido": "suprimido"}


def _ctx(client: TestClient) -> ApiContext:
    ctx: ApiContext = client.app.state.ctx  # type: ignore[attr-defined]
    return ctx


def _suppressed_quarter(client: TestClient) -> tuple[str, str]:
    """An (indicator, quarter) with suppressed municipal cells, read from the lake."""
    row = _ctx(client).data.cursor().execute(
        "SELECT indicator_id, period FROM indicator_values WHERE level = 'municipio' "
        "AND period_type = 'trimestre' AND suppressed AND value IS NOT NULL "
        "GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2 LIMIT 1").fetchall()
    assert row, "the service lake has suppressed municipal cells"
    return row[0][0], row[0][1]


def _csv_table(raw: bytes) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The header block and the rows of a downloaded CSV."""
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM"
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    blank = lines.index([])
    about = {line[0]: line[1] for line in lines[1:blank]}
    header, *rows = lines[blank + 1:]
    return about, [dict(zip(header, r, strict=True)) for r in rows]


def _xlsx_table(raw: bytes) -> tuple[dict[str, str], list[dict[str, Any]]]:
    sheet = load_workbook(io.BytesIO(raw), read_only=True).active
    lines = [list(r) for r in sheet.iter_rows(values_only=True)]
    blank = next(i for i, line in enumerate(lines) if all(v is None for v in line))
    about = {line[0]: line[1] for line in lines[1:blank]}
    header, *rows = lines[blank + 1:]
    return about, [dict(zip(header, r, strict=True)) for r in rows]


@pytest.mark.parametrize("role", [None, "bh", "ana"])
def test_values_download_as_csv_and_xlsx_with_the_numbers_of_the_json_answer(
        client: TestClient, role: str | None) -> None:
    indicator, quarter = _suppressed_quarter(client)
    auth = token(client, role) if role else {}
    url = f"/api/indicadores/{indicator}/valores?nivel=municipio&periodo={quarter}"
    cells = {c["unidade"]: c for c in client.get(url, headers=auth).json()["valores"]}
    suppressed = {u for u, c in cells.items() if c["suprimido"]}
    assert suppressed

    got = client.get(url + "&formato=csv", headers=auth)
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/csv")
    assert "attachment" in got.headers["content-disposition"]
    about, rows = _csv_table(got.content)
    assert set(about) >= {"Indicador", "Definição", "Fonte", "Período", "Nível territorial",
                          "Snapshot do lago", "Supressão"}
    assert about["Período"] == quarter
    assert about["Snapshot do lago"] == got.headers["x-rmds-snapshot"]
    assert {r["Código"] for r in rows} == set(cells)
    for row in rows:
        cell = cells[row["Código"]]
        for header, key in HEADERS.items():
            value = cell[key]
            if key == "suprimido":
                assert row[header] == ("sim" if value else "não")
            else:
                assert row[header] == ("" if value is None else
                                       value if isinstance(value, str) else csv_number(value))
                if isinstance(value, float):   # decimal comma reads back as the same number
                    assert float(row[header].replace(",", ".")) == pytest.approx(value)

    book = client.get(url + "&formato=xlsx", headers=auth)
    assert book.status_code == 200
    about, rows = _xlsx_table(book.content)
    assert about["Período"] == quarter
    assert {r["Código"] for r in rows} == set(cells)
    for row in rows:
        cell = cells[row["Código"]]
        # Excel keeps 15 significant digits
        for header in ("Valor", "Numerador", "Denominador"):
            assert row[header] == (None if cell[HEADERS[header]] is None else
                                   pytest.approx(cell[HEADERS[header]], rel=1e-13))
        assert row["Suprimido"] == ("sim" if cell["suprimido"] else "não")


def test_a_suppressed_cell_of_the_public_form_stays_suppressed_in_every_download(
        client: TestClient) -> None:
    """The public form blanks small cells: the same cells are blank in CSV and XLSX of the
    values, the ranking, the series and the map."""
    indicator, quarter = _suppressed_quarter(client)
    public = client.get(f"/api/indicadores/{indicator}/valores?nivel=municipio&"
                        f"periodo={quarter}").json()
    hidden = {c["unidade"] for c in public["valores"] if c["suprimido"]}
    assert hidden and all(c["valor"] is None and c["numerador"] is None
                          for c in public["valores"] if c["suprimido"])
    routes = [f"/api/indicadores/{indicator}/valores?nivel=municipio&periodo={quarter}",
              f"/api/indicadores/{indicator}/ranking?nivel=municipio&periodo={quarter}"
              "&limite=1000",
              f"/api/mapa/{indicator}?nivel=municipio&periodo={quarter}"]
    unit = sorted(hidden)[0]
    series = f"/api/indicadores/{indicator}/serie?nivel=municipio&unidade={unit}&tipo=trimestre"
    for route in [*routes, series]:
        for fmt in ("csv", "xlsx"):
            got = client.get(f"{route}&formato={fmt}")
            assert got.status_code == 200, (route, got.text)
            _, rows = (_csv_table if fmt == "csv" else _xlsx_table)(got.content)
            code = "Município (IBGE)" if "/mapa/" in route else "Código"
            for row in rows:
                if row["Suprimido"] == "sim":
                    assert row["Valor"] in ("", None), (route, fmt, row)
                    for header in ("Numerador", "Denominador", "IC 95% inferior"):
                        assert row.get(header) in ("", None), (route, fmt, row)
            if route != series:
                shown = {str(r[code]) for r in rows if r["Suprimido"] == "sim"}
                assert hidden <= shown, (route, fmt)
            if fmt == "csv":
                # no suppressed count leaks anywhere as text (they are 1 to 4)
                body = got.content.decode("utf-8-sig")
                for row in rows:
                    if row["Suprimido"] == "sim":
                        assert all(row[h] == "" for h in row if h not in (
                            code, "Unidade territorial", "Período", "Suprimido", "Posição",
                            "Unidade (municipio)")), row
                assert body.count(";sim") >= 1


def test_a_download_format_must_be_known(client: TestClient) -> None:
    got = client.get("/api/indicadores/partos_cesareos/valores?formato=pdf")
    assert got.status_code == 422
