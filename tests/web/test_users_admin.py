"""The administrator resets a password and disables or enables a user from the web
(issue 23); nobody else may; every action is audited; a cross-site form is refused."""

from __future__ import annotations

import re

import sqlalchemy as sa
from fastapi.testclient import TestClient

from rmds.store import Store
from rmds.store.audit import verify
from rmds.store.auth import AuthError, Role, add_user, authenticate
from rmds.store.db import AUDIT
from tests.service_fixtures import PASSWORD, token


def test_only_the_administrator_manages_users(client: TestClient) -> None:
    public = client.get("/usuarios", follow_redirects=False)
    assert public.status_code == 303 and "/entrar" in public.headers["location"]
    assert client.get("/usuarios", headers=token(client, "ana")).status_code == 403
    assert client.post("/usuarios/bh/senha", headers=token(client, "ana")).status_code == 403
    page = client.get("/usuarios", headers=token(client, "adm"))
    assert page.status_code == 200 and 'data-usuario="bh"' in page.text


def test_reset_disable_and_enable_from_the_web(client: TestClient, store: Store) -> None:
    name = f"temporario-{store.engine.dialect.name}"
    add_user(store, name, PASSWORD, Role.MUNICIPAL, "3106200")
    admin = token(client, "adm")
    reset = client.post(f"/usuarios/{name}/senha", headers=admin)
    assert reset.status_code == 200
    found = re.search(rf"Senha provisória de {name}: (\S+) —", reset.text)
    assert found is not None
    temporary = found.group(1)
    try:
        authenticate(store, name, PASSWORD)
        raise AssertionError("the old password still works")
    except AuthError:
        pass
    assert authenticate(store, name, temporary).username == name

    assert client.post(f"/usuarios/{name}/ativo", data={"ativo": "nao"},
                       headers=admin).status_code == 200
    assert client.post("/api/sessao", json={"usuario": name, "senha": temporary}
                       ).status_code == 401
    assert client.post(f"/usuarios/{name}/ativo", data={"ativo": "sim"},
                       headers=admin).status_code == 200
    assert client.post("/api/sessao", json={"usuario": name, "senha": temporary}
                       ).status_code == 200

    with store.engine.connect() as c:
        actions = [r[0] for r in c.execute(
            sa.select(AUDIT.c.action).where(AUDIT.c.reason == f"usuário {name}")
            .order_by(AUDIT.c.seq))]
    assert actions == ["senha_redefinida", "usuario_desativado", "usuario_reativado"]
    assert verify(store).ok
    # the administrator cannot lock themself out; an unknown user is a 404
    assert client.post("/usuarios/adm/ativo", data={"ativo": "nao"},
                       headers=admin).status_code == 422
    assert client.post("/usuarios/ninguem/senha", headers=admin).status_code == 404


def test_a_form_posted_from_another_site_is_refused(client: TestClient) -> None:
    admin = token(client, "adm")
    answer = client.post("/usuarios/bh/senha",
                         headers={**admin, "Origin": "https://outro-site.example"})
    assert answer.status_code == 403
