"""Shared machinery of the source mappers: vectorised decoding with quarantine.

A mapper reads source columns through a :class:`MapContext`, which decodes them with Arrow
compute kernels and records, for each row that cannot be mapped, the field, the raw value
and the reason. :meth:`MapContext.finish` splits the rows into accepted canonical rows and
quarantined rows, so that ``rows in = rows accepted + rows quarantined`` always holds.

Why this module is long: the mapping context and the shared decoders (dates, ages, codes,
territory) that every DATASUS mapper uses, with their quarantine rules; the per-system
mappers are to move into their declaration folders (issue 17).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from rmds.schema import Table

__all__ = ["QUARANTINE_SCHEMA", "Decoded", "MapContext", "MapResult"]

QUARANTINE_SCHEMA = pa.schema([
    pa.field("source_file", pa.string()),
    pa.field("source_row", pa.int64()),
    pa.field("source_system", pa.string()),
    pa.field("field", pa.string()),
    pa.field("value", pa.string()),
    pa.field("reason", pa.string()),
])

_CID_SHAPE = r"^[A-Z][0-9]{2}[0-9]?$"

# fixed-width date layouts: each position a digit of the year (Y), month (M), day (D) or
# a literal separator
_DATE_LAYOUTS = {"%d%m%Y": "DDMMYYYY", "%Y%m%d": "YYYYMMDD", "%Y-%m-%d": "YYYY-MM-DD",
                 "%d/%m/%Y": "DD/MM/YYYY"}
# bytes utf8_trim_whitespace removes among ASCII; a value starting or ending with a byte
# >= 0x80 takes the Arrow path (Unicode spaces)
_ASCII_SPACE = np.zeros(256, dtype=np.bool_)
_ASCII_SPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True
_ASCII_SPACE[128:] = True
_IS_DIGIT = np.zeros(256, dtype=np.bool_)
_IS_DIGIT[48:58] = True
_ZERO = np.zeros(256, dtype=np.bool_)
_ZERO[48] = True


@dataclass(frozen=True)
class _Strings:
    """The buffers of a string array without nulls in its offsets' range, as numpy."""

    offsets: npt.NDArray[np.int64]   # n + 1, from 0
    data: npt.NDArray[np.uint8]
    valid: npt.NDArray[np.bool_]

    @property
    def lengths(self) -> npt.NDArray[np.int64]:
        return np.diff(self.offsets)

    def count(self, byte_class: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        """Per value, how many of its bytes are in ``byte_class`` (256 booleans)."""
        members = byte_class[self.data]
        if not members.any():
            return np.zeros(len(self.valid), dtype=np.int64)
        cumulative = np.zeros(len(self.data) + 1, dtype=np.int64)
        np.cumsum(members, out=cumulative[1:])
        return cumulative[self.offsets[1:]] - cumulative[self.offsets[:-1]]

    def fixed(self, width: int) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.uint8]]:
        """Values of exactly ``width`` bytes, and an (n, width) matrix of their bytes (rows
        of other values are filler)."""
        exact = self.valid & (self.lengths == width)
        if not len(self.data):
            return exact, np.zeros((len(exact), width), dtype=np.uint8)
        starts = np.where(exact, self.offsets[:-1], 0)
        index = np.minimum(starts[:, None] + np.arange(width), len(self.data) - 1)
        return exact, self.data[index]


FAST_PATHS = True  # tests turn the numpy paths off to compare them with Arrow's kernels


def _strings(values: pa.Array) -> _Strings | None:
    """numpy views of a string array, for the fast paths; None for other types (large
    strings) or when the fast paths are off."""
    return _buffers(values) if FAST_PATHS else None


def _buffers(values: pa.Array) -> _Strings | None:
    if not pa.types.is_string(values.type):
        return None
    n = len(values)
    buffers = values.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int32, count=n + 1,
                            offset=4 * values.offset).astype(np.int64)
    data = (np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None
            else np.zeros(0, dtype=np.uint8))
    start = int(offsets[0])
    valid = (np.ones(n, dtype=np.bool_) if values.null_count == 0
             else np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_))
    return _Strings(offsets - start, data[start:int(offsets[-1])], valid)


