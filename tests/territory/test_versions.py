"""``rmds reference sync``: a new pack version built from official tables, checked,
compared and installed beside the old; each year's data keep the regions of that year."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from rmds.cli import cli
from rmds.exceptions import ReferencePackError
from rmds.indicators.compute import compute
from rmds.indicators.mart import values
from rmds.lake.store import Lake
from rmds.territory import ReferencePack, Vintage
from rmds.territory.versions import POINTER, build_version, installed_versions
from tests.indicators.helpers import ALFENAS, ALPINOPOLIS, ALTEROSA, d, insert, write_population

# Alterosa leaves Alfenas's region (31001) for Alpinópolis's (31092) from 2024 on
FROM = 2024


def _regionalisation(pack: ReferencePack, path: Path, moved: dict[str, str],
                     drop: str | None = None, bad: str | None = None) -> Path:
    current = pack.current_vintage
    names = {m.region[current]: m.region_name[current] for m in pack.municipalities.values()}
    lines = ["cod_ibge7;co_regsaud;no_regsaud;co_macsaud;no_macsaud"]
    for code, m in pack.municipalities.items():
        if code == drop:
            continue
        region = moved.get(code, m.region[current])
        if code == bad:
            region = "3100"
        lines.append(f"{code};{region};{names.get(region, region)};{m.macro[current]};"
                     f"{m.macro_name[current]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def versioned(pack: ReferencePack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root with two versions: an IBGE estimate for 2025, then Alterosa moved."""
    folder = tmp_path_factory.mktemp("referencia")
    root = folder / "raiz"
    # the IBGE estimate as the DOU spreadsheet is saved: other states, thousands dots,
    # footnote marks, five-digit municipality codes beside the state's
    lines = ["UF;COD. UF;COD. MUNIC;NOME DO MUNICÍPIO;POPULAÇÃO ESTIMADA",
             "SP;35;50308;São Paulo;11.451.999"]
    for code, m in pack.municipalities.items():
        value = f"{7_000 + int(code[-3:]):,}".replace(",", ".")
        lines.append(f"MG;31;{code[2:7]};{m.name};{value}(1)" if code == ALFENAS
                     else f"MG;31;{code[2:7]};{m.name};{value}")
    estimate = folder / "estimativa_dou_2025.csv"
    estimate.write_text("\n".join(lines) + "\n", encoding="latin-1")
    first = build_version(pack.directory, root, population=estimate, population_year=2025,
                          version="v1")
    assert first.installed and first.population_changed == len(pack.municipalities)
    assert first.files_changed == ["populacao_ibge.csv"]
    table = _regionalisation(pack, folder / "pdr.csv", {ALTEROSA: "31092"})
    before = _digests(root / "versoes" / "v1")
    runner = CliRunner()
    result = runner.invoke(cli, ["reference", "sync", "--regionalizacao", str(table),
                                 "--vigente-desde", str(FROM), "--versao", "v2"],
                           env={"RMDS_REFERENCE_DIR": str(root)})
    assert result.exit_code == 0, result.output
    assert "Alterosa (3102001): região 31001 → 31092" in result.output
    # the old version is untouched, the pointer names the new one
    assert _digests(root / "versoes" / "v1") == before
    assert (root / POINTER).read_text(encoding="utf-8").strip() == "v2"
    assert installed_versions(root) == ["v1", "v2"]
    return root


def test_a_new_regionalisation_is_valid_from_its_year_on(versioned: Path) -> None:
    pack = ReferencePack(versioned)
    assert [str(v) for v in pack.vintages] == ["dtsus_2019_22", "pdr_atual", "pdr_2024"]
    assert pack.vintage_for_year(2023) is Vintage.PDR_CURRENT
    new = pack.vintage_for_year(FROM)
    assert new == "pdr_2024" and pack.vintage_for_year(2030) == new
    alterosa = pack.municipalities[ALTEROSA]
    assert (alterosa.region[Vintage.PDR_CURRENT], alterosa.region[new]) == ("31001", "31092")
    assert alterosa.macro[new] == alterosa.macro[Vintage.PDR_CURRENT]
    assert {m.ibge7 for m in pack.members(pack.regions(new)["31001"])} == \
        {m.ibge7 for m in pack.members(pack.regions(Vintage.PDR_CURRENT)["31001"])} - {ALTEROSA}
    # the estimate loaded: footnote marks and thousands dots read, other states skipped
    assert pack.population(pack.find(ALFENAS), 2025, source="ibge").value == 7_000 + 607


