"""The migrations, run from a blank database, build exactly the schema the models describe."""

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event, inspect, text
from sqlmodel import SQLModel

from chatbot.store import make_engine, migrate
from chatbot.store.db import alembic_config, include_name, locked_migration_connection

from expected_schema import (
    EXPECTED_COLUMNS,
    EXPECTED_FOREIGN_KEYS,
    EXPECTED_UNIQUE_CONSTRAINTS,
    PRIMARY_KEYS,
    expected_indexes,
    expected_tables,
)

HEAD = "0008_identity"


def _head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_blank_database_migrates_to_the_expected_schema(blank_engine: Engine) -> None:
    migrate(blank_engine)

    inspector = inspect(blank_engine)
    assert set(inspector.get_table_names()) == expected_tables(blank_engine)
    for table, columns in EXPECTED_COLUMNS.items():
        assert {c["name"] for c in inspector.get_columns(table)} == columns, table
        assert inspector.get_pk_constraint(table)["constrained_columns"] == PRIMARY_KEYS[table]
        indexes = {
            (i["name"], tuple(i.get("expressions") or i["column_names"]))
            for i in inspector.get_indexes(table)
            if not i.get("duplicates_constraint")  # PostgreSQL lists a unique's own index
        }
        assert indexes == expected_indexes(blank_engine, table), table
        foreign_keys = {
            (
                fk["constrained_columns"][0],
                fk["referred_table"],
                fk["referred_columns"][0],
                fk["options"].get("ondelete"),
            )
            for fk in inspector.get_foreign_keys(table)
        }
        assert foreign_keys == EXPECTED_FOREIGN_KEYS[table], table
        uniques = [  # PostgreSQL adds a comment and options; the name and columns are the point
            {"name": u["name"], "column_names": u["column_names"]}
            for u in inspector.get_unique_constraints(table)
        ]
        by_name = lambda u: u["name"]  # noqa: E731  (backends list them in different orders)
        assert sorted(uniques, key=by_name) == sorted(EXPECTED_UNIQUE_CONSTRAINTS[table], key=by_name), table

    nullable = {c["name"]: c["nullable"] for c in inspector.get_columns("api_call")}
    assert nullable["conversation_id"] and nullable["message_id"]
    nullable = {c["name"]: c["nullable"] for c in inspector.get_columns("persona")}
    assert nullable["published_version"] and not nullable["key"]
    nullable = {c["name"]: c["nullable"] for c in inspector.get_columns("persona_version")}
    assert nullable["note"] and not nullable["spec"]
    assert _current_revision(blank_engine) == _head() == HEAD


def test_migrations_match_the_models(engine: Engine) -> None:
    # Catches a model field added without a migration (or the reverse).
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": include_name}
        )
        assert compare_metadata(context, SQLModel.metadata) == []


def test_migrate_again_is_a_no_op(engine: Engine) -> None:
    statements: list[str] = []

    def capture(conn, cursor, statement, *args) -> None:
        statements.append(statement.strip().upper())

    event.listen(engine, "before_cursor_execute", capture)
    try:
        migrate(engine)
    finally:
        event.remove(engine, "before_cursor_execute", capture)

    assert any("ALEMBIC_VERSION" in s for s in statements)  # it did look
    writes = ("CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE")
    changes = [s for s in statements if s.startswith(writes)]
    assert changes == []
    assert _current_revision(engine) == _head()


def test_downgrade_to_base_and_up_again(engine: Engine) -> None:
    config = alembic_config()
    for target, step in (("base", command.downgrade), ("head", command.upgrade)):
        with locked_migration_connection(engine) as connection:
            config.attributes["connection"] = connection
            step(config, target)
    tables = set(inspect(engine).get_table_names())
    assert tables == expected_tables(engine)


@pytest.mark.sqlite_only
def test_sqlite_pragmas_are_in_effect(engine: Engine, db_path: Path) -> None:
    assert db_path.exists()  # make_engine created data/
    with engine.connect() as connection:
        pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == 30000
        assert pragma("synchronous") == 1  # NORMAL


