"""The engine, the two kinds of session, and schema migration.

One engine per process (callers cache it); a new session per unit of work::

    engine = make_engine(database_url_from_env())
    migrate(engine)
    with write_session(engine) as session:
        conversation = create_conversation(session=session, persona="support")
    with read_session(engine) as session:
        conversations = list_conversations(session=session)

On SQLite, pysqlite's own transaction handling is switched off and we emit BEGIN
ourselves: write sessions start with ``BEGIN IMMEDIATE`` so they take the write lock
before their first read. With a plain (deferred) BEGIN, two writers that both read
first would each hold a read lock and then both try to upgrade; SQLite answers one
of them "database is locked" at once, without waiting for the busy timeout.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
DEFAULT_DATA_DIR = "./data"
DATABASE_FILENAME = "chatbot.db"
BUSY_TIMEOUT_MS = 30_000

# Execution option read by the "begin" listener; set on write sessions only.
_SQLITE_BEGIN = "chatbot_sqlite_begin"

# Alembic keeps its running context in module globals, so two threads migrating at
# once in one process would trample each other. Processes are serialised by the
# database lock taken in _locked_migration_connection.
_migrate_lock = threading.Lock()


def database_url_from_env(environ: Mapping[str, str] = os.environ) -> str:
    """CHATBOT_DATABASE_URL, else a SQLite file in CHATBOT_DATA_DIR (default ./data)."""
    url = environ.get("CHATBOT_DATABASE_URL", "").strip()
    if url:
        return url
    data_dir = Path(environ.get("CHATBOT_DATA_DIR", "").strip() or DEFAULT_DATA_DIR)
    return f"sqlite:///{(data_dir.resolve() / DATABASE_FILENAME).as_posix()}"


def make_engine(url: str, **engine_kwargs: Any) -> Engine:
    """Create the process's engine; SQLite gets WAL, foreign keys and our own BEGIN;
    PostgreSQL gets psycopg 3 and NUL-safe text."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            # A bare postgresql:// means psycopg2 to SQLAlchemy; the driver we depend on
            # (the `postgres` extra) is psycopg 3.
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(parsed, pool_pre_ping=True, **engine_kwargs)
        if parsed.get_driver_name() == "psycopg":
            event.listen(engine, "connect", _on_psycopg_connect)
        return engine
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **engine_kwargs)

    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    connect_args = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
    connect_args.update(engine_kwargs.pop("connect_args", {}))
    engine = create_engine(url, connect_args=connect_args, **engine_kwargs)
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Stop pysqlite from issuing BEGIN itself (it delays it until the first write,
    # which is exactly the lock upgrade we want to avoid); _on_sqlite_begin does it.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first, so switching a new database to WAL waits for a lock
        # held by another process instead of failing.
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        # Safe with WAL: a power cut may lose the last commits, never corrupt.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _use_wal(cursor: Any) -> None:
    """Switch the database file to WAL (once per file: the mode is persistent).

    A connection that finds it in WAL already changes nothing and takes no lock. The switch
    itself needs the file to itself, and SQLite answers "database is locked" at once,
    without its busy handler, when another process is switching or writing at the same
    moment (several replicas starting on a new database): so it is retried, for as long
    as the busy timeout would have waited.
    """
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.01
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def _on_psycopg_connect(dbapi_connection: Any, _record: Any) -> None:
    for dumper in _nul_safe_dumpers():
        dbapi_connection.adapters.register_dumper(str, dumper)


@cache
def _nul_safe_dumpers() -> tuple[type, ...]:
    """psycopg's str dumpers (text and binary), storing NUL as U+FFFD.

    PostgreSQL text cannot hold the NUL character; SQLite stores it. Text from outside (a
    model's reply, an imported export) may carry one, and saving it must not fail only on
    PostgreSQL. JSON columns are unaffected: json.dumps has already escaped it.
    """
    from psycopg.types.string import StrBinaryDumper, StrDumperUnknown  # the optional extra

    class NulSafeText(StrDumperUnknown):
        def dump(self, obj: str) -> Any:
            return super().dump(obj.replace("\x00", "\ufffd"))

    class NulSafeBinary(StrBinaryDumper):
        def dump(self, obj: str) -> Any:
            return super().dump(obj.replace("\x00", "\ufffd"))

    return NulSafeText, NulSafeBinary


def _on_sqlite_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get(_SQLITE_BEGIN)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A session for one unit of work that writes: commits on exit, rolls back on error.

    On SQLite its transaction starts with BEGIN IMMEDIATE, so writers queue for the
    lock (up to the busy timeout) instead of failing. Objects stay readable after
    the block (expire_on_commit=False).
    """
    bind = engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reads only, on one snapshot; its transaction ends with the block.

    Flushing raises: a write here would begin with a read lock and could fail with
    "database is locked" on SQLite. Use write_session for that.
    """
    # One snapshot for the whole block, as a SQLite (WAL) read transaction has: under
    # PostgreSQL's default READ COMMITTED each statement would see newer commits, so a
    # page and its counts could disagree. A read-only REPEATABLE READ never fails to commit.
    bind = (
        engine.execution_options(isolation_level="REPEATABLE READ")
        if engine.dialect.name == "postgresql"
        else engine
    )
    # Leaving the block closes the session, which ends the transaction without
    # expiring (as rollback() would) the objects the caller is about to use.
    with Session(bind, expire_on_commit=False) as session:
        event.listen(session, "before_flush", _refuse_flush)
        yield session


def _refuse_flush(session: Session, _context: Any, _instances: Any) -> None:
    raise RuntimeError("read_session is read-only; use write_session to change data")


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration. Idempotent; safe to call at every start.

    Concurrent callers (threads or processes) are serialised; the later ones find the
    schema already at head and do nothing.
    """
    config = alembic_config()
    with _migrate_lock, locked_migration_connection(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """What schema comparison looks at: everything but the FTS5 search table and its
    shadow tables (migration 0005_qa) and PostgreSQL's expression index for search
    (0007_message_search_pg), which no model can describe."""
    if type_ == "index":
        return name != "ix_message_content_fts"
    return not (type_ == "table" and (name or "").startswith("message_fts"))


def alembic_config() -> Config:
    """An Alembic Config built in code, so no alembic.ini is needed at runtime."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@contextmanager
def locked_migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that holds the database's migration lock."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection = connection.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
        with connection.begin():
            if engine.dialect.name == "postgresql":
                # Any constant works; it only has to be the same in every process.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(4242001)")
            yield connection
