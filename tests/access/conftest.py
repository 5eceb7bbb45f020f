"""One runtime on the loopback sandbox, with an account per role, for the access tests."""

from __future__ import annotations

import pytest

from access_world import ACTORS, PASSWORD, N, World
from chatbot.services.runtime import build_runtime


@pytest.fixture(scope="session")
def world(tmp_path_factory, sandbox_server):
    data = tmp_path_factory.mktemp("access")
    rt = build_runtime({
        "ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": sandbox_server.base_url,
        "CHATBOT_DATA_DIR": str(data), "CHATBOT_MAX_ATTEMPTS": "1", "CHATBOT_CACHE_TTL": "0",
    }, dotenv_path=None)
    for actor in ACTORS.values():  # real accounts, so budgets and reassignments can name them
        waiting = actor.role == N  # an SSO account no admin has given a role yet
        rt.identity.users.provision(actor.username, role=actor.role, password=None if waiting else PASSWORD,
                                    source="oidc" if waiting else "password")
    yield World(rt)
    rt.close()