def test_concurrent_migrate_from_threads(blank_engine: Engine) -> None:
    barrier = threading.Barrier(5)
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            migrate(blank_engine)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _current_revision(blank_engine) == _head()
    with blank_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_concurrent_migrate_from_processes(blank_url: str) -> None:
    url = blank_url
    code = (
        "import sys; from chatbot.store import make_engine, migrate; "
        "migrate(make_engine(sys.argv[1]))"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    results = [(p.wait(timeout=60), p.stderr.read()) for p in processes]
    for process in processes:
        process.stderr.close()
    assert [returncode for returncode, _ in results] == [0, 0, 0], results

    engine = make_engine(url)
    try:
        assert _current_revision(engine) == _head()
    finally:
        engine.dispose()


def upgrade_to(engine: Engine, revision: str) -> None:
    """The schema as an earlier release left it."""
    config = alembic_config()
    with locked_migration_connection(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_an_old_database_keeps_its_data_when_upgraded(blank_engine: Engine) -> None:
    """A database left at 0001 by an earlier release, with conversations in it."""
    upgrade_to(blank_engine, "0001_initial")
    with blank_engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO conversation (id, title, title_locked, persona, persona_vars, owner,"
            " created_at, updated_at, archived) VALUES (1, 'Old one', FALSE, 'support', '{}',"
            " 'agent', '2026-01-01 00:00:00', '2026-01-01 00:00:00', FALSE)"
        ))
        connection.execute(text(
            "INSERT INTO message (conversation_id, position, role, content, status,"
            " created_at, updated_at) VALUES (1, 0, 'user', 'Where is my order?', 'complete',"
            " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        ))
    migrate(blank_engine)
    assert _current_revision(blank_engine) == _head()
    with blank_engine.connect() as connection:
        rows = connection.execute(
            text("SELECT content, status, context_dropped FROM message")
        ).all()
    assert rows == [("Where is my order?", "complete", None)]
    foreign_keys = {fk["referred_table"] for fk in inspect(blank_engine).get_foreign_keys("message")}
    assert foreign_keys == {"conversation"}  # the batch rebuild kept the cascade's key


def test_a_database_at_0002_gains_empty_persona_tables(blank_engine: Engine) -> None:
    """A database left at 0002 by the release before personas were stored."""
    upgrade_to(blank_engine, "0002_message_context_dropped")
    with blank_engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO conversation (id, title, title_locked, persona, persona_version,"
            " persona_vars, owner, created_at, updated_at, archived) VALUES (1, 'Old one', FALSE,"
            " 'support', NULL, '{}', 'agent', '2026-01-01 00:00:00', '2026-01-01 00:00:00', FALSE)"
        ))
    migrate(blank_engine)
    assert _current_revision(blank_engine) == HEAD
    with blank_engine.connect() as connection:
        assert connection.execute(text("SELECT persona, persona_version FROM conversation")).all() == [
            ("support", None)
        ]
        for table in ("persona", "persona_version"):
            assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0


def test_replay_runs_from_before_0006_read_as_live(blank_engine: Engine) -> None:
    """Runs stored before offline replays existed were all sent live, one call a turn."""
    upgrade_to(blank_engine, "0005_qa")
    with blank_engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO replay_run (id, label, status, conversation_ids, check_ids, turns_total,"
            " turns_done, cost_usd, created_by, created_at) VALUES (1, 'Old run', 'done', '[1]',"
            " '[]', 2, 2, 0.01, 'qa', '2026-01-01 00:00:00')"
        ))
    migrate(blank_engine)
    assert _current_revision(blank_engine) == HEAD
    with blank_engine.connect() as connection:
        rows = connection.execute(text("SELECT label, mode, provider_batch_id FROM replay_run")).all()
    assert rows == [("Old run", "live", None)]
    nullable = {c["name"]: c["nullable"] for c in inspect(blank_engine).get_columns("replay_run")}
    assert not nullable["mode"] and nullable["provider_batch_id"]


def test_rows_from_before_sign_in_go_to_the_placeholder_account(blank_engine: Engine) -> None:
    """Before 0008 every browser was "agent": its rows stay together under one shared
    account that cannot sign in; rows written by anyone else keep their names."""
    upgrade_to(blank_engine, "0007_message_search_pg")
    with blank_engine.begin() as connection:
        for cid, owner in ((1, "agent"), (2, "imported-bob")):
            connection.execute(text(
                "INSERT INTO conversation (id, title, title_locked, persona, persona_vars, owner,"
                " created_at, updated_at, archived) VALUES (:id, 'Old', FALSE, 'support', '{}',"
                " :owner, '2026-01-01 00:00:00', '2026-01-01 00:00:00', FALSE)"
            ), {"id": cid, "owner": owner})
        connection.execute(text(
            "INSERT INTO budget (id, \"user\", period, limit_usd, updated_by, updated_at)"
            " VALUES (1, 'agent', 'day', 5, 'agent', '2026-01-01 00:00:00')"
        ))
    migrate(blank_engine)
    with blank_engine.connect() as connection:
        owners = connection.execute(text("SELECT id, owner FROM conversation ORDER BY id")).all()
        budget = connection.execute(text("SELECT \"user\", updated_by FROM budget")).one()
        users = connection.execute(text("SELECT username, role, active, source, password_hash FROM app_user")).all()
    assert owners == [(1, "before-sign-in"), (2, "imported-bob")]
    assert tuple(budget) == ("before-sign-in", "before-sign-in")
    assert [tuple(u) for u in users] == [("before-sign-in", "agent", True, "placeholder", None)]


def test_a_new_database_has_no_placeholder_account(engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM app_user")).scalar() == 0


def test_the_audit_log_refuses_changes_in_the_database_itself(engine: Engine) -> None:
    from sqlalchemy.exc import DBAPIError

    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO audit_entry (created_at, actor, role, address, action, target, detail)"
            " VALUES ('2026-01-01 00:00:00', 'ana', 'admin', '', 'user.role', 'user:bob', 'agent -> admin')"
        ))
    for statement in ("UPDATE audit_entry SET actor = 'someone-else'", "DELETE FROM audit_entry"):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as connection:
                connection.execute(text(statement))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT actor FROM audit_entry")).scalars().all() == ["ana"]
