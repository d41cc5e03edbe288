"""A page for every territorial unit (issue 23): how the unit does against the units above
it and over time, grouped by the plan's objectives; the methods page; the quality diagnosis
page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from rmds.indicators.catalog import load_catalog
from rmds.territory import Level, ReferencePack, vintage_for_year
from rmds.web.unit_pages import versus
from tests.service_fixtures import token


def test_better_or_worse_only_when_the_other_value_is_outside_the_interval() -> None:
    cell = {"value": 80.0, "ci_low": 70.0, "ci_high": 90.0}
    assert versus(cell, {"value": 85.0}, higher_is_better=True) == "semelhante"
    assert versus(cell, {"value": 95.0}, higher_is_better=True) == "pior"
    assert versus(cell, {"value": 95.0}, higher_is_better=False) == "melhor"
    assert versus(cell, {"value": 60.0}, higher_is_better=True) == "melhor"
    assert versus(cell, {"value": None}, higher_is_better=True) is None
    assert versus({"value": None, "suppressed": True}, {"value": 1.0}, True) is None


def test_every_level_has_a_unit_page_grouped_by_objective(
        client: TestClient, pack: ReferencePack) -> None:
    vintage = vintage_for_year(2023)
    catalog = load_catalog()
    bh = pack.municipalities["3106200"]
    for level, code, compared in (
            ("regiao", bh.region[vintage], ["Macro", "Minas Gerais"]),
            ("macrorregiao", bh.macro[vintage], ["Minas Gerais"]),
            ("urs", next(iter(pack.units(Level.URS))), ["Minas Gerais"]),
            ("consorcio", "CISMARG", ["Minas Gerais"])):
        page = client.get(f"/unidade/{level}/{code}?periodo=2023")
        assert page.status_code == 200, (level, code)
        text = page.text
        assert text.count('<tr data-indicador=') == len(list(catalog))
        used = {i.objective for i in catalog}
        assert text.count('class="objetivo"') == len(used)
        header = re.search(r"<thead>(.*?)</thead>", text, re.S)
        assert header is not None
        for label in compared:
            assert label in header.group(1)
    municipality = client.get("/municipio/3106200").text
    header = re.search(r"<thead>(.*?)</thead>", municipality, re.S)
    assert header is not None and "Região" in header.group(1)
    assert f"/unidade/regiao/{bh.region[vintage]}" in municipality
    assert client.get("/unidade/regiao/nao-existe").status_code == 404
    assert client.get("/unidade/bairro/1").status_code == 404


def test_a_suppressed_cell_reads_suppressed_on_the_unit_page(client: TestClient) -> None:
    """The public page of a small region: a small count reads "suprimido", never a
    number and never the dash of missing data."""
    found = 0
    listing = client.get("/api/indicadores/mortalidade_infantil/valores?nivel=regiao"
                         "&periodo=2023").json()["valores"]
    for cell in listing:
        if cell["suprimido"] and cell["valor"] is None:
            text = client.get(f"/unidade/regiao/{cell['unidade']}?periodo=2023").text
            row = re.search(r'<tr data-indicador="mortalidade_infantil">(.*?)</tr>', text,
                            re.S)
            assert row is not None and "suprimido" in row.group(1)
            found += 1
            break
    assert found == 1


def test_methods_page_and_quality_diagnosis_page(client: TestClient) -> None:
    methods = client.get("/metodos").text
    for anchor in ("ic", "suavizado", "supressao", "maturidade"):
        assert f'id="{anchor}"' in methods
    assert "/metodos#suavizado" in client.get("/?nivel=municipio").text
    public = client.get("/qualidade/3106200", follow_redirects=False)
    assert public.status_code == 303 and "/entrar" in public.headers["location"]
    signed = token(client, "ana")
    detail = client.get("/api/qualidade/3106200", headers=signed).json()
    page = client.get("/qualidade/3106200", headers=signed)
    assert page.status_code == 200
    assert page.text.count("<tr data-regra=") == len(detail["rules"]) > 0


def test_official_targets_appear_where_they_exist(client: TestClient) -> None:
    penta = client.get("/api/indicadores/cobertura_penta_d3").json()
    assert penta["meta"]["valor"] == 95 and penta["meta"]["fonte"]
    assert client.get("/api/indicadores/mortalidade_infantil").json()["meta"] is None
    painel = client.get("/?indicador=cobertura_penta_d3&nivel=regiao").text
    assert 'id="meta"' in painel and 'class="meta"' in painel
    assert 'id="meta"' not in client.get("/?indicador=mortalidade_infantil").text
    unit = client.get("/unidade/estado/31").text
    row = re.search(r'<tr data-indicador="cobertura_penta_d3">(.*?)</tr>', unit, re.S)
    assert row is not None and "meta ≥ 95" in row.group(1)


def test_the_search_box_finds_units_by_name_without_accents(
        client: TestClient, pack: ReferencePack) -> None:
    one = client.get("/busca?q=belo horizonte", follow_redirects=False)
    # an exact municipality name opens it, though a region and a URS share the name
    assert one.status_code == 303 and one.headers["location"] == "/municipio/3106200"
    name = pack.municipalities["3106200"].name
    assert client.get(f"/busca?q={name.upper()}", follow_redirects=False
                      ).headers["location"] == "/municipio/3106200"
    many = client.get("/busca?q=sao joao")
    assert many.status_code == 200
    expected = sum(1 for m in pack.municipalities.values()
                   if "sao joao" in m.name.casefold().replace("ã", "a").replace("ão", "ao"))
    assert many.text.count('href="/municipio/') >= expected > 1
    assert "Nenhum" in client.get("/busca?q=xyzw").text
