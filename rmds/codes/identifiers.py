"""Validation of the Brazilian personal identifiers CNS and CPF.

CNS (Cartão Nacional de Saúde) has 15 digits and two numbering rules:

* definitive numbers start with 1 or 2: the first 11 digits are a PIS/PASEP-derived base,
  followed by ``000`` and a check digit, or ``001`` and an adjusted check digit when the
  plain rule gives 10;
* provisional numbers start with 7, 8 or 9 and are valid when the sum of each digit times
  its weight (15 down to 1) is a multiple of 11.

Every valid definitive number satisfies the provisional sum too; the definitive rule is
stricter (positions 12–14 and the check digit are fixed by the first 11 digits).

Both checksums are weighted sums modulo 11, and the CNS weight of the 5th digit is 11, so a
change to the 5th digit alone is invisible to the CNS algorithm itself (this is a property of
the official rule, not of this code). CPF has two check digits (weights 10..2 and 11..2);
see tests/codes/test_identifiers.py for the single-digit changes each rule detects.
"""

from __future__ import annotations

import re

__all__ = [
    "cns_check_digits",
    "cpf_check_digits",
    "is_valid_cns",
    "is_valid_cpf",
    "normalize_digits",
]

_NON_DIGIT = re.compile(r"[\s.\-/]")


def normalize_digits(value: str) -> str:
    """Remove spaces, dots, dashes and slashes; the result may still hold other characters."""
    return _NON_DIGIT.sub("", value)


def cns_check_digits(base11: str) -> str:
    """The last four digits of a definitive CNS whose first 11 digits are ``base11``."""
    if len(base11) != 11 or not base11.isdigit():
        raise ValueError("a base do CNS definitivo tem 11 dígitos")
    total = sum(int(d) * w for d, w in zip(base11, range(15, 4, -1), strict=True))
    dv = 11 - total % 11
    if dv == 11:
        dv = 0
    if dv == 10:
        total += 2
        dv = 11 - total % 11
        return f"001{dv}"
    return f"000{dv}"


def is_valid_cns(value: str) -> bool:
    """True if ``value`` (spaces allowed) is a valid definitive or provisional CNS."""
    digits = normalize_digits(value)
    if len(digits) != 15 or not digits.isdigit():
        return False
    first = digits[0]
    if first in "12":
        return digits[11:] == cns_check_digits(digits[:11])
    if first in "789":
        return sum(int(d) * w for d, w in zip(digits, range(15, 0, -1), strict=True)) % 11 == 0
    return False


def cpf_check_digits(base9: str) -> str:
    """The two check digits of a CPF whose first nine digits are ``base9``."""
    if len(base9) != 9 or not base9.isdigit():
        raise ValueError("a base do CPF tem 9 dígitos")
    digits = [int(d) for d in base9]
    for weight_start in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(weight_start, 1, -1), strict=False))
        remainder = total % 11
        digits.append(0 if remainder < 2 else 11 - remainder)
    return f"{digits[9]}{digits[10]}"


def is_valid_cpf(value: str) -> bool:
    """True if ``value`` (dots and dash allowed) is a valid CPF; repeated digits are invalid."""
    digits = normalize_digits(value)
    if len(digits) != 11 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    return digits[9:] == cpf_check_digits(digits[:9])
