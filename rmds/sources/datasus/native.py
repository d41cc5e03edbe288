"""ctypes bindings to the optional C kernels (``rmds._dbfparse``).

rmds works without them (a numpy implementation of the same semantics is used), only
slower; ``RMDS_NO_NATIVE=1`` forces the numpy path, which the tests use to check that both
give the same values.
"""

from __future__ import annotations

import ctypes
import importlib
import os
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Kernels", "kernels"]

_P = ctypes.c_void_p
_I = ctypes.c_int64


@dataclass(frozen=True)
class Kernels:
    parse_batch: ctypes._NamedFuncPointer
    dbc_to_dbf: ctypes._NamedFuncPointer
    explode: ctypes._NamedFuncPointer
    implode: ctypes._NamedFuncPointer
    implode_state_size: int


@lru_cache(maxsize=1)
def _load() -> Kernels | None:
    try:
        module = importlib.import_module("rmds._dbfparse")
        library = ctypes.CDLL(str(module.__file__))
    except (ImportError, OSError):
        return None
    parse_batch = library.rmds_parse_batch
    parse_batch.argtypes = [_P, _I, _I, _I, _P, _P, _P, _P, _P, _P, ctypes.c_int, _P]
    parse_batch.restype = None
    dbc_to_dbf = library.rmds_dbc_to_dbf
    dbc_to_dbf.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    dbc_to_dbf.restype = ctypes.c_int
    explode = library.rmds_explode
    explode.argtypes = [_P, _I, _P, _I]
    explode.restype = _I
    library.rmds_explode_init.restype = None
    library.rmds_explode_init()  # the decoding tables, once, before any thread decodes
    implode = library.rmds_implode
    implode.argtypes = [_P, _P, _I, ctypes.c_int, _P]
    implode.restype = _I
    library.rmds_implode_state_size.restype = _I
    return Kernels(parse_batch, dbc_to_dbf, explode, implode,
                   int(library.rmds_implode_state_size()))


def kernels() -> Kernels | None:
    """The C kernels, or ``None`` when not built or disabled by ``RMDS_NO_NATIVE``."""
    if os.environ.get("RMDS_NO_NATIVE"):
        return None
    return _load()