def _keep(values: pa.Array, keep: npt.NDArray[np.bool_]) -> pa.Array:
    """``values`` with the rows where ``keep`` is false made null (buffers shared)."""
    if values.offset == 0 and pa.types.is_string(values.type):
        buffers = values.buffers()
        bitmap = pa.py_buffer(np.packbits(keep, bitorder="little"))
        return pa.StringArray.from_buffers(len(values), buffers[1], buffers[2], bitmap,
                                           int(len(keep) - keep.sum()))
    return pc.if_else(pa.array(keep), values, pa.scalar(None, values.type))


def _parse_fixed_date(values: pa.Array, layout: str) -> tuple[pa.Array, pa.Array]:
    """Dates of a fixed-width layout with integer arithmetic (no strptime): impossible dates
    (31/02, month 13) are null, never normalised. Returns (dates, ill-formed mask)."""
    strings = _buffers(values if pa.types.is_string(values.type) else values.cast(pa.string()))
    assert strings is not None
    shaped, matrix = strings.fixed(len(layout))
    digits = matrix.astype(np.int64) - 48
    for position, symbol in enumerate(layout):
        if symbol in "YMD":
            shaped &= (digits[:, position] >= 0) & (digits[:, position] <= 9)
        else:
            shaped &= matrix[:, position] == ord(symbol)

    def number(symbol: str) -> npt.NDArray[np.int64]:
        value = np.zeros(len(digits), dtype=np.int64)
        for position in (i for i, c in enumerate(layout) if c == symbol):
            value = value * 10 + digits[:, position]
        return np.where(shaped, value, 1)

    year, month, day = number("Y"), number("M"), number("D")
    valid = shaped & (month >= 1) & (month <= 12) & (day >= 1) & (year >= 1800) & (
        year <= 2200)
    month_index = (np.where(valid, year, 1970) - 1970) * 12 + np.clip(month, 1, 12) - 1
    first = month_index.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    following = (month_index + 1).astype("datetime64[M]").astype("datetime64[D]").astype(
        np.int64)
    valid &= day <= following - first
    days = (first + day - 1).astype(np.int32)
    return (pa.array(days, pa.date32(), mask=~valid),
            pa.array(strings.valid & ~valid))


_LOOKUPS: dict[int, tuple[Mapping[str, str | None], pa.Array, pa.Array]] = {}


def _lookup(table: Mapping[str, str | None]) -> tuple[pa.Array, pa.Array]:
    """Keys and values of a code table as Arrow arrays, built once per table object (the
    cache holds the table, so its id cannot be reused while cached)."""
    entry = _LOOKUPS.get(id(table))
    if entry is None or entry[0] is not table:
        if len(_LOOKUPS) > 256:
            _LOOKUPS.clear()
        entry = (table, pa.array(list(table.keys()), pa.string()),
                 pa.array(list(table.values()), pa.string()))
        _LOOKUPS[id(table)] = entry
    return entry[1], entry[2]


def _per_distinct(values: pa.Array,
                  transform: Callable[[pa.Array], tuple[pa.Array, ...]]) -> tuple[pa.Array, ...]:
    """``transform`` (a function of each value alone, giving arrays aligned with its input)
    applied to the distinct values only, its results spread back to every row: code columns
    repeat a few hundred values over thousands of rows. Nulls give nulls."""
    if not FAST_PATHS:
        return transform(values)
    encoded = pc.dictionary_encode(values)
    return tuple(pc.take(result, encoded.indices) for result in transform(encoded.dictionary))


