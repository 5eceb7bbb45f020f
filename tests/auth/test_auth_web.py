"""The HTTP edge over real loopback HTTP: the gate's address checks, the trusted user
header, and the cookie routes. Clients connect from chosen loopback addresses (all of
127.0.0.0/8 is local), so "a trusted proxy" and "anyone else" are real peers."""

from __future__ import annotations

import json
import socket
from dataclasses import replace

import httpx
import pytest
import websockets.sync.client as ws_client
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from chatbot.auth.network import Networks
from chatbot.auth.web import COOKIE, GATE_TOKEN, NetworkGate, auth_routes, safe_next
from auth_helpers import PASSWORD, audit_actions
from loopback import serving

PROXY, CLIENT, STRANGER = "127.0.0.2", "127.0.0.3", "127.0.0.4"


def _seen(headers) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.startswith("x-chatbot-") or k == "x-forwarded-user"}


async def echo(request: Request) -> JSONResponse:
    return JSONResponse(_seen(request.headers))


async def echo_ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(_seen(websocket.headers))
    await websocket.close()


@pytest.fixture
def edge(identity):
    """The gate and the cookie routes in front of a page that echoes what it was told."""

    def make(**settings):
        configured = replace(identity.settings, **settings)
        app = Starlette(
            routes=[*auth_routes(lambda: identity), Route("/", echo), WebSocketRoute("/ws", echo_ws)],
            middleware=[Middleware(NetworkGate, settings=configured, identity=lambda: identity)],
        )
        return serving(app)

    return make


def client(source: str, **kwargs) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=10, **kwargs)


def nets(text: str) -> Networks:
    return Networks.parse(text, setting="test")


def test_the_gate_reports_the_peer_and_drops_headers_a_client_forged(edge):
    with edge() as url, client(CLIENT) as http:
        seen = http.get(url, headers={"X-Chatbot-Gate": "forged", "X-Chatbot-User": "admin",
                                      "X-Chatbot-Client": "10.0.0.1", "X-Forwarded-For": "10.9.9.9"}).json()
    assert seen == {"x-chatbot-gate": GATE_TOKEN, "x-chatbot-client": CLIENT}


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(edge):
    with edge(trusted_proxies=nets(PROXY)) as url:
        with client(PROXY) as http:
            assert http.get(url, headers={"X-Forwarded-For": "1.2.3.4, 198.51.100.7"}).json()[
                "x-chatbot-client"] == "198.51.100.7"
        with client(STRANGER) as http:
            assert http.get(url, headers={"X-Forwarded-For": "198.51.100.7"}).json()[
                "x-chatbot-client"] == STRANGER


def test_the_trusted_user_header_counts_only_from_a_trusted_proxy(edge, engine):
    settings = dict(trusted_proxies=nets(PROXY), trusted_user_header="x-forwarded-user")
    with edge(**settings) as url:
        with client(PROXY) as http:
            assert http.get(url, headers={"X-Forwarded-User": "ana"}).json()["x-chatbot-user"] == "ana"
        with client(STRANGER) as http:
            seen = http.get(url, headers={"X-Forwarded-User": "admin"}).json()
    assert "x-chatbot-user" not in seen and "x-forwarded-user" not in seen
    assert ("header.untrusted", "", "") in audit_actions(engine)


def test_the_trusted_user_header_reaches_a_websocket_only_from_a_trusted_proxy(edge):
    settings = dict(trusted_proxies=nets(PROXY), trusted_user_header="x-forwarded-user")
    with edge(**settings) as url:
        port = int(url.rsplit(":", 1)[1])
        for source, expected in ((PROXY, "ana"), (STRANGER, None)):
            sock = socket.create_connection(("127.0.0.1", port), source_address=(source, 0))
            with ws_client.connect(url.replace("http", "ws") + "/ws", sock=sock,
                                   additional_headers={"X-Forwarded-User": "ana"}) as ws:
                assert json.loads(ws.recv()).get("x-chatbot-user") == expected


def test_clients_outside_the_allowed_networks_get_a_plain_refusal_and_an_audit_entry(edge, engine):
    with edge(allowed_networks=nets(f"{CLIENT}/32")) as url:
        with client(CLIENT) as http:
            assert http.get(url).status_code == 200
        with client(STRANGER) as http:
            refused = http.get(url)
    assert refused.status_code == 403
    assert refused.text == "Access to this app is not allowed from your network address.\n"
    assert GATE_TOKEN not in refused.text
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT action, address FROM audit_entry")).all()
    assert ("network.refused", STRANGER) in [tuple(r) for r in rows]


def test_behind_a_proxy_the_allow_list_judges_the_real_client(edge):
    settings = dict(trusted_proxies=nets(PROXY), allowed_networks=nets("198.51.100.0/24"))
    with edge(**settings) as url, client(PROXY) as http:
        assert http.get(url, headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 200
        assert http.get(url, headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
        assert http.get(url).status_code == 403  # the proxy itself is not in the list


def test_a_handoff_code_becomes_an_http_only_cookie_once(edge, identity, admin):
    identity.users.add(admin, "ana", role="agent", password=PASSWORD)
    signed = identity.signin.authenticate("ana", PASSWORD, address=CLIENT)
    with edge() as url, client(CLIENT, follow_redirects=False) as http:
        first = http.get(f"{url}/_auth/session", params={"code": signed.handoff, "next": "/?c=42"})
        again = http.get(f"{url}/_auth/session", params={"code": signed.handoff, "next": "/"})
    assert (first.status_code, first.headers["location"]) == (303, "/?c=42")
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http on loopback; behind an https proxy it is set
    assert first.headers["cache-control"] == "no-store"
    token = first.cookies[COOKIE]
    assert identity.signin.from_token(token).username == "ana"
    assert "set-cookie" not in again.headers  # spent


def test_the_cookie_is_secure_when_the_trusted_proxy_says_https(edge, identity, admin):
    identity.users.add(admin, "ana", role="agent", password=PASSWORD)
    signed = identity.signin.authenticate("ana", PASSWORD, address=CLIENT)
    with edge(trusted_proxies=nets(PROXY)) as url, client(PROXY, follow_redirects=False) as http:
        response = http.get(f"{url}/_auth/session", params={"code": signed.handoff},
                            headers={"X-Forwarded-For": CLIENT, "X-Forwarded-Proto": "https"})
    assert "Secure" in response.headers["set-cookie"]


def test_sign_out_route_drops_the_cookie(edge):
    with edge() as url, client(CLIENT, follow_redirects=False) as http:
        response = http.get(f"{url}/_auth/signout", params={"next": "https://evil.example/"})
    assert response.headers["location"] == "/"
    assert response.headers["set-cookie"].startswith(f'{COOKIE}=""') and "Max-Age=0" in response.headers["set-cookie"]


@pytest.mark.parametrize("value, expected", [
    ("/?c=42", "/?c=42"), ("/usage", "/usage"), ("//evil.example/x", "/"), ("https://evil.example", "/"),
    ("/\\evil.example", "/"), ("javascript:alert(1)", "/"), ("", "/"), (None, "/"),
])
def test_redirects_after_the_cookie_routes_stay_on_this_app(value, expected):
    assert safe_next(value) == expected
