"""The work lists' counts on the indicators page and the unit pages (issue 24: "its counts
per territory, which the indicators page can show"): published once per load, equal to the
lists' own counts, summed over the unit shown, and seen only by viewers whose scope holds
that unit (a count of people is not suppressed, so nobody outside the territory sees it)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from rmds.care.listcounts import published
from rmds.care.worklists import Entry, compute, counts, load_worklists
from rmds.territory import Level, ReferencePack
from tests.service_fixtures import token

BH, UDI = "3106200", "3170206"
VACCINES, PENTA = "vacinas_atrasadas_menores_2", "cobertura_penta_d3"


def _shown(html: str) -> dict[str, int]:
    """list id → persons, as the page's "Listas nominais" section says them."""
    found = re.findall(r'<li data-lista="([^"]+)"><strong>([\d.]+)</strong>', html)
    return {key: int(n.replace(".", "")) for key, n in found}


def _lists(client: TestClient, pack: ReferencePack) -> dict[str, list[Entry]]:
    cursor = client.app.state.data.cursor()  # type: ignore[attr-defined]
    icsap = frozenset(pack.icsap.codes)
    return {k: compute(cursor, wl, icsap=icsap) for k, wl in load_worklists().items()}


def test_the_published_counts_are_the_lists_own_counts(
        client: TestClient, pack: ReferencePack) -> None:
    lists = _lists(client, pack)
    found = published(client.app.state.data.cursor())  # type: ignore[attr-defined]
    assert found is not None
    assert found.persons == {k: counts(v) for k, v in lists.items() if v}
    assert sum(len(v) for v in lists.values()) > 0
    assert found.as_of is None      # each list on its latest day in the lake


def test_the_indicators_page_shows_the_list_that_moves_it_inside_the_territory(
        client: TestClient, pack: ReferencePack, users: dict[str, str]) -> None:
    lists = _lists(client, pack)
    per_town = counts(lists[VACCINES])
    page = f"/?indicador={PENTA}&periodo=2023"
    # the municipal manager and the professional: their municipality
    for who in ("bh", "prof"):
        text = client.get(page, headers=token(client, who)).text
        assert _shown(text) == {VACCINES: per_town.get(BH, 0)}, who
    # the regional manager (URS Belo Horizonte): summed over the URS's municipalities
    urs = pack.units(Level.URS)["belo-horizonte"].name
    held = [code for code, m in pack.municipalities.items() if m.urs == urs]
    assert len(held) > 1
    assert _shown(client.get(page, headers=token(client, "urs")).text) == {
        VACCINES: sum(per_town.get(m, 0) for m in held)}
    # the state analyst: the whole state, those without a recorded residence included
    assert _shown(client.get(page, headers=token(client, "ana")).text) == {
        VACCINES: len(lists[VACCINES])}
    # an indicator no list moves: no section
    assert _shown(client.get("/?indicador=mortalidade_infantil&periodo=2023",
                             headers=token(client, "ana")).text) == {}
    # the public, and a manager looking at a municipality outside their own: nothing
    assert "listas-nominais" not in client.get(page).text
    outside = client.get(f"{page}&dentro=municipio:{BH}", headers=token(client, "udi"))
    assert outside.status_code == 200 and "listas-nominais" not in outside.text
    inside = client.get(f"{page}&dentro=municipio:{BH}", headers=token(client, "bh"))
    assert _shown(inside.text) == {VACCINES: per_town.get(BH, 0)}


def test_the_municipality_page_shows_every_list_of_the_municipality(
        client: TestClient, pack: ReferencePack, users: dict[str, str]) -> None:
    lists = _lists(client, pack)
    text = client.get(f"/municipio/{BH}", headers=token(client, "bh")).text
    assert _shown(text) == {k: counts(v).get(BH, 0) for k, v in lists.items()}
    assert "listas-nominais" not in client.get(f"/municipio/{BH}").text
    assert "listas-nominais" not in client.get(f"/municipio/{BH}",
                                               headers=token(client, "udi")).text
    assert _shown(client.get(f"/municipio/{UDI}", headers=token(client, "udi")).text) == {
        k: counts(v).get(UDI, 0) for k, v in lists.items()}