def _plain_integers(strings: _Strings) -> npt.NDArray[np.int64] | None:
    """The values as integers when every one is blank or 1 to 15 plain digits, else None."""
    lengths = strings.lengths
    filled = strings.valid & (lengths > 0)
    if int(lengths.max(initial=0)) > 15 or strings.count(~_IS_DIGIT)[filled].any():
        return None
    if not len(strings.data):
        return np.zeros(len(lengths), dtype=np.int64)
    # each byte's power of ten: its distance to the end of its value
    owner = np.repeat(np.arange(len(lengths)), lengths)
    power = strings.offsets[1:][owner] - 1 - np.arange(len(strings.data))
    digits = strings.data.astype(np.int64) - 48
    weights = digits * (10 ** power)
    out = np.zeros(len(lengths), dtype=np.int64)
    np.add.at(out, owner, weights)
    return out


def _cid10_codes(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """CID-10 codes normalised (no dot; ``A01X``/``A01-`` → ``A01``), null when malformed;
    and which values are malformed."""
    cleaned = pc.replace_substring(values, ".", "")
    cleaned = pc.replace_substring_regex(cleaned, r"^([A-Z][0-9]{2})[X\-]$", r"\1")
    ok = pc.match_substring_regex(cleaned, _CID_SHAPE)
    return (pc.if_else(pc.fill_null(ok, False), cleaned, pa.scalar(None, pa.string())),
            pc.invert(ok))


def _municipality_codes(values: pa.Array,
                        known: Mapping[str, str]) -> tuple[pa.Array, pa.Array, pa.Array]:
    """7-digit codes (null when ignored or unknown), which values are unknown, and the values
    with the ignored ones null (for the required check)."""
    ignored = pc.match_substring_regex(values, r"^([0-9]{2}0000|0+|9+|[0-9]{2}00000)$")
    values = pc.if_else(pc.fill_null(ignored, False), pa.scalar(None, pa.string()), values)
    six = pc.utf8_slice_codeunits(values, 0, 6)
    keys, targets = _lookup(known)
    mapped = pc.take(targets, pc.index_in(six, value_set=keys))
    seven_ok = pc.or_(pc.not_equal(pc.utf8_length(values), 7), pc.equal(mapped, values))
    bad = pc.and_(pc.is_valid(values),
                  pc.or_(pc.is_null(mapped), pc.invert(pc.fill_null(seven_ok, False))))
    return pc.if_else(pc.fill_null(bad, False), pa.scalar(None, pa.string()), mapped), bad, values


@dataclass
class MapResult:
    """Canonical rows accepted, and one quarantine row per (row, field) problem.

    A field quarantine (:meth:`MapContext.field_problem`) has its quarantine row too, but
    its source row is accepted (with the field blank, or kept, as the reason says): rows in
    = accepted + quarantined counts rows, and ``fields_quarantined`` counts those entries."""

    table: str
    accepted: pa.Table
    quarantine: pa.Table
    rows_in: int
    fields_quarantined: int = 0

    @property
    def rows_quarantined(self) -> int:
        return self.rows_in - int(self.accepted.num_rows)

    def reconciles(self) -> bool:
        return bool(self.rows_in == self.accepted.num_rows + self.rows_quarantined)


@dataclass
class Decoded:
    """Columns of one batch already decoded, shared by the contexts that read the batch (the
    mapper's and the identity extraction's): trimmed text by source column, and derived
    results (dates, municipalities) with what their quarantine needs."""

    raw: dict[str, pa.Array] = field(default_factory=dict)
    derived: dict[tuple[str, ...], tuple[pa.Array, ...]] = field(default_factory=dict)


@dataclass
class MapContext:
    source: pa.Table
    rows: pa.Array
    file: str
    system: str
    layout: str
    notes: list[str] = field(default_factory=list)
    accessed: set[str] | None = None  # when a set, records every source column read
    decoded: Decoded = field(default_factory=Decoded)  # shareable across contexts
    _problems: list[tuple[pa.Array, str, pa.Array, str]] = field(default_factory=list)
    _field_problems: list[tuple[pa.Array, str, pa.Array, str]] = field(default_factory=list)

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
        cached = self.decoded.raw.get(column)
        if cached is not None:
            return cached
        values = self.source.column(column).combine_chunks()
        if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
            values = values.cast(pa.string())
        strings = _strings(values)
        if strings is not None:
            # no value begins or ends with a space (the DBF reader already strips trailing
            # ones): only blanks become null, without copying the text
            filled = strings.valid & (strings.lengths > 0)
            ends = np.concatenate([strings.offsets[:-1][filled], strings.offsets[1:][filled] - 1])
            if not _ASCII_SPACE[strings.data[ends]].any():
                result = _keep(values, filled)
                self.decoded.raw[column] = result
                return result
        values = pc.utf8_trim_whitespace(values)
        result = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
        self.decoded.raw[column] = result
        return result

    def unfloat(self, columns: Sequence[str], widths: Mapping[str, int] | None = None
                ) -> None:
        """Codes an export wrote as numbers: ``310620.0`` → ``310620`` and, for the
        ``widths`` given, the leading zeros a number lost put back (CNES ``12345.0`` →
        ``0012345``). The OpenDataSUS vaccination CSVs of 2020–2024 come this way. The
        cleaned columns replace the raw ones for every reader of this batch (the mapper
        and the identity extraction share :attr:`decoded`)."""
        for column in columns:
            if column not in self.source.column_names:
                continue
            values = self.raw(column)
            if pc.any(pc.match_substring(values, ".")).as_py():
                values = pc.replace_substring_regex(values, pattern=r"^([0-9]+)\.0+$",
                                                    replacement=r"\1")
            width = (widths or {}).get(column)
            if width is not None:
                short = pc.and_(pc.match_substring_regex(values, r"^[0-9]+$"),
                                pc.less(pc.utf8_length(values), width))
                if pc.any(short).as_py():
                    values = pc.if_else(short, pc.utf8_lpad(values, width, "0"), values)
            self.decoded.raw[column] = values

    def _numbers(self, column: str) -> pa.Array | None:
        """The column when the reader already decoded it as numbers (DBF ``N`` fields)."""
        if column not in self.source.column_names:
            return None
        values = self.source.column(column).combine_chunks()
        if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
            return None
        if self.accessed is not None:
            self.accessed.add(column)
        return values

    def problem(self, mask: pa.Array, field_name: str, values: pa.Array, reason: str) -> None:
        """Quarantine the rows where ``mask`` is true (nulls in the mask count as false)."""
        mask = pc.fill_null(mask, False)
        if pc.any(mask).as_py():
            self._problems.append((mask, field_name, values, reason))

    def field_problem(self, mask: pa.Array, field_name: str, values: pa.Array,
                      reason: str) -> None:
        """Quarantine the field ``field_name`` of the rows where ``mask`` is true, keeping
        the rows: the caller decides what the row carries instead (blank or kept), and the
        reason says so."""
        mask = pc.fill_null(mask, False)
        if pc.any(mask).as_py():
            self._field_problems.append((mask, field_name, values, reason))

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
        reason = "código não numérico" if width is None else f"código deve ter {width} dígitos"
        strings = _strings(values)
        if strings is not None:
            lengths = strings.lengths
            ok = (lengths == width) if width is not None else (lengths > 0)
            ok &= strings.count(~_IS_DIGIT) == 0
            bad = strings.valid & ~ok
            if bad.any():
                self.problem(pa.array(bad), column, values, reason)
                return _keep(values, strings.valid & ok)
            return values
        pattern = r"^[0-9]+$" if width is None else f"^[0-9]{{{width}}}$"
        bad_values = pc.invert(pc.match_substring_regex(values, pattern))
        self.problem(bad_values, column, values, reason)
        return pc.if_else(pc.fill_null(bad_values, False), pa.scalar(None, pa.string()), values)

    def integer(self, column: str, low: int | None = None, high: int | None = None,
                null_values: tuple[str, ...] = ()) -> pa.Array:
        decoded = self._numbers(column)
        if decoded is not None and pa.types.is_integer(decoded.type):
            # already numbers (a DBF N field): the text round trip would change nothing
            numbers = decoded.cast(pa.int64())
            nulls = [int(v) for v in null_values if v.lstrip("+-").isdigit()]
            if nulls:
                numbers = pc.if_else(pc.is_in(numbers, pa.array(nulls, pa.int64())),
                                     pa.scalar(None, pa.int64()), numbers)
            return self._in_range(column, numbers, numbers.cast(pa.string()), low, high)
        values = self.text(column, null_values)
        strings = _strings(values)
        plain = _plain_integers(strings) if strings is not None else None
        if plain is not None and strings is not None:  # the usual case: digits only
            filled = strings.valid & (strings.lengths > 0)
            numbers = pa.array(plain, pa.int64(), mask=~filled)
            return self._in_range(column, numbers, values, low, high)
        # at most 18 digits: any such number fits in int64
        ok_shape = pc.match_substring_regex(values, r"^[+-]?[0-9]{1,18}(\.0*)?$")
        self.problem(pc.invert(ok_shape), column, values, "número inteiro inválido")
        plain_text = pc.replace_substring_regex(
            pc.replace_substring_regex(values, r"\.0*$", ""), r"^\+", "")
        numbers = pc.cast(pc.if_else(pc.fill_null(ok_shape, False), plain_text,
                                     pa.scalar(None, pa.string())), pa.int64())
        return self._in_range(column, numbers, values, low, high)

    def _in_range(self, column: str, numbers: pa.Array, shown: pa.Array, low: int | None,
                  high: int | None) -> pa.Array:
        out_of_range = pa.array(np.zeros(self.n, dtype=np.bool_))
        if low is not None:
            out_of_range = pc.or_(out_of_range, pc.fill_null(pc.less(numbers, low), False))
        if high is not None:
            out_of_range = pc.or_(out_of_range,
                                  pc.fill_null(pc.greater(numbers, high), False))
        if low is not None or high is not None:
            self.problem(out_of_range, column, shown,
                         f"valor fora do intervalo [{low}, {high}]")
        overflow = pc.and_(pc.invert(out_of_range), pc.fill_null(pc.or_(
            pc.less(numbers, -2**31), pc.greater(numbers, 2**31 - 1)), False))
        self.problem(overflow, column, shown, "valor fora do intervalo de um inteiro de 32 bits")
        numbers = pc.if_else(pc.or_(out_of_range, overflow), pa.scalar(None, pa.int64()),
                             numbers)
        return numbers.cast(pa.int32())

    def decimal(self, column: str) -> pa.Array:
        """Numbers with a decimal point or comma."""
        decoded = self._numbers(column)
        if decoded is not None:
            return decoded.cast(pa.float64())
        values = pc.replace_substring(self.text(column), ",", ".")
        ok = pc.match_substring_regex(values, r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$")
        self.problem(pc.invert(ok), column, values, "número decimal inválido")
        return pc.cast(pc.if_else(pc.fill_null(ok, False), values,
                                  pa.scalar(None, pa.string())), pa.float64())

    def _derived(self, column: str, key: tuple[str, ...],
                 compute: Callable[[], tuple[pa.Array, ...]]) -> tuple[pa.Array, ...]:
        """``compute()`` (which reads ``column``), once per batch for the contexts sharing
        :attr:`decoded`."""
        if self.accessed is not None:
            self.accessed.add(column)
        found = self.decoded.derived.get(key)
        if found is None:
            found = self.decoded.derived[key] = compute()
        return found

    def date(self, column: str, fmt: str, *, allow_zero: bool = True) -> pa.Array:
        """A date in ``%d%m%Y``, ``%Y%m%d`` or ``%Y-%m-%d``; zeros and blanks are null."""
        parsed, bad, values = self._derived(
            column, ("date", column, fmt, str(allow_zero)),
            lambda: self._parse_date(column, fmt, allow_zero))
        self.problem(bad, column, values, f"data inválida (formato esperado {fmt})")
        return parsed

    def _parse_date(self, column: str, fmt: str,
                    allow_zero: bool) -> tuple[pa.Array, pa.Array, pa.Array]:
        """Dates, the rows whose value is not a date, and the values shown for them."""
        values = self.text(column)
        if allow_zero:
            strings = _strings(values)
            if strings is not None:
                zeros = strings.valid & (strings.lengths > 0) & (
                    strings.count(_ZERO) == strings.lengths)
                if zeros.any():
                    values = _keep(values, strings.valid & ~zeros)
            else:
                values = pc.if_else(pc.match_substring_regex(values, r"^0+$"),
                                    pa.scalar(None, pa.string()), values)
        if fmt in _DATE_LAYOUTS:
            parsed, bad = _parse_fixed_date(values, _DATE_LAYOUTS[fmt])
            return parsed, bad, values
        parsed = pc.strptime(values, format=fmt, unit="s", error_is_null=True)
        # strptime normalises impossible days (31/02 → 02/03): format back and compare
        roundtrip = pc.equal(pc.strftime(parsed, format=fmt), values)
        parsed = pc.if_else(pc.fill_null(roundtrip, False), parsed,
                            pa.scalar(None, parsed.type)).cast(pa.date32())
        return parsed, pc.and_(pc.is_valid(values), pc.is_null(parsed)), values

    def decode(self, column: str, table: Mapping[str, str | None],
               unknown_is_problem: bool = True) -> pa.Array:
        """Recode values through ``table``; a value absent from it is quarantined."""
        values = self.text(column)
        keys, targets = _lookup(table)
        index = pc.index_in(values, value_set=keys)
        decoded = pc.take(targets, index)
        if unknown_is_problem:
            bad = pc.and_(pc.is_valid(values), pc.is_null(index))
            self.problem(bad, column, values,
                         f"código desconhecido (aceitos: {', '.join(table)})")
        return decoded

    def cid10(self, column: str, null_values: tuple[str, ...] = ("0000",)) -> pa.Array:
        values = pc.utf8_upper(self.text(column, null_values))
        code, malformed = _per_distinct(values, _cid10_codes)
        self.problem(malformed, column, values, "código CID-10 mal formado")
        return code

    def municipality(self, column: str, known: Mapping[str, str],
                     required: bool = False) -> pa.Array:
        """6- or 7-digit municipality → 7 digits. Ignored codes (blank, zeros, 9s, ``UF0000``)
        are null; codes unknown in Brazil are quarantined."""
        mapped, bad, values = self._derived(
            column, ("municipality", column, str(id(known))),
            lambda: _per_distinct(self.text(column),
                                  lambda values: _municipality_codes(values, known)))
        self.problem(bad, column, values, "município desconhecido")
        if required:
            self.problem(pc.is_null(values), column, values, "município obrigatório ausente")
        return mapped

    # -------------------------------------------------------------------- finish
    def finish(self, target: Table, columns: Mapping[str, pa.Array | pa.Scalar]) -> MapResult:
        n = self.n
        bad = np.zeros(n, dtype=np.bool_)
        pieces = []
        row_level = len(self._problems)
        fields = 0
        for number, (mask, field_name, values, reason) in enumerate(
                self._problems + self._field_problems):
            flags = mask.to_numpy(zero_copy_only=False).astype(np.bool_)
            if number < row_level:
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
        for mask, *_ in self._field_problems:
            # a field entry of a row that is quarantined whole is not a kept row's field
            flags = mask.to_numpy(zero_copy_only=False).astype(np.bool_)
            fields += int(np.count_nonzero(flags & ~bad))
        full = self.assemble(target, columns)
        accepted = full.filter(pa.array(~bad))
        return MapResult(target.name, accepted, quarantine, n, fields)

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
