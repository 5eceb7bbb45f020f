"""The HTTP edge (Starlette, no Streamlit): a gate every request and websocket passes
before any script runs, and the two routes that set and clear the session cookie.

The gate
- works out the client's address (X-Forwarded-For only from CHATBOT_TRUSTED_PROXIES),
- refuses clients outside CHATBOT_ALLOWED_NETWORKS with a plain 403 (audited),
- believes CHATBOT_TRUSTED_USER_HEADER only from a trusted proxy (and audits the header
  arriving from anywhere else),
- and hands what it found to the page scripts as `x-chatbot-*` request headers, after
  deleting any `x-chatbot-*` header the client sent. A per-process token in
  `x-chatbot-gate` proves to the script that the gate ran: the script refuses a browser
  connection without it, so starting the router bare cannot skip the gate.

Why routes for the cookie: the sign-in form runs over Streamlit's websocket, which cannot
set a cookie, so a successful sign-in sends the browser to `/_auth/session?code=...` with
a one-time code (see `signin.py`) and this route answers with the HttpOnly cookie.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from .network import client_address, normal_address
from .settings import AuthSettings

if TYPE_CHECKING:
    from .identity import Identity

GATE_TOKEN = secrets.token_hex(16)  # this process's proof that a request passed the gate
PREFIX = b"x-chatbot-"
GATE, CLIENT, USER, HTTPS = (PREFIX + n for n in (b"gate", b"client", b"user", b"https"))
COOKIE = "chatbot_session"
SESSION_PATH, SIGNOUT_PATH = "/_auth/session", "/_auth/signout"
MAX_USER_HEADER = 256
REFUSED_TEXT = "Access to this app is not allowed from your network address.\n"


class NetworkGate:
    """ASGI middleware; see the module docstring."""

    def __init__(self, app: Any, *, settings: AuthSettings, identity: Callable[[], Identity]) -> None:
        self.app = app
        self.settings = settings
        self.identity = identity

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        s = self.settings
        headers = Headers(scope=scope)
        peer = normal_address((scope.get("client") or ("",))[0])
        from_proxy = peer in s.trusted_proxies
        address = client_address(peer, headers.getlist("x-forwarded-for"), s.trusted_proxies) if from_proxy else peer
        if s.allowed_networks and address not in s.allowed_networks:
            await self._audit("network.refused", address, f"{scope['type']} {scope.get('path', '')}"[:200])
            await _refuse(scope, receive, send)
            return
        kept = [(k, v) for k, v in scope["headers"] if not k.lower().startswith(PREFIX)]
        added = [(GATE, GATE_TOKEN.encode()), (CLIENT, address.encode())]
        if s.trusted_user_header:
            name = s.trusted_user_header.encode()
            values = [v for k, v in kept if k.lower() == name]
            kept = [(k, v) for k, v in kept if k.lower() != name]  # only the gate's verdict goes on
            if values and from_proxy and len(values) == 1 and 0 < len(values[0]) <= MAX_USER_HEADER:
                added.append((USER, values[0]))
            elif values:
                await self._audit("header.untrusted", address, f"{s.trusted_user_header} from {peer}")
        https = scope.get("scheme") in ("https", "wss") or (
            from_proxy and headers.get("x-forwarded-proto", "").split(",")[0].strip() == "https"
        )
        if https:
            added.append((HTTPS, b"1"))
        await self.app(dict(scope, headers=kept + added), receive, send)

    async def _audit(self, action: str, address: str, detail: str) -> None:
        try:
            audit = self.identity().audit
            await run_in_threadpool(audit.refusal, None, action, address=address, detail=detail)
        except Exception:  # the refusal stands even if the log cannot be written
            logging.getLogger("chatbot.auth").exception("could not record %s from %s", action, address)


async def _refuse(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})  # before accept: a 403 to the client
        return
    await PlainTextResponse(REFUSED_TEXT, status_code=403)(scope, receive, send)


def safe_next(value: str | None, base: str = "/") -> str:
    """Where to go after a cookie route: a path on this app only (no scheme, no host,
    no `//evil.example`), else the app's root."""
    text = (value or "").strip()
    parts = urlsplit(text)
    if not text.startswith("/") or text.startswith("//") or "\\" in text or parts.scheme or parts.netloc:
        return base
    return text


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def auth_routes(identity: Callable[[], Identity], *, base_path: str = "") -> list[Route]:
    base = "/" + base_path.strip("/") if base_path.strip("/") else ""
    cookie_path = base or "/"

    async def session(request: Request) -> Response:
        """Trade a one-time handoff code for the session cookie, then go back to the app."""
        address = request.headers.get(CLIENT.decode(), "")
        found = await run_in_threadpool(
            identity().signin.redeem, request.query_params.get("code", ""), address=address
        )
        response = RedirectResponse(safe_next(request.query_params.get("next"), cookie_path), status_code=303)
        if found is not None:
            token, max_age = found
            response.set_cookie(
                COOKIE, token, max_age=max_age, path=cookie_path, httponly=True, samesite="lax",
                secure=request.headers.get(HTTPS.decode()) == "1",
            )
        return _no_store(response)

    async def signout(request: Request) -> Response:
        """Drop the cookie (the session itself was ended on the server already)."""
        response = RedirectResponse(safe_next(request.query_params.get("next"), cookie_path), status_code=303)
        response.delete_cookie(COOKIE, path=cookie_path, httponly=True, samesite="lax")
        return _no_store(response)

    return [Route(base + SESSION_PATH, session), Route(base + SIGNOUT_PATH, signout)]