def test_indicators_of_earlier_years_keep_the_earlier_region(
        versioned: Path, tmp_path: Path) -> None:
    pack = ReferencePack(versioned)
    births = [{"record_id": f"{town}-{year}-{i}", "residence_municipality": town,
               "birth_date": d(f"{year}-03-0{i + 1}"), "delivery_type": "cesareo"}
              for year in (2023, FROM) for town, n in ((ALFENAS, 4), (ALTEROSA, 3),
                                                       (ALPINOPOLIS, 2)) for i in range(n)]
    population = tmp_path / "populacao.csv"
    write_population(population, {ALFENAS: 100, ALTEROSA: 50, ALPINOPOLIS: 60})
    with Lake(tmp_path / "lago") as lake:
        insert(lake, "births", births)
        compute(lake, pack, years=(2023, FROM), population=population,
                only=["partos_cesareos"])
        def births_of(region: str, year: int) -> float:
            [row] = values(lake.con, "partos_cesareos", "regiao", str(year), unit_code=region)
            assert row["vintage"] == str(pack.vintage_for_year(year))
            return float(row["denominator"])

        # 2023: Alterosa still in Alfenas's region; 2024: in Alpinópolis's
        assert (births_of("31001", 2023), births_of("31092", 2023)) == (7, 2)
        assert (births_of("31001", FROM), births_of("31092", FROM)) == (4, 5)


def test_a_bad_table_installs_nothing_and_names_every_problem(
        pack: ReferencePack, tmp_path: Path) -> None:
    root = tmp_path / "raiz"
    table = _regionalisation(pack, tmp_path / "ruim.csv", {}, drop=ALFENAS, bad=ALTEROSA)
    with pytest.raises(ReferencePackError) as caught:
        build_version(pack.directory, root, regionalisation=table, valid_from=FROM,
                      version="v1")
    found = {(p.row, p.field) for p in caught.value.problems}
    assert (None, "cod_ibge7") in found                  # Alfenas missing
    assert any(field == "co_regsaud" and row for row, field in found)   # Alterosa's code
    assert not (root / POINTER).exists() and installed_versions(root) == []
    # a regionalisation cannot start before the one in use
    with pytest.raises(Exception, match="vigente-desde"):
        build_version(pack.directory, root, regionalisation=table, valid_from=2023)


def _official_sigtap(pack: ReferencePack, path: Path, extra: tuple[str, str]) -> int:
    """A Tabela Unificada ZIP as DATASUS ships it: fixed width in Windows-1252, laid out
    by its own layout file (here with the name wider than today's 250, as a layout change
    would do), with a procedure the pack does not have yet."""
    import zipfile

    layout = ("Coluna,Tamanho,Inicio,Fim,Tipo\nCO_PROCEDIMENTO,10,1,10,VARCHAR2\n"
              "NO_PROCEDIMENTO,300,11,310,VARCHAR2\nTP_COMPLEXIDADE,1,311,311,VARCHAR2\n"
              "DT_COMPETENCIA,6,312,317,CHAR\n")
    # the pack's names carry Windows-1252 dashes and quotes read as latin-1 (U+0080–U+009F):
    # the real file has the characters themselves
    def fixed(name: str) -> str:
        return re.sub("[\x80-\x9f]", lambda m: m.group().encode("latin-1").decode(
            "cp1252", errors="replace"), name)

    rows = sorted({**{c: fixed(n) for c, n in pack.sigtap.procedures.items()},
                   extra[0]: extra[1]}.items())
    data = "".join(f"{code}{name.ljust(300)}1202611\r\n" for code, name in rows)
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("tb_procedimento_layout.txt", layout)
        zipped.writestr("tb_procedimento.txt", data.encode("cp1252"))
        zipped.writestr("tb_cid.txt", "")
    return len(rows)


