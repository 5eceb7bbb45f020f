"""The real app in a real browser: `streamlit run` in sandbox mode, driven by Chromium.

AppTest runs the script in-process; this checks what only a browser shows: the reply
streaming into the page, the input disabled meanwhile, a reload in the middle of a reply
picking it up again, and hostile Markdown staying inert in the DOM.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
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


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    data = tmp_path_factory.mktemp("e2e")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CHATBOT_"))}
    env.update(CHATBOT_DATA_DIR=str(data), CHATBOT_SANDBOX_DELAY_MS="25")
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


@pytest.fixture
def page(app_url):
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
        page.goto(app_url)
        page.wait_for_selector("textarea", timeout=60_000)
        yield page
        browser.close()


def test_stream_reload_mid_reply_and_inert_html(page):
    hostile = 'Refund? <img src=x onerror="alert(1)"> <script>alert(2)</script> [x](javascript:alert(3))'
    page.fill("textarea", hostile)
    page.keyboard.press("Enter")

    # While the reply streams the input is disabled and a Stop button is offered.
    page.wait_for_selector("button:has-text('Stop')", timeout=30_000)
    assert page.locator("textarea").is_disabled()
    assert "?c=" in page.url

    # Reload in the middle of the reply: it is still there and finishes.
    page.reload()
    page.wait_for_selector("text=Sandbox reply, turn 1", timeout=60_000)
    page.wait_for_selector("text=claude-sonnet-5-5", timeout=30_000)  # the caption
    assert not page.locator("textarea").is_disabled()

    # The agent's message shows as text; nothing in it became live HTML or a link.
    bubble = page.locator("[data-testid=stChatMessage]").first
    assert "<script>alert(2)</script>" in bubble.inner_text()
    assert page.locator("[data-testid=stMain] img[src=x]").count() == 0
    assert page.locator("a[href^='javascript:']").count() == 0
    assert page.dialogs == []

    # A second turn, then the conversation survives a plain reload.
    page.fill("textarea", "And how long will it take?")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Sandbox reply, turn 2", timeout=60_000)
    page.reload()
    page.wait_for_selector("text=Sandbox reply, turn 2", timeout=60_000)
    assert page.locator("[data-testid=stChatMessage]").count() == 4
    assert page.locator("[data-testid=stSidebar]").inner_text().count("Sandbox mode") == 1


def test_stop_keeps_the_partial_reply_and_retry_completes_it(page):
    page.locator("[data-testid=stSidebar] button", has_text="New conversation").click()
    page.wait_for_selector("text=Paste the customer's question", timeout=30_000)
    page.fill("textarea", "My invoice shows a double charge, please explain the billing.")
    page.keyboard.press("Enter")
    page.locator("button", has_text="Stop").click(timeout=30_000)

    page.wait_for_selector("text=Stopped by the agent", timeout=30_000)
    assert page.locator("text=Sandbox reply, turn 1").count() == 0  # it really stopped early
    assert not page.locator("textarea").is_disabled()

    page.locator("button", has_text="Retry").click()
    page.wait_for_selector("text=Sandbox reply, turn 1", timeout=60_000)
    assert page.locator("text=Stopped by the agent").count() == 0
