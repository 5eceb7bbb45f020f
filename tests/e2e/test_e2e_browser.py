"""The real app in a real browser: `streamlit run` in sandbox mode, driven by Chromium.

AppTest runs the script in-process; this checks what only a browser shows: the reply
streaming into the page, the input disabled meanwhile, a reload in the middle of a reply
picking it up again, and hostile Markdown staying inert in the DOM.
"""

from __future__ import annotations

import pytest
from browser_app import browser_page, running_app


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("e2e"), CHATBOT_SANDBOX_DELAY_MS="25") as url:
        yield url


@pytest.fixture
def page(app_url):
    with browser_page(app_url) as page:
        yield page


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
