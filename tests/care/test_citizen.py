"""The citizen's own view ("Meus dados") through the OpenID Connect flow of the local
provider: sign-in with state, nonce and PKCE; the citizen sees their own record and an
access log with exactly the accesses made, nobody else's data; a forged or replayed sign-in
is refused; a wrong record reported reaches the municipality's review queue."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rmds.api.oidc import LocalProvider, sign_in_locally
from rmds.care.record import care_record, own_cpf_holders
from rmds.server import create_app
from rmds.store import Store, open_store
from rmds.store.audit import verify
from rmds.store.auth import Role, add_user
from rmds.store.db import AUDIT
from rmds.territory import ReferencePack
from tests.service_fixtures import PASSWORD, token

BH, UDI = "3106200", "3170206"
WHY = "paciente em atendimento de urgência no nosso pronto-socorro"
@pytest.fixture(scope="module")
def oidc(app: FastAPI) -> Iterator[LocalProvider]:
    before = app.state.oidc
    app.state.oidc = LocalProvider()
    yield app.state.oidc
    app.state.oidc = before


def _owners(client: TestClient, town: str) -> list[tuple[int, str]]:
    return own_cpf_holders(client.app.state.data.cursor(), town)  # type: ignore[attr-defined]


def sign_in(app: FastAPI, cpf: str) -> TestClient:
    """A browser of its own (its own cookies) signed in with ``cpf`` at the provider."""
    browser = TestClient(app)
    sign_in_locally(browser, cpf)
    return browser


def _log_rows(html: str) -> list[tuple[int, str, str]]:
    return [(int(seq), glass, user) for seq, glass, user in re.findall(
        r'<tr data-seq="(\d+)" data-quebra-de-vidro="(\w+)" data-usuario="([^"]+)"', html)]


def test_the_citizen_sees_their_record_and_exactly_who_opened_it(
        client: TestClient, app: FastAPI, store: Store, users: dict[str, str],
        oidc: LocalProvider) -> None:
    (pid, cpf), (other_pid, other_cpf) = _owners(client, BH)
    name = f"prof-udi-{store.engine.dialect.name}"
    add_user(store, name, PASSWORD, Role.PROFESSIONAL, UDI)
    # the store is shared by the session's tests: what others did to this record before
    # this test is in the log too, and is left out of what this test compares
    with store.engine.connect() as c:
        start = int(c.execute(sa.select(sa.func.coalesce(sa.func.max(AUDIT.c.seq), 0)))
                    .scalar_one())
    # a professional of the municipality opens the record; one of another breaks the glass
    local = client.post("/api/prontuario", json={"pessoa": str(pid), "finalidade": "cuidado"},
                        headers=token(client, "prof"))
    glass = client.post("/api/prontuario", headers=token(client, name), json={
        "pessoa": str(pid), "finalidade": "cuidado", "justificativa": WHY})
    assert local.status_code == glass.status_code == 200, (local.text, glass.text)
    # and someone else's record is opened too: it must not show in this citizen's log
    assert client.post("/api/prontuario", json={"pessoa": str(other_pid),
                                                "finalidade": "cuidado"},
                       headers=token(client, "prof")).status_code == 200

    # the break-glass opening is flagged for the review of the municipality of residence
    review = client.get("/correcoes", headers=token(client, "prof"))
    row = f'<tr data-seq="{glass.json()["acesso"]["auditoria"]}">'
    assert row in review.text and WHY in review.text.split(row, 1)[1].split("</tr>", 1)[0]
    # and not for another municipality's
    assert row not in client.get("/correcoes", headers=token(client, name)).text

    citizen = sign_in(app, cpf)
    page = citizen.get("/meus-dados")
    assert page.status_code == 200, page.text
    rows = [r for r in _log_rows(page.text) if r[0] > start]
    me = rows[-1][2]
    assert [(s, g, u) for s, g, u in rows if u != me] == [
        (local.json()["acesso"]["auditoria"], "nao", "prof"),
        (glass.json()["acesso"]["auditoria"], "sim", name)]
    assert WHY in page.text and 'data-integro="sim"' in page.text
    # their own read is in the log, as theirs; nothing else is
    assert [u for _, _, u in rows] == ["prof", name, me]
    # their record, nobody else's: every identification row is one of theirs
    record = care_record(client.app.state.data.cursor(), pid)  # type: ignore[attr-defined]
    other = care_record(client.app.state.data.cursor(), other_pid)  # type: ignore[attr-defined]
    assert all(i.name in page.text for i in record.identifications if i.name)
    theirs = {i.name for i in other.identifications if i.name} - {
        i.name for i in record.identifications if i.name}
    assert not any(n in page.text for n in theirs)
    assert other_cpf not in page.text
    # the FHIR download is theirs, and audited
    bundle = citizen.get("/meus-dados/fhir")
    assert bundle.status_code == 200 and bundle.headers["content-type"].startswith(
        "application/fhir+json")
    assert bundle.json()["resourceType"] == "Bundle" and cpf in bundle.text
    # the citizen can reach no one else's record, list or management data
    assert citizen.post("/api/prontuario", json={"pessoa": str(other_pid),
                                                 "finalidade": "cuidado"}).status_code == 403
    assert citizen.get(f"/fhir/Patient/{pid}/$summary").status_code == 403
    assert citizen.get("/correcoes", follow_redirects=False).status_code == 403
    assert citizen.get("/cargas", follow_redirects=False).status_code == 403
    # a professional is not a citizen: "Meus dados" is refused to them
    assert client.get("/meus-dados", headers=token(client, "prof")).status_code == 403
    assert verify(store).ok


def test_a_wrong_record_reported_reaches_the_municipalitys_queue(
        client: TestClient, app: FastAPI, store: Store, users: dict[str, str],
        oidc: LocalProvider) -> None:
    (pid, cpf), _ = _owners(client, BH)
    citizen = sign_in(app, cpf)
    sent = citizen.post("/meus-dados/correcao", follow_redirects=False,
                        data={"texto": "A dose de vacina de março não fui eu que tomei."})
    assert sent.status_code == 303 and sent.headers["location"] == "/meus-dados?enviado=1"
    prof = token(client, "prof")
    queue = client.get("/correcoes", headers=prof)
    assert queue.status_code == 200 and f'data-pessoa="{pid}"' in queue.text
    assert "não fui eu que tomei" in queue.text
    # the municipal manager and the analyst do not review records
    for who in ("bh", "ana"):
        assert client.get("/correcoes", headers=token(client, who)).status_code == 403
    [aviso] = re.findall(r'action="/correcoes/(\d+)/resolver"', queue.text.split(
        f'data-pessoa="{pid}"', 1)[1])[:1]
    assert client.post(f"/correcoes/{aviso}/resolver",
                       headers=token(client, "bh")).status_code == 403
    done = client.post(f"/correcoes/{aviso}/resolver", headers=prof, follow_redirects=False)
    assert done.status_code == 303
    assert f'action="/correcoes/{aviso}/resolver"' not in client.get(
        "/correcoes", headers=prof).text
    # the citizen sees who reviewed it, in their log
    assert "Revisou o seu aviso" in citizen.get("/meus-dados").text


def test_the_municipality_writes_its_verdict_on_a_broken_glass(
        client: TestClient, app: FastAPI, store: Store, users: dict[str, str],
        oidc: LocalProvider) -> None:
    """Once per opening, by whoever reviews the municipality of residence; "injustificada"
    needs a reason; in the audit chain and in the citizen's log."""
    (pid, cpf), _ = _owners(client, BH)
    name = f"prof-udi-parecer-{store.engine.dialect.name}"
    add_user(store, name, PASSWORD, Role.PROFESSIONAL, UDI)
    opened = client.post("/api/prontuario", headers=token(client, name), json={
        "pessoa": str(pid), "finalidade": "cuidado", "justificativa": WHY})
    assert opened.status_code == 200, opened.text
    seq = opened.json()["acesso"]["auditoria"]
    prof = token(client, "prof")
    url = f"/correcoes/quebras/{seq}/parecer"
    assert f'action="{url}"' in client.get("/correcoes", headers=prof).text
    # the other municipality's professional, a manager: not theirs to judge
    assert client.post(url, data={"parecer": "justificada"},
                       headers=token(client, name)).status_code == 404
    assert client.post(url, data={"parecer": "justificada"},
                       headers=token(client, "bh")).status_code == 403
    assert client.post(url, data={"parecer": "talvez"}, headers=prof).status_code == 422
    assert client.post(url, data={"parecer": "injustificada"},
                       headers=prof).status_code == 422          # no reason given
    why_not = "paciente não estava em atendimento naquele dia"
    done = client.post(url, data={"parecer": "injustificada", "observacao": why_not},
                       headers=prof, follow_redirects=False)
    assert done.status_code == 303
    page = client.get("/correcoes", headers=prof).text
    row = page.split(f'<tr data-seq="{seq}">', 1)[1].split("</tr>", 1)[0]
    assert 'data-parecer="injustificada"' in row and why_not in row
    assert f'action="{url}"' not in page
    assert client.post(url, data={"parecer": "justificada"},
                       headers=prof).status_code == 404             # once only
    citizen = sign_in(app, cpf)
    assert "Deu parecer sobre uma abertura" in citizen.get("/meus-dados").text
    assert verify(store).ok


