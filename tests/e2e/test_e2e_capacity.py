"""In a real browser, a reply queued behind the rate limit says so, with the wait, and
Stop ends the wait at once with nothing sent (AppTest cannot watch a run in progress)."""

from __future__ import annotations

import re

import pytest
from browser_app import browser_page, running_app


@pytest.fixture(scope="module")
def slow_app(tmp_path_factory):
    # One request a minute: the second reply has to wait about a minute for capacity.
    with running_app(tmp_path_factory.mktemp("e2e-rpm"), CHATBOT_RPM="1",
                     CHATBOT_SANDBOX_DELAY_MS="5") as url:
        yield url


def test_a_queued_reply_says_it_is_waiting_and_stop_ends_the_wait(slow_app):
    with browser_page(slow_app) as page:
        page.fill("textarea", "Where is order 1042?")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Sandbox reply, turn 1", timeout=60_000)
        page.wait_for_selector("text=claude-sonnet-5-5", timeout=30_000)  # finished

        page.fill("textarea", "And order 1043?")
        page.keyboard.press("Enter")
        notice = page.wait_for_selector("text=Waiting for capacity", timeout=30_000)
        seconds = int(re.search(r"about (\d+) s", notice.inner_text()).group(1))
        assert 45 <= seconds <= 60  # the next of one request a minute
        assert page.locator("textarea").is_disabled()

        page.locator("button", has_text="Stop").click()
        page.wait_for_selector("text=Stopped while waiting for capacity", timeout=15_000)
        assert page.locator("text=Sandbox reply, turn 2").count() == 0  # nothing was sent
        assert page.locator("button", has_text="Retry").count() == 1
        assert not page.locator("textarea").is_disabled()
