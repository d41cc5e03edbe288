"""The service's edge under attack: login throttling without lock-out, answers that reveal
nothing about accounts, failed logins in the audit log, X-Forwarded-For only from trusted
proxies, bounded headers (the same 422 on SQLite and PostgreSQL), cross-origin posts,
security headers, the Secure cookie, and bad page parameters."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rmds.api.security import LoginGuard, SecurityPolicy
from rmds.store import Store
from rmds.store.auth import Role, add_user, disable_user
from rmds.store.db import AUDIT
from tests.service_fixtures import PASSWORD, token

TEMPLATES = Path(__file__).resolve().parents[2] / "rmds" / "web" / "templates"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def clock(app: FastAPI) -> Iterator[Clock]:
    """A fresh login guard on a clock the test moves."""
    before = app.state.login_guard
    ticking = Clock()
    app.state.login_guard = LoginGuard(ticking)
    yield ticking
    app.state.login_guard = before


def _from(app: FastAPI, address: str, base_url: str = "http://testserver") -> TestClient:
    return TestClient(app, client=(address, 40000), base_url=base_url)


def _login(c: TestClient, user: str, password: str, **headers: str):  # type: ignore[no-untyped-def]
    return c.post("/api/sessao", json={"usuario": user, "senha": password}, headers=headers)


def _last_audit(store: Store) -> dict[str, object]:
    with store.engine.connect() as c:
        row = c.execute(sa.select(AUDIT).order_by(AUDIT.c.seq.desc()).limit(1)).one()
    return dict(row._mapping)


def test_wrong_passwords_from_elsewhere_do_not_lock_the_owner_out(
        app: FastAPI, clock: Clock) -> None:
    attacker, owner = _from(app, "10.9.9.1"), _from(app, "10.9.9.2")
    codes = [_login(attacker, "adm", "senha-errada-1").status_code for _ in range(6)]
    assert codes[:3] == [401, 401, 401] and set(codes[3:]) == {429}
    assert _login(owner, "adm", PASSWORD).status_code == 200


def test_delays_grow_and_say_the_same_for_any_account(app: FastAPI, clock: Clock) -> None:
    def run(account: str) -> list[tuple[int, str | None, str]]:
        c = _from(app, f"10.8.{len(account)}.1")
        seen: list[tuple[int, str | None, str]] = []
        for _ in range(3):
            r = _login(c, account, "senha-errada-1")
            seen.append((r.status_code, None, r.json()["erro"]["mensagem"]))
        for _ in range(3):
            early = _login(c, account, PASSWORD)          # even the right password waits
            seen.append((early.status_code, early.headers.get("retry-after"),
                         early.json()["erro"]["mensagem"]))
            clock.now += float(early.headers["retry-after"])
            wrong = _login(c, account, "senha-errada-1")
            seen.append((wrong.status_code, None, wrong.json()["erro"]["mensagem"]))
        return seen

    existing, unknown = run("ana"), run("ninguem")
    assert [s[:2] for s in existing] == [
        (401, None), (401, None), (401, None), (429, "1"), (401, None), (429, "2"),
        (401, None), (429, "4"), (401, None)]
    assert existing == unknown              # nothing tells an existing account apart


def test_failed_logins_are_audited_without_the_password_and_reveal_nothing(
        app: FastAPI, store: Store, clock: Clock) -> None:
    add_user(store, "desligada", PASSWORD, Role.STATE_ANALYST)
    disable_user(store, "desligada")
    c = _from(app, "10.7.7.7")
    answers = []
    for user, password in [("adm", "palavra-secreta-errada"), ("nao.existe", "outra-errada-99"),
                           ("desligada", PASSWORD)]:
        r = _login(c, user, password)
        answers.append((r.status_code, r.json()))
        last = _last_audit(store)
        assert last["action"] == "login_recusado" and last["username"] == user
        assert last["origin"] == "10.7.7.7"
    assert len({str(a) for a in answers}) == 1, answers   # disabled = wrong = unknown
    with store.engine.connect() as conn:
        everything = " ".join(str(v) for r in conn.execute(sa.select(AUDIT)) for v in r)
    assert "palavra-secreta-errada" not in everything and PASSWORD not in everything


def test_x_forwarded_for_is_believed_only_from_trusted_proxies(
        app: FastAPI, store: Store, clock: Clock) -> None:
    c = _from(app, "10.6.6.6")
    # an untrusted client cannot pick its address: not in the audit, not to dodge delays
    codes = [_login(c, "udi", "senha-errada-1", **{"X-Forwarded-For": f"192.0.2.{i}"}
                    ).status_code for i in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    assert _last_audit(store)["origin"] == "10.6.6.6"
    before = app.state.security
    app.state.security = SecurityPolicy((ipaddress.ip_network("10.6.6.0/24"),))
    try:
        proxied = _login(c, "bh", "senha-errada-1",
                         **{"X-Forwarded-For": "198.51.100.7, 10.6.6.5"})
        assert proxied.status_code == 401
        assert _last_audit(store)["origin"] == "198.51.100.7"
    finally:
        app.state.security = before


def test_header_values_are_bounded_with_a_422(client: TestClient, store: Store) -> None:
    analyst = token(client, "ana")
    fine = client.get("/api/cargas", headers={**analyst, "X-Motivo": "m" * 400})
    assert fine.status_code == 200 and _last_audit(store)["reason"] == "m" * 400
    cases = [
        ("/api/cargas", {**analyst, "X-Motivo": "m" * 401}, "X-Motivo"),
        ("/api/cargas", {**analyst, "X-Forwarded-For": "1" * 81}, "X-Forwarded-For"),
        ("/api/cargas", {**analyst, "X-Forwarded-For": "não é ip".encode()}, "X-Forwarded-For"),
        ("/api/quarentena", {**analyst, "X-Motivo": "a\x01b"}, "X-Motivo"),
    ]
    for url, headers, name in cases:
        before = _last_audit(store)["seq"]
        r = client.get(url, headers=headers)
        assert r.status_code == 422, (name, r.text)
        assert name in r.json()["erro"]["mensagem"]
        assert _last_audit(store)["seq"] == before          # refused before the route
    r = client.post("/api/sessao", json={"usuario": "ana", "senha": PASSWORD},
                    headers={"X-Forwarded-For": "1" * 81})
    assert r.status_code == 422 and "X-Forwarded-For" in r.json()["erro"]["mensagem"]
    utf8 = client.get("/api/cargas", headers={**analyst,
                                              "X-Motivo": "conferência".encode()})
    assert utf8.status_code == 200 and _last_audit(store)["reason"] == "conferência"


def test_security_headers_and_no_inline_script(client: TestClient) -> None:
    for path in ("/", "/entrar", "/api/saude"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        script = re.search(r"script-src ([^;]*)", csp)
        assert script and "unsafe-inline" not in script.group(1), csp
        assert "frame-ancestors 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"\son[a-z]+\s*=", text), template.name
        assert "javascript:" not in text, template.name


def test_cross_origin_posts_are_refused(app: FastAPI, clock: Clock) -> None:
    client = _from(app, "10.4.4.4")      # its own cookie jar: the login below sets one
    form = {"usuario": "ana", "senha": PASSWORD, "proxima": "/inicio"}
    for headers in ({"Origin": "https://mal.example"}, {"Referer": "https://mal.example/x"},
                    {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
        r = client.post("/entrar", data=form, headers=headers, follow_redirects=False)
        assert r.status_code == 403 and "outro site" in r.text, headers
        api = client.post("/api/sessao", json={"usuario": "ana", "senha": PASSWORD},
                          headers=headers)
        assert api.status_code == 403 and api.json()["erro"]["tipo"] == "proibido"
    same = client.post("/entrar", data=form, headers={"Origin": "http://testserver"},
                       follow_redirects=False)
    assert same.status_code == 303
    # behind a proxy that rewrites Host, the browser's host comes in X-Forwarded-Host,
    # believed only from a trusted proxy
    public = {"Origin": "https://rmds.saude.mg.gov.br",
              "X-Forwarded-Host": "rmds.saude.mg.gov.br"}
    assert client.post("/entrar", data=form, headers=public,
                       follow_redirects=False).status_code == 403
    before = app.state.security
    app.state.security = SecurityPolicy((ipaddress.ip_network("10.4.4.4/32"),))
    try:
        assert client.post("/entrar", data=form, headers=public,
                           follow_redirects=False).status_code == 303
    finally:
        app.state.security = before


def test_the_session_cookie_is_secure_over_https(app: FastAPI, clock: Clock) -> None:
    form = {"usuario": "ana", "senha": PASSWORD, "proxima": "/inicio"}
    plain = _from(app, "10.5.5.5").post("/entrar", data=form, follow_redirects=False)
    assert plain.status_code == 303 and "secure" not in plain.headers["set-cookie"].lower()
    tls = _from(app, "10.5.5.5", "https://testserver").post("/entrar", data=form,
                                                            follow_redirects=False)
    assert tls.status_code == 303 and "secure" in tls.headers["set-cookie"].lower()
    assert tls.headers["strict-transport-security"].startswith("max-age=")
    # behind a proxy that ends TLS: X-Forwarded-Proto only from a trusted proxy
    proxied = _from(app, "10.5.5.6")
    hint = {"X-Forwarded-Proto": "https"}
    r = proxied.post("/entrar", data=form, headers=hint, follow_redirects=False)
    assert "secure" not in r.headers["set-cookie"].lower()
    before = app.state.security
    app.state.security = SecurityPolicy((ipaddress.ip_network("10.5.5.6/32"),))
    try:
        r = proxied.post("/entrar", data=form, headers=hint, follow_redirects=False)
        assert "secure" in r.headers["set-cookie"].lower()
    finally:
        app.state.security = before


@pytest.mark.parametrize("url", ["/municipio/3106200?periodo=abc",
                                 "/carteira/relatorio?semana=x",
                                 "/carteira/relatorio?semana=31/02/2026"])
def test_bad_page_parameters_get_a_422_in_portuguese(client: TestClient, url: str) -> None:
    headers = token(client, "ana")
    r = client.get(url, headers=headers)
    assert r.status_code == 422, r.text
    assert "inválid" in r.text and '<html lang="pt-BR">' in r.text
