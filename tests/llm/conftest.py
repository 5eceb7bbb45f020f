"""Fixtures for the backend client's tests: clients on the loopback sandbox whose retry
waits are recorded, not spent."""

from __future__ import annotations

import random

import pytest

from chatbot.llm import ClientSettings, LLMClient, Secret

class RecordingSleep:
    """Stands in for time.sleep so retry waits are checked, not spent."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps():
    return RecordingSleep()


@pytest.fixture
def make_client(sandbox, sleeps):
    clients: list[LLMClient] = []

    def make(**overrides) -> LLMClient:
        settings = ClientSettings(
            api_key=Secret("sk-test"), base_url=sandbox.base_url, **overrides
        )
        client = LLMClient(settings, sleep=sleeps, rng=random.Random(7))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client):
    return make_client()


# -- a real Redis, for the shared-state tests -------------------------------------------


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """One real redis-server for the session (fails, never skips, if it is not installed)."""
    from redis_server import PASSWORD, RedisServer

    with RedisServer(tmp_path_factory.mktemp("redis"), password=PASSWORD) as server:
        yield server


@pytest.fixture
def redis_url(redis_server):
    """The session server's URL (password included), emptied for this test."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    try:
        client.flushdb()
    finally:
        client.close()
    return redis_server.url
