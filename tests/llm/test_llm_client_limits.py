"""The backend client's response cache and rate limiter, over real HTTP to the sandbox."""

from __future__ import annotations

import pytest

from chatbot.llm import ClientSettings, LLMClient, Secret, errors

from test_llm_client import drain, request


# -- the response cache -------------------------------------------------------------------


@pytest.fixture
def cached_client(make_client, sandbox, sleeps):
    from chatbot.llm.cache import MemoryCache

    client = make_client()
    client.cache = MemoryCache(ttl_seconds=600)
    return client


def test_an_identical_request_streams_from_the_cache(cached_client, sandbox):
    first = cached_client.stream(request())
    text = "".join(drain(first))
    second = cached_client.stream(request())
    pieces = drain(second)
    assert "".join(pieces) == text and len(pieces) > 1  # it still streams
    assert second.cache_hit and second.result.cache_hit and not first.cache_hit
    assert second.result.usage.input_tokens == 0 and second.result.status == "complete"
    assert len(sandbox.state.requests()) == 1  # no second call
    assert cached_client.create(request()).cache_hit  # create shares the cache


def test_errors_partials_and_opt_outs_are_not_cached(cached_client, sandbox):
    sandbox.state.add_faults([{"kind": "drop", "after": 2}])
    with pytest.raises(errors.StreamInterrupted):
        drain(cached_client.stream(request()))
    assert not cached_client.stream(request()).cache_hit  # the partial was not stored
    different = request("Another question")
    drain(cached_client.stream(different, use_cache=False))
    assert not cached_client.stream(different).cache_hit  # an opted-out call stores nothing


# -- the client-side rate limiter ------------------------------------------------------


def test_over_the_limit_fails_fast_without_sending(sandbox, sleeps):
    from chatbot.llm.ratelimit import RateLimiter, RateLimits, RateLimitWaitExceeded

    client = LLMClient(
        ClientSettings(api_key=Secret("k"), base_url=sandbox.base_url, max_retry_wait=0.5),
        limiter=RateLimiter(default=RateLimits(rpm=1, burst=1)),
    )
    assert client.create(request()).complete
    with pytest.raises(RateLimitWaitExceeded) as info:
        client.create(request("Another question"))
    assert "limit" in info.value.user_message
    assert len(sandbox.state.requests()) == 1  # never sent just to collect a 429
    client.close()


def test_the_limiter_learns_the_servers_limit_from_its_headers():
    from chatbot.llm.ratelimit import RateLimiter, RateLimits, RateLimitWaitExceeded
    from chatbot.sandbox import SandboxServer

    with SandboxServer(rpm_limit=3) as strict:
        client = LLMClient(
            ClientSettings(api_key=Secret("k"), base_url=strict.base_url, max_retry_wait=0.5),
            limiter=RateLimiter(default=RateLimits(rpm=100, burst=100)),
        )
        for i in range(3):
            assert client.create(request(f"question {i}")).complete
        # We were configured for 100/min, but the server said 3: the 4th waits, not 429s.
        with pytest.raises(RateLimitWaitExceeded):
            client.create(request("question 4"))
        assert strict.rate_limit.refused == 0
        client.close()
