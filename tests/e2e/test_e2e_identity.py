"""The issue's "done when", in real Chromium on a fresh data dir: the first admin from the
link the server printed, the admin adds an agent, another agent and a QA person on the
Users page, each signs in in a browser of their own and sees only what their role allows;
no URL gets an agent into another agent's conversation; a session survives a reload and
a server restart; every admin action is in the audit log with its author."""

from __future__ import annotations

import re
import sqlite3

import pytest
from browser_app import PASSWORD, browser, chromium, free_port, playwright, running_app, sign_in

SHOTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def setup_link(data) -> str:
    log = (data / "server.log").read_text()
    return re.search(r"Create the first admin account: (http://\S+)", log).group(1)


def add_person(page, username: str, role: str) -> None:
    """Admin → Users → Add a person, through its widgets (found by their keys)."""
    field = lambda key: page.locator(f".st-key-{key} input")  # noqa: E731
    if not field("add-username").is_visible():
        page.locator("[data-testid=stExpander] summary", has_text="Add a person").first.click()
    field("add-username").fill(username)
    field("add-display").fill(username.title())
    field("add-role").click()
    field("add-role").press_sequentially(role)  # the dropdown filters to it; Enter picks it
    field("add-role").press("Enter")
    field("add-password").fill(PASSWORD)
    field("add-confirm").fill(PASSWORD)
    page.locator(".st-key-add-user button", has_text="Add").click() if page.locator(
        ".st-key-add-user").count() else page.get_by_role("button", name="Add", exact=True).click()
    page.wait_for_selector(f"text={username} added as {role}", timeout=30_000)
    # The form is drawn again, empty, once the run after the click has finished.
    playwright.expect(field("add-username")).to_have_value("", timeout=30_000)
    playwright.expect(field("add-password")).to_have_value("", timeout=30_000)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    data = tmp_path_factory.mktemp("e2e-identity")
    port = free_port()
    with running_app(data, accounts=None, port=port) as url:
        yield data, url, port


def test_a_team_gets_going_and_each_person_sees_only_their_own(fresh, tmp_path):
    data, url, port = fresh
    link = setup_link(data)
    assert link.startswith(f"http://localhost:{port}/?setup=")
    with chromium() as people:
        admin_browser, ana_browser, bob_browser, qa_browser = (
            people.new_context(viewport=SHOTS["desktop"]) for _ in range(4))
        admin = admin_browser.new_page()
        admin.goto(link)
        admin.get_by_label("Username").fill("root")
        admin.get_by_label("Display name").fill("Root Admin")
        admin.get_by_label("Password", exact=True).fill(PASSWORD)
        admin.get_by_label("Confirm password").fill(PASSWORD)
        admin.get_by_role("button", name="Create admin account").click()
        admin.wait_for_selector("textarea", timeout=60_000)  # the admin is in, on the chat
        admin.goto(link)  # the link is spent
        admin.wait_for_selector("text=Users", timeout=30_000)
        admin.goto(url.replace("127.0.0.1", "localhost") + "/users")
        admin.wait_for_selector("text=Everyone who may sign in", timeout=30_000)
        for username, role in (("ana", "Agent"), ("bob", "Agent"), ("quinn", "QA")):
            add_person(admin, username, role)
        for name, size in SHOTS.items():
            admin.set_viewport_size(size)
            admin.screenshot(path=str(tmp_path / f"users-{name}.png"), full_page=True)

        ana = ana_browser.new_page()
        ana.goto(url)
        sign_in(ana, "ana")
        ana.wait_for_selector("textarea", timeout=60_000)
        ana.fill("textarea", "Refund for order 1042, the blender arrived broken")
        ana.keyboard.press("Enter")
        ana.wait_for_selector("text=Sandbox reply, turn 1", timeout=60_000)
        cid = re.search(r"[?&]c=(\d+)", ana.url).group(1)
        sidebar = ana.locator("[data-testid=stSidebar]").inner_text()
        assert "Usage" not in sidebar and "Users" not in sidebar and "Conversations" not in sidebar

        bob = bob_browser.new_page()
        bob.goto(url)
        sign_in(bob, "bob")
        bob.wait_for_selector("textarea", timeout=60_000)
        bob.goto(f"{url}/?c={cid}")  # ana's conversation, by URL
        bob.wait_for_selector("text=That conversation no longer exists", timeout=30_000)
        assert bob.locator("text=blender arrived broken").count() == 0
        for path in ("/usage", "/users", "/audit", "/qa_conversations", "/personas"):
            bob.goto(url + path)
            bob.wait_for_selector("text=You have no access to this page", timeout=30_000)
            assert bob.locator("[data-testid=stDataFrame]").count() == 0

        quinn = qa_browser.new_page()
        quinn.goto(f"{url}/chat")
        sign_in(quinn, "quinn")
        quinn.wait_for_selector("text=You have no access to this page", timeout=60_000)  # QA do not chat
        quinn.goto(url)
        quinn.wait_for_selector("text=Search every saved conversation", timeout=60_000)
        quinn.wait_for_selector("text=Refund for order 1042", timeout=30_000)  # QA read everyone's

        # A reload keeps ana signed in.
        ana.reload()
        ana.wait_for_selector("text=Sandbox reply, turn 1", timeout=60_000)

    with sqlite3.connect(data / "chatbot.db") as db:
        rows = db.execute("SELECT actor, action, target FROM audit_entry WHERE action LIKE 'user.%' OR action LIKE 'setup.%'").fetchall()
        owners = db.execute("SELECT owner FROM conversation").fetchall()
    assert ("", "setup.admin", "user:root") in rows
    for username in ("ana", "bob", "quinn"):
        assert ("root", "user.create", f"user:{username}") in rows
    assert owners == [("ana",)]


def test_a_signed_in_browser_survives_a_server_restart(tmp_path):
    port = free_port()
    with browser() as context:
        page = context.new_page()
        with running_app(tmp_path, port=port) as url:
            page.goto(url)
            sign_in(page, "agent")
            page.wait_for_selector("textarea", timeout=60_000)
        with running_app(tmp_path, accounts=None, port=port) as url:  # same data, same address
            page.goto(url)
            page.wait_for_selector("textarea", timeout=60_000)
            assert page.locator("text=Sign in to continue").count() == 0


def test_the_sign_in_page_at_desktop_and_phone_widths(fresh, tmp_path):
    _, url, _ = fresh
    for name, size in SHOTS.items():
        with browser(size) as context:
            page = context.new_page()
            page.goto(url)
            page.wait_for_selector("text=Sign in to continue", timeout=60_000)
            assert page.locator("[data-testid=stSidebar]").count() == 0 or not page.locator(
                "[data-testid=stSidebar]").is_visible()
            page.screenshot(path=str(tmp_path / f"signin-{name}.png"), full_page=True)
