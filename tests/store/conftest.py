"""A fresh, migrated database per test, on SQLite and on PostgreSQL.

Every store test runs on both backends. A test about SQLite itself (pragmas, WAL and
locking, the FTS5 table, the file on disk) is marked `@pytest.mark.sqlite_only` and
runs on SQLite only.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres_server import BACKENDS
from sqlalchemy import Engine

from chatbot.store import make_engine, migrate, write_session
from chatbot.store.conversations import create_conversation
from chatbot.store.models import Conversation


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Every test on a database runs once per backend (overriding tests/conftest.py's
    # `backend`), except those about SQLite itself.
    if "backend" in metafunc.fixturenames:
        sqlite_only = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("backend", ["sqlite"] if sqlite_only else list(BACKENDS))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "chatbot.db"


@pytest.fixture
def blank_url(backend: str, db_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database with no schema yet: a file that does not exist, or an empty PostgreSQL one."""
    if backend == "sqlite":
        yield f"sqlite:///{db_path}"
        return
    with request.getfixturevalue("postgres_server").database() as url:
        yield url


@pytest.fixture
def blank_engine(blank_url: str) -> Iterator[Engine]:
    """An engine on a database that has no schema yet."""
    engine = make_engine(blank_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(backend: str, database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    if backend == "sqlite":
        migrate(engine)  # PostgreSQL's copy of the session template is migrated already
    yield engine
    engine.dispose()


@pytest.fixture
def conversation(engine: Engine) -> Conversation:
    with write_session(engine) as session:
        return create_conversation(session=session, persona="support")
