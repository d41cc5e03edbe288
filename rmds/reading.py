"""``rmds read``: one DATASUS file to Parquet, raw (the source's own columns) or canonical."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from rmds.exceptions import FileFormatError, Problem
from rmds.schema import table
from rmds.sources.datasus.dbf import DbfReader
from rmds.sources.mapping import QUARANTINE_SCHEMA
from rmds.systems.registry import SYSTEMS, map_file, open_source
from rmds.territory import ReferencePack

__all__ = ["ReadSummary", "read_to_parquet"]


@dataclass
class ReadSummary:
    path: Path
    system: str | None
    layout: str
    rows_read: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    rows_deleted: int = 0
    seconds: float = 0.0
    problems: Counter[tuple[str, str]] = field(default_factory=Counter)
    output: Path | None = None
    quarantine_output: Path | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "arquivo": str(self.path), "sistema": self.system, "leiaute": self.layout,
            "linhas_lidas": self.rows_read, "linhas_aceitas": self.rows_accepted,
            "linhas_em_quarentena": self.rows_quarantined,
            "registros_excluidos_no_dbf": self.rows_deleted,
            "segundos": round(self.seconds, 3),
            "problemas": [{"campo": f, "motivo": r, "linhas": n}
                          for (f, r), n in self.problems.most_common()],
            "saida": str(self.output) if self.output else None,
            "quarentena": str(self.quarantine_output) if self.quarantine_output else None,
        }


def read_to_parquet(path: Path, out: Path, *, system: str | None = None, canonical: bool = False,
                    pack: ReferencePack | None = None, encoding: str | None = None,
                    batch_rows: int = 65_536,
                    progress: Callable[[int], None] | None = None) -> ReadSummary:
    """Read ``path`` and write ``out`` (Parquet). With ``canonical``, rows that cannot be
    mapped go to ``<out>.quarantine.parquet`` with field and reason; the output files are
    written under temporary names and renamed only when the whole file has been read."""
    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    quarantine_path = out.with_name(out.stem + ".quarantine.parquet")
    quarantine_partial = quarantine_path.with_name(quarantine_path.name + ".partial")
    with open_source(path, system, encoding=encoding, batch_rows=batch_rows) as source:
        summary = ReadSummary(path, source.system, source.layout)
        try:
            if not canonical:
                writer: pq.ParquetWriter | None = None
                for batch, _ in source.batches():
                    if writer is None:
                        writer = pq.ParquetWriter(partial, batch.schema)
                    writer.write_batch(batch)
                    summary.rows_read += batch.num_rows
                    summary.rows_accepted += batch.num_rows
                    if progress:
                        progress(batch.num_rows)
                if writer is None:
                    pq.write_table(pa.table({}), partial)
                else:
                    writer.close()
            else:
                if pack is None:
                    raise ValueError("canonical reading needs the reference pack")
                municipalities = pack.ibge6_to_7_table()
                writer = None
                quarantine_writer = pq.ParquetWriter(quarantine_partial, QUARANTINE_SCHEMA)
                for result, batch in map_file(source, municipalities):
                    if writer is None:
                        writer = pq.ParquetWriter(partial, result.accepted.schema)
                    writer.write_table(result.accepted)
                    quarantine_writer.write_table(result.quarantine)
                    summary.rows_read += result.rows_in
                    summary.rows_accepted += result.accepted.num_rows
                    summary.rows_quarantined += result.rows_quarantined
                    for problem in result.quarantine.select(["field", "reason"]).to_pylist():
                        summary.problems[(problem["field"], problem["reason"])] += 1
                    if progress:
                        progress(batch.num_rows)
                quarantine_writer.close()
                if writer is None:  # no rows: an empty table of the canonical schema
                    schema = table(SYSTEMS[str(source.system)].table).schema
                    pq.write_table(schema.empty_table(), partial)
                else:
                    writer.close()
                quarantine_partial.replace(quarantine_path)
                summary.quarantine_output = quarantine_path
            reader = source.reader
            if isinstance(reader, DbfReader) and reader.truncated:
                raise FileFormatError(f"{path.name}: arquivo truncado; nada foi gravado", [
                    Problem(path.name, reader.records_in_file + 1, None,
                            f"cabeçalho anuncia {reader.header.records} registros; o arquivo "
                            f"tem {reader.records_in_file}")])
            partial.replace(out)
            summary.output = out
        finally:
            for leftover in (partial, quarantine_partial):
                leftover.unlink(missing_ok=True)
        if isinstance(source.reader, DbfReader):
            summary.rows_deleted = source.reader.rows_deleted
            for problem in source.reader.problems:
                summary.problems[(problem.field or "", "valor ilegível no DBF")] += 1
    summary.seconds = time.perf_counter() - started
    return summary