MOTHER_SQL = """
    WITH r AS (SELECT l.person_id, i.cpf, i.source_system, i.role FROM person_links l
               JOIN (SELECT *, source_system || '|' || source_file || '|' || coalesce(
                     record_key, CAST(source_row AS VARCHAR)) || '|' || role AS uid
                     FROM identity_records) i ON l.record_uid = i.uid),
    cpfs AS (SELECT cpf, any_value(person_id) AS pid FROM r WHERE cpf IS NOT NULL
             GROUP BY cpf HAVING count(DISTINCT person_id) = 1)
    SELECT c.pid, c.cpf FROM cpfs c
    WHERE c.pid IN (SELECT person_id FROM r WHERE source_system = 'SINASC' AND role = 'mae')
    ORDER BY 1"""


def test_a_mother_sees_her_minor_childs_record_and_nobody_elses(
        client: TestClient, app: FastAPI, store: Store, users: dict[str, str],
        oidc: LocalProvider) -> None:
    """The mother a birth record names sees her child's record, as legal guardian, until
    the child turns 18; each reading is in the child's access log; another child, never."""
    import datetime as dt

    from rmds.access import AccessDenied, AccessPolicy
    from rmds.care.record import children_of
    from rmds.store.auth import User

    cursor = client.app.state.data.cursor()  # type: ignore[attr-defined]
    mothers = [(int(p), str(c)) for p, c in cursor.execute(MOTHER_SQL).fetchall()]
    mother, cpf = next((p, c) for p, c in mothers if children_of(cursor, p))
    [(child, born), *_] = children_of(cursor, mother)
    assert born is not None
    stranger = next(p for p, _ in mothers if p != mother and not any(
        k == p for k, _ in children_of(cursor, mother)))
    citizen = sign_in(app, cpf)
    page = citizen.get("/meus-dados")
    assert f'href="/meus-dados/dependentes/{child}"' in page.text
    seen = citizen.get(f"/meus-dados/dependentes/{child}")
    assert seen.status_code == 200, seen.text
    assert "responsável legal" in seen.text
    with store.engine.connect() as c:
        last = c.execute(AUDIT.select().order_by(AUDIT.c.seq.desc()).limit(1)).one()
    assert (last.action, last.resource) == ("responsavel_consultou", f"pessoa:{child}")
    # someone who is not her child; a professional is not a guardian here
    assert citizen.get(f"/meus-dados/dependentes/{stranger}").status_code == 403
    assert client.get(f"/meus-dados/dependentes/{child}",
                      headers=token(client, "prof")).status_code == 403
    # until the 18th birthday, not on it (ages in completed years from the calendar)
    from rmds.care.opening import open_child_record

    user = User(0, "cidadao-x", Role.CITIZEN, None, cpf)
    eighteen = dt.date(born.year + 18, born.month, born.day - (born.month == 2 and
                                                              born.day == 29))
    policy = client.app.state.ctx.policy  # type: ignore[attr-defined]
    open_child_record(cursor, store, policy, user, child,
                      today=eighteen - dt.timedelta(days=1))
    with pytest.raises(AccessDenied, match="18 anos"):
        open_child_record(cursor, store, policy, user, child, today=eighteen)
    with pytest.raises(AccessDenied, match="18 anos"):
        AccessPolicy.guardian_may_open(user, None)
    assert verify(store).ok


