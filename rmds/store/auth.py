"""Users, roles, territorial scopes, passwords, sessions and login throttling.

Passwords are hashed with scrypt (``hashlib.scrypt``, n=2¹⁴, r=8, p=1, 16-byte salt).
Session tokens are random (32 bytes); only their SHA-256 is stored, and they expire
(``SESSION_HOURS``). Nobody is locked out by wrong passwords: the service slows attempts
down by source and by account (:class:`rmds.api.security.LoginGuard`). Every failed login
gets one message, :data:`LOGIN_FAILED`, whether the name is unknown, the password wrong or
the user disabled, so the answer tells an outsider nothing. User names are unique without
regard to case (``Admin`` is ``admin``), and log in so.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa

from rmds.exceptions import ConfigurationError, RmdsError
from rmds.settings import get_setting
from rmds.store.db import SESSIONS, USERS, Store

__all__ = [
    "CITIZEN_SCOPE",
    "LOGIN_FAILED",
    "AuthError",
    "Role",
    "User",
    "add_user",
    "authenticate",
    "check_facilities",
    "check_password",
    "citizen_session",
    "configure",
    "disable_user",
    "hash_password",
    "list_users",
    "login",
    "recently_checked",
    "set_facilities",
    "set_password",
    "user_for_token",
    "verify_password",
]

SESSION_HOURS = 8
MIN_PASSWORD = 10
LOGIN_FAILED = "usuário ou senha incorretos, ou acesso desativado"


class AuthError(RmdsError, PermissionError):
    """Wrong credentials, a locked or disabled user, or an expired session."""


class Role(StrEnum):
    ADMIN = "administrador"
    STATE_ANALYST = "analista_estadual"
    REGIONAL = "gestor_regional"
    MUNICIPAL = "gestor_municipal"
    CONSORTIUM = "gestor_consorcio"
    PROFESSIONAL = "profissional_saude"
    STRATEGY_OFFICE = "escritorio_estrategia"
    PROJECT_MANAGER = "gerente_projeto"
    CITIZEN = "cidadao"
    PUBLIC = "publico"

    @property
    def label(self) -> str:
        return {"administrador": "Administrador", "analista_estadual": "Analista estadual",
                "gestor_regional": "Gestor regional (URS)",
                "gestor_municipal": "Gestor municipal",
                "gestor_consorcio": "Gestor de consórcio",
                "profissional_saude": "Profissional de saúde",
                "escritorio_estrategia": "Escritório de estratégia (AEST)",
                "gerente_projeto": "Gerente de projeto",
                "cidadao": "Cidadão (gov.br)",
                "publico": "Público"}[self.value]

    @property
    def scope_level(self) -> str | None:
        """The territorial level a role is scoped to (``None``: the whole state)."""
        return {"gestor_regional": "urs", "gestor_municipal": "municipio",
                "gestor_consorcio": "consorcio",
                "profissional_saude": "municipio",
                "gerente_projeto": "projeto"}.get(self.value)

    @property
    def is_state(self) -> bool:
        return self in (Role.ADMIN, Role.STATE_ANALYST)


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: Role
    scope_level: str | None
    scope_code: str | None
    active: bool = True
    #: the facilities (CNES) a health professional works in: their work lists are those
    #: of the people these facilities follow (and of the municipality's unattached people)
    facilities: tuple[str, ...] = ()

    @property
    def scope(self) -> str:
        if self.scope_level is None:
            return "estado"
        return f"{self.scope_level}:{self.scope_code}"


PUBLIC_USER = User(0, "publico", Role.PUBLIC, None, None)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:   # SQLite gives naive datetimes back
        return value.replace(tzinfo=dt.UTC)
    return value


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n),
                               r=int(r), p=int(p), dklen=len(digest) // 2)
    return hmac.compare_digest(candidate.hex(), digest)


def _user(row: sa.Row[tuple[object, ...]]) -> User:
    m = row._mapping
    return User(int(m["id"]), str(m["username"]), Role(m["role"]), m["scope_level"],
                m["scope_code"], bool(m["active"]),
                tuple(c for c in str(m["facilities"] or "").split(",") if c))


def check_password(password: str, username: str) -> None:
    """The password policy: long enough, not one character repeated, not the user name."""
    if len(password) < MIN_PASSWORD:
        raise ConfigurationError(f"a senha deve ter ao menos {MIN_PASSWORD} caracteres")
    if len(set(password)) == 1:
        raise ConfigurationError("a senha não pode ser um só caractere repetido")
    if password.strip().lower() == username.strip().lower() or (
            len(username) >= 4 and username.lower() in password.lower()):
        raise ConfigurationError("a senha não pode ser nem conter o nome do usuário")


def _by_name(username: str) -> sa.ColumnElement[bool]:
    return sa.func.lower(USERS.c.username) == username.strip().lower()


def check_facilities(role: Role, facilities: Sequence[str]) -> tuple[str, ...]:
    """A professional's facilities: CNES codes of 7 digits, only for health professionals."""
    codes = tuple(dict.fromkeys(c.strip() for c in facilities if c.strip()))
    if codes and role is not Role.PROFESSIONAL:
        raise ConfigurationError("estabelecimentos (--cnes) são só do profissional de saúde")
    bad = [c for c in codes if len(c) != 7 or not c.isdigit()]
    if bad:
        raise ConfigurationError(f"CNES inválido: {', '.join(bad)} (7 dígitos)")
    return codes


