"""A multi-UF pack: Minas Gerais replicated under other UF codes, with one state per UF."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rmds.cli import cli
from rmds.exceptions import ConfigurationError
from rmds.territory import Level, ReferencePack
from rmds.territory.model import slug
from rmds.territory.pack import ibge_check_digit
from rmds.territory.replicate import replicate_pack, uf_code


@pytest.fixture(scope="module")
def multi(pack: ReferencePack, tmp_path_factory: pytest.TempPathFactory) -> ReferencePack:
    out = tmp_path_factory.mktemp("multi-uf") / "pacote"
    return ReferencePack(replicate_pack(pack.directory, out, ["ES", "33"]))


def test_every_uf_is_a_copy_of_minas_gerais_under_its_own_codes(
        pack: ReferencePack, multi: ReferencePack) -> None:
    original = list(pack.municipalities.values())
    assert len(multi.municipalities) == 3 * len(original)
    assert {code: unit.name for code, unit in multi.states.items()} == {
        "31": "Minas Gerais", "32": "Espírito Santo", "33": "Rio de Janeiro"}
    assert multi.state.code == "31"          # the pack's own state stays Minas Gerais
    vintage = pack.current_vintage
    for m in original[:: max(1, len(original) // 40)]:
        copy = multi.municipality("33" + m.ibge6[2:])
        assert copy.ibge7 == ibge_check_digit(copy.ibge6) and copy.ibge7[:2] == "33"
        assert copy.name == m.name           # homonymous municipalities in two UFs
        assert copy.region[vintage] == "33" + m.region[vintage][2:]
        assert copy.macro[vintage] == "33" + m.macro[vintage][2:]
        assert copy.census == m.census
        assert multi.population(copy.ibge7, 2022).value == pack.population(m.ibge7, 2022).value
        parents = multi.parents(copy, vintage)
        assert parents[Level.STATE].code == "33"
        assert parents[Level.REGION].name == pack.parents(m, vintage)[Level.REGION].name
        assert slug(copy.urs) != slug(m.urs)   # URS are the state's: one set per UF
    for code in ("31", "32", "33"):
        members = multi.members(multi.states[code])
        assert len(members) == len(original) and {m.state for m in members} == {code}
    assert len(multi.units(Level.REGION, vintage)) == 3 * len(pack.units(Level.REGION, vintage))
    assert len(multi.units(Level.URS)) == 3 * len(pack.units(Level.URS))
    assert [u.code for u in multi.find_all("RJ", Level.STATE)] == ["33"]


def test_the_national_file_lists_the_replicas_in_place_of_the_real_uf(
        pack: ReferencePack, multi: ReferencePack) -> None:
    national = multi.national_ibge6
    assert {m.ibge6 for m in multi.municipalities.values()} <= national
    others = {c for c in pack.national_ibge6 if c[:2] not in {"31", "32", "33"}}
    assert others <= national                 # every other UF as it was
    assert len([c for c in national if c[:2] == "32"]) == len(pack.municipalities)


def test_replication_refuses_what_it_cannot_do(pack: ReferencePack, tmp_path: Path) -> None:
    assert uf_code("rj") == uf_code("33") == "33"
    with pytest.raises(ConfigurationError, match="UF desconhecida"):
        uf_code("XX")
    with pytest.raises(ConfigurationError, match="diferentes de MG"):
        replicate_pack(pack.directory, tmp_path / "a", ["MG"])
    with pytest.raises(ConfigurationError, match="distintas"):
        replicate_pack(pack.directory, tmp_path / "b", ["ES", "32"])
    (tmp_path / "c").mkdir()
    with pytest.raises(ConfigurationError, match="já existe"):
        replicate_pack(pack.directory, tmp_path / "c", ["ES"])
    with pytest.raises(ConfigurationError, match="não é um pacote"):
        replicate_pack(tmp_path / "c", tmp_path / "d", ["ES"])
    assert not (tmp_path / "d").exists() and not (tmp_path / "a").exists()


def test_the_cli_writes_the_pack(reference_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "Pingo d'Água"
    result = CliRunner().invoke(cli, ["--reference-dir", str(reference_dir), "reference",
                                      "replicate", "SP", "--destino", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 UFs (31, 35)" in " ".join(result.output.split())   # as the console wraps it
    assert set(ReferencePack(out).states) == {"31", "35"}


def test_the_pack_check_accepts_the_replicas_and_keeps_each_region_in_its_uf(
        multi: ReferencePack, pack: ReferencePack, tmp_path: Path) -> None:
    from rmds.territory.check import check_pack

    assert check_pack(multi.directory).ok
    broken = replicate_pack(pack.directory, tmp_path / "quebrado", ["ES"])
    lines = (broken / "municipios.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    column = header.index("co_regsaud_pdr_atual")
    row = next(i for i, line in enumerate(lines) if line.startswith("32") and "\"" not in line)
    cells = lines[row].split(",")
    cells[column] = "31" + cells[column][2:]          # an ES municipality in an MG region
    lines[row] = ",".join(cells)
    (broken / "municipios.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = check_pack(broken)
    assert not report.ok
    assert any(p.row == row + 1 and p.field == "co_regsaud_pdr_atual"
               for p in report.errors), report.errors
