"""Behind a real nginx (the README's configuration) in real Chromium: the websocket goes
through the proxy; an authenticating proxy's user header signs the person in, but only
because it comes from the trusted proxy's address; the same header sent straight to the
app is ignored and recorded; and the address allow-list judges the real client."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
from browser_app import ROOT, browser, running_app
from nginx_server import LOCATION, PROXY_ADDRESS, Nginx

TRUSTED = {
    "CHATBOT_TRUSTED_PROXIES": PROXY_ADDRESS,
    "CHATBOT_TRUSTED_USER_HEADER": "X-Forwarded-User",
    "CHATBOT_SSO_DEFAULT_ROLE": "agent",  # a person the proxy names for the first time
    # The browser itself (127.0.0.1, as nginx reports it) may reach the app; 127.0.0.3 not.
    "CHATBOT_ALLOWED_NETWORKS": "127.0.0.1/32",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    data = tmp_path_factory.mktemp("e2e-proxy")
    with running_app(data, **TRUSTED) as app_url:
        port = int(app_url.rsplit(":", 1)[1])
        with Nginx(data / "nginx", port, user="pat") as proxy_url:
            yield data, app_url, proxy_url


def audit(data: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(data / "chatbot.db") as db:
        return db.execute("SELECT action, actor, address FROM audit_entry ORDER BY id").fetchall()


def test_the_proxy_names_the_user_and_the_websocket_goes_through_it(stack):
    data, _, proxy_url = stack
    with browser() as context:
        page = context.new_page()
        page.goto(proxy_url)
        page.wait_for_selector("textarea", timeout=60_000)  # signed in: the chat input
        page.fill("textarea", "Where is order 1042?")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Sandbox reply, turn 1", timeout=60_000)  # streamed through nginx
        assert "pat · Agent" in page.locator("[data-testid=stSidebar]").inner_text()
        assert page.locator("text=Sign in to continue").count() == 0
    rows = audit(data)
    assert ("signin.success", "pat", "127.0.0.1") in rows  # the browser's address, from X-Forwarded-For


def test_the_same_header_sent_straight_to_the_app_is_ignored_and_recorded(stack):
    data, app_url, _ = stack
    with browser() as context:
        context.set_extra_http_headers({"X-Forwarded-User": "admin"})
        page = context.new_page()
        page.goto(app_url)
        page.wait_for_selector("text=Sign in to continue", timeout=60_000)
        assert page.locator("textarea").count() == 0
    assert any(action == "header.untrusted" and address == "127.0.0.1" for action, _, address in audit(data))


def test_clients_outside_the_allowed_networks_are_refused_before_any_script(stack):
    data, app_url, proxy_url = stack
    port = int(app_url.rsplit(":", 1)[1])
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3"), timeout=10) as http:
        refused = http.get(f"http://127.0.0.1:{port}/")
    assert refused.status_code == 403 and "not allowed from your network" in refused.text
    assert ("network.refused", "", "127.0.0.3") in audit(data)
    # Through the proxy the browser (127.0.0.1) is allowed, although nginx itself (127.0.0.2) is not listed.
    assert httpx.get(proxy_url, timeout=10).status_code == 200


def test_the_readme_shows_the_proxy_configuration_these_tests_use():
    readme = (ROOT / "README.md").read_text()
    expected = LOCATION.replace("{app_port}", "8501")
    assert expected in readme, "README's nginx example differs from tests/nginx_server.py"