def set_facilities(store: Store, username: str, facilities: Sequence[str]) -> User:
    """Bind a health professional to facilities (none: the whole municipality)."""
    with store.engine.begin() as c:
        row = c.execute(USERS.select().where(_by_name(username))).first()
        if row is None:
            raise ConfigurationError(f"usuário não encontrado: {username}")
        codes = check_facilities(Role(row._mapping["role"]), facilities)
        c.execute(USERS.update().where(USERS.c.id == row._mapping["id"]).values(
            facilities=",".join(codes) or None))
        changed = _user(c.execute(USERS.select().where(USERS.c.id == row._mapping["id"]))
                        .one())
    _forget_sessions(store)
    return changed


def add_user(store: Store, username: str, password: str, role: Role,
             scope_code: str | None = None, facilities: Sequence[str] = ()) -> User:
    if role is Role.PUBLIC:
        raise ConfigurationError("o papel 'publico' não tem usuários (é o acesso sem login)")
    if role is Role.CITIZEN:
        raise ConfigurationError("o cidadão entra pelo provedor de identidade (gov.br), não "
                                 "por usuário e senha criados aqui")
    if not username or len(username) > 80 or any(ord(ch) < 33 for ch in username):
        raise ConfigurationError("nome de usuário inválido: de 1 a 80 caracteres, sem "
                                 "espaços nem caracteres de controle")
    check_password(password, username)
    if role.scope_level is not None and not scope_code:
        raise ConfigurationError(f"o papel {role.value} exige um território "
                                 f"({role.scope_level}) em --territorio")
    if role.scope_level is None:
        scope_code = None
    codes = check_facilities(role, facilities)
    with store.engine.begin() as c:
        exists = c.execute(sa.select(USERS.c.username).where(_by_name(username))).first()
        if exists:
            raise ConfigurationError(f"usuário já existe: {exists[0]} (nomes de usuário não "
                                     "distinguem maiúsculas de minúsculas)")
        c.execute(USERS.insert().values(
            username=username, password_hash=hash_password(password), role=role.value,
            scope_level=role.scope_level, scope_code=scope_code, active=True,
            failed_logins=0, created_at=_now(), facilities=",".join(codes) or None))
        row = c.execute(USERS.select().where(USERS.c.username == username)).one()
    return _user(row)


