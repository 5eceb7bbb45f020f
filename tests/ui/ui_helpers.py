"""Small helpers for reading AppTest pages (imported by the ui tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "chatbot" / "ui" / "router.py")  # the router: the main script the server runs

# The people the tests sign in as (made on first use, with a real argon2 hash): each page
# is tested as the role that uses it.
PASSWORD = "correct horse battery staple"
ACCOUNTS = {"agent": "agent", "agent2": "agent", "qa": "qa", "admin": "admin"}


def sign_in(at: AppTest, username: str, password: str = PASSWORD) -> AppTest:
    """Through the sign-in form, as a person would."""
    at.text_input(key="signin-username").input(username)
    at.text_input(key="signin-password").input(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    return at


def send(at: AppTest, text: str) -> AppTest:
    """Type into the chat input and press enter; the run returns once the reply is saved."""
    at.chat_input(key="prompt").set_value(text).run()
    assert not at.exception, at.exception
    return at


def transcript(at: AppTest) -> list[tuple[str, str]]:
    """(role, first markdown body) of every chat message on the page, greeting included."""
    return [
        (message.name, message.markdown[0].value if message.markdown else "")
        for message in at.chat_message
    ]


def conversation_id(at: AppTest) -> int:
    """The conversation open in this session, from the URL (`?c=42`)."""
    return int(at.query_params["c"])


def walk(node: Any) -> Iterator[Any]:
    """Every node of an AppTest element tree, blocks and elements alike."""
    yield node
    for child in getattr(node, "children", {}).values():
        yield from walk(child)


def open_address(at: AppTest, url_path: str) -> AppTest:
    """Open the page at `/<url_path>` as a browser does when the address is typed: the page
    registered there for this session, listed or not (`switch_page` finds only pages
    backed by a file, and a role's no-access page is not)."""
    (page_hash,) = [h for h, page in at._registered_pages.items() if page.get("url_pathname") == url_path]
    at._page_hash = page_hash
    at.run()
    assert not at.exception, at.exception
    return at
