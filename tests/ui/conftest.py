"""Pages under AppTest: each test gets its own database and a runtime pointed at the
shared loopback sandbox, built fresh from the environment it sets."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from chatbot.auth.accounts import UserExists
from chatbot.ui.resources import get_runtime
from ui_helpers import ACCOUNTS, APP, PASSWORD, sign_in



@pytest.fixture
def app_env(tmp_path, monkeypatch, sandbox) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)  # no developer .env leaks into a test
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", sandbox.base_url)
    monkeypatch.setenv("CHATBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHATBOT_MAX_ATTEMPTS", "2")
    get_runtime.clear()
    yield tmp_path
    try:
        runtime = get_runtime()
    except ValueError:
        pass  # the test set a bad setting on purpose: no runtime was built
    else:
        runtime.close()
    get_runtime.clear()




@pytest.fixture
def account(app_env):
    """Make (once) the test account `username` with its role from ACCOUNTS."""

    def make(username: str, role: str | None = None) -> str:
        identity = get_runtime().identity
        try:
            identity.users.provision(username, role=role or ACCOUNTS[username], password=PASSWORD)
        except UserExists:
            pass
        return username

    return make


@pytest.fixture
def new_app(app_env, account):
    """A factory for a fresh browser session (a new AppTest is like a reload), signed in
    through the real sign-in form as `user` (default: an agent)."""

    def make(query: dict[str, str] | None = None, *, user: str = "agent") -> AppTest:
        account(user)
        at = AppTest.from_file(APP, default_timeout=30)
        for key, value in (query or {}).items():
            at.query_params[key] = value
        at.run()
        assert not at.exception, at.exception
        assert not at.chat_input, "a chat input rendered before sign-in"
        sign_in(at, user)
        assert not at.exception, at.exception
        assert not at.text_input(key="signin-password") if _has(at, "signin-password") else True
        return at

    return make


def _has(at: AppTest, key: str) -> bool:
    try:
        at.text_input(key=key)
    except KeyError:
        return False
    return True


@pytest.fixture
def db(app_env):
    """Plain SQL on the test's database file, independent of the app's own store code."""
    path = app_env / "data" / "chatbot.db"

    def query(sql: str, *params: Any) -> list[tuple]:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            return connection.execute(sql, params).fetchall()

    query.path = path  # type: ignore[attr-defined]
    return query


@pytest.fixture
def served(monkeypatch) -> dict[str, dict]:
    """What the page handed to each st.download_button, by key (AppTest keeps no files):
    the real button is still drawn; this only remembers its arguments."""
    seen: dict[str, dict] = {}
    real = st.download_button

    def spy(label, data, **kwargs):
        seen[kwargs["key"]] = dict(kwargs, label=label, data=data)
        return real(label, data, **kwargs)

    monkeypatch.setattr(st, "download_button", spy)
    return seen
