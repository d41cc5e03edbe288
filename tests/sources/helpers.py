"""Build DBF/DBC fixtures from the real DATASUS samples (CSV as published)."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa

from rmds.sources.datasus.dbf_writer import FieldSpec, dbf_bytes
from rmds.sources.datasus.layouts import SIH_RD


def sample_rows(samples: Path, name: str) -> list[dict[str, str]]:
    with (samples / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";" if "aih100" in name else ","))


def sample_as_dbf(samples: Path, name: str) -> bytes:
    """The sample written as a DBF: character fields as wide as the longest value, except
    SIH-RD files, which use the published RD layout with numeric fields."""
    rows = sample_rows(samples, name)
    columns = [c for c in rows[0] if c]
    if name.startswith("sih_rd"):
        # the RD layout, widened where a year's file carries longer values
        specs = [FieldSpec(f.name, f.type, max(f.length, *(len(r.get(f.name, "")) for r in rows)),
                           f.decimals) if f.type == "C" else f for f in SIH_RD]
        data: dict[str, pa.Array] = {}
        for spec in specs:
            values = [r.get(spec.name, "").replace(",", ".") for r in rows]
            if spec.type == "N":
                parsed = [float(v) if v else None for v in values]
                data[spec.name] = pa.array(
                    parsed if spec.decimals else [None if v is None else int(v) for v in parsed])
            else:
                data[spec.name] = pa.array(values)
        return dbf_bytes(pa.table(data), specs)
    specs = [FieldSpec(c[:10], "C", max(1, max(len(r[c].encode("latin-1")) for r in rows)))
             for c in columns]
    table = pa.table({s.name: [r[c] for r in rows] for s, c in zip(specs, columns, strict=True)})
    return dbf_bytes(table, specs)
