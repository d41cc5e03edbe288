"""Benchmark: reading DATASUS DBC and DBF files, rmds against the PySUS path.

    python benchmarks/read_datasus.py [--rows 2000000] [--baseline-rows 100000]

Writes SIH-RD-like files (113 fields, 716 bytes a record; rows resampled from the real
sample; the DBC compressed by rmds's implode, with back-references as DATASUS writes them) and
times:

* rmds: ``DbcReader`` / ``DbfReader`` → Arrow record batches (one core: the parse is a
  single-threaded C kernel; CPU time is printed next to wall time);
* baseline "PySUS path": ``pyreaddbc.read_dbc`` (decompress + dbfread → pandas) for the DBC
  and ``dbfread`` → ``pandas.DataFrame`` for the DBF, as PySUS does. The baseline holds
  every value as a Python object, so it is run on the first ``--baseline-rows`` records
  (a file of that size, same generator) and compared by rate (rows/s, MB/s).

rmds's peak memory is measured in child processes reading the full DBF and DBC under an
address-space limit smaller than the files (``--memory-limit-mb``, 1 GiB by default).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.sih_data import write_sih_files  # noqa: E402
from rmds.sources.datasus.dbc import DbcReader  # noqa: E402
from rmds.sources.datasus.dbf import DbfReader  # noqa: E402
from rmds.sources.datasus.native import kernels  # noqa: E402


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def best_of(runs: int, fn):  # type: ignore[no-untyped-def]
    best = None
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), cpu()
        rows = fn()
        wall, used = time.perf_counter() - start, cpu() - start_cpu
        if best is None or wall < best[1]:
            best = (rows, wall, used)
    return best


def rmds_dbf(path: Path) -> int:
    with DbfReader(path) as reader:
        return sum(batch.num_rows for batch in reader)


def rmds_dbc(path: Path) -> int:
    with DbcReader(path) as reader:
        return sum(batch.num_rows for batch in reader)


def pysus_dbc(path: Path) -> int:
    """PySUS's path: pyreaddbc decompresses to a DBF, dbfread reads it into pandas."""
    import pyreaddbc

    with tempfile.TemporaryDirectory() as folder:
        dbf = Path(folder) / "x.dbf"
        pyreaddbc.dbc2dbf(str(path), str(dbf))
        return pysus_dbf(dbf)


def pysus_dbf(path: Path) -> int:
    import pandas as pd
    from dbfread import DBF

    frame = pd.DataFrame(iter(DBF(str(path), encoding="iso-8859-1")))
    return len(frame)


def peak_memory_mb(path: Path, limit_mb: int) -> float:
    """Peak resident memory (VmHWM) of a child reading the whole file under an address-space
    limit of ``limit_mb`` (RLIMIT_AS). ru_maxrss is not used: Linux carries the parent's
    high-water mark across exec."""
    reader = "DbcReader" if path.suffix == ".dbc" else "DbfReader"
    module = "dbc" if path.suffix == ".dbc" else "dbf"
    code = (f"import sys;sys.path.insert(0,{str(ROOT)!r});"
            f"from rmds.sources.datasus.{module} import {reader};"
            f"r={reader}({str(path)!r});n=sum(b.num_rows for b in r);"
            "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])")
    limit = limit_mb * 1024 * 1024

    def restrict() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, preexec_fn=restrict)
    return int(out.stdout.strip()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--baseline-rows", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "rmds-bench")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--memory-limit-mb", type=int, default=1024,
                        help="address-space limit for the memory check (default 1 GiB)")
    args = parser.parse_args()

    print(f"C kernels: {'sim' if kernels() else 'NÃO (caminho numpy)'}; CPUs: {os.cpu_count()}")
    t0 = time.perf_counter()
    big_dbf, big_dbc = write_sih_files(args.dir, args.rows)
    small_dbf, small_dbc = write_sih_files(args.dir, args.baseline_rows)
    print(f"arquivos gerados em {time.perf_counter() - t0:.1f} s: {big_dbf.name} "
          f"({big_dbf.stat().st_size / 1e6:.0f} MB), {big_dbc.name} "
          f"({big_dbc.stat().st_size / 1e6:.0f} MB)")

    results = []
    for label, fn, path, runs in (
        ("rmds DBF", rmds_dbf, big_dbf, args.runs),
        ("rmds DBC", rmds_dbc, big_dbc, args.runs),
        ("rmds DBF (amostra)", rmds_dbf, small_dbf, args.runs),
        ("rmds DBC (amostra)", rmds_dbc, small_dbc, args.runs),
        ("PySUS DBF: dbfread → pandas (amostra)", pysus_dbf, small_dbf, 1),
        ("PySUS DBC: pyreaddbc+dbfread → pandas (amostra)", pysus_dbc, small_dbc, 1),
    ):
        rows, wall, used = best_of(runs, lambda f=fn, p=path: f(p))
        megabytes = path.stat().st_size / 1e6
        results.append({"caso": label, "linhas": rows, "segundos": wall, "cpu_s": used,
                        "linhas_s": rows / wall, "mb_s": megabytes / wall})
        print(f"{label:42s} {rows:>10,d} linhas  {wall:7.2f} s (cpu {used:6.2f} s)  "
              f"{rows / wall:>12,.0f} linhas/s  {megabytes / wall:8.1f} MB/s")

    by = {r["caso"]: r for r in results}
    dbf_ratio = by["rmds DBF"]["linhas_s"] / by["PySUS DBF: dbfread → pandas (amostra)"]["linhas_s"]
    dbc_ratio = by["rmds DBC"]["linhas_s"] / by["PySUS DBC: pyreaddbc+dbfread → pandas (amostra)"][
        "linhas_s"]
    per_core = by["rmds DBF"]["linhas"] / by["rmds DBF"]["cpu_s"]
    memory = peak_memory_mb(big_dbf, args.memory_limit_mb)
    memory_dbc = peak_memory_mb(big_dbc, args.memory_limit_mb)
    print()
    print(f"razão rmds / PySUS (linhas/s), DBF: {dbf_ratio:.1f}×   (meta ≥ 20×)")
    print(f"razão rmds / PySUS (linhas/s), DBC: {dbc_ratio:.1f}×   (meta ≥ 20×)")
    print(f"rmds DBF por núcleo (linhas / s de CPU): {per_core:,.0f}   (meta ≥ 1.000.000)")
    print(f"com limite de {args.memory_limit_mb} MB de memória (RLIMIT_AS), o rmds leu "
          f"{big_dbf.stat().st_size / 1e6:.0f} MB de DBF com pico de {memory:.0f} MB e "
          f"{big_dbc.stat().st_size / 1e6:.0f} MB de DBC com pico de {memory_dbc:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps({"resultados": results, "razao_dbf": dbf_ratio,
                                         "razao_dbc": dbc_ratio, "por_nucleo": per_core,
                                         "memoria_mb": memory, "memoria_dbc_mb": memory_dbc},
                                        indent=2))


if __name__ == "__main__":
    main()
