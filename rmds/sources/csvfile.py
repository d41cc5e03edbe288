"""CSV files as published by DATASUS, TabNet exports, OpenDataSUS and R/pandas dumps.

Variants handled: ``;`` or ``,`` separators (sniffed from the header), UTF-8 or latin-1
(UTF-8 is tried first), a leading unnamed row-index column (``""`` or empty header, as R's
``write.csv2`` writes), and decimal commas (kept as text: columns are read as strings, value
for value as published; the mappers decode numbers). Reading is Arrow's multithreaded CSV
parser, streamed in batches.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from rmds.exceptions import FileFormatError, Problem

__all__ = ["CsvFormat", "CsvReader", "sniff_csv"]

ROW_INDEX_NAMES = {"", "Unnamed: 0", "X", "...1"}


@dataclass(frozen=True)
class CsvFormat:
    delimiter: str
    encoding: str
    columns: tuple[str, ...]
    index_column: str | None


def sniff_csv(path: Path) -> CsvFormat:
    with path.open("rb") as handle:
        head = handle.read(65536)
    if not head.strip():
        raise FileFormatError(f"{path.name}: arquivo vazio", [
            Problem(path.name, None, None, "arquivo CSV vazio")])
    try:
        text = head.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is still UTF-8
        if exc.start >= len(head) - 3:
            text, encoding = head[:exc.start].decode("utf-8"), "utf-8"
        else:
            text, encoding = head.decode("latin-1"), "latin-1"
    text = text.lstrip("\ufeff")
    header = text.splitlines()[0]
    delimiter = max((";", ",", "\t", "|"), key=header.count)
    if header.count(delimiter) == 0:
        delimiter = ","
    names = [c.strip().strip('"') for c in header.split(delimiter)]
    index = names[0] if names and names[0] in ROW_INDEX_NAMES else None
    return CsvFormat(delimiter, encoding, tuple(names), index)


class CsvReader:
    """Stream a DATASUS-style CSV as Arrow batches of strings (blank → null)."""

    def __init__(self, source: Path | str, *, batch_bytes: int = 16 << 20,
                 encoding: str | None = None, delimiter: str | None = None) -> None:
        self.path = Path(source)
        self.name = self.path.name
        sniffed = sniff_csv(self.path)
        self.format = CsvFormat(delimiter or sniffed.delimiter, encoding or sniffed.encoding,
                                sniffed.columns, sniffed.index_column)
        self.batch_bytes = batch_bytes
        names = list(self.format.columns)
        if self.format.index_column is not None:
            names[0] = "_indice"
        duplicated = {n for n in names if names.count(n) > 1}
        if duplicated:
            raise FileFormatError(f"{self.name}: colunas repetidas", [
                Problem(self.name, 1, n, "coluna repetida no cabeçalho") for n in duplicated])
        self.column_names = names
        self.schema = pa.schema([pa.field(n, pa.string()) for n in names
                                 if n != "_indice"])
        self.rows_read = 0

    def __enter__(self) -> CsvReader:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def close(self) -> None:
        return None

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self.iter_batches()

    def iter_batches(self) -> Iterator[pa.RecordBatch]:
        read_options = pacsv.ReadOptions(
            encoding=self.format.encoding, block_size=self.batch_bytes,
            column_names=self.column_names, skip_rows=1)
        parse_options = pacsv.ParseOptions(delimiter=self.format.delimiter,
                                           newlines_in_values=True)
        convert_options = pacsv.ConvertOptions(
            column_types={n: pa.string() for n in self.column_names},
            strings_can_be_null=True, null_values=[""], quoted_strings_can_be_null=True,
            include_columns=[n for n in self.column_names if n != "_indice"])
        try:
            reader = pacsv.open_csv(self.path, read_options=read_options,
                                    parse_options=parse_options,
                                    convert_options=convert_options)
            for batch in reader:
                self.rows_read += batch.num_rows
                yield batch
        except pa.ArrowInvalid as exc:
            found = self.first_malformed_record()
            if found is None:
                raise FileFormatError(f"{self.name}: CSV malformado", [Problem(
                    self.name, None, None, str(exc))]) from exc
            line, record, fields = found
            expected = len(self.column_names)
            raise FileFormatError(
                f"{self.name}: CSV malformado na linha {line} (registro {record}): {fields} "
                f"campo(s), o cabeçalho tem {expected}",
                [Problem(self.name, line, None, f"registro {record} com {fields} campo(s); "
                         f"esperados {expected}")]) from exc

    def first_malformed_record(self) -> tuple[int, int, int] | None:
        """Where the file first breaks its header's shape: (line in the file, record number
        counted from the first one after the header, fields found), or None. Python's csv
        module reads quoted line breaks as Arrow does; used only once Arrow has refused the
        file, to say where."""
        expected = len(self.column_names)
        with self.path.open(encoding=self.format.encoding, errors="replace",
                            newline="") as handle:
            records = csv.reader(handle, delimiter=self.format.delimiter)
            next(records, None)  # the header
            ended, record = records.line_num, 0
            for fields in records:
                if fields:  # Arrow skips blank lines: they are no record
                    record += 1
                    if len(fields) != expected:
                        return ended + 1, record, len(fields)
                ended = records.line_num
        return None

    def read_all(self) -> pa.Table:
        return pa.Table.from_batches(list(self.iter_batches()), schema=self.schema)
