"""The generator over a multi-UF pack: one state of several UFs, with one DATASUS file per UF
(as DATASUS publishes them) holding that UF's records, and the truth of every file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from rmds.sources.datasus.dbc import DbcReader
from rmds.synth import SynthConfig, generate
from rmds.territory import ReferencePack
from rmds.territory.replicate import replicate_pack

#: file prefix → the column that places its records in a UF (residence for SIM and
#: SINASC, the facility's municipality for SIH, SIA and CNES)
PLACED = {"SIM/DO": "CODMUNRES", "SINASC/DN": "CODMUNRES", "SIH/RD": "MUNIC_MOV",
          "SIA/PA": "PA_UFMUN", "CNES/ST": "CODUFMUN"}


@pytest.fixture(scope="module")
def state(pack: ReferencePack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("multi-uf")
    multi = ReferencePack(replicate_pack(pack.directory, folder / "pacote", ["ES"]))
    return generate(SynthConfig(0.0005, (2023,), 3, folder / "estado"), multi).out


def _read(path: Path) -> pa.Table:
    with DbcReader(path) as reader:
        return pa.Table.from_batches(list(reader.iter_batches()))


def test_each_datasus_file_holds_the_records_of_its_uf(state: Path) -> None:
    seen: dict[str, set[str]] = {}
    for prefix, column in PLACED.items():
        folder, stem = prefix.split("/")
        for path in sorted((state / folder).glob(f"{stem}*.dbc")):
            uf = path.name[len(stem):len(stem) + 2]
            codes = {str(c)[:2] for c in _read(path).column(column).to_pylist()}
            assert codes == {"31" if uf == "MG" else "32"}, path.name
            seen.setdefault(prefix, set()).add(uf)
    assert seen == {prefix: {"MG", "ES"} for prefix in PLACED}
    # the AIH number begins with the code of the UF that issued it
    for path in (state / "SIH").glob("RDES*.dbc"):
        table = _read(path)
        assert {a[:2] for a in table.column("N_AIH").to_pylist()} == {"32"}
        assert set(table.column("UF_ZI").to_pylist()) == {"320000"}
    for uf, code in (("MG", "31"), ("ES", "32")):
        csv = pacsv.read_csv(state / "PNI" / f"vacinacao_{uf}_2023.csv",
                             parse_options=pacsv.ParseOptions(delimiter=";"),
                             convert_options=pacsv.ConvertOptions(
                                 column_types={"co_municipio_estabelecimento": pa.string()}))
        assert {c[:2] for c in csv.column("co_municipio_estabelecimento").to_pylist() if c} \
            == {code}


def test_the_truth_names_every_file_and_counts_its_records(state: Path) -> None:
    truth = pq.read_table(state / "verdade" / "registros.parquet",
                          columns=["file", "role"]).to_pylist()
    counts = Counter((r["file"], r["role"]) for r in truth)
    for uf in ("MG", "ES"):
        sim = f"SIM/DO{uf}2023.dbc"
        with DbcReader(state / sim) as reader:
            assert counts[(sim, "falecido")] == reader.header.records > 0
        sinasc = f"SINASC/DN{uf}2023.dbc"
        with DbcReader(state / sinasc) as reader:
            assert counts[(sinasc, "mae")] == counts[(sinasc, "recem_nascido")] \
                == reader.header.records > 0
    records = pq.read_table(state / "verdade" / "registros.parquet",
                            columns=["record"]).column("record").to_pylist()
    sih = [r for r, t in zip(records, truth, strict=True) if t["file"].startswith("SIH/")]
    assert len(sih) == len(set(sih))          # AIH numbers unique across the UFs' files