def test_a_forged_or_replayed_sign_in_is_refused(
        app: FastAPI, users: dict[str, str], oidc: LocalProvider) -> None:
    browser = TestClient(app)
    start = browser.get("/meus-dados/entrar", follow_redirects=False)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start.headers["location"]).query))
    fields = {k: query[k] for k in ("redirect_uri", "state", "nonce", "code_challenge")}
    # the provider sends back only to this service's own return address
    assert browser.post("/oidc-local/autorizar", data={
        **fields, "cpf": "12345678909", "redirect_uri": "https://elsewhere.example/x"},
        follow_redirects=False).status_code == 422
    back = browser.post("/oidc-local/autorizar", data={**fields, "cpf": "12345678909"},
                        follow_redirects=False)
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(
        back.headers["location"]).query))["code"]
    # a state that is not the one this browser started with
    forged = browser.get(f"/meus-dados/retorno?code={code}&state=outro", follow_redirects=False)
    assert forged.status_code == 401 and "state" in forged.text
    # another browser (without the sign-in cookie) cannot use the code
    stranger = TestClient(app).get(f"/meus-dados/retorno?code={code}&state={query['state']}",
                                   follow_redirects=False)
    assert stranger.status_code == 401
    ok = browser.get(f"/meus-dados/retorno?code={code}&state={query['state']}",
                     follow_redirects=False)
    assert ok.status_code == 303
    # a code is good once
    browser.cookies.set("rmds_oidc", f"{query['state']}.{query['nonce']}.x", path="/meus-dados")
    again = browser.get(f"/meus-dados/retorno?code={code}&state={query['state']}",
                        follow_redirects=False)
    assert again.status_code == 401


