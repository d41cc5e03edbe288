from __future__ import annotations

import pytest

from rmds.codes import normalize_cid10, normalize_sigtap
from rmds.exceptions import InvalidCodeError
from rmds.territory import ReferencePack


@pytest.mark.parametrize(("raw", "expected"), [
    ("I21.9", "I219"), ("i219", "I219"), (" I219 ", "I219"), ("R99X", "R99"), ("R99-", "R99"),
    ("U07.1", "U071"), ("", None), (None, None), ("A09", "A09"),
])
def test_normalize_cid10(raw: str | None, expected: str | None) -> None:
    assert normalize_cid10(raw) == expected


@pytest.mark.parametrize("raw", ["1234", "I2", "II19", "I21999", "R9X"])
def test_normalize_cid10_rejects_garbage(raw: str) -> None:
    with pytest.raises(InvalidCodeError):
        normalize_cid10(raw)


def test_cid10_table(pack: ReferencePack) -> None:
    cid = pack.cid10
    assert cid.describe("I21.9").startswith("Infarto agudo do miocárdio")
    assert "U07.1" in cid and "U072" in cid and "U09.9" in cid
    assert cid.get("U071") is not None and cid.get("U071").chapter == 22  # type: ignore[union-attr]
    assert cid.get("A00").chapter == 1  # type: ignore[union-attr]
    assert "U079" not in cid
    with pytest.raises(InvalidCodeError):
        cid.describe("U079")


def test_icsap_groups(pack: ReferencePack) -> None:
    icsap = pack.icsap
    assert len(icsap.groups) == 19
    assert icsap.group_of("J45.9") == icsap.group_of("J45")  # asthma, by category
    assert icsap.group_of("I10") is not None  # hypertension
    assert icsap.group_of("I21.9") is None  # AMI is not primary-care sensitive
    assert icsap.group_of("garbage") is None
    assert icsap.group_of(None) is None
    for code, group in icsap.codes.items():
        pattern = icsap.groups[group].pattern
        # a bare category is listed when the Portaria lists every subcategory of it
        assert pattern.match(code) or all(pattern.match(f"{code}{d}") for d in range(10)), code
    # A17.0 and A17.1-A17.9 are in the Portaria: the bare A17 counts; G00 only as G00.0
    assert icsap.group_of("A17") == icsap.group_of("A17.1") is not None
    assert icsap.group_of("G00") is None and icsap.group_of("G00.0") is not None


def test_sigtap(pack: ReferencePack) -> None:
    sigtap = pack.sigtap
    assert len(sigtap) > 5000
    assert normalize_sigtap("03.01.01.007-2") == "0301010072"
    assert "0301010072" in sigtap
    assert sigtap.group("0415010012") == "04"
    with pytest.raises(InvalidCodeError):
        sigtap.name("9999999999")
    with pytest.raises(InvalidCodeError):
        normalize_sigtap("04X")
