"""Identity on a real database: a migrated SQLite file per test (PostgreSQL too where a
test is marked `also_postgresql`), the services wired as the runtime wires them."""

from __future__ import annotations

import pytest

from chatbot.auth import Actor, Role
from chatbot.auth.identity import Identity, build_identity
from chatbot.auth.settings import AuthSettings
from auth_helpers import PASSWORD




@pytest.fixture
def settings() -> AuthSettings:
    return AuthSettings()


@pytest.fixture
def identity(engine, settings) -> Identity:
    return build_identity(engine, settings)


@pytest.fixture
def admin(identity) -> Actor:
    """An admin account (made with the CLI's powers) and the actor for it."""
    identity.users.provision("root-admin", role="admin", password=PASSWORD)
    return Actor("root-admin", Role.ADMIN, address="10.0.0.1")
