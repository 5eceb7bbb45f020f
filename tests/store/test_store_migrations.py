"""The migrations, run from a blank database, build exactly the schema the models describe."""

import subprocess
import sys
import threading
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event, inspect, text
from sqlmodel import SQLModel

from chatbot.store import make_engine, migrate
from chatbot.store.db import alembic_config, include_name, locked_migration_connection

EXPECTED_COLUMNS = {
    "conversation": {
        "id", "title", "title_locked", "persona", "persona_version", "persona_vars",
        "owner", "created_at", "updated_at", "archived",
    },
    "message": {
        "id", "conversation_id", "position", "role", "content", "status", "error", "model",
        "input_tokens", "output_tokens", "cache_creation_input_tokens",
        "cache_read_input_tokens", "stop_reason", "request_id", "ttft_ms", "total_ms",
        "context_dropped", "created_at", "updated_at",
    },
    "api_call": {
        "id", "created_at", "conversation_id", "message_id", "owner", "purpose", "model",
        "outcome", "status_code", "error_type", "input_tokens", "output_tokens",
        "cache_creation_input_tokens", "cache_read_input_tokens", "ttft_ms", "total_ms",
        "attempts", "request_id", "cache_hit", "cost_usd",
    },
    "persona": {
        "id", "key", "name", "description", "archived", "published_version", "created_at",
        "updated_at",
    },
    "persona_version": {
        "id", "persona_id", "number", "spec", "created_by", "created_at", "note",
    },
    "ticket_summary": {
        "id", "conversation_id", "through_message_id", "model", "data", "created_by",
        "created_at",
    },
    "budget": {"id", "user", "period", "limit_usd", "updated_by", "updated_at"},
    "budget_alert": {
        "id", "budget_id", "period_start", "threshold", "spent_usd", "limit_usd", "created_at",
    },
    "app_setting": {"key", "value", "updated_by", "updated_at"},
    "feedback": {
        "id", "message_id", "owner", "rating", "comment", "created_at", "updated_at",
    },
    "annotation": {
        "id", "conversation_id", "message_id", "kind", "text", "created_by", "created_at",
    },
    "golden_case": {"conversation_id", "added_by", "added_at", "note"},
    "qa_check": {
        "id", "name", "kind", "config", "description", "archived", "created_by", "created_at",
    },
    "replay_run": {
        "id", "label", "status", "persona", "persona_version", "model", "conversation_ids",
        "check_ids", "turns_total", "turns_done", "estimated_cost_usd", "cost_usd", "error",
        "created_by", "created_at", "finished_at", "mode", "provider_batch_id",
    },
    "replay_result": {
        "id", "run_id", "conversation_id", "source_message_id", "position", "status", "text",
        "error", "model", "persona_version", "input_tokens", "output_tokens", "cost_usd",
        "ttft_ms", "total_ms", "request_id", "created_at",
    },
    "check_result": {"id", "result_id", "check_id", "passed", "detail"},
}  # fmt: skip

# The FTS5 search table and the shadow tables SQLite keeps for it (migration 0005_qa).
FTS_TABLES = {
    "message_fts", "message_fts_data", "message_fts_idx", "message_fts_docsize",
    "message_fts_config",
}  # fmt: skip

PRIMARY_KEYS = {table: ["id"] for table in EXPECTED_COLUMNS} | {
    "app_setting": ["key"],
    "golden_case": ["conversation_id"],
}

EXPECTED_INDEXES = {
    "conversation": {
        ("ix_conversation_updated_at", ("updated_at",)),
        ("ix_conversation_owner_updated_at", ("owner", "updated_at")),
    },
    "message": {("ix_message_status_updated_at", ("status", "updated_at"))},
    "api_call": {
        ("ix_api_call_created_at", ("created_at",)),
        ("ix_api_call_conversation_id", ("conversation_id",)),
        ("ix_api_call_message_id", ("message_id",)),
    },
    "persona": set(),
    "persona_version": set(),
    "ticket_summary": {
        ("ix_ticket_summary_conversation_id", ("conversation_id", "created_at")),
    },
    "budget": set(),
    "budget_alert": set(),
    "app_setting": set(),
    "feedback": set(),
    "annotation": {
        ("ix_annotation_conversation_id", ("conversation_id",)),
        ("ix_annotation_kind_text", ("kind", "text")),
    },
    "golden_case": set(),
    "qa_check": set(),
    "replay_run": {("ix_replay_run_created_at", ("created_at",))},
    "replay_result": set(),
    "check_result": set(),
}

