"""Single sign-on in a real browser: the app under `streamlit run streamlit_app.py`, configured in
`.streamlit/secrets.toml` as an operator configures it, against a real OpenID Connect
provider on loopback (tests/oidc_provider.py). Streamlit's `st.login` runs the protocol
(discovery, PKCE, the ID token checked against the provider's keys); we check what the
person gets: an account at the first sign-in, the role their groups map to, a session
that survives a reload and ends on the server at sign-out, and that neither the client
secret nor a token is kept anywhere.
"""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

import pytest
from browser_app import browser, cli, free_port, running_app
from oidc_provider import OIDCProvider

# A new value every run: finding it anywhere can only mean it leaked from secrets.toml.
CLIENT_SECRET = f"canary-client-secret-{secrets.token_hex(16)}"
COOKIE_SECRET = secrets.token_hex(32)
ROLES = "support-agents=agent, support-qa=qa, support-admins=admin"
SSO_BUTTON = "Sign in with single sign-on"


class SSOApp:
    def __init__(self, url: str, data: Path, idp: OIDCProvider) -> None:
        self.url, self.data, self.idp = url, data, idp

    def rows(self, sql: str, *args: object) -> list[tuple]:
        with sqlite3.connect(f"file:{self.data / 'chatbot.db'}?mode=ro", uri=True) as db:
            return db.execute(sql, args).fetchall()

    def user(self, username: str) -> tuple | None:
        found = self.rows("SELECT role, source, sso_subject, display_name, email FROM app_user WHERE username = ?",
                          username)
        return found[0] if found else None

    def sessions(self, username: str) -> list[tuple]:
        return self.rows(
            "SELECT s.method, s.ended_at IS NOT NULL, s.end_reason FROM auth_session s "
            "JOIN app_user u ON u.id = s.user_id WHERE u.username = ? ORDER BY s.id", username)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = tmp_path_factory.mktemp("e2e-sso")
    port = free_port()
    callback = f"http://127.0.0.1:{port}/oauth2callback"
    with OIDCProvider(client_id="support-chatbot", client_secret=CLIENT_SECRET, redirect_uri=callback) as idp:
        (data / ".streamlit").mkdir()
        # Tokens exposed to st.user on purpose: the app must still keep none of them.
        (data / ".streamlit" / "secrets.toml").write_text(
            "[auth]\n"
            f'redirect_uri = "{callback}"\n'
            f'cookie_secret = "{COOKIE_SECRET}"\n'
            'client_id = "support-chatbot"\n'
            f'client_secret = "{CLIENT_SECRET}"\n'
            f'server_metadata_url = "{idp.metadata_url}"\n'
            'expose_tokens = ["id", "access"]\n'
        )
        with running_app(data, {"admin": "admin"}, port=port, CHATBOT_SSO_ROLES=ROLES,
                         CHATBOT_SSO_DEFAULT_ROLE="none", STREAMLIT_LOGGER_LEVEL="debug") as url:
            yield SSOApp(url, data, idp)
        assert idp.refusals == []  # Streamlit spoke the protocol as the provider expects


def person(sub: str, username: str, name: str, groups: list[str]) -> dict:
    return {"sub": sub, "preferred_username": username, "email": f"{username}@example.com",
            "email_verified": True, "name": name, "groups": groups}


def sso_sign_in(page, app: SSOApp, who: dict, ready: str) -> None:
    """Queue `who` at the provider and click the single sign-on button."""
    app.idp.next_login = who
    page.get_by_role("button", name=SSO_BUTTON).click()
    page.wait_for_selector(ready, timeout=60_000)


def open_app(context, app: SSOApp):
    page = context.new_page()
    page.goto(app.url)
    page.wait_for_selector("text=Sign in to continue", timeout=60_000)
    return page


