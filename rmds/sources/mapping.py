"""Shared machinery of the source mappers: vectorised decoding with quarantine.

A mapper reads source columns through a :class:`MapContext`, which decodes them with Arrow
compute kernels and records, for each row that cannot be mapped, the field, the raw value
and the reason. :meth:`MapContext.finish` splits the rows into accepted canonical rows and
quarantined rows, so that ``rows in = rows accepted + rows quarantined`` always holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from rmds.schema import Table

__all__ = ["QUARANTINE_SCHEMA", "MapContext", "MapResult"]

QUARANTINE_SCHEMA = pa.schema([
    pa.field("source_file", pa.string()),
    pa.field("source_row", pa.int64()),
    pa.field("source_system", pa.string()),
    pa.field("field", pa.string()),
    pa.field("value", pa.string()),
    pa.field("reason", pa.string()),
])

_CID_SHAPE = r"^[A-Z][0-9]{2}[0-9]?$"

# fixed-width date layouts: regex of the shape, then (start, length) of year, month, day
_DATE_LAYOUTS: dict[str, tuple[str, tuple[int, int], tuple[int, int], tuple[int, int]]] = {
    "%d%m%Y": (r"^[0-9]{8}$", (4, 4), (2, 2), (0, 2)),
    "%Y%m%d": (r"^[0-9]{8}$", (0, 4), (4, 2), (6, 2)),
    "%Y-%m-%d": (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", (0, 4), (5, 2), (8, 2)),
    "%d/%m/%Y": (r"^[0-9]{2}/[0-9]{2}/[0-9]{4}$", (6, 4), (3, 2), (0, 2)),
}


def _parse_fixed_date(values: pa.Array, shape: str, year_at: tuple[int, int],
                      month_at: tuple[int, int], day_at: tuple[int, int]) -> pa.Array:
    """Dates of a fixed-width layout, computed with integer arithmetic (no strptime):
    impossible dates (31/02, month 13) are null, never normalised."""
    ok = pc.fill_null(pc.match_substring_regex(values, shape), False)
    placeholder = "00000000" if shape == r"^[0-9]{8}$" else (
        "0000-00-00" if year_at == (0, 4) else "00/00/0000")
    clean = pc.if_else(ok, values, pa.scalar(placeholder))

    def part(at: tuple[int, int]) -> npt.NDArray[np.int64]:
        text = pc.utf8_slice_codeunits(clean, at[0], at[0] + at[1])
        return np.asarray(pc.cast(text, pa.int64()).to_numpy(zero_copy_only=False))

    year, month, day = part(year_at), part(month_at), part(day_at)
    valid = np.asarray(ok.to_numpy(zero_copy_only=False), dtype=np.bool_)
    valid &= (month >= 1) & (month <= 12) & (day >= 1) & (year >= 1800) & (year <= 2200)
    month_index = (year - 1970) * 12 + np.clip(month, 1, 12) - 1
    first = month_index.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    following = (month_index + 1).astype("datetime64[M]").astype("datetime64[D]").astype(
        np.int64)
    valid &= day <= following - first
    days = (first + day - 1).astype(np.int32)
    return pa.array(days, pa.date32(), mask=~valid)


@dataclass
class MapResult:
    """Canonical rows accepted, and one quarantine row per (row, field) problem."""

    table: str
    accepted: pa.Table
    quarantine: pa.Table
    rows_in: int

    @property
    def rows_quarantined(self) -> int:
        return len(set(self.quarantine.column("source_row").to_pylist()))

    def reconciles(self) -> bool:
        return bool(self.rows_in == self.accepted.num_rows + self.rows_quarantined)


@dataclass
class MapContext:
    source: pa.Table
    rows: pa.Array
    file: str
    system: str
    layout: str
    notes: list[str] = field(default_factory=list)
    accessed: set[str] | None = None  # when a set, records every source column read
    _problems: list[tuple[pa.Array, str, pa.Array, str]] = field(default_factory=list)

    @property
    def n(self) -> int:
        return int(self.source.num_rows)

    # ----------------------------------------------------------------- primitives
    def raw(self, column: str) -> pa.Array:
        """The column as text, trimmed, blanks null; absent columns are all null."""
        if self.accessed is not None:
            self.accessed.add(column)
        if column not in self.source.column_names:
            return pa.nulls(self.n, pa.string())
        values = self.source.column(column).combine_chunks()
        if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
            values = values.cast(pa.string())
        values = pc.utf8_trim_whitespace(values)
        return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)

    def problem(self, mask: pa.Array, field_name: str, values: pa.Array, reason: str) -> None:
        """Quarantine the rows where ``mask`` is true (nulls in the mask count as false)."""
        mask = pc.fill_null(mask, False)
        if pc.any(mask).as_py():
            self._problems.append((mask, field_name, values, reason))

    def text(self, column: str, null_values: tuple[str, ...] = ()) -> pa.Array:
        values = self.raw(column)
        if null_values:
            values = pc.if_else(pc.is_in(values, pa.array(null_values)),
                                pa.scalar(None, pa.string()), values)
        return values

    def digits(self, column: str, width: int | None = None,
               null_values: tuple[str, ...] = ()) -> pa.Array:
        """A code made of digits; anything else is quarantined."""
        values = self.text(column, null_values)
        pattern = r"^[0-9]+$" if width is None else f"^[0-9]{{{width}}}$"
        bad = pc.invert(pc.match_substring_regex(values, pattern))
        self.problem(bad, column, values, "código não numérico" if width is None
                     else f"código deve ter {width} dígitos")
        return pc.if_else(pc.fill_null(bad, False), pa.scalar(None, pa.string()), values)

    def integer(self, column: str, low: int | None = None, high: int | None = None,
                null_values: tuple[str, ...] = ()) -> pa.Array:
        values = self.text(column, null_values)
        ok_shape = pc.match_substring_regex(values, r"^[+-]?[0-9]+(\.0*)?$")
        self.problem(pc.invert(ok_shape), column, values, "número inteiro inválido")
        numbers = pc.cast(pc.if_else(pc.fill_null(ok_shape, False),
                                     pc.replace_substring_regex(values, r"\.0*$", ""),
                                     pa.scalar(None, pa.string())), pa.int64())
        out_of_range = pa.array(np.zeros(self.n, dtype=np.bool_))
        if low is not None:
            out_of_range = pc.or_(out_of_range, pc.fill_null(pc.less(numbers, low), False))
        if high is not None:
            out_of_range = pc.or_(out_of_range,
                                  pc.fill_null(pc.greater(numbers, high), False))
        if low is not None or high is not None:
            self.problem(out_of_range, column, values,
                         f"valor fora do intervalo [{low}, {high}]")
            numbers = pc.if_else(out_of_range, pa.scalar(None, pa.int64()), numbers)
        return numbers.cast(pa.int32())

    def decimal(self, column: str) -> pa.Array:
        """Numbers with a decimal point or comma."""
        values = pc.replace_substring(self.text(column), ",", ".")
        ok = pc.match_substring_regex(values, r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$")
        self.problem(pc.invert(ok), column, values, "número decimal inválido")
        return pc.cast(pc.if_else(pc.fill_null(ok, False), values,
                                  pa.scalar(None, pa.string())), pa.float64())

    def date(self, column: str, fmt: str, *, allow_zero: bool = True) -> pa.Array:
        """A date in ``%d%m%Y``, ``%Y%m%d`` or ``%Y-%m-%d``; zeros and blanks are null."""
        values = self.text(column)
        if allow_zero:
            values = pc.if_else(pc.match_substring_regex(values, r"^0+$"),
                                pa.scalar(None, pa.string()), values)
        if fmt in _DATE_LAYOUTS:
            parsed = _parse_fixed_date(values, *_DATE_LAYOUTS[fmt])
        else:
            parsed = pc.strptime(values, format=fmt, unit="s", error_is_null=True)
            # strptime normalises impossible days (31/02 → 02/03): format back and compare
            roundtrip = pc.equal(pc.strftime(parsed, format=fmt), values)
            parsed = pc.if_else(pc.fill_null(roundtrip, False), parsed,
                                pa.scalar(None, parsed.type)).cast(pa.date32())
        bad = pc.and_(pc.is_valid(values), pc.is_null(parsed))
        self.problem(bad, column, values, f"data inválida (formato esperado {fmt})")
        return parsed

    def decode(self, column: str, table: Mapping[str, str | None],
               unknown_is_problem: bool = True) -> pa.Array:
        """Recode values through ``table``; a value absent from it is quarantined."""
        values = self.text(column)
        keys = pa.array(list(table.keys()), pa.string())
        targets = pa.array(list(table.values()), pa.string())
        index = pc.index_in(values, value_set=keys)
        decoded = pc.take(targets, index)
        if unknown_is_problem:
            bad = pc.and_(pc.is_valid(values), pc.is_null(index))
            self.problem(bad, column, values,
                         f"código desconhecido (aceitos: {', '.join(table)})")
        return decoded

    def cid10(self, column: str, null_values: tuple[str, ...] = ("0000",)) -> pa.Array:
        values = pc.utf8_upper(self.text(column, null_values))
        cleaned = pc.replace_substring(values, ".", "")
        cleaned = pc.replace_substring_regex(cleaned, r"^([A-Z][0-9]{2})[X\-]$", r"\1")
        ok = pc.match_substring_regex(cleaned, _CID_SHAPE)
        self.problem(pc.invert(ok), column, values, "código CID-10 mal formado")
        return pc.if_else(pc.fill_null(ok, False), cleaned, pa.scalar(None, pa.string()))

    def municipality(self, column: str, known: Mapping[str, str],
                     required: bool = False) -> pa.Array:
        """6- or 7-digit municipality → 7 digits. Ignored codes (blank, zeros, 9s, ``UF0000``)
        are null; codes unknown in Brazil are quarantined."""
        values = self.text(column)
        ignored = pc.match_substring_regex(values, r"^([0-9]{2}0000|0+|9+|[0-9]{2}00000)$")
        values = pc.if_else(pc.fill_null(ignored, False), pa.scalar(None, pa.string()), values)
        six = pc.utf8_slice_codeunits(values, 0, 6)
        keys = pa.array(list(known.keys()), pa.string())
        targets = pa.array(list(known.values()), pa.string())
        mapped = pc.take(targets, pc.index_in(six, value_set=keys))
        seven_ok = pc.or_(pc.not_equal(pc.utf8_length(values), 7), pc.equal(mapped, values))
        bad = pc.and_(pc.is_valid(values),
                      pc.or_(pc.is_null(mapped), pc.invert(pc.fill_null(seven_ok, False))))
        self.problem(bad, column, values, "município desconhecido")
        if required:
            self.problem(pc.is_null(values), column, values, "município obrigatório ausente")
        return pc.if_else(pc.fill_null(bad, False), pa.scalar(None, pa.string()), mapped)

    # -------------------------------------------------------------------- finish
    def finish(self, target: Table, columns: Mapping[str, pa.Array | pa.Scalar]) -> MapResult:
        n = self.n
        bad = np.zeros(n, dtype=np.bool_)
        pieces = []
        for mask, field_name, values, reason in self._problems:
            flags = mask.to_numpy(zero_copy_only=False).astype(np.bool_)
            bad |= flags
            idx = pa.array(np.flatnonzero(flags))
            pieces.append(pa.table({
                "source_file": pa.array([self.file] * len(idx), pa.string()),
                "source_row": pc.take(self.rows, idx).cast(pa.int64()),
                "source_system": pa.array([self.system] * len(idx), pa.string()),
                "field": pa.array([field_name] * len(idx), pa.string()),
                "value": pc.take(values.cast(pa.string()), idx),
                "reason": pa.array([reason] * len(idx), pa.string()),
            }, schema=QUARANTINE_SCHEMA))
        quarantine = (pa.concat_tables(pieces) if pieces
                      else QUARANTINE_SCHEMA.empty_table())
        full = self.assemble(target, columns)
        accepted = full.filter(pa.array(~bad))
        return MapResult(target.name, accepted, quarantine, n)

    def assemble(self, target: Table, columns: Mapping[str, pa.Array | pa.Scalar]) -> pa.Table:
        """All rows as ``target``'s columns, with provenance, problems ignored."""
        n = self.n
        provenance = {
            "source_file": pa.repeat(pa.scalar(self.file, pa.string()), n),
            "source_row": self.rows.cast(pa.int64()),
            "source_system": pa.repeat(pa.scalar(self.system, pa.string()), n),
            "layout": pa.repeat(pa.scalar(self.layout, pa.string()), n),
        }
        arrays = []
        for col in target.columns:
            value = provenance.get(col.name, columns.get(col.name))
            if value is None:
                arrays.append(pa.nulls(n, col.type))
            elif isinstance(value, pa.Scalar):
                arrays.append(pa.repeat(value.cast(col.type), n))
            else:
                arrays.append(value.cast(col.type))
        return pa.Table.from_arrays(arrays, schema=target.schema)
