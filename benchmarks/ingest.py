"""Benchmark: ingestion into the lake, rmds against baselines measured in the same run.

    python benchmarks/ingest.py [--scale 0.1] [--fhir-baseline 20000]

Generates a synthetic state (``rmds synth``, one year) and times, end to end (file on
disk → rows committed in the DuckDB lake, with mapping, validation, quarantine and
identity extraction):

* DATASUS files (SIH, SIA, SIM, SINASC, CNES as DBC): rows/s. Baseline "PySUS path":
  ``pyreaddbc.read_dbc`` → pandas → ``CREATE TABLE AS`` in DuckDB, the raw columns with no
  validation or mapping at all, on the same files.
* FHIR R4 bulk NDJSON (Patient, Condition, Encounter, Observation, Immunization):
  resources/s, as ``rmds ingest`` does it (large files on worker processes) and in one
  process. Baseline: parsing every resource with the ``fhir.resources`` (R4B) pydantic
  models alone — no storage — on the first ``--fhir-baseline`` lines of each file.

Also measured, as a ceiling for the DATASUS figure: the DuckDB write alone — the same
canonical rows, already decoded and in memory, written and committed into an empty
database. No reader can make ``rmds ingest`` faster than that on the machine it runs on.
Two what-if layouts (not rmds's) show what the write costs: without the per-row provenance
text and with codes as integers; and that without the identity table. And the other end:
the DBC decompression alone (every file exploded into memory, on the reader threads).
Their CPU time together, spread over every core, bounds any load that does both.

Targets (issue #5): at least 1,000,000 DATASUS rows/s and 20,000 FHIR resources/s.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rmds.lake.ingest import cores, ingest, reader_workers  # noqa: E402
from rmds.lake.store import Lake, fetch_arrow  # noqa: E402
from rmds.settings import default_reference_dir  # noqa: E402
from rmds.sources.datasus.dbc import explode_dbc  # noqa: E402
from rmds.synth import SynthConfig, generate  # noqa: E402
from rmds.territory import ReferencePack  # noqa: E402

TARGET_ROWS = 1_000_000
TARGET_RESOURCES = 20_000


def baseline_datasus(files: list[Path], work: Path) -> tuple[int, float]:
    import duckdb
    import pandas as pd
    import pyreaddbc
    from dbfread import DBF

    con = duckdb.connect(str(work / "baseline.duckdb"))
    rows = 0
    started = time.perf_counter()
    for k, path in enumerate(files):
        dbf = work / "baseline.dbf"
        pyreaddbc.dbc2dbf(str(path), str(dbf))
        frame = pd.DataFrame(iter(DBF(str(dbf), encoding="iso-8859-1")))
        con.register("frame", frame)
        con.execute(f"CREATE TABLE t{k} AS SELECT * FROM frame").fetchall()
        con.unregister("frame")
        rows += len(frame)
    con.close()
    return rows, time.perf_counter() - started


_FREE_TEXT = {"name", "mother_name", "address", "cns", "cpf", "cep", "record_key",
              "aih_number", "value", "reason", "field"}


def _integer_codes(data: pa.Table) -> pa.Table:
    """What-if layout: no per-row provenance text, codes stored as integers (or dictionary
    codes when not numeric)."""
    data = data.drop_columns([c for c in ("source_file", "source_system", "layout")
                              if c in data.column_names])
    for index, name in enumerate(data.column_names):
        column = data.column(index)
        if pa.types.is_string(column.type) and name not in _FREE_TEXT:
            try:
                data = data.set_column(index, name, pc.cast(column, pa.int64()))
            except pa.ArrowInvalid:
                data = data.set_column(index, name, pc.dictionary_encode(column))
    return data


def cpu_seconds() -> float:
    """CPU time of this process so far, every thread (DuckDB's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def decompression_floor(files: list[Path]) -> tuple[int, float, float]:
    """Rows in ``files``, and the wall and CPU seconds of exploding every DBC into memory on
    the reader threads, with nothing else done: the least any DBC load costs."""
    from concurrent.futures import ThreadPoolExecutor

    rows = 0
    started, cpu = time.perf_counter(), cpu_seconds()
    with ThreadPoolExecutor(reader_workers()) as pool:
        for image in pool.map(explode_dbc, files):
            assert image is not None, "C module not built"
            rows += int.from_bytes(image[4:8].tobytes(), "little")
    return rows, time.perf_counter() - started, cpu_seconds() - cpu


def write_ceilings(lake: Lake, work: Path) -> tuple[int, dict[str, tuple[float, float]]]:
    """Rows of the DATASUS batches in ``lake``, and the seconds DuckDB takes to write them
    again (wall and CPU), from memory, into an empty database in one transaction: as rmds
    stores them, and in what-if layouts (not rmds's) that show what the write costs."""
    tables = {name: fetch_arrow(lake.con, f'SELECT * FROM "{name}"') for name in (
        "hospitalisations", "outpatient_production", "deaths", "births", "facilities",
        "identity_records", "quarantine")}
    rows = sum(t.num_rows for n, t in tables.items() if n not in ("identity_records",
                                                                  "quarantine"))
    coded = {n: _integer_codes(t) for n, t in tables.items()}
    variants = {
        "as rmds stores them": tables,
        "what if: no provenance text, codes as integers": coded,
        "what if: that, and no identity table": {n: t for n, t in coded.items()
                                                 if n != "identity_records"},
    }
    seconds = {}
    for k, (label, data) in enumerate(variants.items()):
        con = duckdb.connect(str(work / f"teto{k}.duckdb"))
        started, cpu = time.perf_counter(), cpu_seconds()
        con.execute("BEGIN TRANSACTION").fetchall()
        for name, table in data.items():
            con.register("incoming", table)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM incoming').fetchall()
            con.unregister("incoming")
        con.execute("COMMIT").fetchall()
        seconds[label] = (time.perf_counter() - started, cpu_seconds() - cpu)
        con.close()
    return rows, seconds


def baseline_fhir(files: list[Path], limit: int) -> tuple[int, float]:
    from fhir.resources.R4B import get_fhir_model_class

    count = 0
    started = time.perf_counter()
    for path in files:
        model = get_fhir_model_class(path.name.split(".")[0])
        with path.open("rb") as handle:
            for line in itertools.islice(handle, limit):
                model.model_validate_json(line)
                count += 1
    return count, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--fhir-baseline", type=int, default=20_000,
                        help="lines per NDJSON file parsed by the fhir.resources baseline")
    args = parser.parse_args()
    pack = ReferencePack(default_reference_dir())
    work = Path(tempfile.mkdtemp(prefix="rmds-ingest-bench-"))
    try:
        state = generate(SynthConfig(args.scale, (2023,), 7, work / "estado"), pack).out
        datasus = sorted(p for folder in ("SIH", "SIA", "SIM", "SINASC", "CNES")
                         for p in (state / folder).glob("*.dbc"))
        fhir = sorted((state / "FHIR" / "ndjson").glob("*.ndjson"))
        pack.ibge6_to_7_table()
        _ = pack.cid10, pack.sigtap  # load the code tables before timing

        with Lake(work / "lago") as lake:
            started = time.perf_counter()
            outcomes = ingest(lake, datasus, pack)
            rmds_datasus = time.perf_counter() - started
            rows = sum(o.batch["rows_read"] for o in outcomes if o.batch)
            by_system: dict[str, list[float]] = {}
            for o in outcomes:
                if o.batch:
                    entry = by_system.setdefault(o.batch["system"], [0, 0.0])
                    entry[0] += o.batch["rows_read"]
                    entry[1] += o.batch["seconds"]
            ceiling_rows, ceilings = write_ceilings(lake, work)
            floor_rows, floor_seconds, floor_cpu = decompression_floor(datasus)
            assert floor_rows == rows
            started = time.perf_counter()
            outcomes = ingest(lake, fhir, pack)
            rmds_fhir = time.perf_counter() - started
            resources = sum(o.batch["rows_read"] for o in outcomes if o.batch)
        with Lake(work / "lago-um-processo") as lake:  # no worker processes
            started = time.perf_counter()
            assert all(o.status == "carregado" for o in ingest(lake, fhir, pack,
                                                               process_bytes=None))
            one_process = time.perf_counter() - started
        assert all(o.status == "carregado" for o in outcomes)
        # the baseline holds every value as a Python object: one file of each system
        sample = [next(p for p in datasus if p.parent.name == s)
                  for s in ("SIH", "SIA", "SIM", "SINASC", "CNES")]
        base_rows, base_seconds = baseline_datasus(sample, work)
        base_resources, base_fhir_seconds = baseline_fhir(fhir, args.fhir_baseline)

        size = sum(p.stat().st_size for p in datasus) / 1e6
        print(f"synthetic state, scale {args.scale}, 2023")
        print(f"DATASUS: {len(datasus)} DBC files, {size:.0f} MB, {rows:,} rows")
        rate = rows / rmds_datasus
        base_rate = base_rows / base_seconds
        print(f"  rmds ingest (map, validate, quarantine, identity, DuckDB commit): "
              f"{rmds_datasus:.1f} s, {rate:,.0f} rows/s "
              f"({rate / TARGET_ROWS:.2f} of the 1,000,000 rows/s target)")
        for system, (n, seconds) in sorted(by_system.items()):
            print(f"    {system:7s} {int(n):>10,} rows  read+map {seconds:5.2f} s on the "
                  f"reader threads")
        print("  ceiling, DuckDB write alone (the same canonical rows, from memory, written "
              "and committed in one transaction):")
        for label, (seconds, cpu) in ceilings.items():
            ceiling = ceiling_rows / seconds
            print(f"    {label:48s} {seconds:5.2f} s {ceiling:>12,.0f} rows/s "
                  f"({ceiling / TARGET_ROWS:.2f} of the target), CPU {cpu:4.2f} s")
        stored = ceiling_rows / ceilings["as rmds stores them"][0]
        print(f"  rmds ingest at {rate / stored:.2f} of the ceiling as stored")
        n_cores = cores()
        floor = floor_rows / floor_seconds
        print(f"  DBC decompression alone (in memory, {reader_workers()} threads, nothing else "
              f"done): {floor_seconds:.2f} s, {floor:,.0f} rows/s "
              f"({floor / TARGET_ROWS:.2f} of the target), CPU {floor_cpu:.2f} s")
        for label, (_, cpu) in ceilings.items():
            bound = rows / ((floor_cpu + cpu) / n_cores)
            print(f"  bound, decompression + write {label}: CPU {floor_cpu + cpu:.2f} s over "
                  f"{n_cores} cores, at best {bound:,.0f} rows/s ({bound / TARGET_ROWS:.2f} of "
                  "the target)")
        print(f"  baseline 'PySUS path' (pyreaddbc + dbfread → pandas → DuckDB, raw columns; "
              f"one file of each system, {base_rows:,} rows): {base_seconds:.1f} s, "
              f"{base_rate:,.0f} rows/s")
        print(f"  rmds / baseline: {rate / base_rate:.1f}x")
        fhir_rate = resources / rmds_fhir
        base_fhir_rate = base_resources / base_fhir_seconds
        print(f"FHIR NDJSON: {len(fhir)} files, {resources:,} resources")
        print(f"  rmds ingest (validate, map, DuckDB commit): {rmds_fhir:.1f} s, "
              f"{fhir_rate:,.0f} resources/s "
              f"({fhir_rate / TARGET_RESOURCES:.2f} of the 20,000/s target)")
        print(f"    the same in one process (no worker processes): {one_process:.1f} s, "
              f"{resources / one_process:,.0f} resources/s; worker processes: "
              f"{one_process / rmds_fhir:.2f}x")
        print(f"  baseline fhir.resources R4B models, parsing only ({base_resources:,} "
              f"resources): {base_fhir_rate:,.0f} resources/s")
        print(f"  rmds / baseline: {fhir_rate / base_fhir_rate:.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