def test_cid10_and_sigtap_from_the_official_files(pack: ReferencePack, tmp_path: Path) -> None:
    import zipfile

    # the CID-10 as DATASUS distributes it: latin-1 CSVs in a ZIP, plus codes added since
    # the 2008 edition the pack was built from (U09.9, which rmds adds by hand until the
    # official table has it, and U11.9)
    cid = tmp_path / "CID10CSV.ZIP"
    with zipfile.ZipFile(cid, "w") as zipped:
        for table in ("CAPITULOS", "GRUPOS", "CATEGORIAS", "SUBCATEGORIAS"):
            text = (pack.directory / "cid10" / f"CID-10-{table}.utf8.csv").read_text(
                encoding="utf-8")
            if table == "SUBCATEGORIAS":
                text += ("U099;;;;Condição pós-COVID-19, não especificada;U09.9 Cond pos-COVID;;;\n"
                         "U119;;;;Necessidade de imunização contra COVID-19, não especificada;"
                         "U11.9 Imuniz COVID;;;\n")
            zipped.writestr(f"CID-10-{table}.CSV", text.encode("latin-1"))
    long_name = "TRATAMENTO CIRÚRGICO DE TESTE COM UM NOME BEM MAIS LONGO " * 4
    sigtap = tmp_path / "TabelaUnificada_202611_v2611.zip"
    total = _official_sigtap(pack, sigtap, ("0499999999", long_name.strip()))
    root = tmp_path / "raiz"
    result = CliRunner().invoke(cli, ["reference", "sync", "--cid10", str(cid), "--sigtap",
                                      str(sigtap), "--destino", str(root), "--versao", "v1",
                                      "--json"], env={"RMDS_REFERENCE_DIR": str(pack.directory)})
    assert result.exit_code == 0, result.output
    new = ReferencePack(root)
    assert "U119" in new.cid10 and "U119" not in pack.cid10
    assert new.cid10.describe("U09.9") != pack.cid10.describe("U09.9")   # the file's wins
    assert new.cid10.get("A000") is not None and new.cid10.describe("A00.0").startswith("Cólera")
    assert len(new.sigtap) == total == len(pack.sigtap) + 1
    assert new.sigtap.name("04.99.99.999-9") == " ".join(long_name.split())
    assert '"sigtap_competencia": "202611"' in result.output
    assert '"sigtap_procedimentos": ' + str(total) in result.output
    # a Tabela Unificada without its layout is refused, naming what is missing
    broken = tmp_path / "sem_leiaute.zip"
    with zipfile.ZipFile(broken, "w") as zipped:
        zipped.writestr("tb_procedimento.txt", "0101010010X\r\n")
    refused = CliRunner().invoke(cli, ["reference", "sync", "--sigtap", str(broken),
                                       "--destino", str(tmp_path / "outra"), "--versao", "v1"],
                                 env={"RMDS_REFERENCE_DIR": str(pack.directory)})
    assert refused.exit_code != 0 and "tb_procedimento_layout.txt" in refused.output
    assert not (tmp_path / "outra" / POINTER).exists()


def test_a_table_of_only_the_changed_rows_is_one_clear_problem(
        pack: ReferencePack, tmp_path: Path) -> None:
    """A table with only the municipality that moves (what a user may try first) is told
    in one problem, not one line per municipality left out."""
    current = pack.current_vintage
    m = pack.municipalities[ALTEROSA]
    table = tmp_path / "so_alterosa.csv"
    table.write_text("cod_ibge7;co_regsaud;no_regsaud;co_macsaud;no_macsaud\n"
                     f"{ALTEROSA};31092;Alpinópolis;{m.macro[current]};"
                     f"{m.macro_name[current]}\n", encoding="utf-8")
    with pytest.raises(ReferencePackError) as caught:
        build_version(pack.directory, tmp_path / "raiz", regionalisation=table,
                      valid_from=FROM, version="v1")
    [problem] = caught.value.problems
    assert f"{len(pack.municipalities) - 1} de {len(pack.municipalities)}" in problem.message
    assert "uma linha por município" in problem.message
