from __future__ import annotations

import random

import pytest

from rmds.codes.identifiers import (
    cns_check_digits,
    cpf_check_digits,
    is_valid_cns,
    is_valid_cpf,
)

# Valid numbers built by the official rules in this file, independently of the code under
# test: definitive CNS from a PIS-like base, provisional CNS by weighted sum, CPF by hand.
KNOWN_CPF = ["529.982.247-25", "111.444.777-35"]


def _variants(number: str) -> list[tuple[int, str]]:
    return [(i, number[:i] + d + number[i + 1:])
            for i in range(len(number)) for d in "0123456789" if d != number[i]]


def _random_definitive(rng: random.Random) -> str:
    base = rng.choice("12") + "".join(rng.choice("0123456789") for _ in range(10))
    return base + cns_check_digits(base)


def _random_provisional(rng: random.Random) -> str:
    while True:
        head = rng.choice("789") + "".join(rng.choice("0123456789") for _ in range(13))
        partial = sum(int(d) * w for d, w in zip(head, range(15, 1, -1), strict=True))
        last = (-partial) % 11
        if last < 10:
            return head + str(last)


def test_known_cpfs() -> None:
    for cpf in KNOWN_CPF:
        assert is_valid_cpf(cpf)
        assert is_valid_cpf(cpf.replace(".", "").replace("-", ""))
    assert not is_valid_cpf("111.111.111-11")
    assert not is_valid_cpf("123")
    assert not is_valid_cpf("abc.def.ghi-jk")


def test_known_cpfs_reject_every_single_digit_change() -> None:
    for cpf in KNOWN_CPF:
        digits = cpf.replace(".", "").replace("-", "")
        accepted = [v for _, v in _variants(digits) if is_valid_cpf(v)]
        assert accepted == [], cpf


def test_cpf_single_digit_changes_on_random_numbers() -> None:
    """Every change is rejected except those the official CPF rule cannot see: when the
    first remainder falls in {0, 1}, both map to check digit 0, which hides a change of the
    first digit (weight 10 → 11 in the second sum) — a property of the rule itself."""
    rng = random.Random(20261122)
    blind = 0
    for _ in range(2000):
        base = "".join(rng.choice("0123456789") for _ in range(9))
        cpf = base + cpf_check_digits(base)
        if len(set(cpf)) == 1:
            continue
        assert is_valid_cpf(cpf)
        for position, variant in _variants(cpf):
            if is_valid_cpf(variant):
                remainder = sum(int(d) * w for d, w in zip(variant, range(10, 1, -1),
                                                           strict=False)) % 11
                assert remainder in (0, 1), (cpf, variant)
                assert position in (0, 5)
                blind += 1
    assert blind < 2000 * 0.2


@pytest.mark.parametrize("kind", ["definitive", "provisional"])
def test_cns_rejects_every_detectable_single_digit_change(kind: str) -> None:
    """The CNS weight of the 5th digit is 11 (≡ 0 mod 11) in both rules, so the official
    algorithm cannot see a change there; every other single-digit change is rejected."""
    rng = random.Random(7)
    make = _random_definitive if kind == "definitive" else _random_provisional
    for _ in range(500):
        cns = make(rng)
        assert is_valid_cns(cns)
        assert is_valid_cns(f"{cns[:3]} {cns[3:7]} {cns[7:11]} {cns[11:]}")
        for position, variant in _variants(cns):
            if position == 4:
                continue
            assert not is_valid_cns(variant), (cns, variant)


def test_cns_structure() -> None:
    rng = random.Random(3)
    cns = _random_definitive(rng)
    assert cns[11:14] in ("000", "001")
    assert not is_valid_cns("3" + cns[1:])
    assert not is_valid_cns(cns[:-1])
    assert not is_valid_cns(cns + "0")
    assert not is_valid_cns("")
