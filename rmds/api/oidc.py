"""Citizens sign in with OpenID Connect, the way gov.br accounts work.

The flow is the authorization code flow with PKCE (``S256``), ``state`` and ``nonce``, as
gov.br requires of its clients. The ID token is verified before anything else is believed:
signature (RS256, with the provider's published keys), issuer, audience, expiry and nonce.
The CPF is the token's ``sub`` (gov.br's subject is the citizen's CPF).

Two providers, chosen by the setting ``oidc_issuer``:

* the URL of a real provider (gov.br: ``https://sso.acesso.gov.br``; its staging
  ``https://sso.staging.acesso.gov.br``): its discovery document
  (``/.well-known/openid-configuration``) names the endpoints and the keys (JWKS), and the
  code is exchanged with the client's id and secret (``oidc_client_id``,
  ``oidc_client_secret``; HTTP Basic, as gov.br takes them);
* ``local``: a provider inside the service, for development, the demo and the tests. It
  asks for a CPF on a page (no password: it vouches for whoever types one, so it must never
  face the public) and signs its ID tokens with an RSA key made when the service starts.
  The service verifies its tokens with the same code it uses for a real provider.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from rmds.exceptions import RmdsError
from rmds.settings import get_setting

__all__ = ["LOCAL", "LocalProvider", "Login", "OidcError", "Provider", "RemoteProvider",
           "provider_from_settings", "sign_in_locally", "verify_id_token"]

LOCAL = "local"
LOCAL_ISSUER = "rmds-provedor-local"
SCOPES = "openid profile"


class OidcError(RmdsError, PermissionError):
    """A sign-in that cannot be believed (bad state, nonce, signature, audience...)."""


@dataclass(frozen=True)
class Login:
    """What the browser carries from the start of a sign-in to its return (a cookie)."""

    state: str
    nonce: str
    verifier: str

    @classmethod
    def new(cls) -> Login:
        return cls(secrets.token_urlsafe(24), secrets.token_urlsafe(24),
                   secrets.token_urlsafe(48))

    def cookie(self) -> str:
        return f"{self.state}.{self.nonce}.{self.verifier}"

    @classmethod
    def from_cookie(cls, text: str | None) -> Login | None:
        parts = (text or "").split(".")
        return cls(*parts) if len(parts) == 3 and all(parts) else None


def challenge(verifier: str) -> str:
    """The PKCE ``S256`` challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class Provider(Protocol):
    issuer: str
    client_id: str

    def authorize_url(self, redirect_uri: str, login: Login) -> str: ...

    def exchange(self, code: str, redirect_uri: str, verifier: str) -> str: ...

    def signing_key(self, id_token: str) -> Any: ...


def _query(redirect_uri: str, login: Login, client_id: str) -> str:
    return urllib.parse.urlencode({
        "response_type": "code", "client_id": client_id, "scope": SCOPES,
        "redirect_uri": redirect_uri, "state": login.state, "nonce": login.nonce,
        "code_challenge": challenge(login.verifier), "code_challenge_method": "S256"})


def verify_id_token(provider: Provider, id_token: str, nonce: str) -> dict[str, Any]:
    """The claims of an ID token, once its signature, issuer, audience, expiry and nonce
    are checked; :class:`OidcError` otherwise."""
    try:
        claims: dict[str, Any] = jwt.decode(
            id_token, provider.signing_key(id_token), algorithms=["RS256"],
            audience=provider.client_id, issuer=provider.issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]}, leeway=30)
    except (jwt.PyJWTError, ValueError) as exc:
        raise OidcError(f"token de identidade recusado: {exc}") from None
    if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
        raise OidcError("token de identidade recusado: nonce não confere")
    return claims


