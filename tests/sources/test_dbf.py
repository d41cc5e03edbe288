from __future__ import annotations

import datetime as dt
import struct
from pathlib import Path

import datasus_dbc
import dbfread
import numpy as np
import pyarrow as pa
import pytest

from rmds.exceptions import FileFormatError
from rmds.lake.ingest import ingest
from rmds.lake.store import Lake
from rmds.sources.datasus.dbc import DbcReader, decompress_dbc, explode_dbc
from rmds.sources.datasus.dbf import IMAGE_PADDING, DbfReader, read_dbf
from rmds.sources.datasus.dbf_writer import FieldSpec, dbf_bytes, write_dbc, write_dbc_stream
from rmds.sources.datasus.native import kernels
from rmds.territory import ReferencePack
from tests.sources.helpers import sample_as_dbf

SAMPLES = ["sim_do_sample.csv", "sinasc_sample.csv", "sih_rd_sample.csv",
           "sih_rd_rs_aih100.csv", "sia_pa_sample.csv", "cnes_st_sample.csv",
           "cnes_pf_sample.csv"]


@pytest.fixture(params=["native", "numpy"])
def path_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "numpy":
        monkeypatch.setenv("RMDS_NO_NATIVE", "1")
    elif kernels() is None:
        pytest.skip("C kernels not built")
    return str(request.param)


def reference(path: Path, encoding: str = "latin-1") -> list[dict[str, object]]:
    return [dict(r) for r in dbfread.DBF(str(path), encoding=encoding)]


def assert_same(ours: pa.Table, theirs: list[dict[str, object]]) -> None:
    rows = ours.to_pylist()
    assert len(rows) == len(theirs)
    for index, (mine, ref) in enumerate(zip(rows, theirs, strict=True)):
        assert list(mine) == list(ref), index
        for key in ref:
            assert mine[key] == ref[key], (index, key, mine[key], ref[key])
            assert type(mine[key]) is type(ref[key]), (index, key)


def test_sids_format_test_dbc_matches_dbfread(samples_dir: Path, tmp_path: Path,
                                              path_kind: str) -> None:
    source = samples_dir / "sids_format_test.dbc"
    dbf = tmp_path / "sids.dbf"
    dbf.write_bytes(datasus_dbc.decompress_bytes(source.read_bytes()))  # independent path
    with DbcReader(source, encoding="latin-1") as reader:
        table = reader.read_all()
        assert reader.rows_read == 100
    assert_same(table, reference(dbf))


def test_own_decompressor_matches_datasus_dbc(samples_dir: Path, tmp_path: Path) -> None:
    source = samples_dir / "sids_format_test.dbc"
    ours = decompress_dbc(source, tmp_path / "a.dbf").read_bytes()
    assert ours == datasus_dbc.decompress_bytes(source.read_bytes())


@pytest.mark.parametrize("name", SAMPLES)
def test_real_samples_as_dbf_and_dbc_match_dbfread(samples_dir: Path, tmp_path: Path,
                                                   name: str, path_kind: str) -> None:
    data = sample_as_dbf(samples_dir, name)
    dbf = tmp_path / "sample.dbf"
    dbf.write_bytes(data)
    expected = reference(dbf)
    assert_same(read_dbf(dbf, encoding="latin-1"), expected)
    for compress in (False, None):  # literal-only; compressed when the C module is built
        dbc = write_dbc(tmp_path / "sample.dbc", data, compress=compress)
        with DbcReader(dbc, encoding="latin-1") as reader:
            assert_same(reader.read_all(), expected)


def test_compressed_dbc_round_trips_through_both_decoders(samples_dir: Path,
                                                         tmp_path: Path) -> None:
    """rmds's compressor writes back-references as DATASUS does (no longer literal-only):
    the independent datasus-dbc decoder and rmds's own give back the DBF, also when the
    body is written in pieces whose matches reach into the piece before."""
    if kernels() is None:
        pytest.skip("C kernels not built")
    data = sample_as_dbf(samples_dir, "sih_rd_sample.csv")
    header_length = struct.unpack("<H", data[8:10])[0]
    body = data[header_length:]
    pieces = [body[k:k + 997] for k in range(0, len(body), 997)]
    for name, written in (
            ("whole.dbc", write_dbc(tmp_path / "whole.dbc", data, compress=True)),
            ("pieces.dbc", write_dbc_stream(tmp_path / "pieces.dbc", data[:header_length],
                                            pieces, chunk=3001, compress=True))):
        compressed = written.read_bytes()
        assert len(compressed) < len(data) / 3, name  # the literal-only stream is 9/8
        assert datasus_dbc.decompress_bytes(compressed) == data, name
        assert decompress_dbc(written, tmp_path / "x.dbf").read_bytes() == data, name


