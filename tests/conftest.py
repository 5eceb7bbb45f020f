"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import pytest

from chatbot.sandbox import SandboxServer


@pytest.fixture(scope="session")
def sandbox_server():
    """One Anthropic-compatible sandbox for the session, streaming without delay."""
    with SandboxServer(delay_ms=0) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server):
    """The session sandbox with an empty fault queue and request log."""
    sandbox_server.state.clear()
    yield sandbox_server
    sandbox_server.state.clear()
