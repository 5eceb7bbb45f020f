"""The sandbox's optional request limit: the sliding window alone, then over HTTP."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from sandbox_helpers import HEADERS, message_request, parse_sse

from chatbot.llm import ChatRequest, ClientSettings, LLMClient, Secret, Turn, errors
from chatbot.sandbox import SandboxServer
from chatbot.sandbox.limits import RequestWindow

WALL = 1_750_000_000.0
LIMIT, REMAINING, RESET = (f"anthropic-ratelimit-requests-{n}" for n in ("limit", "remaining", "reset"))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def window(clock: Clock, limit: int = 3, seconds: float = 60.0) -> RequestWindow:
    return RequestWindow(limit, seconds, clock=clock, wall=lambda: WALL + clock.now)


def reset_in(headers, clock: Clock) -> float:
    return datetime.fromisoformat(headers[RESET].replace("Z", "+00:00")).timestamp() - (WALL + clock.now)


def test_the_window_admits_the_limit_then_refuses(clock):
    w = window(clock)
    assert [w.admit() for _ in range(5)] == [True, True, True, False, False]
    assert w.refused == 2
    assert w.headers()[REMAINING] == "0" and w.headers()[LIMIT] == "3"


def test_a_request_leaves_the_window_exactly_one_window_later(clock):
    w = window(clock, limit=2)
    w.admit()
    clock.now += 20
    w.admit()
    clock.now += 39.5
    assert not w.admit()
    assert w.rejection().headers == {"retry-after": "1"}  # 0.5 s rounds up to a whole second
    clock.now += 0.5  # the first request is now 60 s old
    assert w.admit() and not w.admit()
    assert w.rejection().headers == {"retry-after": "20"}


def test_refused_requests_do_not_count(clock):
    w = window(clock, limit=1)
    w.admit()
    for _ in range(10):
        clock.now += 5
        w.admit()
    clock.now += 10  # 60 s after the one admitted request
    assert w.admit()


def test_headers_report_what_remains_and_when_the_window_empties(clock):
    w = window(clock)
    assert w.headers()[REMAINING] == "3" and reset_in(w.headers(), clock) == pytest.approx(0, abs=1)
    w.admit()
    clock.now += 10
    w.admit()
    headers = w.headers()
    assert headers[REMAINING] == "1" and reset_in(headers, clock) == pytest.approx(60, abs=1)
    assert headers[RESET].endswith("Z")


def test_the_rejection_is_a_rate_limit_error(clock):
    w = window(clock, limit=1, seconds=30)
    w.admit()
    error = w.rejection()
    assert (error.status, error.error_type) == (429, "rate_limit_error")
    assert "1 requests per 30 s" in error.message and error.headers == {"retry-after": "30"}
    assert w.headers()[LIMIT] == "2"  # the header is per minute, as the API's is


@pytest.mark.parametrize("limit, seconds", [(0, 60), (1, 0)])
def test_a_meaningless_limit_is_refused(limit, seconds):
    with pytest.raises(ValueError):
        RequestWindow(limit, seconds)


# -- over HTTP ------------------------------------------------------------------------------


@pytest.fixture
def limited():
    with SandboxServer(rpm_limit=2) as server:
        yield server


def post(server: SandboxServer, body: dict | None = None, **kw) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/messages", json=body or message_request(), headers=HEADERS, **kw)


def test_beyond_the_limit_the_sandbox_answers_429_with_retry_after(limited):
    first, second, third = post(limited), post(limited), post(limited)
    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
    assert (first.headers[REMAINING], second.headers[REMAINING], third.headers[REMAINING]) == ("1", "0", "0")
    assert third.headers[LIMIT] == "2" and 55 <= int(third.headers["retry-after"]) <= 60
    assert third.json()["error"]["type"] == "rate_limit_error"
    assert third.headers["request-id"] == third.json()["request_id"]


def test_streamed_replies_carry_the_headers_too(limited):
    with httpx.stream("POST", f"{limited.base_url}/v1/messages", json=message_request(stream=True),
                      headers=HEADERS) as response:
        assert response.headers[REMAINING] == "1"
        events = parse_sse(response.read().decode())
    assert events[-1][0] == "message_stop"


def test_invalid_requests_are_not_counted_but_report_the_limit(limited):
    bad = post(limited, {"model": "claude-haiku-4-5", "messages": []})
    assert bad.status_code == 400 and bad.headers[REMAINING] == "2"
    count = httpx.post(f"{limited.base_url}/v1/messages/count_tokens", headers=HEADERS,
                       json={"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "hi"}]})
    assert count.status_code == 200 and REMAINING not in count.headers
    assert [post(limited).status_code for _ in range(3)] == [200, 200, 429]


def test_without_a_limit_there_are_no_headers(sandbox):
    response = post(sandbox)
    assert response.status_code == 200 and REMAINING not in response.headers


def test_our_client_reads_the_429_as_rate_limited_with_its_retry_after(limited):
    post(limited), post(limited)
    settings = ClientSettings(api_key=Secret("k"), base_url=limited.base_url, max_attempts=1)
    with LLMClient(settings) as client, pytest.raises(errors.RateLimited) as info:
        client.create(ChatRequest(model="claude-haiku-4-5", messages=[Turn("user", "Hi")]))
    assert info.value.error_type == "rate_limit_error" and 55 <= info.value.retry_after <= 60
