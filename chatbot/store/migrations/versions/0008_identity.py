"""People, sign-in sessions, failed sign-ins and the audit log.

Revision ID: 0008_identity
Revises: 0007_message_search_pg
Create Date: 2026-12-03

Hand-written and frozen. Before this revision every browser was the same user "agent";
the rows it wrote (conversations, ratings, notes, versions, budgets, replay runs, API
calls) are handed to one placeholder account, `before-sign-in`, which cannot sign in and
whose conversations an admin can reassign. A fresh database gets no placeholder.

The audit log is append-only in the database itself: triggers refuse UPDATE and DELETE
(and TRUNCATE on PostgreSQL), so not even a bug in the app can rewrite history.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0008_identity"
down_revision: str | None = "0007_message_search_pg"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLACEHOLDER = "before-sign-in"
LEGACY_OWNER = "agent"
# Every column that names the person who wrote a row, as of revision 0007.
OWNER_COLUMNS = (
    ("conversation", "owner"),
    ("api_call", "owner"),
    ("feedback", "owner"),
    ("annotation", "created_by"),
    ("golden_case", "added_by"),
    ("qa_check", "created_by"),
    ("replay_run", "created_by"),
    ("persona_version", "created_by"),
    ("ticket_summary", "created_by"),
    ("budget", "user"),
    ("budget", "updated_by"),
    ("app_setting", "updated_by"),
)

SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
)
POSTGRES_TRIGGERS = (
    "CREATE FUNCTION chatbot_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$",
    "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
    "FOR EACH ROW EXECUTE FUNCTION chatbot_audit_append_only()",
    "CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry "
    "FOR EACH STATEMENT EXECUTE FUNCTION chatbot_audit_append_only()",
)


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    # Always UTC; chatbot.store.models.UTCDateTime converts on the way in and out.
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(), nullable=False),
        sa.Column("display_name", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("sso_subject", sa.String(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("last_sign_in_at", nullable=True),
        sa.UniqueConstraint("username", name="uq_app_user_username"),
        sa.UniqueConstraint("sso_subject", name="uq_app_user_sso_subject"),
    )
    op.create_table(
        "auth_session",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("app_user.id", ondelete="CASCADE", name="fk_auth_session_user_id_app_user"),
            nullable=False,
        ),
        sa.Column("method", sa.String(), nullable=False),
        sa.Column("token_hash", sa.String(), nullable=True),
        sa.Column("handoff_hash", sa.String(), nullable=True),
        _timestamp("handoff_expires_at", nullable=True),
        sa.Column("sso_key", sa.String(), nullable=True),
        sa.Column("address", sa.String(), nullable=True),
        _timestamp("created_at"),
        _timestamp("last_seen_at"),
        _timestamp("expires_at"),
        _timestamp("ended_at", nullable=True),
        sa.Column("end_reason", sa.String(), nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_auth_session_token_hash"),
        sa.UniqueConstraint("handoff_hash", name="uq_auth_session_handoff_hash"),
        sa.UniqueConstraint("sso_key", name="uq_auth_session_sso_key"),
    )
    op.create_index("ix_auth_session_user_id", "auth_session", ["user_id"])
    op.create_table(
        "sign_in_failure",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        _timestamp("created_at"),
    )
    op.create_index("ix_sign_in_failure_username", "sign_in_failure", ["username", "created_at"])
    op.create_index("ix_sign_in_failure_address", "sign_in_failure", ["address", "created_at"])
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), primary_key=True),
        _timestamp("created_at"),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
    )
    op.create_index("ix_audit_entry_created_at", "audit_entry", ["created_at"])
    op.create_index("ix_audit_entry_actor", "audit_entry", ["actor", "created_at"])
    op.create_index("ix_audit_entry_action", "audit_entry", ["action", "created_at"])

    bind = op.get_bind()
    for statement in SQLITE_TRIGGERS if bind.dialect.name == "sqlite" else POSTGRES_TRIGGERS:
        op.execute(statement)
    _adopt_legacy_rows(bind)


def _adopt_legacy_rows(bind: sa.Connection) -> None:
    """Give the rows of the one pre-sign-in identity to the placeholder account."""
    legacy = sa.bindparam("legacy", LEGACY_OWNER)
    found = False
    for table, column in OWNER_COLUMNS:
        t = sa.table(table, sa.column(column))
        result = bind.execute(sa.update(t).where(t.c[column] == legacy).values({column: PLACEHOLDER}))
        found = found or bool(result.rowcount)
    if not found:
        return
    now = datetime.now(UTC)
    users = sa.table(
        "app_user",
        *(sa.column(c) for c in ("username", "display_name", "role", "active", "source",
                                 "created_at", "updated_at")),
    )
    bind.execute(sa.insert(users).values(
        username=PLACEHOLDER, display_name="Shared account (before sign-in)", role="agent",
        active=True, source="placeholder",
        created_at=now.replace(tzinfo=None) if bind.dialect.name == "sqlite" else now,
        updated_at=now.replace(tzinfo=None) if bind.dialect.name == "sqlite" else now,
    ))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_truncate ON audit_entry")
        op.execute("DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry")
        op.execute("DROP FUNCTION IF EXISTS chatbot_audit_append_only()")
    for table, column in OWNER_COLUMNS:
        t = sa.table(table, sa.column(column))
        bind.execute(sa.update(t).where(t.c[column] == PLACEHOLDER).values({column: LEGACY_OWNER}))
    op.drop_table("audit_entry")  # its SQLite triggers go with it
    op.drop_table("sign_in_failure")
    op.drop_table("auth_session")
    op.drop_table("app_user")
