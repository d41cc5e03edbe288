"""SIH-RD-like benchmark files: rows drawn from the real sample, varied, in the RD layout."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rmds.sources.datasus.dbf_writer import dbf_bytes, write_dbc_stream
from rmds.sources.datasus.layouts import SIH_RD

SAMPLE = Path(__file__).resolve().parent.parent.parent / "shared/data/samples/sih_rd_sample.csv"


def sih_table(rows: int, seed: int = 1) -> pa.Table:
    """``rows`` RD records: each column resampled from the real sample, numbers varied."""
    rng = np.random.default_rng(seed)
    with SAMPLE.open(encoding="utf-8", newline="") as handle:
        sample = list(csv.DictReader(handle))
    columns: dict[str, pa.Array] = {}
    for spec in SIH_RD:
        pool = [r.get(spec.name, "") for r in sample]
        if spec.type == "N":
            base = np.array([float(v) if v else 0.0 for v in pool])
            picked = base[rng.integers(0, len(base), rows)]
            if spec.decimals:
                noise = rng.uniform(0.5, 1.5, rows)
                limit = 10 ** (spec.length - spec.decimals - 2)
                values = np.minimum(np.round(picked * noise, spec.decimals), limit)
                columns[spec.name] = pa.array(values)
            else:
                limit = 10 ** (spec.length - 1) - 1
                columns[spec.name] = pa.array(np.minimum(picked, limit).astype(np.int64))
        else:
            choices = pa.array([v[:spec.length] for v in pool])
            columns[spec.name] = pc.take(choices, pa.array(rng.integers(0, len(pool), rows)))
    aih = rng.integers(10**12, 10**13 - 1, rows)
    columns["N_AIH"] = pa.array(aih.astype(str))
    return pa.table(columns)


def write_sih_files(directory: Path, rows: int, distinct: int = 100_000) -> tuple[Path, Path]:
    """A DBF and a DBC of ``rows`` records (``distinct`` generated rows, repeated), written
    in bounded memory."""
    directory.mkdir(parents=True, exist_ok=True)
    dbf_path, dbc_path = directory / f"RDXX{rows}.dbf", directory / f"RDXX{rows}.dbc"
    if dbf_path.exists() and dbc_path.exists():
        return dbf_path, dbc_path
    block_rows = min(rows, distinct)
    block = dbf_bytes(sih_table(block_rows), SIH_RD)
    header_length = 32 + 32 * len(SIH_RD) + 1
    header, body = bytearray(block[:header_length]), block[header_length:-1]
    header[4:8] = rows.to_bytes(4, "little")
    record_length = len(body) // block_rows

    def pieces() -> Iterator[bytes]:
        written = 0
        while written < rows:
            take = min(rows - written, block_rows)
            yield body[:take * record_length]
            written += take

    with dbf_path.open("wb") as out:
        out.write(header)
        for piece in pieces():
            out.write(piece)
        out.write(b"\x1a")
    write_dbc_stream(dbc_path, bytes(header), pieces())
    return dbf_path, dbc_path
