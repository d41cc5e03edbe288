from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from rmds.cli import cli
from rmds.territory.check import check_pack, is_valid_cnpj


def _rewrite(path: Path, edit: object) -> None:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    edit(rows)  # type: ignore[operator]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def test_shipped_pack_is_clean(reference_dir: Path) -> None:
    report = check_pack(reference_dir)
    assert report.ok, [str(p) for p in report.errors]
    assert report.checked["municipios.csv"] == 853
    assert report.checked["malha_municipios.geojson"] == 853


def _break(pack_copy: Path) -> None:
    def municipalities(rows: list[dict[str, str]]) -> None:
        rows[1]["cod_ibge7"] = rows[0]["cod_ibge7"]  # duplicated code
        rows[1]["cod_ibge6"] = rows[0]["cod_ibge6"]
        rows[5]["co_regsaud_pdr_atual"] = "31999"  # unknown region

    def population(rows: list[dict[str, str]]) -> None:
        rows[10]["pop_2015"] = "-42"  # negative population

    _rewrite(pack_copy / "municipios.csv", municipalities)
    _rewrite(pack_copy / "populacao_ibge.csv", population)


def test_broken_copy_reports_all_three_problems(pack_copy: Path) -> None:
    _break(pack_copy)
    report = check_pack(pack_copy)
    assert not report.ok
    found = {(p.file, p.row, p.field) for p in report.errors}
    assert ("municipios.csv", 3, "cod_ibge7") in found
    assert ("municipios.csv", 7, "co_regsaud_pdr_atual") in found
    assert ("populacao_ibge.csv", 12, "pop_2015") in found
    messages = " | ".join(str(p) for p in report.errors)
    assert "duplicado" in messages
    assert "região de saúde desconhecida: 31999" in messages
    assert "positiva: -42" in messages


def test_cli_exit_codes(pack_copy: Path, reference_dir: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["reference", "check", str(reference_dir)])
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.output
    _break(pack_copy)
    bad = runner.invoke(cli, ["reference", "check", str(pack_copy), "--json"])
    assert bad.exit_code == 1
    data = json.loads(bad.output)
    assert data["ok"] is False
    fields = {(e["file"], e["row"], e["field"]) for e in data["erros"]}
    assert {("municipios.csv", 3, "cod_ibge7"), ("municipios.csv", 7, "co_regsaud_pdr_atual"),
            ("populacao_ibge.csv", 12, "pop_2015")} <= fields


def test_missing_files_and_columns_are_problems(pack_copy: Path) -> None:
    (pack_copy / "sigtap_procedimentos.csv").unlink()
    _rewrite(pack_copy / "populacao_sexo_faixa5.csv", lambda rows: rows.__setitem__(
        0, {**rows[0], "pop_total": "1"}))
    report = check_pack(pack_copy)
    messages = [str(p) for p in report.errors]
    assert any(m.startswith("sigtap_procedimentos.csv: arquivo ausente") for m in messages)
    assert any("populacao_sexo_faixa5.csv, linha 2, campo pop_total: soma das faixas" in m
               for m in messages)


def test_geometry_keyed_to_unknown_code(pack_copy: Path) -> None:
    path = pack_copy / "malha_municipios.geojson"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["features"][0]["properties"]["id"] = "3199999"
    path.write_text(json.dumps(data), encoding="utf-8")
    report = check_pack(pack_copy)
    messages = [str(p) for p in report.errors]
    assert any("malha_municipios.geojson, campo features[0].properties.id" in m
               for m in messages)
    assert any("sem geometria: 3100104" in m for m in messages)


def test_cnpj_validator() -> None:
    assert is_valid_cnpj("06070075000125")
    assert not is_valid_cnpj("06070075000126")
    assert not is_valid_cnpj("11111111111111")
