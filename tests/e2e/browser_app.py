"""The real app under `streamlit run` in sandbox mode, and a Chromium page on it, for the
browser tests. Chromium is Debian's (`apt-get install chromium`), driven by Playwright."""

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


@contextmanager
def running_app(data: Path, **settings: str) -> Iterator[str]:
    """The app on a free port with a fresh data dir and `settings` (CHATBOT_* variables),
    no key (sandbox mode); yields its URL once it answers its health check."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CHATBOT_"))}
    env.update(CHATBOT_DATA_DIR=str(data), **settings)
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
         "--server.port", str(port), "--server.headless", "true"],
        cwd=data, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
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
                        raise RuntimeError(process.stderr.read().decode()) from None
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@contextmanager
def browser_page(url: str) -> Iterator[object]:
    """A page on the app's chat, ready for input; `page.dialogs` collects any alert()."""
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.dialogs = dialogs
        page.goto(url)
        page.wait_for_selector("textarea", timeout=60_000)
        yield page
        browser.close()
