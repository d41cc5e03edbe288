"""Passwords, user names and the operational file: the rules hold on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from rmds.exceptions import ConfigurationError
from rmds.store import Store, open_store
from rmds.store.auth import LOGIN_FAILED, AuthError, Role, add_user, authenticate, set_password
from rmds.store.db import USERS
from tests.store.test_audit_chain import _drop, _new_database


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url, admin, name = _new_database(str(request.param), tmp_path)
    opened = open_store(url)
    yield opened
    opened.close()
    _drop(admin, name)


@pytest.mark.parametrize(("username", "password", "why"), [
    ("carla", "aaaaaaaaaaaa", "um só caractere"),
    ("carla", "curta-9", "ao menos 10"),
    ("carla.souza", "carla.souza", "nome do usuário"),
    ("carla.souza", "CARLA.SOUZA-2026", "nome do usuário"),
])
def test_weak_passwords_are_refused(store: Store, username: str, password: str,
                                    why: str) -> None:
    with pytest.raises(ConfigurationError, match=why):
        add_user(store, username, password, Role.STATE_ANALYST)
    add_user(store, username, "uma senha boa de verdade", Role.STATE_ANALYST)
    with pytest.raises(ConfigurationError, match=why):
        set_password(store, username, password)


def test_user_names_are_unique_without_regard_to_case(store: Store) -> None:
    add_user(store, "admin", "uma senha boa de verdade", Role.ADMIN)
    with pytest.raises(ConfigurationError, match="já existe: admin"):
        add_user(store, "Admin", "outra senha boa de verdade", Role.ADMIN)
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as c:   # and in the schema
        c.execute(USERS.insert().values(username="ADMIN", password_hash="x", role="admin",
                                        active=True, failed_logins=0,
                                        created_at=sa.func.now()))
    assert authenticate(store, "Admin", "uma senha boa de verdade").username == "admin"


def test_a_disabled_user_gets_the_answer_of_a_wrong_password(store: Store) -> None:
    from rmds.store.auth import disable_user

    add_user(store, "bia", "uma senha boa de verdade", Role.STATE_ANALYST)
    disable_user(store, "bia")
    answers = []
    for name, password in [("bia", "uma senha boa de verdade"), ("bia", "errada-errada"),
                           ("ninguem", "errada-errada")]:
        with pytest.raises(AuthError) as caught:
            authenticate(store, name, password)
        answers.append(str(caught.value))
    assert answers == [LOGIN_FAILED] * 3


def test_the_sqlite_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "novo" / "operacional.db"
    open_store(f"sqlite:///{path}").close()
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o077 == 0
    old = tmp_path / "antigo.db"
    old.touch()
    os.chmod(old, 0o644)                  # left so by an older version: tightened
    open_store(f"sqlite:///{old}").close()
    assert old.stat().st_mode & 0o777 == 0o600


def test_a_professional_is_bound_to_facilities(store: Store) -> None:
    """Migration 0005 on SQLite and PostgreSQL: the facilities (CNES) a health professional
    works in, kept in order without repeats; other roles and malformed codes refused."""
    from rmds.store.auth import list_users, set_facilities

    made = add_user(store, "enf.maria", "senha-da-enfermeira", Role.PROFESSIONAL, "3106200",
                    ["2695324", "0027014", "2695324"])
    assert made.facilities == ("2695324", "0027014")
    assert {u.username: u.facilities for u in list_users(store)}["enf.maria"] == (
        "2695324", "0027014")
    assert set_facilities(store, "ENF.MARIA", []).facilities == ()
    with pytest.raises(ConfigurationError, match="só do profissional"):
        add_user(store, "gestor.x", "senha-do-gestor-x", Role.MUNICIPAL, "3106200", ["2695324"])
    with pytest.raises(ConfigurationError, match="CNES inválido: 12345"):
        set_facilities(store, "enf.maria", ["12345"])
    with pytest.raises(ConfigurationError, match="não encontrado"):
        set_facilities(store, "ninguem", ["2695324"])
