"""Engine, sessions and URL: the SQLite transaction rules the rest of the store relies on."""

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, select, text

from chatbot.store import (
    Conversation,
    create_conversation,
    database_url_from_env,
    get_conversation,
    make_engine,
    read_session,
    write_session,
)


def _capture_sql(engine: Engine) -> list[str]:
    statements: list[str] = []
    event.listen(
        engine, "before_cursor_execute", lambda c, cur, stmt, *a: statements.append(stmt)
    )
    return statements


def test_database_url_from_env_prefers_the_explicit_url(tmp_path: Path) -> None:
    environ = {"CHATBOT_DATABASE_URL": "postgresql://db/chatbot", "CHATBOT_DATA_DIR": "x"}
    assert database_url_from_env(environ) == "postgresql://db/chatbot"


def test_database_url_from_env_uses_the_data_dir(tmp_path: Path) -> None:
    url = database_url_from_env({"CHATBOT_DATA_DIR": str(tmp_path / "d")})
    assert url == f"sqlite:///{tmp_path}/d/chatbot.db"


def test_database_url_from_env_defaults_to_an_absolute_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert database_url_from_env({}) == f"sqlite:///{tmp_path.resolve()}/data/chatbot.db"


def test_a_bare_postgresql_url_uses_psycopg_3() -> None:
    engine = make_engine("postgresql://chatbot@db.internal/chatbot")  # does not connect
    try:
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()


def test_make_engine_creates_the_data_directory(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/a/b/chatbot.db")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    assert (tmp_path / "a" / "b" / "chatbot.db").exists()


@pytest.mark.sqlite_only
def test_write_session_begins_immediate_and_read_session_plain(engine: Engine) -> None:
    statements = _capture_sql(engine)
    with write_session(engine) as session:
        session.execute(select(1))
    with read_session(engine) as session:
        session.execute(select(1))
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE", "BEGIN"]


@pytest.mark.sqlite_only
def test_write_session_holds_the_write_lock_from_its_first_statement(
    engine: Engine, db_path: Path
) -> None:
    other = sqlite3.connect(db_path, timeout=0, isolation_level=None)
    try:
        with write_session(engine) as session:
            session.execute(select(1))  # a read only, yet the write lock is taken
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # released at the end of the block
        other.execute("ROLLBACK")
    finally:
        other.close()


@pytest.mark.sqlite_only
def test_read_session_does_not_block_writers(engine: Engine, db_path: Path) -> None:
    other = sqlite3.connect(db_path, timeout=0, isolation_level=None)
    try:
        with read_session(engine) as session:
            session.execute(select(1))
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
    finally:
        other.close()


def test_write_session_commits_and_objects_stay_usable(engine: Engine) -> None:
    with write_session(engine) as session:
        conversation = create_conversation(session=session, persona="support")
    assert conversation.id is not None and conversation.persona == "support"  # not expired
    with read_session(engine) as session:
        loaded = get_conversation(session=session, conversation_id=conversation.id)
    assert loaded.persona == "support"  # usable after a read session too


def test_write_session_rolls_back_on_error(engine: Engine) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with write_session(engine) as session:
            create_conversation(session=session, persona="support")
            raise RuntimeError("boom")
    with read_session(engine) as session:
        assert session.execute(select(Conversation)).all() == []


def test_read_session_refuses_to_write(engine: Engine) -> None:
    with pytest.raises(RuntimeError, match="read-only"):
        with read_session(engine) as session:
            session.add(Conversation(persona="support"))
            session.flush()
    with read_session(engine) as session:
        assert session.execute(select(Conversation)).all() == []


def test_no_transaction_outlives_its_block(engine: Engine) -> None:
    with write_session(engine) as session:
        create_conversation(session=session, persona="support")
        connection = session.connection()
    assert not connection.in_transaction()
    with read_session(engine) as session:
        session.execute(select(1))
        connection = session.connection()
    assert not connection.in_transaction()


def _store_cet_time(engine: Engine) -> int:
    cet = timezone(timedelta(hours=1))
    with write_session(engine) as session:
        conversation = create_conversation(session=session, persona="support")
        conversation.created_at = datetime(2026, 1, 2, 13, 0, tzinfo=cet)
    return conversation.id


def test_datetimes_come_back_as_aware_utc(engine: Engine) -> None:
    # The PostgreSQL test server runs in a non-UTC zone (tests/postgres_server.py).
    conversation_id = _store_cet_time(engine)
    with read_session(engine) as session:
        loaded = get_conversation(session=session, conversation_id=conversation_id)
    assert loaded.created_at == datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    assert loaded.created_at.tzinfo is UTC


@pytest.mark.sqlite_only
def test_sqlite_stores_utc_wall_clock_text(engine: Engine, db_path: Path) -> None:
    _store_cet_time(engine)
    with sqlite3.connect(db_path) as raw:
        stored = raw.execute("SELECT created_at FROM conversation").fetchone()[0]
    assert stored.startswith("2026-01-02 12:00:00")


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        with write_session(engine) as session:
            conversation = create_conversation(session=session, persona="support")
            conversation.created_at = datetime(2026, 1, 2, 12, 0)
            session.flush()
