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


# -- the database: SQLite by default, PostgreSQL where a test asks for it -----------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # `@pytest.mark.also_postgresql` runs a test that uses `database_url` once per backend.
    # (tests/store/conftest.py does it for every store test.)
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "also_postgresql"
    ):
        from postgres_server import BACKENDS

        metafunc.parametrize("backend", list(BACKENDS))


@pytest.fixture
def backend() -> str:
    """The database backend under test: SQLite unless the test is parametrized."""
    return "sqlite"


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL cluster for the session (fails, never skips, if it is not
    installed), holding a migrated database `migrated` that tests clone."""
    from postgres_server import PostgresServer

    from chatbot.store import make_engine, migrate

    with PostgresServer() as server:
        engine = make_engine(server.create_database("migrated"))
        try:
            migrate(engine)
        finally:
            engine.dispose()  # a template with a connection open cannot be copied
        yield server


@pytest.fixture
def database_url(backend, tmp_path, request):
    """This test's own database: a new SQLite file (the first migrate() creates it), or a
    fresh PostgreSQL database already migrated (a copy of the session's template)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'chatbot.db'}"
        return
    # Looked up here so a run without PostgreSQL tests never starts the cluster.
    server = request.getfixturevalue("postgres_server")
    with server.database(template="migrated") as url:
        yield url


@pytest.fixture
def engine(database_url):
    """A migrated database (SQLite, or PostgreSQL for tests marked also_postgresql);
    tests/store has its own, which knows the session's PostgreSQL copy is migrated."""
    from chatbot.store import make_engine, migrate

    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()
