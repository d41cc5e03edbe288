from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from rmds import __version__
from rmds.cli import cli
from rmds.docgen import _walk
from rmds.fmt import fmt_int
from rmds.territory import ReferencePack


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def test_version() -> None:
    code, out = run("--version")
    assert code == 0
    assert out.strip() == f"rmds {__version__}"


@pytest.mark.parametrize("path", [p for p, _ in _walk(cli, ["rmds"])], ids=" ".join)
def test_every_command_has_help(path: list[str]) -> None:
    code, out = run(*path[1:], "--help")
    assert code == 0
    assert "Usage:" in out


def test_territory_show_belo_horizonte_json() -> None:
    code, out = run("territory", "show", "3106200", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["nome"] == "Belo Horizonte"
    current = data["hierarquia"]["pdr_atual"]
    assert current["regiao"]["codigo"] == "31016"
    assert current["macrorregiao"]["nome"] == "Centro"
    assert current["urs"]["nome"] == "Belo Horizonte"
    assert "dtsus_2019_22" in data["hierarquia"]
    years = {(p["ano"], p["fonte"]) for p in data["populacao"]}
    assert {(2022, "DATASUS (MS/SVS)"), (2024, "DATASUS (MS/SVS)"), (2022, "IBGE")} <= years
    assert all(p["valor"] > 2_000_000 for p in data["populacao"])
    assert data["outras_correspondencias"] == []
    code, out = run("territory", "show", "belo horizonte", "--json")
    assert json.loads(out)["outras_correspondencias"] == [
        {"nivel": "urs", "codigo": "belo-horizonte", "nome": "Belo Horizonte"}]


def test_territory_show_macro_lists_members() -> None:
    code, out = run("territory", "show", "3104", "--json", "--year", "2023")
    data = json.loads(out)
    assert code == 0
    assert data["nivel"] == "macrorregiao" and data["nome"] == "Jequitinhonha"
    assert len(data["municipios"]) == 31
    assert {p["ano"] for p in data["populacao"]} == {2023}


def test_territory_show_by_name_and_level_in_text() -> None:
    code, out = run("territory", "show", "Montes Claros", "--level", "urs")
    assert code == 0, out
    assert "Unidade Regional de Saúde (URS): Montes Claros" in out
    assert "municípios:" in out


def test_territory_show_old_vintage_has_14_macros() -> None:
    code, out = run("territory", "list", "macrorregiao", "--vintage", "dtsus_2019_22", "--json")
    assert code == 0
    assert len(json.loads(out)) == 14
    code, out = run("territory", "list", "macrorregiao", "--json")
    rows = json.loads(out)
    assert len(rows) == 16
    assert sum(r["municipios"] for r in rows) == 853


def test_unknown_territory_is_a_clear_error() -> None:
    code, out = run("territory", "show", "Atlântida")
    assert code == 2
    assert "nenhum território de MG corresponde a 'Atlântida'" in out


def test_missing_reference_pack_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nothing"
    code, out = run("territory", "show", "3106200", env={"RMDS_REFERENCE_DIR": str(missing)})
    assert code == 2
    assert "pacote de referência não encontrado" in out
    assert "RMDS_REFERENCE_DIR" in out


def test_settings_from_option_and_environment(reference_dir: Path) -> None:
    code, out = run("--population-source", "ibge", "territory", "show", "3106200", "--json",
                    "--year", "2023")
    assert code == 0
    # the default source is only a default: show reports both sources
    assert {p["fonte"] for p in json.loads(out)["populacao"]} == {"DATASUS (MS/SVS)", "IBGE"}
    code, out = run("settings", env={"RMDS_POPULATION_SOURCE": "ibge",
                                     "RMDS_OIDC_CLIENT_SECRET": "segredo-do-cliente-gov"})
    assert code == 0 and "ibge" in out
    assert "segredo-do-cliente-gov" not in out and "definido" in out   # never printed
    code, out = run("settings", env={"RMDS_POPULATION_SOURCE": "wrong"})
    assert code == 2 and "population_source" in out


@pytest.mark.slow   # about 2.5 minutes; `make demo` runs the same
def test_demo_runs(pack: ReferencePack) -> None:
    code, out = run("demo")
    assert code == 0, out
    # the 2022 population (DATASUS) of the state and of every macro-region, as the pack holds
    # them (numbers: the table wraps long names)
    units = [pack.state, *pack.macros(pack.current_vintage).values()]
    assert [u.code for u in units if fmt_int(pack.population(u, 2022, source="datasus").value)
            not in out] == []
    assert "hospitalisations" in out and "deaths" in out  # real samples mapped
    # the synthetic citizen signed in (local provider) and saw their own data
    assert re.search(r"/meus-dados \(cidadão\)\s+│ 200 ", out), out[-3000:]