class LocalProvider:
    """The development provider (see the module's text)."""

    issuer = LOCAL_ISSUER

    def __init__(self, client_id: str = "rmds") -> None:
        self.client_id = client_id
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._codes: dict[str, tuple[str, str, str, str, float]] = {}
        self._lock = threading.Lock()

    def authorize_url(self, redirect_uri: str, login: Login) -> str:
        return "/oidc-local/autorizar?" + _query(redirect_uri, login, self.client_id)

    def issue(self, cpf: str, nonce: str, code_challenge: str, redirect_uri: str) -> str:
        """A one-time code for ``cpf`` (after the development page asked for it)."""
        code = secrets.token_urlsafe(24)
        with self._lock:
            now = time.time()
            self._codes = {k: v for k, v in self._codes.items() if v[4] > now}
            self._codes[code] = (cpf, nonce, code_challenge, redirect_uri, now + 120)
        return code

    def exchange(self, code: str, redirect_uri: str, verifier: str) -> str:
        with self._lock:
            issued = self._codes.pop(code, None)          # a code is good once
        if issued is None or issued[4] < time.time():
            raise OidcError("código de autorização inválido ou expirado")
        cpf, nonce, code_challenge, expected_uri, _ = issued
        if redirect_uri != expected_uri or not secrets.compare_digest(
                challenge(verifier), code_challenge):
            raise OidcError("código de autorização não confere (PKCE ou endereço de retorno)")
        now = int(time.time())
        return jwt.encode({"iss": self.issuer, "sub": cpf, "aud": self.client_id, "iat": now,
                           "exp": now + 300, "nonce": nonce, "amr": ["local"]},
                          self._key, algorithm="RS256", headers={"kid": "local-1"})

    def signing_key(self, id_token: str) -> Any:
        return self._key.public_key()


class RemoteProvider:
    """A real provider (gov.br), found through its discovery document."""

    def __init__(self, issuer: str, client_id: str, client_secret: str,
                 timeout: float = 10.0) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id, self.client_secret, self.timeout = client_id, client_secret, timeout
        self._config: dict[str, Any] | None = None
        self._keys: jwt.PyJWKClient | None = None

    def config(self) -> dict[str, Any]:
        if self._config is None:
            url = self.issuer + "/.well-known/openid-configuration"
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                self._config = dict(json.load(response))
        return self._config

    def authorize_url(self, redirect_uri: str, login: Login) -> str:
        return (str(self.config()["authorization_endpoint"]) + "?"
                + _query(redirect_uri, login, self.client_id))

    def exchange(self, code: str, redirect_uri: str, verifier: str) -> str:
        body = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": redirect_uri,
                                       "code_verifier": verifier}).encode()
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        request = urllib.request.Request(
            str(self.config()["token_endpoint"]), data=body, method="POST",
            headers={"Authorization": f"Basic {basic}",
                     "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.load(response)
        except OSError as exc:
            raise OidcError(f"o provedor de identidade não trocou o código: {exc}") from None
        if "id_token" not in answer:
            raise OidcError("o provedor de identidade não devolveu um token de identidade")
        return str(answer["id_token"])

    def signing_key(self, id_token: str) -> Any:
        if self._keys is None:
            self._keys = jwt.PyJWKClient(str(self.config()["jwks_uri"]),
                                         timeout=int(self.timeout))
        return self._keys.get_signing_key_from_jwt(id_token).key


def provider_from_settings() -> Provider | None:
    """The configured provider; ``None`` when citizens' sign-in is not configured."""
    issuer = str(get_setting("oidc_issuer") or "").strip()
    client_id = str(get_setting("oidc_client_id") or "rmds")
    if not issuer:
        return None
    if issuer == LOCAL:
        return LocalProvider(client_id)
    secret = str(get_setting("oidc_client_secret") or "")
    if not secret:
        from rmds.exceptions import ConfigurationError

        raise ConfigurationError("oidc_issuer aponta um provedor, mas falta "
                                 "oidc_client_secret (RMDS_OIDC_CLIENT_SECRET)")
    return RemoteProvider(issuer, client_id, secret)


def sign_in_locally(browser: Any, cpf: str) -> None:
    """Walk an HTTP client (``httpx``-like: ``get``/``post`` keeping cookies) through the
    whole sign-in with the local provider, as a browser would: start, the provider's page,
    the return. For the demo and the tests; raises OidcError when a step is refused."""
    start = browser.get("/meus-dados/entrar", follow_redirects=False)
    if start.status_code != 303:
        raise OidcError(f"início da entrada recusado ({start.status_code})")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(
        start.headers["location"]).query))
    if query.get("code_challenge_method") != "S256" or not query.get("nonce"):
        raise OidcError("pedido de autorização sem PKCE ou nonce")
    if browser.get(start.headers["location"]).status_code != 200:
        raise OidcError("página do provedor local indisponível")
    back = browser.post("/oidc-local/autorizar", follow_redirects=False, data={
        "cpf": cpf, **{k: query[k] for k in ("redirect_uri", "state", "nonce",
                                              "code_challenge")}})
    done = browser.get(back.headers.get("location", "/"), follow_redirects=False)
    if done.status_code != 303 or done.headers.get("location") != "/meus-dados":
        raise OidcError(f"retorno da entrada recusado ({done.status_code})")
