"""What guards the service at its edge: who the client is, bounded headers, cross-origin
posts, security headers, and login throttling.

- **Client address.** ``X-Forwarded-For``, ``-Proto`` and ``-Host`` are believed only from the
  proxies listed in ``trusted_proxies`` (none by default); anyone else could write any
  address there, dodge the login throttle and put a false origin in the audit log.
- **Headers.** The headers rmds reads are bounded and checked before any route runs
  (``X-Motivo`` ≤ 400 characters, ``X-Forwarded-For`` ≤ 80, …): a bad one is a 422 with a
  Portuguese message, never a database error that would differ between SQLite and
  PostgreSQL.
- **Cross-origin writes (CSRF).** A POST, PUT, PATCH or DELETE whose ``Origin`` (or, without
  it, ``Referer``) names another host, or that the browser marks ``Sec-Fetch-Site:
  cross-site``, is refused (403). The session cookie is also ``SameSite=Strict``.
- **Security headers** on every answer: a Content-Security-Policy without inline scripts,
  ``X-Frame-Options: DENY``, ``Referrer-Policy``, ``X-Content-Type-Options``, and
  ``Strict-Transport-Security`` over HTTPS.
- **Login throttling** (:class:`LoginGuard`): growing delays per source address, per
  account and per (address, account) pair, answered with 429 and ``Retry-After`` before
  the password is looked at. Nobody is locked out: the owner of an account under attack
  from elsewhere waits at most a minute.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rmds.settings import get_setting
from rmds.store import Store
from rmds.store.audit import record
from rmds.store.auth import AuthError, User, login
from rmds.store.throttle import throttle_clear, throttle_entries, throttle_failed

__all__ = ["HEADER_LIMITS", "Backoff", "LoginGuard", "SecurityPolicy", "attempt_login",
           "client_address", "install_security", "reason_header"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Respond = Callable[[Request, int, str], Response]

# the headers rmds reads, and how long each may be (characters)
HEADER_LIMITS = {"x-motivo": 400, "x-forwarded-for": 80, "x-forwarded-proto": 5,
                 "x-forwarded-host": 255, "authorization": 512, "origin": 300,
                 "referer": 2000}
_HEADER_NAMES = {"x-motivo": "X-Motivo", "x-forwarded-for": "X-Forwarded-For",
                 "x-forwarded-proto": "X-Forwarded-Proto", "x-forwarded-host": "X-Forwarded-Host",
                 "authorization": "Authorization",
                 "origin": "Origin", "referer": "Referer"}
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def _networks(text: str) -> tuple[Network, ...]:
    from rmds.exceptions import ConfigurationError

    found = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            found.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigurationError(f"trusted_proxies: endereço ou rede inválida: {item!r}"
                                     ) from None
    return tuple(found)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


@dataclass
class SecurityPolicy:
    """The proxies believed and when the session cookie is ``Secure``."""

    trusted_proxies: tuple[Network, ...] = ()
    secure_cookie: str = "auto"           # auto | sim | nao

    @classmethod
    def resolve(cls, trusted_proxies: str | None = None,
                secure_cookie: str | None = None) -> SecurityPolicy:
        proxies = get_setting("trusted_proxies", trusted_proxies)
        cookie = get_setting("secure_cookie", secure_cookie)
        return cls(_networks(str(proxies or "")), str(cookie))

    def trusts(self, host: str | None) -> bool:
        address = _ip(host or "")
        return address is not None and any(address in n for n in self.trusted_proxies)


def _policy(request: Request) -> SecurityPolicy:
    policy = getattr(request.app.state, "security", None)
    return policy if isinstance(policy, SecurityPolicy) else SecurityPolicy()


def client_address(request: Request) -> str:
    """The client's address: the peer, or, when the peer is a trusted proxy, the nearest
    address in ``X-Forwarded-For`` that is not one of our proxies."""
    policy = _policy(request)
    peer = request.client.host if request.client else "desconhecido"
    forwarded = request.headers.get("x-forwarded-for")
    if not forwarded or not policy.trusts(peer):
        return peer
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not policy.trusts(hop):
            return hop
    return hops[0] if hops else peer


def is_https(request: Request) -> bool:
    if request.url.scheme == "https":
        return True
    proto = request.headers.get("x-forwarded-proto", "")
    peer = request.client.host if request.client else None
    return proto.strip().lower() == "https" and _policy(request).trusts(peer)


def secure_cookie(request: Request) -> bool:
    """Whether the session cookie set on this answer must be ``Secure``."""
    mode = _policy(request).secure_cookie
    return mode == "sim" or (mode == "auto" and is_https(request))


def reason_header(request: Request) -> str | None:
    """``X-Motivo`` as the user typed it (HTTP carries it as bytes, most likely UTF-8)."""
    value = request.headers.get("x-motivo")
    if value is None:
        return None
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def header_problem(request: Request) -> str | None:
    """The Portuguese message for the first header out of bounds, if any."""
    for name, limit in HEADER_LIMITS.items():
        value = request.headers.get(name)
        if value is None:
            continue
        shown = _HEADER_NAMES[name]
        text = reason_header(request) if name == "x-motivo" else value
        if text is None:
            continue
        if len(text) > limit:
            return f"cabeçalho {shown} longo demais: no máximo {limit} caracteres"
        if any((ord(ch) < 32 and ch != "\t") or ord(ch) == 127 for ch in text):
            return f"cabeçalho {shown} com caracteres de controle"
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded is not None and any(_ip(h) is None for h in forwarded.split(",")):
        return "cabeçalho X-Forwarded-For inválido: use endereços IP separados por vírgula"
    proto = request.headers.get("x-forwarded-proto")
    if proto is not None and proto.strip().lower() not in ("http", "https"):
        return "cabeçalho X-Forwarded-Proto inválido: use http ou https"
    return None


def cross_origin(request: Request) -> bool:
    """A write sent from another site (what a CSRF attack looks like to the server)."""
    if request.method not in _UNSAFE:
        return False
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        return True
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return False              # not a browser form or script: curl, the CLI, a system
    if source == "null":
        return True
    hosts = {request.headers.get("host", "").lower()}
    forwarded = request.headers.get("x-forwarded-host")
    if forwarded and _policy(request).trusts(request.client.host if request.client else None):
        hosts.add(forwarded.split(",")[0].strip().lower())     # the host the browser used
    return urlsplit(source).netloc.lower() not in hosts


class SecurityMiddleware:
    """Checks headers and cross-origin writes before any route, and adds the security
    headers to every answer (pure ASGI: no per-request task, unlike BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp, respond: Respond) -> None:
        self.app = app
        self.respond = respond

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal: tuple[int, str] | None = None
        problem = header_problem(request)
        if problem is not None:
            refusal = (422, problem)
        elif cross_origin(request):
            refusal = (403, "requisição vinda de outro site recusada (proteção contra CSRF)")
        extra = [(b"content-security-policy", CSP.encode()),
                 (b"x-frame-options", b"DENY"),
                 (b"x-content-type-options", b"nosniff"),
                 (b"referrer-policy", b"same-origin"),
                 (b"cross-origin-opener-policy", b"same-origin")]
        if refusal is None and is_https(request):
            extra.append((b"strict-transport-security", b"max-age=31536000"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(h for h in extra if h[0] not in names)]
            await send(message)

        if refusal is not None:
            response = self.respond(request, *refusal)
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


# ------------------------------------------------------------------------------ logins


@dataclass
class Backoff:
    """Failures per key. After ``free`` failures each further attempt must wait
    ``2**(n - free)`` seconds (at most ``cap``) from the last failure; a key is forgotten
    ``forget`` seconds after its last failure, and at most ``max_keys`` are kept (the
    oldest go first), so a flood of names cannot fill the memory."""

    free: int
    cap: float
    forget: float = 900.0
    max_keys: int = 50_000
    entries: OrderedDict[str, tuple[int, float]] = field(default_factory=OrderedDict)

    def delay(self, entry: tuple[int, float] | None, now: float) -> float:
        """Seconds an attempt must still wait, given a key's (failures, last failure)."""
        if entry is None:
            return 0.0
        failures, last = entry
        if now - last > self.forget or failures < self.free:
            return 0.0
        return max(0.0, last + min(self.cap, 2.0 ** (failures - self.free)) - now)

    def wait(self, key: str, now: float) -> float:
        entry = self.entries.get(key)
        if entry is not None and now - entry[1] > self.forget:
            del self.entries[key]
            return 0.0
        return self.delay(entry, now)

    def fail(self, key: str, now: float) -> None:
        failures, last = self.entries.pop(key, (0, now))
        if now - last > self.forget:
            failures = 0
        self.entries[key] = (failures + 1, now)
        while len(self.entries) > self.max_keys:
            self.entries.popitem(last=False)

    def clear(self, key: str) -> None:
        self.entries.pop(key, None)


class LoginGuard:
    """Growing delays for failed logins, by source address, by account and by the pair.

    - the pair (one address trying one account): after 3 failures, 1 s, 2 s, 4 s … 5 min;
    - the source (one address trying many accounts): after 10 failures, the same growth;
    - the account (many addresses trying one account): after 20 failures, 1 s … at most
      1 min, so the owner, from their own address, is delayed but never locked out.

    An attempt that comes too early is refused before the password is checked, with the
    same answer whether the account exists or not; a success clears the pair and the
    account.

    ``shared``: the counts live in the operational store (table ``login_throttle``, wall
    clock), so every server process (``rmds serve --workers N``) sees the failures made on
    the others; otherwise in this process's memory (one process, tests)."""

    def __init__(self, clock: Callable[[], float] | None = None, *,
                 shared: bool = False) -> None:
        self.shared = shared
        self.clock = clock or (time.time if shared else time.monotonic)
        self.by_pair = Backoff(free=3, cap=300.0)
        self.by_source = Backoff(free=10, cap=300.0)
        self.by_account = Backoff(free=20, cap=60.0)
        self.lock = threading.Lock()

    def _keys(self, source: str, account: str) -> list[tuple[Backoff, str, str]]:
        """(backoff, kind, key) for the pair, the source and the account."""
        name = account.strip().lower()[:80]
        return [(self.by_pair, "par", f"{source}|{name}"), (self.by_source, "origem", source),
                (self.by_account, "conta", name)]

    def check(self, source: str, account: str, store: Store | None = None) -> None:
        now = self.clock()
        keys = self._keys(source, account)
        if self.shared and store is not None:
            found = throttle_entries(store, [(kind, key) for _, kind, key in keys])
            wait = max(b.delay(found.get((kind, key)), now) for b, kind, key in keys)
        else:
            with self.lock:
                wait = max(b.wait(key, now) for b, _, key in keys)
        if wait > 0:
            seconds = math.ceil(wait)
            raise HTTPException(429, f"muitas tentativas de entrada; tente de novo em "
                                     f"{seconds} segundo{'s' if seconds > 1 else ''}",
                                headers={"Retry-After": str(seconds)})

    def fail(self, source: str, account: str, store: Store | None = None) -> None:
        now = self.clock()
        keys = self._keys(source, account)
        if self.shared and store is not None:
            throttle_failed(store, [(kind, key, b.forget) for b, kind, key in keys], now,
                            max(b.max_keys for b, _, _ in keys))
            return
        with self.lock:
            for backoff, _, key in keys:
                backoff.fail(key, now)

    def succeed(self, source: str, account: str, store: Store | None = None) -> None:
        pair, _, named = self._keys(source, account)   # the source's count stays
        if self.shared and store is not None:
            throttle_clear(store, [(kind, key) for _, kind, key in (pair, named)])
            return
        with self.lock:
            for backoff, _, key in (pair, named):
                backoff.clear(key)

    def clear(self, store: Store | None = None) -> None:
        if self.shared and store is not None:
            throttle_clear(store, None)
        with self.lock:
            for backoff in (self.by_pair, self.by_source, self.by_account):
                backoff.entries.clear()


def _guard(request: Request) -> LoginGuard:
    guard = getattr(request.app.state, "login_guard", None)
    if not isinstance(guard, LoginGuard):
        guard = request.app.state.login_guard = LoginGuard(shared=True)
    return guard


def attempt_login(request: Request, store: Store, username: str, password: str
                  ) -> tuple[str, User]:
    """Log in through the throttle; every outcome but a throttled one goes to the audit
    log (the attempted name, never the password). Raises HTTPException 429 or AuthError
    (one message for every failure)."""
    guard, source = _guard(request), client_address(request)
    guard.check(source, username, store)
    try:
        token, user = login(store, username, password)
    except AuthError:
        guard.fail(source, username, store)
        record(store, username=username, role="publico", action="login_recusado",
               resource=request.url.path, origin=source)
        raise
    guard.succeed(source, username, store)
    record(store, username=user.username, role=user.role.value, action="login",
           resource=request.url.path, origin=source)
    return token, user


def install_security(app: FastAPI, respond: Respond,
                     policy: SecurityPolicy | None = None) -> None:
    """The middleware, the policy (from the settings unless given) and the login guard."""
    app.state.security = policy or SecurityPolicy.resolve()
    app.state.login_guard = LoginGuard(shared=True)
    app.add_middleware(SecurityMiddleware, respond=respond)
