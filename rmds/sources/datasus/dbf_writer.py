"""Write DBF (dBase III) and DBC files from Arrow data, vectorised.

Used by the synthetic state generator, the tests and the benchmarks to produce files in the
DATASUS layouts. DBC output is a PKWare DCL "implode" stream: with rmds's C module, with
back-references as DATASUS writes them; without it, literal bytes only (every DBC reader
decompresses it, though it is larger than the DBF).
"""

from __future__ import annotations

import ctypes
import datetime as dt
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from rmds.exceptions import SchemaError
from rmds.sources.datasus.native import Kernels, kernels

__all__ = ["FieldSpec", "dbf_bytes", "implode_literal", "write_dbc", "write_dbc_stream",
           "write_dbf"]


@dataclass(frozen=True)
class FieldSpec:
    """A DBF field to write: name (≤10 chars), type C/N/D/L, length, decimals."""

    name: str
    type: str = "C"
    length: int = 1
    decimals: int = 0


def _header(fields: Sequence[FieldSpec], rows: int, terminator: bool,
            updated: dt.date) -> bytes:
    record_length = 1 + sum(f.length for f in fields)
    header_length = 32 + 32 * len(fields) + (1 if terminator else 0)
    head = struct.pack("<BBBBIHH", 0x03, updated.year - 1900, updated.month, updated.day,
                       rows, header_length, record_length) + bytes(20)
    parts = [head]
    for f in fields:
        name = f.name.encode("ascii")[:10].ljust(11, b"\x00")
        parts.append(name + f.type.encode("ascii") + bytes(4)
                     + bytes([f.length & 0xFF, f.decimals]) + bytes(14))
    if terminator:
        parts.append(b"\x0d")
    return b"".join(parts)


def _format_numeric(values: pa.Array, width: int, decimals: int) -> npt.NDArray[np.uint8]:
    """Right-aligned fixed-point text of numbers, digit by digit in numpy (nulls blank)."""
    n = len(values)
    if pa.types.is_floating(values.type) or decimals:
        floats = values.cast(pa.float64()).fill_null(0).to_numpy(zero_copy_only=False)
        scaled = np.rint(np.abs(floats) * 10.0**decimals).astype(np.int64)
        negative = floats < 0
    else:
        ints = values.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        scaled, negative = np.abs(ints), ints < 0
    out = np.full((n, width), 0x20, dtype=np.uint8)
    remaining = scaled.copy()
    active = np.ones(n, dtype=np.bool_)
    position = width - 1
    for k in range(width):
        if k == decimals and decimals:
            out[:, position] = 0x2E
            position -= 1
            continue
        if position < 0:
            break
        digit = remaining % 10
        out[active, position] = (48 + digit[active]).astype(np.uint8)
        remaining //= 10
        # the integer part needs at least one digit; afterwards stop at zero
        done_integer = k >= (decimals + 1 if decimals else 0)
        active &= ~((remaining == 0) & done_integer)
        position -= 1
        if not active.any():
            break
    if (remaining > 0).any():
        raise SchemaError(f"número maior que a largura do campo ({width})")
    first_digit = (out != 0x20).argmax(axis=1)
    neg_rows = np.flatnonzero(negative & (scaled > 0))
    if neg_rows.size:
        if (first_digit[neg_rows] == 0).any():
            raise SchemaError(f"número negativo maior que a largura do campo ({width})")
        out[neg_rows, first_digit[neg_rows] - 1] = 0x2D
    out[np.asarray(values.is_null().to_numpy(zero_copy_only=False))] = 0x20
    return out


