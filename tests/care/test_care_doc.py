"""docs/care.md's "who may open" table agrees with the access policy, cell by cell."""

from __future__ import annotations

import re
from pathlib import Path

from rmds.access.policy import DataClass, Decision, Place, decide
from rmds.store.auth import Role

DOC = Path(__file__).resolve().parents[2] / "docs" / "care.md"


def _decision(cell: str) -> Decision:
    text = cell.lower()
    if "quebra de vidro" in text:
        return Decision.BREAK_GLASS
    if "nunca" in text:
        return Decision.DENY
    if text.startswith("sim"):
        return Decision.ALLOW
    raise AssertionError(f"docs/care.md: célula sem decisão reconhecível: {cell!r}")


def _table() -> dict[str, tuple[Decision, Decision]]:
    section = DOC.read_text(encoding="utf-8").split("## Quem pode abrir", 1)[1]
    section = section.split("\n## ", 1)[0]
    out: dict[str, tuple[Decision, Decision]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("papel", "---"):
            continue
        for code in re.findall(r"`([a-z_]+)`", cells[0]):
            if code in {r.value for r in Role}:
                assert code not in out, f"papel {code} em mais de uma linha"
                out[code] = (_decision(cells[1]), _decision(cells[2]))
    return out


def test_the_doc_table_is_the_policy() -> None:
    table = _table()
    assert set(table) == {r.value for r in Role}
    for role in Role:
        inside, outside = table[role.value]
        assert inside == decide(role, Place.INSIDE, DataClass.CARE), role
        assert outside == decide(role, Place.OUTSIDE, DataClass.CARE), role
