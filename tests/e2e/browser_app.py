"""The real app under `streamlit run streamlit_app.py` in sandbox mode, and a Chromium page on
it signed in through the sign-in form, for the browser tests. Chromium is Debian's
(`apt-get install chromium`), driven by Playwright. Accounts are made with the operators'
CLI (`python -m chatbot users add`), as an operator would."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

playwright = pytest.importorskip("playwright.sync_api")
if not os.path.exists(CHROMIUM):
    if os.environ.get("CI"):
        raise RuntimeError("CI needs Chromium for the browser tests: apt-get install chromium")
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PASSWORD = "correct horse battery staple"
# The accounts every browser test app has (made with the CLI before the server starts).
ACCOUNTS = {"agent": "agent", "agent2": "agent", "qa": "qa", "admin": "admin"}


def app_env(data: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CHATBOT_", "STREAMLIT_"))}
    env.update(CHATBOT_DATA_DIR=str(data), **settings)
    return env


def cli(data: Path, *args: str, password: str | None = None, **settings: str) -> subprocess.CompletedProcess:
    """`python -m chatbot ...` on the app's data dir, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "chatbot", *args], cwd=data, env=app_env(data, **settings),
        input=(password + "\n") if password is not None else None, capture_output=True, text=True, timeout=120,
    )


@contextmanager
def running_app(
    data: Path, accounts: dict[str, str] | None = ACCOUNTS, *, port: int | None = None, **settings: str
) -> Iterator[str]:
    """The app on `port` (default: a free one) with a fresh data dir and `settings`
    (CHATBOT_* variables), no key (sandbox mode), and `accounts` (username -> role;
    password PASSWORD); yields its URL once it answers its health check. The server's
    log is `data/server.log`; it reads `data/.streamlit/secrets.toml` if there is one."""
    port = port or free_port()
    env = app_env(data, **settings)
    for username, role in (accounts or {}).items():
        made = cli(data, "users", "add", username, "--role", role, "--password-stdin", password=PASSWORD, **settings)
        assert made.returncode == 0, made.stderr
    log = open(data / "server.log", "a")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
         "--server.port", str(port), "--server.headless", "true"],
        cwd=data, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # Wait for the health endpoint, bounded by the client's own retries and timeout.
        transport = httpx.HTTPTransport(retries=50)
        with httpx.Client(transport=transport, timeout=30) as client:
            for _ in range(200):
                try:
                    if client.get(f"{url}/_stcore/health").status_code == 200:
                        break
                except httpx.TransportError:
                    if process.poll() is not None:
                        raise RuntimeError((data / "server.log").read_text()) from None
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def sign_in(page, username: str, password: str = PASSWORD) -> None:
    """Through the sign-in form, as a person types it."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


@contextmanager
def chromium() -> Iterator[object]:
    """Debian's Chromium; each `new_context()` of it is a browser of its own (its own
    cookies), for tests with several people at once."""
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def browser(viewport: dict[str, int] | None = None) -> Iterator[object]:
    """A fresh Chromium context (its own cookies: another person's browser)."""
    with chromium() as launched:
        yield launched.new_context(viewport=viewport or {"width": 1280, "height": 900})


@contextmanager
def browser_page(url: str, user: str | None = "agent", ready: str = "textarea") -> Iterator[object]:
    """A page on the app signed in as `user` (None: left at the sign-in form), waiting
    for `ready`; `page.dialogs` collects any alert()."""
    with browser() as context:
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.dialogs = dialogs
        page.goto(url)
        page.wait_for_selector("text=Sign in to continue", timeout=60_000)
        if user is not None:
            sign_in(page, user)
            page.wait_for_selector(ready, timeout=60_000)
        yield page
