"""Valid CNS and CPF numbers drawn in bulk, and deliberate corruption of some of them.

Checks follow :mod:`rmds.codes.identifiers` (the official rules); tests confirm every
generated number with those validators.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["corrupt", "digits_to_strings", "draw_cns", "draw_cpf"]

_CNS_WEIGHTS = np.arange(15, 0, -1)


def digits_to_strings(digits: npt.NDArray[np.uint8]) -> pa.Array:
    """Rows of digits (n × k) → Arrow strings of k characters."""
    n, k = digits.shape
    chars = (digits.astype(np.uint8) + 48).tobytes()
    offsets = np.arange(0, (n + 1) * k, k, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets),
                                                  pa.py_buffer(chars)])


def draw_cns(rng: np.random.Generator, n: int) -> npt.NDArray[np.uint8]:
    """``n`` valid CNS numbers as an n × 15 digit matrix: about 70 % definitive (first digit
    1 or 2, PIS-based rule) and 30 % provisional (7, 8 or 9, weighted sum ≡ 0 mod 11)."""
    out = np.zeros((n, 15), dtype=np.uint8)
    definitive = rng.random(n) < 0.7
    d_rows = np.flatnonzero(definitive)
    if d_rows.size:
        base = rng.integers(0, 10, size=(d_rows.size, 11), dtype=np.uint8)
        base[:, 0] = rng.integers(1, 3, size=d_rows.size)
        total = (base.astype(np.int64) * _CNS_WEIGHTS[:11]).sum(axis=1)
        dv = 11 - total % 11
        dv[dv == 11] = 0
        adjusted = dv == 10
        dv_adj = 11 - (total + 2) % 11
        dv_adj[dv_adj == 11] = 0
        block = np.zeros((d_rows.size, 4), dtype=np.uint8)
        block[adjusted, 2] = 1
        block[:, 3] = np.where(adjusted, dv_adj, dv)
        out[d_rows, :11] = base
        out[d_rows, 11:] = block
    p_rows = np.flatnonzero(~definitive)
    while p_rows.size:
        body = rng.integers(0, 10, size=(p_rows.size, 15), dtype=np.uint8)
        body[:, 0] = rng.integers(7, 10, size=p_rows.size)
        total = (body[:, :14].astype(np.int64) * _CNS_WEIGHTS[:14]).sum(axis=1)
        last = (-total) % 11
        ok = last < 10
        body[:, 14] = np.where(ok, last, 0)
        out[p_rows[ok]] = body[ok]
        p_rows = p_rows[~ok]
    return out


def draw_cpf(rng: np.random.Generator, n: int) -> npt.NDArray[np.uint8]:
    """``n`` valid CPF numbers (n × 11 digits); bases with all digits equal are redrawn."""
    digits = np.zeros((n, 11), dtype=np.uint8)
    rows = np.arange(n)
    while rows.size:
        base = rng.integers(0, 10, size=(rows.size, 9), dtype=np.uint8)
        same = (base == base[:, :1]).all(axis=1)
        digits[rows[~same], :9] = base[~same]
        rows = rows[same]
    work = digits.astype(np.int64)
    for position, start in ((9, 10), (10, 11)):
        weights = np.arange(start, start - position, -1)
        remainder = (work[:, :position] * weights).sum(axis=1) % 11
        work[:, position] = np.where(remainder < 2, 0, 11 - remainder)
    return work.astype(np.uint8)


def corrupt(rng: np.random.Generator, digits: npt.NDArray[np.uint8], kind: str
            ) -> npt.NDArray[np.uint8]:
    """A copy of ``digits`` with one digit per row changed so that the number is no longer
    valid (positions whose change the official rule detects: never the CNS 5th digit,
    whose weight is 11)."""
    out = digits.copy()
    n, width = out.shape
    positions = np.arange(width)
    if kind == "cns":
        positions = positions[positions != 4]
    pos = rng.choice(positions, size=n)
    delta = rng.integers(1, 10, size=n).astype(np.uint8)
    out[np.arange(n), pos] = (out[np.arange(n), pos] + delta) % 10
    return out


def validity_check(strings: pa.Array, kind: str) -> npt.NDArray[np.bool_]:
    """Validate many numbers with the official Python rules (for tests and assertions)."""
    from rmds.codes.identifiers import is_valid_cns, is_valid_cpf
    check = is_valid_cns if kind == "cns" else is_valid_cpf
    return np.array([check(s) for s in pc.fill_null(strings, "").to_pylist()], dtype=np.bool_)
