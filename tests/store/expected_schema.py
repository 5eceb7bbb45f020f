"""The schema the migrations must build (`test_store_migrations.py` checks it), kept apart
because it is long: columns, keys, indexes and constraints per table."""

from sqlalchemy import Engine

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
    "app_user": {
        "id", "username", "display_name", "email", "role", "active", "password_hash", "source",
        "sso_subject", "created_at", "updated_at", "last_sign_in_at",
    },
    "auth_session": {
        "id", "user_id", "method", "token_hash", "handoff_hash", "handoff_expires_at", "sso_key",
        "address", "created_at", "last_seen_at", "expires_at", "ended_at", "end_reason",
    },
    "sign_in_failure": {"id", "username", "address", "created_at"},
    "audit_entry": {"id", "created_at", "actor", "role", "address", "action", "target", "detail"},
}  # fmt: skip

# The FTS5 search table and the shadow tables SQLite keeps for it (migration 0005_qa).
FTS_TABLES = {
    "message_fts", "message_fts_data", "message_fts_idx", "message_fts_docsize",
    "message_fts_config",
}  # fmt: skip


def expected_tables(engine: Engine) -> set[str]:
    # PostgreSQL has no FTS5: migration 0005_qa skips the search table there.
    fts = FTS_TABLES if engine.dialect.name == "sqlite" else set()
    return set(EXPECTED_COLUMNS) | {"alembic_version"} | fts

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
    "app_user": set(),
    "auth_session": {("ix_auth_session_user_id", ("user_id",))},
    "sign_in_failure": {
        ("ix_sign_in_failure_username", ("username", "created_at")),
        ("ix_sign_in_failure_address", ("address", "created_at")),
    },
    "audit_entry": {
        ("ix_audit_entry_created_at", ("created_at",)),
        ("ix_audit_entry_actor", ("actor", "created_at")),
        ("ix_audit_entry_action", ("action", "created_at")),
    },
}

# PostgreSQL's full-text search index (migration 0007_message_search_pg), an expression
# index: reflected with the expression in place of a column name.
SEARCH_INDEX = ("ix_message_content_fts", ("to_tsvector('chatbot_english'::regconfig, content)",))


def expected_indexes(engine: Engine, table: str) -> set[tuple[str, tuple[str, ...]]]:
    extra = {SEARCH_INDEX} if table == "message" and engine.dialect.name == "postgresql" else set()
    return EXPECTED_INDEXES[table] | extra


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
    "app_user": set(),
    "auth_session": {("user_id", "app_user", "id", "CASCADE")},
    "sign_in_failure": set(),
    "audit_entry": set(),
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
    "app_user": [
        {"name": "uq_app_user_username", "column_names": ["username"]},
        {"name": "uq_app_user_sso_subject", "column_names": ["sso_subject"]},
    ],
    "auth_session": [
        {"name": "uq_auth_session_token_hash", "column_names": ["token_hash"]},
        {"name": "uq_auth_session_handoff_hash", "column_names": ["handoff_hash"]},
        {"name": "uq_auth_session_sso_key", "column_names": ["sso_key"]},
    ],
    "sign_in_failure": [],
    "audit_entry": [],
}
