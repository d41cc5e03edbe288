"""Data-quality rules and the municipal data-maturity score."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from rmds.cli import cli
from rmds.exceptions import CatalogError
from rmds.indicators.stats import wilson_interval
from rmds.lake.ingest import ingest
from rmds.lake.store import Lake
from rmds.quality.report import CONFIDENCE, level_of, municipality_report, quality_report
from rmds.quality.rules import load_rules, parse_rules
from rmds.synth import SynthConfig, generate
from rmds.territory import ReferencePack
from tests.indicators.helpers import ALFENAS, ALTEROSA, d, insert, write_population


def test_rules_are_declared_per_system_and_checked_together() -> None:
    rules = load_rules()
    assert {r.system for r in rules} >= {"SIM", "SINASC", "SIH", "PNI", "FHIR"}
    assert {r.dimension for r in rules} == {"completude", "oportunidade", "consistencia",
                                            "unicidade", "cobertura"}
    bad = {"rule": [
        {"id": "a", "system": "SIM", "dimension": "beleza", "name": "x", "input": "deaths",
         "territory": "residence_municipality", "bad": "cor IS NULL", "target": 5,
         "limit": 1, "weight": 1},
        {"id": "b", "system": "SIM", "dimension": "cobertura", "name": "y", "kind": "cobertura",
         "input": "deaths", "territory": "residence_municipality", "target": 90, "limit": 60,
         "weight": 1},
    ]}
    with pytest.raises(CatalogError) as caught:
        parse_rules(bad, "regras.toml")
    text = str(caught.value)
    for expected in ("dimension", "coluna desconhecida 'cor'", "limit fica acima",
                     "expected_by"):
        assert expected in text, expected


def test_levels() -> None:
    assert [level_of(s) for s in (100, 85, 84.9, 70, 50, 49.9, None)] == [
        "avançada", "avançada", "intermediária", "intermediária", "básica", "inicial",
        "sem dados"]


def _births(municipality: str, count: int, missing_race: int) -> list[dict[str, Any]]:
    return [{"record_id": f"{municipality}-{i}", "residence_municipality": municipality,
             "birth_date": d("2023-05-01"), "registration_date": d("2023-05-10"),
             "race_colour": None if i < missing_race else 1, "prenatal_visits": 8,
             "gestational_weeks": 39, "birth_weight_g": 3200} for i in range(count)]


def test_scores_by_hand(pack: ReferencePack, tmp_path: Path) -> None:
    population = tmp_path / "populacao.csv"
    empty = next(c for c in sorted(pack.municipalities) if c not in (ALFENAS, ALTEROSA))
    write_population(population, {ALFENAS: 100, ALTEROSA: 100, empty: 100})
    with Lake(tmp_path / "lago") as lake:
        # Alfenas: 40 births, 10 without race/colour (25%); Alterosa: 40, none missing
        insert(lake, "births", _births(ALFENAS, 40, 10) + _births(ALTEROSA, 40, 0))
        # PNI doses of Alfenas: person 1 got PENTA D1 twice (one duplicate in 3 doses)
        insert(lake, "immunisations", [
            {"record_id": f"v{i}", "vaccine_code": "42", "dose_code": dose,
             "residence_municipality": ALFENAS, "vaccination_date": d("2023-06-01"),
             "source_file": "vac.csv", "source_system": "PNI"}
            for i, dose in enumerate(["1", "1", "2"])])
        insert(lake, "identity_records", [
            {"record_key": f"v{i}", "role": "vacinado", "source_system": "PNI",
             "source_file": "vac.csv", "residence_municipality": ALFENAS} for i in range(3)])
        lake.run("CREATE TABLE person_links (record_uid VARCHAR, person_id BIGINT)")
        lake.run("INSERT INTO person_links VALUES ('PNI|vac.csv|v0|vacinado', 1), "
                 "('PNI|vac.csv|v1|vacinado', 1), ('PNI|vac.csv|v2|vacinado', 1)")
        result = quality_report(lake, pack, population=population)
        alfenas = municipality_report(lake.con, ALFENAS)[0]
        alterosa = municipality_report(lake.con, ALTEROSA)[0]
        nothing = municipality_report(lake.con, empty)[0]
    assert result.skipped == {}
    rules = {r["rule_id"]: r for r in alfenas["rules"]}
    race = rules["sinasc_raca_cor_ignorada"]
    assert (race["records"], race["failing"], race["value"]) == (40, 10, 25.0)
    # Wilson (99%) lower bound of 10/40, then linear between target 5% (100) and limit 20% (0)
    low = float(wilson_interval(np.array([10.0]), np.array([40.0]), CONFIDENCE)[0][0]) * 100
    assert race["bound"] == pytest.approx(low)
    assert race["score"] == pytest.approx(max(0.0, (20 - low) / 15 * 100))
    duplicates = rules["pni_doses_duplicadas"]
    assert (duplicates["records"], duplicates["failing"]) == (3, 1)
    assert alfenas["explanation"][0]["regra"] in {"sinasc_raca_cor_ignorada",
                                                  "pni_doses_duplicadas"}
    assert alfenas["score"] < alterosa["score"] == 100.0
    # Alterosa has no records for most rules: they do not count, only those with data
    assert {r["rule_id"] for r in alterosa["rules"]} >= {"sinasc_raca_cor_ignorada"}
    # a municipality of the population with no record at all has no diagnosis, not 100
    assert nothing["score"] is None and nothing["level"] == "sem dados"


@pytest.fixture(scope="module")
def degraded_state(pack: ReferencePack, tmp_path_factory: pytest.TempPathFactory
                   ) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("qualidade")
    state = generate(SynthConfig(0.03, (2023,), 3, folder / "estado"), pack).out
    lake_path = folder / "lago"
    with Lake(lake_path) as lake:
        ingest(lake, [state], pack)
    return state, lake_path


def test_quality_flags_the_degraded_municipalities_and_not_the_others(
        degraded_state: tuple[Path, Path], pack: ReferencePack) -> None:
    state, lake_path = degraded_state
    with (state / "verdade" / "municipios.csv").open(encoding="utf-8") as handle:
        degraded = {r["cod_ibge7"]: r["qualidade_degradada"] == "true"
                    for r in csv.DictReader(handle)}
    with Lake(lake_path) as lake:
        result = quality_report(lake, pack, population=state / "populacao.csv")
        rows = municipality_report(lake.con)
        records = dict(lake.run(
            "SELECT municipality, sum(records) FROM quality_values WHERE rule_id IN "
            "('sim_raca_cor_ignorada', 'sinasc_raca_cor_ignorada') GROUP BY 1"))
    # linkage has not run: the duplicate rules are said to be not evaluated
    assert set(result.skipped) == {"pni_doses_duplicadas", "fhir_pacientes_duplicados"}
    flagged = {r["municipality"]: r["level"] != "avançada" for r in rows}
    # where the data are enough to judge (10+ deaths and births), the diagnosis is exact
    judged = [m for m, n in records.items() if n >= 10]
    assert sum(degraded[m] for m in judged) >= 5, "too few degraded municipalities to judge"
    wrong = [m for m in judged if flagged[m] != degraded[m]]
    assert wrong == []
    # everywhere, almost no good municipality is flagged
    good = [m for m in flagged if not degraded[m]]
    assert sum(flagged[m] for m in good) <= 0.01 * len(good)
    # a degraded municipality's explanation names what pulls it down
    worst = next(r for r in rows if degraded[r["municipality"]])
    assert worst["explanation"] and worst["explanation"][0]["pontos_perdidos"] > 0


def test_quality_report_command(degraded_state: tuple[Path, Path]) -> None:
    state, lake_path = degraded_state
    runner = CliRunner()
    result = runner.invoke(cli, ["quality", "report", "--lake", str(lake_path),
                                 "--population", str(state / "populacao.csv"),
                                 "--municipio", "Belo Horizonte", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    [bh] = data["diagnostico"]
    assert bh["municipality"] == "3106200" and 0 <= bh["score"] <= 100
    assert {r["rule_id"] for r in bh["rules"]} >= {"sim_causa_mal_definida",
                                                   "sinasc_registro_tardio"}
    text = runner.invoke(cli, ["quality", "report", "--lake", str(lake_path),
                               "--population", str(state / "populacao.csv"), "--limit", "3"])
    assert text.exit_code == 0 and "Maturidade dos dados" in text.output