EXPECTED_FOREIGN_KEYS = {
    "conversation": set(),
    "message": {("conversation_id", "conversation", "id", "CASCADE")},
    "api_call": {
        ("conversation_id", "conversation", "id", "SET NULL"),
        ("message_id", "message", "id", "SET NULL"),
    },
    "persona": set(),
    "persona_version": {("persona_id", "persona", "id", "CASCADE")},
    "ticket_summary": {("conversation_id", "conversation", "id", "CASCADE")},
    "budget": set(),
    "budget_alert": {("budget_id", "budget", "id", "CASCADE")},
    "app_setting": set(),
    "feedback": {("message_id", "message", "id", "CASCADE")},
    "annotation": {
        ("conversation_id", "conversation", "id", "CASCADE"),
        ("message_id", "message", "id", "CASCADE"),
    },
    "golden_case": {("conversation_id", "conversation", "id", "CASCADE")},
    "qa_check": set(),
    "replay_run": set(),
    "replay_result": {
        ("run_id", "replay_run", "id", "CASCADE"),
        ("conversation_id", "conversation", "id", "CASCADE"),
        ("source_message_id", "message", "id", "CASCADE"),
    },
    "check_result": {
        ("result_id", "replay_result", "id", "CASCADE"),
        ("check_id", "qa_check", "id", "CASCADE"),
    },
}

EXPECTED_UNIQUE_CONSTRAINTS = {
    "conversation": [],
    "message": [
        {
            "name": "uq_message_conversation_id_position",
            "column_names": ["conversation_id", "position"],
        }
    ],
    "api_call": [],
    "persona": [{"name": "uq_persona_key", "column_names": ["key"]}],
    "persona_version": [
        {
            "name": "uq_persona_version_persona_id_number",
            "column_names": ["persona_id", "number"],
        }
    ],
    "ticket_summary": [],
    "budget": [{"name": "uq_budget_user_period", "column_names": ["user", "period"]}],
    "budget_alert": [
        {
            "name": "uq_budget_alert_once",
            "column_names": ["budget_id", "period_start", "threshold"],
        }
    ],
    "app_setting": [],
    "feedback": [{"name": "uq_feedback_message_owner", "column_names": ["message_id", "owner"]}],
    "annotation": [],
    "golden_case": [],
    "qa_check": [{"name": "uq_qa_check_name", "column_names": ["name"]}],
    "replay_run": [],
    "replay_result": [
        {"name": "uq_replay_result_run_source", "column_names": ["run_id", "source_message_id"]}
    ],
    "check_result": [{"name": "uq_check_result_once", "column_names": ["result_id", "check_id"]}],
}

HEAD = "0006_replay_offline"


def _head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_blank_database_migrates_to_the_expected_schema(blank_engine: Engine) -> None:
    migrate(blank_engine)

    inspector = inspect(blank_engine)
    assert set(inspector.get_table_names()) == set(EXPECTED_COLUMNS) | {"alembic_version"} | FTS_TABLES
    for table, columns in EXPECTED_COLUMNS.items():
        assert {c["name"] for c in inspector.get_columns(table)} == columns, table
        assert inspector.get_pk_constraint(table)["constrained_columns"] == PRIMARY_KEYS[table]
        indexes = {(i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)}
        assert indexes == EXPECTED_INDEXES[table], table
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
        uniques = inspector.get_unique_constraints(table)
        assert uniques == EXPECTED_UNIQUE_CONSTRAINTS[table], table

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
    assert tables == set(EXPECTED_COLUMNS) | {"alembic_version"} | FTS_TABLES


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


def test_concurrent_migrate_from_processes(db_path: Path) -> None:
    url = f"sqlite:///{db_path}"
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


def test_an_old_database_keeps_its_data_when_upgraded(blank_engine: Engine) -> None:
    """A database left at 0001 by an earlier release, with conversations in it."""
    config = alembic_config()
    with locked_migration_connection(blank_engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001_initial")
    with blank_engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO conversation (id, title, title_locked, persona, persona_vars, owner,"
            " created_at, updated_at, archived) VALUES (1, 'Old one', 0, 'support', '{}',"
            " 'agent', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 0)"
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
    config = alembic_config()
    with locked_migration_connection(blank_engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002_message_context_dropped")
    with blank_engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO conversation (id, title, title_locked, persona, persona_version,"
            " persona_vars, owner, created_at, updated_at, archived) VALUES (1, 'Old one', 0,"
            " 'support', NULL, '{}', 'agent', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 0)"
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
    config = alembic_config()
    with locked_migration_connection(blank_engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005_qa")
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