def set_password(store: Store, username: str, password: str) -> None:
    """Replace a user's password (and end their sessions)."""
    check_password(password, username)
    with store.engine.begin() as c:
        row = c.execute(sa.select(USERS.c.id).where(_by_name(username))).first()
        if row is None:
            raise ConfigurationError(f"usuário não encontrado: {username}")
        c.execute(USERS.update().where(USERS.c.id == row[0]).values(
            password_hash=hash_password(password), failed_logins=0, locked_until=None))
        c.execute(SESSIONS.delete().where(SESSIONS.c.user_id == row[0]))
    _forget_sessions(store)


def list_users(store: Store) -> list[User]:
    with store.engine.connect() as c:
        return [_user(r) for r in c.execute(USERS.select().order_by(USERS.c.username))]


def disable_user(store: Store, username: str) -> None:
    with store.engine.begin() as c:
        done = c.execute(USERS.update().where(_by_name(username))
                         .values(active=False)).rowcount
        user = c.execute(sa.select(USERS.c.id).where(_by_name(username))).first()
        if user:
            c.execute(SESSIONS.delete().where(SESSIONS.c.user_id == user[0]))
    _forget_sessions(store)
    if not done:
        raise ConfigurationError(f"usuário não encontrado: {username}")


def enable_user(store: Store, username: str) -> None:
    """Let a disabled user sign in again (failed attempts cleared)."""
    with store.engine.begin() as c:
        done = c.execute(USERS.update().where(_by_name(username)).values(
            active=True, failed_logins=0, locked_until=None)).rowcount
    if not done:
        raise ConfigurationError(f"usuário não encontrado: {username}")


def failed_logins(store: Store) -> dict[str, int]:
    """username → wrong passwords since the last good one (what an administrator sees)."""
    with store.engine.connect() as c:
        return {str(name): int(count or 0) for name, count in c.execute(
            sa.select(USERS.c.username, USERS.c.failed_logins))}


def authenticate(store: Store, username: str, password: str) -> User:
    """The user, if the password is right and the user is active. Every failure raises
    :class:`AuthError` with :data:`LOGIN_FAILED` after the same work (one scrypt)."""
    ok = False
    with store.engine.begin() as c:        # committed even when the login fails
        row = c.execute(USERS.select().where(_by_name(username))).first()
        if row is None:
            hash_password(password)           # same cost as a real check
        elif not verify_password(password, row._mapping["password_hash"]):
            c.execute(USERS.update().where(USERS.c.id == row._mapping["id"])
                      .values(failed_logins=USERS.c.failed_logins + 1))
        elif row._mapping["active"]:
            ok = True
            c.execute(USERS.update().where(USERS.c.id == row._mapping["id"])
                      .values(failed_logins=0, locked_until=None))
    if not ok or row is None:
        raise AuthError(LOGIN_FAILED)
    return _user(row)


def login(store: Store, username: str, password: str) -> tuple[str, User]:
    """A new session token for the user."""
    return _session(store, authenticate(store, username, password))


#: the scope level of a citizen: the CPF their identity provider vouched for
CITIZEN_SCOPE = "cpf"


def citizen_session(store: Store, cpf: str) -> tuple[str, User]:
    """A session for the citizen whose identity provider (gov.br, OpenID Connect) vouched
    for ``cpf``: their user is made on first sign-in, with a random name (the name appears
    in the audit chain: never the CPF) and no password (they never sign in with one)."""
    if not (cpf.isdigit() and len(cpf) == 11):
        raise AuthError("o provedor de identidade não informou um CPF válido")
    with store.engine.begin() as c:
        row = c.execute(USERS.select().where(USERS.c.role == Role.CITIZEN.value,
                                             USERS.c.scope_code == cpf)).first()
        if row is None:
            c.execute(USERS.insert().values(
                username=f"cidadao-{secrets.token_hex(5)}", password_hash="oidc$",
                role=Role.CITIZEN.value, scope_level=CITIZEN_SCOPE, scope_code=cpf,
                active=True, failed_logins=0, created_at=_now()))
            row = c.execute(USERS.select().where(USERS.c.role == Role.CITIZEN.value,
                                                 USERS.c.scope_code == cpf)).one()
    user = _user(row)
    if not user.active:
        raise AuthError(LOGIN_FAILED)
    return _session(store, user)


