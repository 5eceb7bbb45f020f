"""Fixtures the service tests share."""

from __future__ import annotations

import pytest

from chatbot import store
from replay_harness import Env


@pytest.fixture
def engine(database_url):
    """A migrated database (SQLite, or PostgreSQL for tests marked also_postgresql)."""
    engine = store.make_engine(database_url)
    store.migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def env(database_url, sandbox):
    """A store, personas and checks on the loopback sandbox, for replay tests."""
    env = Env(database_url, sandbox)
    yield env
    env.close()
