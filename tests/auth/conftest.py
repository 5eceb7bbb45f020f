"""Identity on a real database: a migrated SQLite file per test (PostgreSQL too where a
test is marked `also_postgresql`), the services wired as the runtime wires them."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import select

from chatbot import store
from chatbot.auth import Actor, Role
from chatbot.auth.identity import Identity, build_identity
from chatbot.auth.settings import AuthSettings

PASSWORD = "correct horse battery staple"


@pytest.fixture
def engine(database_url):
    engine = store.make_engine(database_url)
    store.migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def settings() -> AuthSettings:
    return AuthSettings()


@pytest.fixture
def identity(engine, settings) -> Identity:
    return build_identity(engine, settings)


@pytest.fixture
def admin(identity) -> Actor:
    """An admin account (made with the CLI's powers) and the actor for it."""
    identity.users.create(None, "root-admin", role="admin", password=PASSWORD)
    return Actor("root-admin", Role.ADMIN, address="10.0.0.1")


def with_settings(identity: Identity, **changes) -> Identity:
    """The same database with other settings (limits, lifetimes)."""
    return build_identity(identity.users.engine, replace(identity.settings, **changes))


def age(engine, model, column: str, by: timedelta) -> None:
    """Move a timestamp of every row of `model` into the past: what waiting would do,
    without waiting."""
    with store.write_session(engine) as session:
        for row in session.exec(select(model)).all():
            setattr(row, column, getattr(row, column) - by)
            session.add(row)


def audit_actions(engine) -> list[tuple[str, str, str]]:
    """(action, actor, target) of every audit entry, oldest first."""
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(
            text("SELECT action, actor, target FROM audit_entry ORDER BY id")).all()]
