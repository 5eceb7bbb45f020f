"""A small, real OpenID Connect provider on a loopback port, for the single sign-on tests.

    with OIDCProvider(client_id="chatbot", client_secret=secret, redirect_uri=callback) as idp:
        idp.next_login = {"sub": "u-1", "preferred_username": "ana", "groups": ["support"]}
        ...  # the browser clicks "Sign in with single sign-on"

It has no sign-in screen: the authorization endpoint signs in the person the test queued
(once). Everything a relying party must get right is checked as a real provider checks
it: the client id and registered redirect URI, state and nonce present, the PKCE S256
challenge at the authorization endpoint and its verifier at the token endpoint, the client
secret (HTTP Basic or form), and a code used once, by the client it was issued to, with
the same redirect URI. The ID token is RS256-signed with a key published at the JWKS
endpoint. Every refusal is kept in `refusals`, so a test can say none happened.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from loopback import serving

CODE_SECONDS = 60
TOKEN_SECONDS = 300


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def s256(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass
class _Grant:
    claims: dict[str, Any]
    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str
    expires: float


@dataclass
class Login:
    """One completed sign-in: what the relying party sent and what it got."""

    claims: dict[str, Any]
    authorize: dict[str, str]
    id_token: str | None = None
    access_token: str | None = None
    auth_method: str | None = None  # "client_secret_basic" or "client_secret_post"


@dataclass
class _State:
    grants: dict[str, _Grant] = field(default_factory=dict)
    logins: list[Login] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class OIDCProvider:
    def __init__(self, *, client_id: str, client_secret: str, redirect_uri: str, host: str = "127.0.0.1") -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.host = host
        self.port = 0
        # The person the next authorization request signs in (taken by that request).
        self.next_login: dict[str, Any] | None = None
        self.key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, private=True, auto_kid=True)
        self._state = _State()
        self._serving: Any = None

    # -- what the tests read ---------------------------------------------------------------

    @property
    def issuer(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def logins(self) -> list[Login]:
        """Sign-ins whose code was exchanged for tokens, oldest first."""
        with self._state.lock:
            return [login for login in self._state.logins if login.id_token is not None]

    @property
    def refusals(self) -> list[str]:
        with self._state.lock:
            return list(self._state.refusals)

    # -- the endpoints ---------------------------------------------------------------------

    def _refuse(self, why: str, status: int = 400, *, error: str = "invalid_request") -> Response:
        with self._state.lock:
            self._state.refusals.append(why)
        return JSONResponse({"error": error, "error_description": why}, status_code=status)

    async def _discovery(self, _request: Request) -> Response:
        return JSONResponse({
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "email", "profile"],
        })

    async def _jwks(self, _request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def _authorize(self, request: Request) -> Response:
        q = request.query_params
        # An unknown client or an unregistered redirect URI is never redirected to.
        if q.get("client_id") != self.client_id:
            return self._refuse(f"unknown client_id {q.get('client_id')!r}", error="unauthorized_client")
        if q.get("redirect_uri") != self.redirect_uri:
            return self._refuse(f"unregistered redirect_uri {q.get('redirect_uri')!r}")
        problems = [
            why for bad, why in (
                (q.get("response_type") != "code", "response_type is not code"),
                ("openid" not in (q.get("scope") or "").split(), "scope lacks openid"),
                (not q.get("state"), "no state"),
                (not q.get("nonce"), "no nonce"),
                (not q.get("code_challenge"), "no PKCE code_challenge"),
                (q.get("code_challenge_method") != "S256", "code_challenge_method is not S256"),
            ) if bad
        ]
        login, self.next_login = self.next_login, None
        if login is None:
            problems.append("nobody is queued to sign in")
        if problems:
            self._refuse("; ".join(problems))
            return RedirectResponse(
                f"{self.redirect_uri}?{urlencode({'error': 'invalid_request', 'state': q.get('state', '')})}",
                status_code=302,
            )
        code = secrets.token_urlsafe(32)
        with self._state.lock:
            self._state.grants[code] = _Grant(dict(login), self.client_id, self.redirect_uri, q["nonce"],
                                              q["code_challenge"], time.time() + CODE_SECONDS)
            self._state.logins.append(Login(dict(login), dict(q)))
        return RedirectResponse(f"{self.redirect_uri}?{urlencode({'code': code, 'state': q['state']})}",
                                status_code=302)

    def _client(self, request: Request, form: Any) -> tuple[str | None, str | None, str]:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                raw = base64.b64decode(header[6:].strip()).decode("utf-8")
            except ValueError:
                return None, None, "client_secret_basic"
            user, _, password = raw.partition(":")
            return unquote(user), unquote(password), "client_secret_basic"
        return form.get("client_id"), form.get("client_secret"), "client_secret_post"

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        client_id, secret, method = self._client(request, form)
        if client_id != self.client_id or not hmac.compare_digest(
            (secret or "").encode(), self.client_secret.encode()
        ):
            return self._refuse("client authentication failed", 401, error="invalid_client")
        if form.get("grant_type") != "authorization_code":
            return self._refuse("grant_type is not authorization_code", error="unsupported_grant_type")
        with self._state.lock:
            grant = self._state.grants.pop(str(form.get("code") or ""), None)  # a code works once
        if grant is None or grant.expires < time.time() or grant.client_id != client_id:
            return self._refuse("unknown, used or expired code", error="invalid_grant")
        if form.get("redirect_uri") != grant.redirect_uri:
            return self._refuse("redirect_uri differs from the authorization request", error="invalid_grant")
        verifier = str(form.get("code_verifier") or "")
        if not verifier or not hmac.compare_digest(s256(verifier), grant.challenge):
            return self._refuse("PKCE code_verifier does not match the challenge", error="invalid_grant")
        access_token = secrets.token_urlsafe(32)
        now = int(time.time())
        claims = {
            **grant.claims,
            "iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + TOKEN_SECONDS,
            "auth_time": now, "nonce": grant.nonce,
            "at_hash": b64url(hashlib.sha256(access_token.encode()).digest()[:16]),
        }
        id_token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)
        with self._state.lock:
            for login in reversed(self._state.logins):
                if login.authorize.get("nonce") == grant.nonce:
                    login.id_token, login.access_token, login.auth_method = id_token, access_token, method
                    login.claims = claims
                    break
        return JSONResponse(
            {"access_token": access_token, "token_type": "Bearer", "expires_in": TOKEN_SECONDS,
             "id_token": id_token, "scope": "openid email profile"},
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/.well-known/openid-configuration", self._discovery),
            Route("/jwks", self._jwks),
            Route("/authorize", self._authorize),
            Route("/token", self._token, methods=["POST"]),
            Route("/{path:path}", lambda r: PlainTextResponse("not found", status_code=404)),
        ])

    # -- running ---------------------------------------------------------------------------

    def start(self) -> OIDCProvider:
        self._serving = serving(self.app(), self.host, name="oidc-provider")
        self.port = int(self._serving.__enter__().rsplit(":", 1)[1])
        return self

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.__exit__(None, None, None)
        self._serving = None

    def __enter__(self) -> OIDCProvider:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
