"""DATASUS ``.dbc`` files: a DBF header, 4 bytes, then the records compressed with PKWare
DCL implode. Decompression (rmds's C decompressor, or the MIT-licensed ``datasus-dbc``
package when the C module is not built) streams into a temporary DBF on disk, which
:class:`~rmds.sources.datasus.dbf.DbfReader` then reads in batches, so
memory stays bounded whatever the file size.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import datasus_dbc

from rmds.exceptions import FileFormatError, Problem
from rmds.sources.datasus.dbf import DbfReader
from rmds.sources.datasus.native import kernels

__all__ = ["DbcReader", "decompress_dbc"]


_NATIVE_ERRORS = {-30: "não foi possível abrir o arquivo", -31: "cabeçalho DBF truncado",
                  -1: "fluxo implode inválido (literais)", -2: "tamanho de dicionário inválido",
                  -3: "distância inválida no fluxo comprimido", -10: "arquivo truncado",
                  -11: "código Huffman inválido", -20: "erro ao gravar o DBF"}


def decompress_dbc(source: Path, target: Path) -> Path:
    """Decompress ``source`` (.dbc) into ``target`` (.dbf), streaming: rmds's own C
    decompressor when built, else the ``datasus-dbc`` package (much slower)."""
    native = kernels()
    if native is not None:
        code = native.dbc_to_dbf(str(source).encode(), str(target).encode())
        if code != 0:
            reason = _NATIVE_ERRORS.get(code, f"erro {code}")
            raise FileFormatError(f"{source.name}: não foi possível descomprimir o DBC", [
                Problem(source.name, None, None, f"DBC corrompido ou inválido: {reason}")])
        return target
    try:
        datasus_dbc.decompress(str(source), str(target))
    except Exception as exc:  # the package raises plain exceptions for corrupt input
        raise FileFormatError(f"{source.name}: não foi possível descomprimir o DBC", [
            Problem(source.name, None, None, f"DBC corrompido ou inválido: {exc}")]) from exc
    if not target.is_file() or target.stat().st_size < 33:
        raise FileFormatError(f"{source.name}: DBC vazio", [
            Problem(source.name, None, None, "descompressão não produziu um DBF")])
    return target


class DbcReader(DbfReader):
    """A :class:`DbfReader` over a DBC, decompressed to a temporary file that is removed
    on :meth:`close`."""

    def __init__(self, source: Path | str, *, workdir: Path | None = None,
                 **options: object) -> None:
        path = Path(source)
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
        shutil.rmtree(self._tempdir, ignore_errors=True)
