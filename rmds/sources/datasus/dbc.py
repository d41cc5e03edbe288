"""DATASUS ``.dbc`` files: a DBF header, 4 bytes, then the records compressed with PKWare
DCL implode.

With rmds's C decompressor built, a file whose DBF fits in ``MEMORY_LIMIT`` is decompressed
straight into memory and read from there (no temporary file); a larger one streams into a
temporary DBF on disk, which :class:`~rmds.sources.datasus.dbf.DbfReader` then reads in
batches, so memory stays bounded whatever the file size. Without the C module, the
MIT-licensed ``datasus-dbc`` package decompresses to the temporary file (much slower).
"""

from __future__ import annotations

import shutil
import struct
import tempfile
from pathlib import Path

import datasus_dbc
import numpy as np

from rmds.exceptions import FileFormatError, Problem
from rmds.sources.datasus.dbf import IMAGE_PADDING, U8, DbfReader
from rmds.sources.datasus.native import kernels

__all__ = ["MEMORY_LIMIT", "DbcReader", "dbf_size", "decompress_dbc", "explode_dbc"]

MEMORY_LIMIT = 512 << 20   # decompressed DBFs up to this size are read from memory

_NATIVE_ERRORS = {-30: "não foi possível abrir o arquivo", -31: "cabeçalho DBF truncado",
                  -1: "fluxo implode inválido (literais)", -2: "tamanho de dicionário inválido",
                  -3: "distância inválida no fluxo comprimido", -10: "arquivo truncado",
                  -11: "código Huffman inválido", -20: "erro ao gravar o DBF",
                  -32: "memória insuficiente"}
_FULL = -21  # more output than the header announces


def _corrupt(source: Path, code: int) -> FileFormatError:
    reason = _NATIVE_ERRORS.get(code, f"erro {code}")
    return FileFormatError(f"{source.name}: não foi possível descomprimir o DBC", [
        Problem(source.name, None, None, f"DBC corrompido ou inválido: {reason}")])


def decompress_dbc(source: Path, target: Path) -> Path:
    """Decompress ``source`` (.dbc) into ``target`` (.dbf), streaming: rmds's own C
    decompressor when built, else the ``datasus-dbc`` package (much slower)."""
    native = kernels()
    if native is not None:
        code = native.dbc_to_dbf(str(source).encode(), str(target).encode())
        if code != 0:
            raise _corrupt(source, code)
        return target
    target.unlink(missing_ok=True)  # the package writes over a file without truncating it
    try:
        datasus_dbc.decompress(str(source), str(target))
    except Exception as exc:  # the package raises plain exceptions for corrupt input
        raise FileFormatError(f"{source.name}: não foi possível descomprimir o DBC", [
            Problem(source.name, None, None, f"DBC corrompido ou inválido: {exc}")]) from exc
    if not target.is_file() or target.stat().st_size < 33:
        raise FileFormatError(f"{source.name}: DBC vazio", [
            Problem(source.name, None, None, "descompressão não produziu um DBF")])
    return target


def _announced(head: bytes) -> tuple[int, int]:
    """Header length and DBF size (header + records) that a DBF/DBC header announces."""
    records, header_length, record_length = struct.unpack("<IHH", head[4:12])
    return int(header_length), int(header_length + records * record_length)


def dbf_size(source: Path) -> int | None:
    """The size of the DBF inside a DBC, as its header announces (None if too short)."""
    with source.open("rb") as handle:
        head = handle.read(12)
    return _announced(head)[1] if len(head) == 12 else None


def explode_dbc(source: Path, limit: int = MEMORY_LIMIT) -> U8 | None:
    """The DBF of ``source`` decompressed in memory, followed by ``IMAGE_PADDING`` bytes;
    ``None`` when the C module is not built or the DBF would exceed ``limit`` (or its
    header understates the records: the streaming path then refuses the file, see
    :meth:`DbfReader._refuse_undeclared_tail`)."""
    native = kernels()
    if native is None:
        return None
    data = np.fromfile(source, dtype=np.uint8)
    if len(data) < 32:
        raise _corrupt(source, -31)
    header_length, size = _announced(data[:12].tobytes())
    if header_length < 32 or header_length + 4 > len(data):
        raise _corrupt(source, -31)
    expected = size + 1  # + the 0x1A end marker
    if expected > limit:
        return None
    image = np.empty(expected + IMAGE_PADDING, dtype=np.uint8)
    image[:header_length] = data[:header_length]
    body = data[header_length + 4:]
    capacity = expected - header_length  # writing past it means the header understates
    produced = int(native.explode(body.ctypes.data, len(body),
                                  image[header_length:].ctypes.data, capacity))
    if produced == _FULL:
        return None
    if produced < 0:
        raise _corrupt(source, produced)
    size = header_length + produced
    return image[:size + IMAGE_PADDING]


class DbcReader(DbfReader):
    """A :class:`DbfReader` over a DBC: decompressed in memory, or to a temporary file
    (removed on :meth:`close`) when it is large or the C module is not built."""

    def __init__(self, source: Path | str, *, workdir: Path | None = None,
                 memory_limit: int = MEMORY_LIMIT, **options: object) -> None:
        path = Path(source)
        self._tempdir: Path | None = None
        image = explode_dbc(path, memory_limit)
        if image is not None:
            super().__init__(path, name=path.name, image=image,
                             **options)  # type: ignore[arg-type]
            return
        self._tempdir = Path(tempfile.mkdtemp(prefix="rmds-dbc-", dir=workdir))
        try:
            dbf = decompress_dbc(path, self._tempdir / (path.stem + ".dbf"))
            super().__init__(dbf, name=path.name, **options)  # type: ignore[arg-type]
        except BaseException:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            raise
        self.path = path

    def close(self) -> None:
        super().close()
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
