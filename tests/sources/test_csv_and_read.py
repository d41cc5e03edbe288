from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from rmds.cli import cli
from rmds.exceptions import FileFormatError
from rmds.sources.csvfile import CsvReader
from rmds.sources.datasus.dbf_writer import write_dbc
from rmds.systems.registry import detect_system
from tests.sources.helpers import sample_as_dbf

CSV_SAMPLES = ["sim_do_sample.csv", "sinasc_sample.csv", "sih_rd_sample.csv",
               "sih_rd_rs_aih100.csv", "sia_pa_sample.csv", "cnes_st_sample.csv",
               "cnes_pf_sample.csv"]


@pytest.mark.parametrize("name", CSV_SAMPLES)
def test_csv_reader_matches_the_csv_as_published(samples_dir: Path, name: str) -> None:
    path = samples_dir / name
    delimiter = ";" if "aih100" in name else ","
    with path.open(encoding="utf-8", newline="") as handle:
        expected = list(csv.DictReader(handle, delimiter=delimiter))
    table = CsvReader(path).read_all()
    rows = table.to_pylist()
    assert len(rows) == len(expected)
    for mine, ref in zip(rows, expected, strict=True):
        ref = {k: v for k, v in ref.items() if k}  # the unnamed R row index is dropped
        assert mine == {k: (v if v != "" else None) for k, v in ref.items()}


def test_csv_latin1_and_decimal_comma(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes("MUNICIPIO;VALOR\nS\xe3o Jo\xe3o;1,5\n".encode("latin-1"))
    reader = CsvReader(path)
    assert reader.format.encoding == "latin-1" and reader.format.delimiter == ";"
    assert reader.read_all().to_pylist() == [{"MUNICIPIO": "São João", "VALOR": "1,5"}]


@pytest.mark.parametrize(("body", "line", "record", "fields"), [
    ('1;2;3\n4;5\n', 3, 2, 2),                       # a field short
    ('1;2;3\n\n4;5;6;7\n', 4, 2, 4),                 # a field more, after a blank line
    ('1;"dois\nlinhas";3\n4;5;6\n7\n', 5, 3, 1),     # after a value with a line break
])
def test_a_malformed_record_is_named_by_line_and_record(tmp_path: Path, body: str, line: int,
                                                       record: int, fields: int) -> None:
    path = tmp_path / "relatorio.csv"
    path.write_text("A;B;C\n" + body, encoding="utf-8")
    with pytest.raises(FileFormatError) as error:
        CsvReader(path).read_all()
    assert str(error.value).splitlines()[0] == (
        f"relatorio.csv: CSV malformado na linha {line} (registro "
                                f"{record}): {fields} campo(s), o cabeçalho tem 3")
    assert error.value.problems[0].row == line


@pytest.mark.parametrize(("name", "system"), [
    ("DOMG2019.dbc", "SIM"), ("DNMG2022.dbc", "SINASC"), ("RDMG2301.dbc", "SIH"),
    ("PAMG2301a.dbc", "SIA"), ("STMG2301.dbc", "CNES"), ("vacinacao_jan_2024_MG.csv", "PNI"),
    ("DOEXT22.dbc", "SIM"), ("qualquer.dbf", None),
])
def test_system_from_file_name(name: str, system: str | None) -> None:
    assert detect_system(Path(name)) == system


def test_system_from_csv_columns() -> None:
    assert detect_system(Path("x.csv"), ("N_AIH", "DIAG_PRINC", "X")) == "SIH"


def test_read_cli_raw_and_canonical(samples_dir: Path, tmp_path: Path) -> None:
    dbc = write_dbc(tmp_path / "DOAC2016.dbc", sample_as_dbf(samples_dir, "sim_do_sample.csv"))
    runner = CliRunner()
    out = tmp_path / "raw.parquet"
    result = runner.invoke(cli, ["read", str(dbc), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["sistema"] == "SIM" and summary["linhas_lidas"] == 100
    raw = pq.read_table(out)
    assert raw.num_rows == 100 and "CAUSABAS" in raw.column_names

    out = tmp_path / "deaths.parquet"
    result = runner.invoke(cli, ["read", str(dbc), "--canonical", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "100 aceitas" in result.output
    deaths = pq.read_table(out)
    assert deaths.num_rows == 100
    assert deaths.column("residence_municipality")[0].as_py() == "1200203"
    assert pq.read_table(tmp_path / "deaths.quarantine.parquet").num_rows == 0


def test_read_cli_quarantines_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "DOMG2024.csv"
    path.write_text(
        "DTOBITO,DTNASC,IDADE,SEXO,CODMUNRES,CAUSABAS\n"
        "01022024,01011950,474,1,310620,I219\n"
        "31022024,01011950,474,1,310620,I219\n"
        "01022024,01011950,474,1,123456,I219\n", encoding="utf-8")
    out = tmp_path / "o.parquet"
    result = CliRunner().invoke(cli, ["read", str(path), "--canonical", "--out", str(out),
                                      "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["linhas_lidas"], summary["linhas_aceitas"],
            summary["linhas_em_quarentena"]) == (3, 1, 2)
    quarantine = pq.read_table(tmp_path / "o.quarantine.parquet").to_pylist()
    assert {(q["source_row"], q["field"]) for q in quarantine} == {(2, "DTOBITO"),
                                                                   (3, "CODMUNRES")}


def test_read_cli_refuses_unknown_and_leaves_no_output(tmp_path: Path) -> None:
    path = tmp_path / "mystery.csv"
    path.write_text("A,B\n1,2\n", encoding="utf-8")
    out = tmp_path / "o.parquet"
    result = CliRunner().invoke(cli, ["read", str(path), "--canonical", "--out", str(out)])
    assert result.exit_code == 2
    assert "mystery.csv" in result.output and "--system" in result.output
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


def test_read_refuses_a_truncated_dbf_and_writes_nothing(samples_dir: Path,
                                                         tmp_path: Path) -> None:
    from rmds.exceptions import FileFormatError
    from rmds.reading import read_to_parquet

    data = sample_as_dbf(samples_dir, "sim_do_sample.csv")
    source = tmp_path / "DOAC2016.dbf"
    source.write_bytes(data[: len(data) * 3 // 4])
    out = tmp_path / "obitos.parquet"
    with pytest.raises(FileFormatError) as caught:
        read_to_parquet(source, out)
    assert "DOAC2016.dbf" in str(caught.value) and "truncado" in str(caught.value)
    assert not out.exists() and not list(tmp_path.glob("*.partial"))