def test_overlapping_copies_of_every_short_period_decode_exactly(tmp_path: Path) -> None:
    """Back-references closer than 8 bytes repeat a pattern (a run of blanks is period 1);
    the decoder copies them 8 bytes at a time from a multiple of the period. Patterns of
    periods 1 to 17, of many lengths, and a run that ends the file (the last bytes of an
    in-memory image have no slack): both decoders agree with datasus-dbc byte for byte."""
    if kernels() is None:
        pytest.skip("C kernels not built")
    rng = np.random.default_rng(5)
    values = []
    for period in range(1, 18):
        for length in (period, period + 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 200):
            unit = bytes(rng.integers(65, 91, period, dtype=np.uint8))
            values.append((unit * (length // period + 1))[:length].decode())
    values.append("Z" * 200)  # the last record: a run to the end of the output
    table = pa.table({"TEXTO": values})
    data = dbf_bytes(table, [FieldSpec("TEXTO", "C", 200)], terminator=False)
    data = data[:-1] if data.endswith(b"\x1a") else data
    for compress in (True, False):
        dbc = write_dbc(tmp_path / f"PAD{int(compress)}.dbc", data, compress=compress)
        expected = datasus_dbc.decompress_bytes(dbc.read_bytes())
        image = explode_dbc(dbc)
        assert image is not None
        assert image[:len(image) - IMAGE_PADDING].tobytes() == expected
        assert decompress_dbc(dbc, tmp_path / "x.dbf").read_bytes() == expected
        with DbcReader(dbc) as reader:
            assert reader.read_all().column("TEXTO").to_pylist() == values


def test_small_batches_stream_the_same_rows(samples_dir: Path, tmp_path: Path,
                                            path_kind: str) -> None:
    dbf = tmp_path / "rd.dbf"
    dbf.write_bytes(sample_as_dbf(samples_dir, "sih_rd_sample.csv"))
    whole = read_dbf(dbf)
    with DbfReader(dbf, batch_rows=7) as reader:
        batches = list(reader)
    assert len(batches) == 15
    assert pa.Table.from_batches(batches).equals(whole)


def _edge_file(tmp_path: Path, terminator: bool = True) -> Path:
    table = pa.table({
        "NOME": ["JOÃO DA SILVA", "MARIA", "", "ZÉ"],
        "QTD": ["12", " 7", "", "-3"],
        "VAL": [1.5, None, -0.25, 1234.56],
        "DT": [dt.date(2020, 2, 29), None, dt.date(1999, 1, 1), dt.date(2024, 12, 31)],
        "OK": [True, False, None, True],
    })
    specs = [FieldSpec("NOME", "C", 20), FieldSpec("QTD", "C", 4), FieldSpec("VAL", "N", 10, 2),
             FieldSpec("DT", "D", 8), FieldSpec("OK", "L", 1)]
    data = bytearray(dbf_bytes(table, specs, encoding="cp850", terminator=terminator,
                               deleted=np.array([False, True, False, False])))
    path = tmp_path / ("edge.dbf" if terminator else "edge_noterm.dbf")
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("terminator", [True, False])
def test_cp850_deleted_records_and_headers_without_terminator(
        tmp_path: Path, terminator: bool, path_kind: str) -> None:
    path = _edge_file(tmp_path, terminator)
    with DbfReader(path, encoding="cp850") as reader:
        table = reader.read_all()
        assert reader.rows_deleted == 1
        assert reader.header.terminated is terminator
    assert table.column("NOME").to_pylist() == ["JOÃO DA SILVA", "", "ZÉ"]
    assert table.column("OK").to_pylist() == [True, None, True]
    if terminator:  # dbfread needs the 0x0D terminator
        assert_same(table, reference(path, "cp850"))


def _numeric_file(tmp_path: Path, values: list[bytes], decimals: int = 0) -> Path:
    width = 8
    header = struct.pack("<BBBBIHH", 3, 124, 1, 1, len(values), 65, 1 + width) + bytes(20)
    field = b"N_FIELD".ljust(11, b"\x00") + b"N" + bytes(4) + bytes([width, decimals]) + bytes(14)
    body = b"".join(b" " + v.rjust(width) for v in values)
    path = tmp_path / "numbers.dbf"
    path.write_bytes(header + field + b"\x0d" + body + b"\x1a")
    return path


def test_numeric_blanks_and_garbage(tmp_path: Path, path_kind: str) -> None:
    path = _numeric_file(tmp_path, [b"12", b"", b"*****", b"1X2", b" -5 ", b"+7", b"3.0",
                                    b"\x00\x00"])
    with DbfReader(path) as reader:
        values = reader.read_all().column("N_FIELD").to_pylist()
        problems = reader.problems
    assert values == [12, None, None, None, -5, 7, 3, None]
    assert [(p.row, p.field) for p in problems] == [(4, "N_FIELD")]
    assert "1X2" in problems[0].message and problems[0].file == "numbers.dbf"
    with pytest.raises(FileFormatError) as info, DbfReader(path, strict=True) as strict:
        strict.read_all()
    assert info.value.problems[0].row == 4


def test_float_values_equal_python_float(tmp_path: Path, path_kind: str) -> None:
    texts = [b"0.1", b"123.45", b"-0.00", b"99999.99", b".5", b"7.", b"1,5"]
    path = _numeric_file(tmp_path, texts, decimals=2)
    values = read_dbf(path).column("N_FIELD").to_pylist()
    assert values == [float(t.replace(b",", b".")) for t in texts]
    assert str(values[2]) == "-0.0"


def test_invalid_dates_are_null_and_reported(tmp_path: Path, path_kind: str) -> None:
    header = struct.pack("<BBBBIHH", 3, 124, 1, 1, 4, 65, 9) + bytes(20)
    field = b"DT".ljust(11, b"\x00") + b"D" + bytes(4) + bytes([8, 0]) + bytes(14)
    body = b"".join(b" " + v for v in [b"20240230", b"00000000", b"        ", b"20230115"])
    path = tmp_path / "dates.dbf"
    path.write_bytes(header + field + b"\x0d" + body)
    with DbfReader(path) as reader:
        assert reader.read_all().column("DT").to_pylist() == [None, None, None,
                                                              dt.date(2023, 1, 15)]
        assert [(p.row, p.field) for p in reader.problems] == [(1, "DT")]


def test_truncated_and_corrupt_files(tmp_path: Path, samples_dir: Path) -> None:
    data = sample_as_dbf(samples_dir, "sim_do_sample.csv")
    cut = tmp_path / "cut.dbf"
    cut.write_bytes(data[: len(data) - 5000])
    with DbfReader(cut) as reader:
        assert reader.truncated
        assert reader.read_all().num_rows < 100
    with pytest.raises(FileFormatError), DbfReader(cut, strict=True) as strict:
        strict.read_all()
    bad = tmp_path / "bad.dbc"
    bad.write_bytes(data[:400] + b"\x00\x00\x00\x00" + b"\x07\x09garbage")
    with pytest.raises(FileFormatError) as info:
        DbcReader(bad)
    assert "bad.dbc" in str(info.value)
    tiny = tmp_path / "tiny.dbf"
    tiny.write_bytes(b"\x03\x00")
    with pytest.raises(FileFormatError):
        DbfReader(tiny)


def _external_dbc_files() -> list[Path]:
    """Real DATASUS DBC files a developer points to (none ship with the repository)."""
    import os

    folder = os.environ.get("RMDS_TEST_DBC_DIR")
    return sorted(Path(folder).glob("*.dbc")) if folder else []


@pytest.mark.parametrize("dbc", _external_dbc_files(), ids=lambda p: p.name)
def test_external_real_dbc_matches_dbfread(dbc: Path, tmp_path: Path) -> None:
    """Set RMDS_TEST_DBC_DIR to a folder of real DATASUS .dbc files to run this."""
    dbf = tmp_path / "x.dbf"
    dbf.write_bytes(datasus_dbc.decompress_bytes(dbc.read_bytes()))
    with DbcReader(dbc, encoding="latin-1") as reader:
        assert_same(reader.read_all(), reference(dbf))


def test_unknown_encoding_is_a_clear_error(tmp_path: Path) -> None:
    path = _edge_file(tmp_path)
    with pytest.raises(FileFormatError) as info:
        DbfReader(path, encoding="no-such-codec")
    assert "edge.dbf" in str(info.value) and "no-such-codec" in str(info.value)


def test_in_memory_and_streaming_decompression_agree(samples_dir: Path, tmp_path: Path
                                                     ) -> None:
    if kernels() is None:
        pytest.skip("C kernels not built")
    data = sample_as_dbf(samples_dir, "sih_rd_sample.csv")
    literal = write_dbc(tmp_path / "RDAC1601.dbc", data, compress=False)
    for source in (samples_dir / "sids_format_test.dbc", literal):  # real: back-references
        expected = datasus_dbc.decompress_bytes(source.read_bytes())
        image = explode_dbc(source)
        assert image is not None
        assert image[:len(image) - IMAGE_PADDING].tobytes() == expected
        assert decompress_dbc(source, tmp_path / "x.dbf").read_bytes() == expected
        with DbcReader(source) as memory, DbcReader(source, memory_limit=0) as streamed:
            assert memory.read_all().equals(streamed.read_all())


def test_truncated_or_corrupt_dbc_streams_are_clear_errors(samples_dir: Path,
                                                           tmp_path: Path) -> None:
    if kernels() is None:
        pytest.skip("C kernels not built")
    source = samples_dir / "sids_format_test.dbc"
    data = source.read_bytes()
    header_length = struct.unpack("<H", data[8:10])[0]
    cut = tmp_path / "cut.dbc"
    for keep in (header_length + 4, header_length + 6, header_length + 100, len(data) // 2):
        cut.write_bytes(data[:keep])
        for limit in (64 << 20, 0):  # in memory, and through a temporary file
            with pytest.raises(FileFormatError) as info:
                DbcReader(cut, memory_limit=limit)
            assert "cut.dbc" in str(info.value)
            assert "DBC corrompido" in info.value.problems[0].message
    # random damage never crashes the decoder: an error or some bytes, never more than fit
    rng = np.random.default_rng(5)
    body = np.frombuffer(data, dtype=np.uint8)[header_length + 4:]
    for _ in range(300):
        damaged = body.copy()
        spots = rng.integers(0, len(damaged), 4)
        damaged[spots] = rng.integers(0, 256, 4).astype(np.uint8)
        out = np.empty(20_000, dtype=np.uint8)
        native = kernels()
        assert native is not None
        produced = native.explode(damaged.ctypes.data, len(damaged), out.ctypes.data,
                                  len(out))
        assert produced <= len(out)


def _under_declared(declared: int, records: int = 591) -> bytes:
    """A DBF of ``records`` records whose header says ``declared`` (edited by hand)."""
    table = pa.table({"CODIGO": [f"{i:06d}" for i in range(records)],
                      "IDADE": [str(i % 90) for i in range(records)]})
    data = bytearray(dbf_bytes(table, [FieldSpec("CODIGO", "C", 6),
                                       FieldSpec("IDADE", "C", 3)]))
    assert struct.unpack("<I", data[4:8])[0] == records
    data[4:8] = struct.pack("<I", declared)
    return bytes(data)


@pytest.mark.parametrize("declared", [590, 0])
@pytest.mark.parametrize("container", ["dbf", "dbc"])
def test_a_header_that_under_declares_the_records_is_an_error_naming_the_file(
        tmp_path: Path, path_kind: str, declared: int, container: str) -> None:
    data = _under_declared(declared)
    path = tmp_path / f"DOMG2023.{container}"
    if container == "dbc":
        write_dbc(path, data)
    else:
        path.write_bytes(data)
    opener = DbcReader if container == "dbc" else DbfReader
    with pytest.raises(FileFormatError) as caught:
        opener(path).read_all()
    assert str(caught.value).startswith(f"DOMG2023.{container}: o cabeçalho declara "
                                        f"{declared} registros")
    [problem] = caught.value.problems
    assert problem.file == f"DOMG2023.{container}" and problem.row == declared + 1


def test_the_end_marker_alone_after_the_records_is_not_an_under_declared_header(
        tmp_path: Path, path_kind: str) -> None:
    exact = _under_declared(591)
    assert exact.endswith(b"\x1a")
    for name, data in (("marcador.dbf", exact), ("sem_marcador.dbf", exact[:-1])):
        (tmp_path / name).write_bytes(data)
        assert DbfReader(tmp_path / name).read_all().num_rows == 591
    (tmp_path / "lixo.dbf").write_bytes(exact + b"\x00")     # a stray byte is not silence
    with pytest.raises(FileFormatError, match=r"lixo\.dbf"):
        DbfReader(tmp_path / "lixo.dbf")


def test_an_under_declared_file_is_not_loaded_short(samples_dir: Path, tmp_path: Path,
                                                     pack: ReferencePack) -> None:
    """Through ``rmds ingest``: an error naming the file, not "carregado" with 60 of 100."""
    data = bytearray(sample_as_dbf(samples_dir, "sim_do_sample.csv"))
    data[4:8] = struct.pack("<I", 60)  # 100 records in the file
    path = tmp_path / "DOAC2016.dbf"
    path.write_bytes(bytes(data))
    with Lake(tmp_path / "lago") as lake:
        [outcome] = ingest(lake, [path], pack)
        assert outcome.status == "erro"
        assert outcome.error is not None and outcome.error.startswith(
            "DOAC2016.dbf: o cabeçalho declara 60 registros")
        assert lake.counts()["deaths"] == 0
