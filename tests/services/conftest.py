"""Fixtures the service tests share."""

from __future__ import annotations

import pytest
from replay_harness import Env


@pytest.fixture
def env(database_url, sandbox):
    """A store, personas and checks on the loopback sandbox, for replay tests."""
    env = Env(database_url, sandbox)
    yield env
    env.close()