def test_a_token_from_another_key_is_refused(oidc: LocalProvider) -> None:
    from rmds.api.oidc import Login, OidcError, challenge, verify_id_token

    login = Login.new()
    code = oidc.issue("12345678909", login.nonce, challenge(login.verifier), "http://x/r")
    token_text = oidc.exchange(code, "http://x/r", login.verifier)
    assert verify_id_token(oidc, token_text, login.nonce)["sub"] == "12345678909"
    with pytest.raises(OidcError, match="nonce"):
        verify_id_token(oidc, token_text, "outro")
    with pytest.raises(OidcError):
        verify_id_token(LocalProvider(), token_text, login.nonce)   # another provider's key


def test_a_deleted_access_shows_missing_on_the_citizens_page(
        client: TestClient, service_lake: Path, pack: ReferencePack, tmp_path: Path) -> None:
    """On a store of its own (the deletion breaks the chain for good)."""
    (pid, cpf), _ = _owners(client, BH)
    own = open_store(f"sqlite:///{tmp_path / 'op.db'}")
    add_user(own, "enf", PASSWORD, Role.PROFESSIONAL, BH)
    made = create_app(service_lake, own, pack, warm=False)
    made.state.oidc = LocalProvider()
    try:
        staff = TestClient(made)
        headers = token(staff, "enf")
        seqs = [staff.post("/api/prontuario", headers=headers, json={
            "pessoa": str(pid), "finalidade": f}).json()["acesso"]["auditoria"]
            for f in ("cuidado", "coordenacao_cuidado")]
        with own.engine.begin() as c:
            c.execute(AUDIT.delete().where(AUDIT.c.seq == seqs[0]))
        page = sign_in(made, cpf).get("/meus-dados")
        assert page.status_code == 200
        assert 'data-integro="nao"' in page.text
        assert f'<span class="ausente" data-seq="{seqs[0]}">' in page.text
        assert [s for s, _, u in _log_rows(page.text) if u == "enf"] == [seqs[1]]
    finally:
        made.state.data.close()
        own.close()
