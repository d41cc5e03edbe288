"""The access policy on its own: the table, scopes, masking and the suppression rule."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from rmds.access import (
    CELL_MASKED,
    RULES,
    AccessDenied,
    AccessPolicy,
    DataClass,
    Decision,
    Place,
    decide,
)
from rmds.store.auth import PUBLIC_USER, Role, User
from rmds.territory import Vintage

ALLOW, PUBLIC, DENY = Decision.ALLOW, Decision.PUBLIC_FORM, Decision.DENY
IN, OUT = Place.INSIDE, Place.OUTSIDE


def _parents(level: str, vintage: Vintage) -> Mapping[str, list[str]]:
    """A toy territory: URS 'norte' holds A and B; consortium 'CX' holds B and C."""
    return {"urs": {"A": ["norte"], "B": ["norte"], "C": ["sul"]},
            "consorcio": {"A": [], "B": ["CX"], "C": ["CX"]}}.get(level, {})


POLICY = AccessPolicy(_parents, threshold=5)


def test_the_table_has_every_cell_once() -> None:
    assert len(RULES) == len(Role) * len(Place) * len(DataClass)


@pytest.mark.parametrize(("role", "expected"), [
    # role: (aggregate, small cell, record, identity) inside, then outside
    (Role.ADMIN, ((ALLOW, ALLOW, ALLOW, ALLOW), (ALLOW, ALLOW, ALLOW, ALLOW))),
    (Role.STATE_ANALYST, ((ALLOW, ALLOW, ALLOW, ALLOW), (ALLOW, ALLOW, ALLOW, ALLOW))),
    (Role.REGIONAL, ((ALLOW, ALLOW, ALLOW, DENY), (ALLOW, PUBLIC, DENY, DENY))),
    (Role.MUNICIPAL, ((ALLOW, ALLOW, ALLOW, DENY), (ALLOW, PUBLIC, DENY, DENY))),
    (Role.CONSORTIUM, ((ALLOW, ALLOW, ALLOW, DENY), (ALLOW, PUBLIC, DENY, DENY))),
    (Role.PROFESSIONAL, ((ALLOW, ALLOW, ALLOW, ALLOW), (ALLOW, PUBLIC, DENY, DENY))),
    (Role.STRATEGY_OFFICE, ((ALLOW, PUBLIC, DENY, DENY), (ALLOW, PUBLIC, DENY, DENY))),
    (Role.PROJECT_MANAGER, ((ALLOW, PUBLIC, DENY, DENY), (ALLOW, PUBLIC, DENY, DENY))),
    (Role.PUBLIC, ((ALLOW, PUBLIC, DENY, DENY), (ALLOW, PUBLIC, DENY, DENY))),
])
def test_each_role_reads_as_the_issue_says(
        role: Role, expected: tuple[tuple[Decision, ...], tuple[Decision, ...]]) -> None:
    classes = (DataClass.AGGREGATE, DataClass.SMALL_CELL, DataClass.RECORD, DataClass.IDENTITY)
    for place, row in zip((IN, OUT), expected, strict=True):
        assert tuple(decide(role, place, c) for c in classes) == row, (role, place)


def test_scopes_from_the_territory() -> None:
    regional = POLICY.scope(User(1, "r", Role.REGIONAL, "urs", "norte"))
    assert regional.municipalities == frozenset({"A", "B"}) and regional.covers("urs", "norte")
    assert not regional.covers("municipio", "C")
    consortium = POLICY.scope(User(2, "c", Role.CONSORTIUM, "consorcio", "CX"))
    assert consortium.municipalities == frozenset({"B", "C"})
    municipal = POLICY.scope(User(3, "m", Role.MUNICIPAL, "municipio", "A"))
    assert municipal.units == {("municipio", "A")}
    assert POLICY.scope(User(4, "e", Role.STRATEGY_OFFICE, None, None)).units == frozenset()
    assert POLICY.scope(User(5, "a", Role.ADMIN, None, None)).municipalities is None
    # a project manager's "territory" is a project, not a place
    assert POLICY.scope(User(6, "g", Role.PROJECT_MANAGER, "projeto", "x")).units == frozenset()
    # equal scopes of different roles are different cache keys
    assert POLICY.scope(PUBLIC_USER) != POLICY.scope(User(4, "e", Role.STRATEGY_OFFICE,
                                                          None, None))


def test_masking_by_place() -> None:
    rows = [{"unit_code": u, "suppressed": s, "numerator": 3, "denominator": 40,
             "value": 75.0, "ci_low": 1.0, "ci_high": 2.0, "smoothed": 70.0}
            for u, s in (("A", True), ("B", True), ("C", False))]
    scope = POLICY.scope(User(3, "m", Role.MUNICIPAL, "municipio", "A"))
    out, restricted = POLICY.mask_cells(rows, "municipio", scope)
    assert restricted                                  # A's small cell is shown open
    assert out[0]["value"] == 75.0
    assert all(out[1][k] is None for k in CELL_MASKED) and out[1]["suppressed"]
    assert out[2]["value"] == 75.0                     # not small: everyone sees it
    public, restricted = POLICY.mask_cells(rows, "municipio", POLICY.scope(PUBLIC_USER))
    assert not restricted and [r["value"] for r in public] == [None, None, 75.0]


def test_the_suppression_rule() -> None:
    assert [POLICY.is_small(n) for n in (None, 0, 1, 4, 5, 40)] == [
        False, False, True, True, False, False]
    assert AccessPolicy(_parents, threshold=3).is_small(3) is False
    with pytest.raises(ValueError):
        AccessPolicy(_parents, threshold=0)


def test_consortium_form_with_complementary_suppression() -> None:
    overview = {
        "sigla": "CX", "producao": {"realizados": 40, "por_mil_habitantes": 1.5,
                                    "viagens_transporte": 2, "pessoas_transportadas": 4,
                                    "oncologia_60_dias_pct": 50.0},
        "oncologia_contagens": {"numerador": 1, "denominador": 2},
        "esperas": [{"tipo": "consulta", "realizados": 30, "espera_mediana_dias": 9.0},
                    {"tipo": "exame", "realizados": 7, "espera_mediana_dias": 5.0},
                    {"tipo": "cirurgia", "realizados": 3, "espera_mediana_dias": 40.0}],
        "fila": [{"tipo": "consulta", "na_fila": 12}, {"tipo": "exame", "na_fila": 0}],
    }
    public, shown = POLICY.consortium_form(overview, POLICY.scope(PUBLIC_USER))
    assert not shown and public["forma"] == "publica"
    assert public["producao"]["viagens_transporte"] is None
    assert public["producao"]["pessoas_transportadas"] is None
    assert public["producao"]["oncologia_60_dias_pct"] is None
    assert public["producao"]["realizados"] == 40
    assert public["producao"]["suprimidos"] == [
        "viagens_transporte", "pessoas_transportadas", "oncologia_60_dias_pct"]
    # cirurgia (3) is small; exame (7), the smallest other, goes too: 40 − 30 = 10 = 7 + 3
    assert [w.get("suprimido", False) for w in public["esperas"]] == [False, True, True]
    assert public["esperas"][2]["realizados"] is None
    assert public["fila"] == overview["fila"]          # 0 and 12: nothing small
    assert "oncologia_contagens" not in public
    manager = POLICY.scope(User(2, "c", Role.CONSORTIUM, "consorcio", "CX"))
    own, shown = POLICY.consortium_form(overview, manager)
    assert shown and own["forma"] == "restrita" and own["producao"]["viagens_transporte"] == 2


def test_refusals_say_401_or_403() -> None:
    with pytest.raises(AccessDenied) as public:
        POLICY.require(POLICY.scope(PUBLIC_USER), DataClass.RECORD)
    assert public.value.status == 401
    municipal = POLICY.scope(User(3, "m", Role.MUNICIPAL, "municipio", "A"))
    with pytest.raises(AccessDenied) as outside:
        POLICY.require(municipal, DataClass.RECORD, "municipio", "B")
    assert outside.value.status == 403
    POLICY.require(municipal, DataClass.RECORD, "municipio", "A")


def test_whole_state_exports() -> None:
    assert POLICY.whole_state_public(POLICY.scope(PUBLIC_USER)) is True
    assert POLICY.whole_state_public(POLICY.scope(User(5, "a", Role.ADMIN, None, None))) \
        is False
    with pytest.raises(AccessDenied):      # opens some units only: no whole-state export
        POLICY.whole_state_public(POLICY.scope(User(3, "m", Role.MUNICIPAL, "municipio",
                                                    "A")))