def test_first_sign_in_makes_the_account_a_reload_keeps_it_and_sign_out_ends_it(app):
    ana = person("ana-0001", "ana.sso", "Ana Ruiz", ["staff", "support-agents"])
    with browser() as context:
        page = open_app(context, app)
        sso_sign_in(page, app, ana, "textarea")
        assert page.get_by_text("Paste the customer's question").count() == 1  # the Chat page
        assert app.user("ana.sso") == ("agent", "oidc", f"{app.idp.issuer} ana-0001", "Ana Ruiz",
                                       "ana.sso@example.com")
        assert app.sessions("ana.sso") == [("oidc", 0, None)]
        login = app.idp.logins[-1]
        assert login.authorize["code_challenge_method"] == "S256" and login.auth_method == "client_secret_basic"

        # A reload is a new Streamlit session: the SSO cookie brings back the same one of ours.
        page.reload()
        page.wait_for_selector("textarea", timeout=60_000)
        assert app.sessions("ana.sso") == [("oidc", 0, None)]

        page.get_by_role("button", name="Ana Ruiz · Agent").click()
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_selector("text=Sign in to continue", timeout=60_000)
        assert app.sessions("ana.sso") == [("oidc", 1, "signed out")]
        assert not [c for c in context.cookies() if c["name"].startswith("_streamlit_user")]
        assert page.locator("textarea").count() == 0
        page.reload()
        page.wait_for_selector("text=Sign in to continue", timeout=60_000)
        assert page.locator("textarea").count() == 0


def test_no_mapped_group_gets_no_role_until_an_admin_gives_one(app):
    bo = person("bo-0002", "bo.sso", "Bo Lind", ["marketing"])
    with browser() as context:
        page = open_app(context, app)
        sso_sign_in(page, app, bo, "text=Your account has no role yet")
        assert page.locator("textarea").count() == 0
        assert page.locator("[data-testid=stSidebarNav]").count() == 0
        assert app.user("bo.sso")[:2] == ("none", "oidc")
        assert app.sessions("bo.sso") == []

        done = cli(app.data, "users", "set-role", "bo.sso", "agent")
        assert done.returncode == 0, done.stderr
        # The next sign-in at the provider (a new ID token) gets in, with the role given.
        sso_sign_in(page, app, bo, "textarea")
        assert page.get_by_role("button", name="Bo Lind · Agent").count() == 1
        assert app.user("bo.sso")[:2] == ("agent", "oidc")
        assert app.sessions("bo.sso") == [("oidc", 0, None)]


def test_an_admin_group_gives_the_admin_pages(app):
    cy = person("cy-0003", "cy.sso", "Cy Okafor", ["support-agents", "support-admins"])
    with browser() as context:
        page = open_app(context, app)
        sso_sign_in(page, app, cy, "[data-testid=stSidebarNav]")
        nav = page.locator("[data-testid=stSidebarNav]")
        for title in ("Chat", "Personas", "Users", "Audit log"):
            assert nav.get_by_text(title, exact=True).count() == 1, title
        assert app.user("cy.sso")[:2] == ("admin", "oidc")
        nav.get_by_text("Users", exact=True).click()
        page.wait_for_selector("text=Everyone who may sign in", timeout=60_000)
        # The table is drawn on a canvas; its (hidden) accessible copy has the new account's row.
        page.wait_for_selector("td:text-is('cy.sso')", state="attached", timeout=30_000)


def test_the_client_secret_and_the_tokens_are_kept_nowhere(app):
    dee = person("dee-0004", "dee.sso", "Dee Park", ["support-agents"])
    with browser() as context:
        page = open_app(context, app)
        html = [page.content()]
        sso_sign_in(page, app, dee, "textarea")
        html.append(page.content())
        page.reload()
        page.wait_for_selector("textarea", timeout=60_000)
        html.append(page.content())
    tokens = [login.id_token for login in app.idp.logins] + [login.access_token for login in app.idp.logins]
    assert len(tokens) >= 2 and all(tokens)
    stored = b"".join(p.read_bytes() for p in app.data.glob("chatbot.db*"))
    log = (app.data / "server.log").read_text()
    assert "Beginning script thread" in log  # a debug message: the server logged at debug level
    for where, text in (("database", stored.decode("latin-1")), ("server log", log), ("page", "\n".join(html))):
        assert CLIENT_SECRET not in text, where
        for token in tokens:
            assert token not in text, where