def _session(store: Store, user: User) -> tuple[str, User]:
    token = secrets.token_urlsafe(32)
    now = _now()
    with store.engine.begin() as c:
        c.execute(SESSIONS.delete().where(SESSIONS.c.expires_at < now))
        c.execute(SESSIONS.insert().values(
            token_hash=hashlib.sha256(token.encode()).hexdigest(), user_id=user.id,
            created_at=now, expires_at=now + dt.timedelta(hours=SESSION_HOURS)))
    return token, user


#: sessions checked recently, per store (its URL): token digest → (user, session expiry,
#: when checked, on the monotonic clock). Opening a record checks the session on every
#: request; re-reading it from the store each time cost about a quarter of the request.
_CHECKED: dict[str, dict[str, tuple[User, dt.datetime, float]]] = {}
_CHECKED_LOCK = threading.Lock()
_CHECKED_MAX = 10_000          # entries per store before the oldest half is dropped
_clock = time.monotonic
_EXPLICIT: dict[str, object | None] = {}


def configure(values: Mapping[str, object | None]) -> None:
    """Take ``session_recheck_seconds`` from the resolved settings (the CLI's option), over
    the environment."""
    _EXPLICIT["session_recheck_seconds"] = values.get("session_recheck_seconds")


def _forget_sessions(store: Store) -> None:
    """Drop this process's checked sessions of ``store``: called by every change to users
    or sessions made here, which thereby takes effect at once in this process."""
    with _CHECKED_LOCK:
        _CHECKED.pop(store.url, None)


def _window() -> int:
    return int(str(get_setting("session_recheck_seconds",
                               _EXPLICIT.get("session_recheck_seconds"))))


def recently_checked(store: Store, token: str) -> User | None:
    """The user of the session, when this process checked it in the last
    ``session_recheck_seconds`` and it has not expired; ``None`` when it must be read
    (:func:`user_for_token`). Reads nothing: an event loop may call it."""
    window = _window()
    if window <= 0:
        return None
    seen = _CHECKED.get(store.url, {}).get(hashlib.sha256(token.encode()).hexdigest())
    if seen is None or _clock() - seen[2] >= window or seen[1] < _now():
        return None
    return seen[0]


def user_for_token(store: Store, token: str) -> User | None:
    """The user of a live session, or ``None``. A session checked in the last
    ``session_recheck_seconds`` is not read again: ending it, or disabling its user, in
    another process (a second server worker, a command) takes effect here within that
    time; in this process at once. Its expiry is always compared with the clock."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    window = _window()
    now = _clock()
    seen = _CHECKED.get(store.url, {}).get(digest) if window > 0 else None
    if seen is not None and now - seen[2] < window:
        return seen[0] if seen[1] >= _now() else None
    with store.engine.connect() as c:
        row = c.execute(
            sa.select(USERS, SESSIONS.c.expires_at).join(SESSIONS,
                                                         SESSIONS.c.user_id == USERS.c.id)
            .where(SESSIONS.c.token_hash == digest)).first()
    if row is None:
        return None
    expires = _aware(row._mapping["expires_at"])
    if expires is None or expires < _now() or not row._mapping["active"]:
        return None
    user = _user(row)
    if window > 0:
        with _CHECKED_LOCK:
            checked = _CHECKED.setdefault(store.url, {})
            if len(checked) >= _CHECKED_MAX:
                for old in list(checked)[:_CHECKED_MAX // 2]:
                    del checked[old]
            checked[digest] = (user, expires, now)
    return user


def logout(store: Store, token: str) -> None:
    digest = hashlib.sha256(token.encode()).hexdigest()
    with store.engine.begin() as c:
        c.execute(SESSIONS.delete().where(SESSIONS.c.token_hash == digest))
    _forget_sessions(store)
