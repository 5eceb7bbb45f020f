"""A fresh, migrated SQLite file per test."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from chatbot.store import make_engine, migrate, write_session
from chatbot.store.conversations import create_conversation
from chatbot.store.models import Conversation


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "chatbot.db"


@pytest.fixture
def blank_engine(db_path: Path) -> Iterator[Engine]:
    """An engine on a database file that does not exist yet."""
    engine = make_engine(f"sqlite:///{db_path}")
    yield engine
    engine.dispose()


@pytest.fixture
def engine(blank_engine: Engine) -> Engine:
    migrate(blank_engine)
    return blank_engine


@pytest.fixture
def conversation(engine: Engine) -> Conversation:
    with write_session(engine) as session:
        return create_conversation(session=session, persona="support")
