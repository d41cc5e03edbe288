"""Every place derived from the system declarations and the lake inventory agrees with them.

A system is declared once (rmds.systems) and a lake table once (rmds.schema.inventory); the
registry, the identity extraction, the quality rules, the export partitions, the CLI choices
and the docs must follow. These tests fail when one of them is edited by hand, or when a
declaration is incomplete.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from rmds.cli import cli
from rmds.indicators.inputs import INPUTS
from rmds.lake import store
from rmds.quality.rules import load_rules
from rmds.schema import INVENTORY, PROTECTED, TABLES, PeriodKind, table
from rmds.schema.inventory import LakeTable, check_inventory
from rmds.systems import DECLARATIONS
from rmds.systems.identity import IDENTITY_SPECS
from rmds.systems.registry import SYSTEMS, detect_system

DOCS = Path(__file__).parent.parent / "docs"


def test_registry_is_the_declarations() -> None:
    assert list(SYSTEMS) == list(DECLARATIONS)
    assert all(SYSTEMS[code] is DECLARATIONS[code] for code in DECLARATIONS)


def test_identity_specs_come_from_the_declarations() -> None:
    assert {c: d.identity for c, d in DECLARATIONS.items() if d.identity} == IDENTITY_SPECS
    assert "SINAN" in IDENTITY_SPECS


def test_every_declaration_is_complete() -> None:
    names = {t.name for t in TABLES}
    for code, d in DECLARATIONS.items():
        assert d.code == code
        assert d.table in names, f"{code}: tabela {d.table} não declarada"
        assert d.table in INVENTORY, f"{code}: tabela {d.table} fora do inventário"
        assert d.signature, f"{code}: sem assinatura de colunas"
        for spec in d.identity:
            assert spec.record_key, f"{code}: identidade sem chave de registro"
        if d.rules is not None:  # its rules count rows of its table
            assert d.rules.is_file(), f"{code}: {d.rules} não existe"
            assert d.table in INPUTS, f"{code}: {d.table} não é entrada das regras"
        years = sorted((lay.first_year, lay.last_year or 9999) for lay in d.layouts)
        for (_, end), (start, _) in itertools.pairwise(years):
            assert start == end + 1, f"{code}: leiautes com buraco ou sobreposição"


def test_quality_rules_include_each_systems_own() -> None:
    ids = {r.id for r in load_rules()}
    for d in DECLARATIONS.values():
        if d.rules is not None:
            declared = set(re.findall(r'^id = "([^"]+)"', d.rules.read_text("utf-8"), re.M))
            assert declared and declared <= ids
            assert {r.system for r in load_rules() if r.id in declared} == {d.code}


def test_file_names_reach_their_system() -> None:
    examples = {"SIM": "DOMG2019.dbc", "SINASC": "DNMG2020.dbc", "SIH": "RDMG2301.dbc",
                "SIA": "PAMG2301.dbc", "CNES": "STMG2301.dbc", "PNI": "vacinacao_mg.csv",
                "CONSORCIO": "consorcio_cismarg.csv", "SINAN": "DENGBR24.dbc"}
    assert set(examples) == set(DECLARATIONS)  # a new system needs an example here
    for code, name in examples.items():
        assert detect_system(Path(name)) == code
    assert detect_system(Path("CHIKBR23.dbc")) == "SINAN"
    assert detect_system(Path("ZIKABR22.dbf")) == "SINAN"


def test_inventory_covers_every_table_and_agrees_with_it() -> None:
    assert check_inventory() == []
    assert set(INVENTORY) == {t.name for t in TABLES}
    for entry in INVENTORY.values():
        # a period is stated for every table: a column, or explicitly none
        assert isinstance(entry.period_kind, PeriodKind)
        assert (entry.period is None) == (entry.period_kind is PeriodKind.NONE)


def test_inventory_check_names_a_wrong_column(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = dict(INVENTORY)
    broken["deaths"] = dataclasses.replace(INVENTORY["deaths"], period="dt_obito")
    broken["births"] = LakeTable("births", PeriodKind.DATE, None, (), ())
    del broken["facilities"]
    monkeypatch.setattr("rmds.schema.inventory.INVENTORY", broken)
    problems = check_inventory()
    assert "deaths: coluna dt_obito não existe" in problems
    assert "births: período None incoerente com data" in problems
    assert "tabela facilities sem entrada no inventário" in problems


def test_export_partitions_are_the_inventory() -> None:
    dated = {n: t.period for n, t in INVENTORY.items() if t.period_kind is PeriodKind.DATE}
    competence = {n: t.period for n, t in INVENTORY.items()
                  if t.period_kind is PeriodKind.COMPETENCE}
    assert dated == store.PERIOD_COLUMNS
    assert competence == store.COMPETENCE_COLUMNS
    assert store.PERIOD_COLUMNS["notifications"] == "notification_date"
    undated = {n for n, t in INVENTORY.items() if t.period_kind is PeriodKind.NONE}
    assert undated == {"identity_records", "organizations"}
    for name, column in dated.items():
        assert column in {c.name for c in table(name).columns}


def test_protected_tables_are_the_inventorys() -> None:
    assert {n for n, t in INVENTORY.items() if t.protected} == PROTECTED == {"identity_records"}


def test_cli_system_choices_are_the_declarations() -> None:
    result = CliRunner().invoke(cli, ["read", "--help"], terminal_width=200)
    shown = re.search(r"--system \[([^\]]+)\]", result.output)
    assert shown is not None
    assert shown.group(1).split("|") == [c.lower() for c in DECLARATIONS]


def test_schema_docs_list_every_system_and_table_period() -> None:
    text = (DOCS / "schema.md").read_text(encoding="utf-8")
    for d in DECLARATIONS.values():
        assert f"| {d.code} | {d.name} | `{d.table}` |" in text
    for entry in INVENTORY.values():
        section = text.split(f"## `{entry.name}`", 1)[1].split("\n## ", 1)[0]
        expected = f"`{entry.period}`" if entry.period else "Período: nenhum"
        assert expected in section.split("|", 1)[0]
