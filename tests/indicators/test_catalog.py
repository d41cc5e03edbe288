"""The catalog as data: complete, cited, checked as a whole, compiled for more than one
engine; the statistics of small numbers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import sqlglot

from rmds.exceptions import CatalogError
from rmds.indicators.catalog import load_catalog, parse_catalog
from rmds.indicators.compiler import compile_indicator
from rmds.indicators.stats import eb_smooth, poisson_interval, suppressed, wilson_interval

REQUIRED_BY_ISSUE = {
    "mortalidade_infantil", "mortalidade_neonatal", "mortalidade_pos_neonatal",
    "razao_mortalidade_materna", "prenatal_7_consultas", "baixo_peso_ao_nascer",
    "nascimentos_pre_termo", "partos_cesareos", "maes_adolescentes", "cobertura_bcg",
    "cobertura_penta_d3", "cobertura_polio_d3", "cobertura_triplice_viral_d1",
    "cobertura_triplice_viral_d2", "cobertura_pneumo_d2", "cobertura_febre_amarela",
    "icsap_proporcao", "icsap_taxa", "taxa_internacao", "letalidade_iam", "letalidade_avc",
    "mortalidade_prematura_dcnt", "obitos_causa_mal_definida", "internacao_fora_regiao",
    "internacao_fora_macrorregiao", "cirurgias_eletivas", "aps_hipertensao_pa_aferida",
    "aps_diabetes_hba1c",
}


def test_the_catalog_is_complete_and_cited() -> None:
    catalog = load_catalog()
    assert len(catalog) >= 25
    assert set(catalog.indicators) >= REQUIRED_BY_ISSUE
    for indicator in catalog:
        assert indicator.objective in catalog.objectives
        assert len(indicator.source) > 20 and len(indicator.definition) > 20
        assert indicator.periods == ("mes", "trimestre", "ano")


def _minimal(**changes: object) -> dict[str, object]:
    indicator: dict[str, object] = {
        "id": "x", "name": "X", "objective": "O1", "source": "fonte", "difference": "nenhuma",
        "definition": "def",
        "unit": "%", "multiplier": 100, "higher_is_better": True, "method": "wilson",
        "numerator": {"input": "births", "date": "birth_date",
                      "territory": "residence_municipality", "filter": "mother_age < 20"},
        "denominator": {"input": "births", "date": "birth_date",
                        "territory": "residence_municipality"},
    }
    indicator.update(changes)
    return {"objective": [{"id": "O1", "text": "objetivo"}], "indicator": [indicator]}


def test_every_indicator_says_how_it_differs_from_its_source() -> None:
    # the field is required: "nenhuma" is a statement, not a default
    without = _minimal()
    del without["indicator"][0]["difference"]  # type: ignore[index]
    with pytest.raises(CatalogError) as caught:
        parse_catalog(without, "teste.toml")
    assert [p.field for p in caught.value.problems] == ["x.difference"]
    catalog = load_catalog()
    assert all(len(i.difference) >= 7 for i in catalog)
    # the deliberate differences found by the audit are declared, not hidden in the source
    assert "bruta" in catalog.get("mortalidade_prematura_dcnt").difference
    assert "bruta" in catalog.get("letalidade_iam").difference
    assert "Diferença deliberada" not in " ".join(i.source for i in catalog)


def test_a_valid_declaration_parses() -> None:
    catalog = parse_catalog(_minimal(), "teste.toml")
    assert catalog.get("x").kind == "proporcao"


def test_every_problem_is_reported_together() -> None:
    bad = _minimal(
        objective="O9", method="exato",
        numerator={"input": "births", "date": "data", "territory": "residence_municipality",
                   "filter": "peso < 2500 AND lower_than(mother_age) AND x IN (SELECT 1)"},
        denominator={"input": "obitos", "date": "death_date", "territory": "t"})
    with pytest.raises(CatalogError) as caught:
        parse_catalog(bad, "teste.toml")
    text = str(caught.value)
    for expected in ("objetivo desconhecido 'O9'", "method", "coluna 'data' não existe",
                     "coluna desconhecida 'peso'", "função desconhecida 'lower_than'",
                     "SELECT", "entrada desconhecida 'obitos'"):
        assert expected in text, expected
    assert len(caught.value.problems) >= 7


def test_the_catalog_compiles_for_spark_as_well() -> None:
    start, end = dt.date(2023, 1, 1), dt.date(2024, 1, 1)
    for indicator in load_catalog():
        for sql in compile_indicator(indicator, start, end, dialect="spark").values():
            assert sqlglot.parse_one(sql, read="spark") is not None
        duck = compile_indicator(indicator, start, end)["numerator"]
        assert "ind_in_" in duck


def test_poisson_interval_is_exact() -> None:
    low, high = poisson_interval(np.array([0.0, 10.0]), np.array([1.0, 1.0]))
    assert low[0] == 0 and high[0] == pytest.approx(3.6889, abs=1e-4)
    assert low[1] == pytest.approx(4.7954, abs=1e-4)
    assert high[1] == pytest.approx(18.3904, abs=1e-4)


def test_wilson_interval() -> None:
    low, high = wilson_interval(np.array([5.0, 0.0]), np.array([10.0, 20.0]))
    assert (low[0], high[0]) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634,
                                                                              abs=1e-4))
    assert low[1] == 0 and high[1] == pytest.approx(0.1611, abs=1e-4)


def test_empirical_bayes_pulls_small_areas_more() -> None:
    k = np.array([0.0, 5.0, 100.0, 2000.0, 30.0])
    n = np.array([10.0, 100.0, 10_000.0, 200_000.0, 1_000.0])
    smooth = eb_smooth(k, n)
    pooled = k.sum() / n.sum()
    raw = k / n
    moved = np.abs(smooth - raw) / np.maximum(np.abs(raw - pooled), 1e-12)
    assert moved[0] > moved[2] > moved[3]       # the smaller, the more it moves
    assert np.all(np.sign(smooth - pooled) == np.sign(raw - pooled))
    # identical rates stay where they are
    assert eb_smooth(np.array([1.0, 10.0]), np.array([100.0, 1000.0])) == pytest.approx(
        [0.01, 0.01])


def test_suppression_threshold() -> None:
    hidden = suppressed(np.array([0.0, 1.0, 4.0, 5.0, 9.0]),
                        np.array([10.0, 10.0, 10.0, 10.0, 3.0]), 5, event_denominator=True)
    assert hidden.tolist() == [False, True, True, False, True]


def test_a_bad_population_file_names_the_row_and_field(tmp_path: Path) -> None:
    from rmds.exceptions import InputError
    from rmds.indicators.compute import read_population

    path = tmp_path / "populacao.csv"
    path.write_text("cod_ibge7,ano,sexo,pop_00_04,pop_80_mais,pop_total\n"
                    "3100104,2023,1,10,2,12\n3100104,2023,2,abc,1,2\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_population(path)
    [problem] = caught.value.problems
    assert (problem.row, problem.field) == (3, "pop_00_04") and "abc" in problem.message


def test_an_annual_target_is_declared_and_checked() -> None:
    births = {"input": "births", "date": "birth_date", "territory": "residence_municipality"}
    catalog = parse_catalog(_minimal(denominator={**births, "target_year_offset": -1}),
                            "teste.toml")
    measure = catalog.get("x").denominator
    assert measure is not None and measure.target_year_offset == -1
    assert "ano -1" in measure.describe()
    sql = compile_indicator(catalog.get("x"), dt.date(2023, 1, 1), dt.date(2024, 1, 1))
    # the previous year's births are read (the window opens a year earlier)
    assert "2022-01-01" in sql["denominator"]
    for bad in (1, "-1", True, -9):
        with pytest.raises(CatalogError) as caught:
            parse_catalog(_minimal(denominator={**births, "target_year_offset": bad}),
                          "teste.toml")
        assert "target_year_offset" in str(caught.value)
    with pytest.raises(CatalogError):
        parse_catalog(_minimal(denominator={**births, "target_year_offset": 0,
                                            "distinct": "mother_age"}), "teste.toml")