def _fixed_width(values: pa.Array, spec: FieldSpec, encoding: str) -> npt.NDArray[np.uint8]:
    n = len(values)
    width = spec.length
    if spec.type in "NF":
        return _format_numeric(values, width, spec.decimals)
    if spec.type == "D":
        strings = pc.strftime(values.cast(pa.timestamp("s")), format="%Y%m%d")
        strings = pc.if_else(pc.is_null(values), pa.scalar(" " * 8), strings)
    elif spec.type == "L":
        strings = pc.if_else(values, pa.scalar("T"), pa.scalar("F")).fill_null("?")
    else:
        strings = values.cast(pa.string()).fill_null("")
    strings = pc.utf8_rpad(strings, width=width, padding=" ")
    out = np.full((n, width), 0x20, dtype=np.uint8)
    if n == 0:
        return out
    if pc.all(pc.string_is_ascii(strings)).as_py():
        buffers = strings.buffers()
        offsets = np.frombuffer(buffers[1], dtype=np.int32)[strings.offset:
                                                            strings.offset + n + 1]
        lengths = np.diff(offsets)
        if int(lengths.max()) > width:
            row = int(np.argmax(lengths > width))
            raise SchemaError(
                f"campo {spec.name}: valor maior que {width} bytes na linha {row + 1}")
        data = np.frombuffer(buffers[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
        return data.reshape(n, width).copy()
    encoded = [s.encode(encoding, "replace") for s in strings.to_pylist()]
    for row, item in enumerate(encoded):
        if len(item) > width:
            item = item.rstrip(b" ")
            if len(item) > width:
                raise SchemaError(
                    f"campo {spec.name}: valor maior que {width} bytes na linha {row + 1}")
        out[row, :len(item)] = np.frombuffer(item, dtype=np.uint8)
    return out


def dbf_bytes(table: pa.Table, fields: Sequence[FieldSpec], *, encoding: str = "latin-1",
              terminator: bool = True, deleted: npt.NDArray[np.bool_] | None = None,
              updated: dt.date | None = None) -> bytes:
    """The bytes of a DBF file holding ``table``'s columns laid out as ``fields``."""
    missing = [f.name for f in fields if f.name not in table.column_names]
    if missing:
        raise SchemaError(f"colunas ausentes para o DBF: {', '.join(missing)}")
    n = table.num_rows
    record_length = 1 + sum(f.length for f in fields)
    records = np.full((n, record_length), 0x20, dtype=np.uint8)
    if deleted is not None:
        records[deleted, 0] = 0x2A
    offset = 1
    for spec in fields:
        column = table.column(spec.name).combine_chunks()
        try:
            records[:, offset:offset + spec.length] = _fixed_width(column, spec, encoding)
        except SchemaError as error:
            if spec.name in str(error):
                raise
            raise SchemaError(f"campo {spec.name}: {error}") from None
        offset += spec.length
    header = _header(fields, n, terminator, updated or dt.date(2024, 1, 1))
    return header + records.tobytes() + b"\x1a"


def write_dbf(path: Path | str, table: pa.Table, fields: Sequence[FieldSpec],
              **options: object) -> Path:
    target = Path(path)
    target.write_bytes(dbf_bytes(table, fields, **options))  # type: ignore[arg-type]
    return target


_END_MARKER = np.array([1] + [0] * 7 + [1] * 8, dtype=np.uint8)


def _literal_bits(raw: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    bits = np.zeros((raw.size, 9), dtype=np.uint8)
    bits[:, 1:] = np.unpackbits(raw[:, None], axis=1, bitorder="little")
    return bits.reshape(-1)


def implode_literal(data: bytes) -> bytes:
    """A PKWare DCL implode stream of ``data`` using literal bytes only.

    Format (as read by zlib's ``blast``): byte 0 = 0 (uncoded literals), byte 1 = 6 (4 KiB
    dictionary); then, LSB first, each literal is a 0 bit and its 8 bits; the end is a 1
    bit, the length code of symbol 15 (seven 0 bits, the code being inverted) and eight 1
    bits (length 519).
    """
    stream = np.concatenate([_literal_bits(np.frombuffer(data, dtype=np.uint8)), _END_MARKER])
    return bytes([0, 6]) + np.packbits(stream, bitorder="little").tobytes()


def write_dbc(path: Path | str, dbf: bytes, *, compress: bool | None = None) -> Path:
    """Write a DATASUS DBC: the DBF header as is, 4 bytes of CRC, the imploded records."""
    header_length = struct.unpack("<H", dbf[8:10])[0]
    return write_dbc_stream(path, dbf[:header_length], [dbf[header_length:]],
                            compress=compress)


class _Compressor:
    """rmds's C implode (greedy matches, as DATASUS files have), fed piece by piece."""

    def __init__(self, native: Kernels) -> None:
        self.native = native
        self.state = ctypes.create_string_buffer(native.implode_state_size)

    def feed(self, data: bytes, last: bool) -> bytes:
        source = np.frombuffer(data, dtype=np.uint8)
        out = np.empty(len(source) * 9 // 8 + 64, dtype=np.uint8)
        written = int(self.native.implode(ctypes.addressof(self.state), source.ctypes.data,
                                          len(source), int(last), out.ctypes.data))
        if written < 0:
            raise MemoryError("implode: memória insuficiente")
        return out[:written].tobytes()


def write_dbc_stream(path: Path | str, header: bytes, body: Iterable[bytes],
                     chunk: int = 1 << 23, *, compress: bool | None = None) -> Path:
    """Write a DBC from a DBF header and its body given in pieces, in bounded memory.

    ``compress``: back-references found by rmds's C compressor, as in DATASUS's own files
    (about 10:1); ``False``, or ``None`` without the C module: literal bytes only (larger
    than the DBF, read by every DBC reader). Literal pieces are re-cut into multiples of 8
    bytes (9 whole bytes of literal codes each). The CRC field is written as zero (readers
    skip it)."""
    target = Path(path)
    native = kernels() if compress is not False else None
    if compress and native is None:
        raise RuntimeError("compressão DBC requer o módulo C do rmds (rmds._dbfparse)")
    if native is not None:
        compressor = _Compressor(native)
        with target.open("wb") as out:
            out.write(header + bytes(4))
            for piece in body:
                for start in range(0, len(piece), chunk):
                    out.write(compressor.feed(piece[start:start + chunk], False))
            out.write(compressor.feed(b"", True))
        return target
    with target.open("wb") as out:
        out.write(header + bytes(4) + bytes([0, 6]))
        pending = b""
        for piece in body:
            pending += piece
            usable = len(pending) - len(pending) % 8
            for start in range(0, usable, chunk):
                part = np.frombuffer(pending[start:min(start + chunk, usable)], dtype=np.uint8)
                out.write(np.packbits(_literal_bits(part), bitorder="little").tobytes())
            pending = pending[usable:]
        tail = np.concatenate([_literal_bits(np.frombuffer(pending, dtype=np.uint8)),
                               _END_MARKER])
        out.write(np.packbits(tail, bitorder="little").tobytes())
    return target
