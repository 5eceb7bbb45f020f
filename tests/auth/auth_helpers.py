"""Helpers the identity tests share (fixtures are in conftest.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import text
from sqlmodel import select

from chatbot import store
from chatbot.auth.identity import Identity, build_identity

PASSWORD = "correct horse battery staple"


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
