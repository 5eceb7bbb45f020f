"""Fixtures the service tests share."""

from __future__ import annotations

import pytest

from chatbot.llm import ClientSettings, LLMClient, Secret
from replay_harness import Env



@pytest.fixture
def env(database_url, sandbox):
    """A store, personas and checks on the loopback sandbox, for replay tests."""
    env = Env(database_url, sandbox)
    yield env
    env.close()


@pytest.fixture
def client(sandbox):
    """A client of the loopback sandbox, one attempt per call."""
    client = LLMClient(ClientSettings(api_key=Secret("sk-test"), base_url=sandbox.base_url, max_attempts=1))
    yield client
    client.close()
