"""Issue 20: cached answers never cross roles, the cache stays under its byte bound whatever
the URLs, unknown parameters are refused, and the public consortium overview prints no
small count."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rmds.api.cache import Encoded, ResponseCache
from rmds.api.context import ApiContext
from rmds.store import Store
from rmds.store.auth import Role, add_user
from tests.service_fixtures import PASSWORD, token

THRESHOLD = 5          # the app of the fixtures runs with the default threshold


def _ctx(client: TestClient) -> ApiContext:
    ctx: ApiContext = client.app.state.ctx  # type: ignore[attr-defined]
    return ctx


@pytest.fixture()
def cold(client: TestClient) -> Iterator[None]:
    _ctx(client).cache.clear()
    yield
    _ctx(client).cache.clear()


@pytest.fixture(scope="module")
def strategist(client: TestClient, store: Store) -> dict[str, str]:
    name = f"aest-cache-{store.engine.dialect.name}"
    add_user(store, name, PASSWORD, Role.STRATEGY_OFFICE, None)
    return token(client, name)


@pytest.fixture(scope="module")
def administrator(client: TestClient, store: Store) -> dict[str, str]:
    name = f"adm-cache-{store.engine.dialect.name}"
    add_user(store, name, PASSWORD, Role.ADMIN, None)
    return token(client, name)


def _quarter_with_small_cells(client: TestClient) -> tuple[str, str, dict[str, float]]:
    """(indicator, quarter, unit → restricted value) of the quarter with the most small
    municipal cells, read from the lake itself."""
    cursor = _ctx(client).data.cursor()
    indicator, period = cursor.execute(
        "SELECT indicator_id, period FROM indicator_values WHERE level = 'municipio' "
        "AND period_type = 'trimestre' AND suppressed AND value IS NOT NULL "
        "GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2 LIMIT 1").fetchall()[0]
    small = dict(cursor.execute(
        "SELECT unit_code, value FROM indicator_values WHERE level = 'municipio' AND "
        "indicator_id = ? AND period = ? AND suppressed", [indicator, period]).fetchall())
    return indicator, period, small


def _check_restricted(answer: dict[str, Any], small: dict[str, float]) -> None:
    assert answer["forma"] == "restrita"
    shown = {c["unidade"]: c["valor"] for c in answer["valores"] if c["suprimido"]}
    assert shown == pytest.approx(small)


def _check_public(answer: dict[str, Any], small: dict[str, float]) -> None:
    assert answer["forma"] == "publica"
    hidden = {c["unidade"] for c in answer["valores"] if c["suprimido"]}
    assert hidden == set(small)
    assert all(c["valor"] is None and c["numerador"] is None
               for c in answer["valores"] if c["suprimido"])


@pytest.mark.parametrize("admin_first", [True, False], ids=["adm-then-aest", "aest-then-adm"])
def test_a_cached_answer_never_reaches_another_role(
        client: TestClient, administrator: dict[str, str], strategist: dict[str, str],
        cold: None, admin_first: bool) -> None:
    indicator, period, small = _quarter_with_small_cells(client)
    assert small, "the fixture has small cells in that quarter"
    url = f"/api/indicadores/{indicator}/valores?nivel=municipio&periodo={period}"
    order = [("adm", administrator), ("aest", strategist)]
    for who, headers in (order if admin_first else order[::-1]):
        answer = client.get(url, headers=headers)
        assert answer.status_code == 200, answer.text
        if who == "adm":
            _check_restricted(answer.json(), small)
        else:
            _check_public(answer.json(), small)
    # and the anonymous public, after both, from the cache
    _check_public(client.get(url).json(), small)
    assert len(_ctx(client).cache) == 3        # one entry per scope, none shared


def test_unknown_parameters_are_refused_before_the_cache(client: TestClient, cold: None
                                                         ) -> None:
    url = "/api/indicadores/mortalidade_infantil/valores?nivel=estado"
    assert client.get(url).status_code == 200
    before = len(_ctx(client).cache)
    refused = client.get(url + "&utm_lixo=1")
    assert refused.status_code == 422
    assert "utm_lixo" in refused.json()["erro"]["mensagem"]
    assert client.get("/api/qualidade?x=1").status_code == 422
    assert len(_ctx(client).cache) == before
    # the parsed parameters are the key: the latest period named or implied, one entry
    assert client.get(url + "&periodo=" + client.get(url).json()["periodo"]).status_code \
        == 200
    assert len(_ctx(client).cache) == before


def test_the_cache_is_bounded_in_bytes() -> None:
    cache = ResponseCache(1000)
    entry = Encoded(b"x" * 100, b"y" * 44, False)           # 100 + 44 + 256 = 400 bytes
    for i in range(5):
        cache.put(i, entry)
    assert cache.bytes == 800 and len(cache) == 2 and cache.evicted == 3
    assert cache.get(3) is entry and cache.get(0) is None
    cache.get(3)                                               # 3 is now the newest
    cache.put(9, entry)
    assert cache.get(4) is None and cache.get(3) is entry
    cache.put("big", Encoded(b"z" * 2000, b"", False))         # over the bound: not kept
    assert cache.get("big") is None and cache.bytes == 800


def test_5000_distinct_anonymous_urls_keep_the_cache_under_its_bound(
        client: TestClient) -> None:
    ctx = _ctx(client)
    bound = 2 * 2**20
    kept, ctx.cache = ctx.cache, ResponseCache(bound)
    try:
        indicators = [i.id for i in ctx.data.catalog][:5]
        made = peak = 0
        for i in range(5000):
            indicator = indicators[i % len(indicators)]
            if i % 2:          # junk parameters: refused, never cached
                r = client.get(f"/api/indicadores/{indicator}/ranking?nivel=municipio"
                               f"&lixo{i}={i}")
                assert r.status_code == 422
            else:              # distinct valid URLs: cached until the bound evicts them
                limit = (i // (2 * len(indicators))) % 1000 + 1
                r = client.get(f"/api/indicadores/{indicator}/ranking?nivel=municipio"
                               f"&limite={limit}")
                assert r.status_code == 200
                made += len(r.content)
            peak = max(peak, ctx.cache.bytes)
        assert made > 2 * bound, "the stream holds more than the bound"
        assert peak <= bound
        assert ctx.cache.evicted > 0
        assert len(ctx.cache) <= 2500
    finally:
        ctx.cache = kept


_COUNTS = (("esperas", "realizados"), ("fila", "na_fila"))
_PRODUCTION = ("realizados", "viagens_transporte", "pessoas_transportadas")


def _small(value: Any) -> bool:
    return value is not None and 0 < value < THRESHOLD


def _small_counts(overview: dict[str, Any]) -> list[tuple[str, Any]]:
    out = [(f"{key}.{item['tipo']}", item[count]) for key, count in _COUNTS
           for item in overview[key] if _small(item[count])]
    return out + [(f"producao.{k}", overview["producao"][k]) for k in _PRODUCTION
                  if _small(overview["producao"][k])]


def test_the_public_consortium_overview_prints_no_small_count(
        client: TestClient, pack: Any) -> None:
    analyst = token(client, "ana")
    with_members = sorted(s for s, members in pack.consortium_members.items() if members)
    small_seen = 0
    for sigla in with_members:
        restricted = client.get(f"/api/consorcios/{sigla}", headers=analyst).json()
        public = client.get(f"/api/consorcios/{sigla}").json()
        small = _small_counts(restricted)
        small_seen += len(small)
        assert _small_counts(public) == [], sigla
        assert public["forma"] == "publica"
        assert restricted["forma"] == ("restrita" if small else "publica")
        for name, _ in small:
            key, _, field = name.partition(".")
            if key == "producao":
                assert public["producao"][field] is None
                assert field in public["producao"]["suprimidos"]
            else:
                item = next(i for i in public[key] if i["tipo"] == field)
                assert item["suprimido"] is True
        # no single hidden count can be had by subtraction from a total
        for key, _ in _COUNTS:
            hidden = [i for i in public[key] if i.get("suprimido")]
            assert len(hidden) != 1 or len(public[key]) == 1, (sigla, key)
        assert "oncologia_contagens" not in public
        page = client.get(f"/consorcio/{sigla}").text
        production = page.split('<ul id="producao">')[1].split("</ul>")[0]
        for number in re.findall(r"(\d+) (?:viagens|pessoas)", production):
            assert not _small(int(number)), (sigla, production)
        for row in re.findall(r"<tr><td>[^<]*</td><td>(\d+)</td>", page):
            assert not _small(int(row)), sigla
    assert small_seen, "the fixture's consortia have small counts to hide"
