"""QA: feedback, notes and tags, the golden set, checks, replay runs and results, and
full-text search over message content.

Revision ID: 0005_qa
Revises: 0004_summaries_budgets
Create Date: 2026-11-30

Hand-written and frozen. Search is an external-content FTS5 table over message.content,
kept in step by triggers (so every write path is indexed, whoever makes it) and filled
from the existing messages here. PostgreSQL has no FTS5: there the table is skipped and
`chatbot/store/search.py` falls back to the database's own matching.

A later migration that rebuilds the message table in SQLite batch mode drops these
triggers with it: such a migration must create them again (see `FTS_TRIGGERS`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_qa"
down_revision: str | None = "0004_summaries_budgets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS_TABLE = (
    "CREATE VIRTUAL TABLE message_fts USING fts5("
    "content, content='message', content_rowid='id', "
    # porter: "refunds" finds "refund"; remove_diacritics: "cafe" finds "café".
    "tokenize='porter unicode61 remove_diacritics 2')"
)
FTS_TRIGGERS = (
    """CREATE TRIGGER message_fts_insert AFTER INSERT ON message BEGIN
         INSERT INTO message_fts(rowid, content) VALUES (new.id, new.content);
       END""",
    """CREATE TRIGGER message_fts_delete AFTER DELETE ON message BEGIN
         INSERT INTO message_fts(message_fts, rowid, content) VALUES ('delete', old.id, old.content);
       END""",
    """CREATE TRIGGER message_fts_update AFTER UPDATE OF content ON message BEGIN
         INSERT INTO message_fts(message_fts, rowid, content) VALUES ('delete', old.id, old.content);
         INSERT INTO message_fts(rowid, content) VALUES (new.id, new.content);
       END""",
)


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    # Always UTC; chatbot.store.models.UTCDateTime converts on the way in and out.
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(column: str, target: str, name: str, *, nullable: bool = False, **kw) -> sa.Column:
    return sa.Column(
        column,
        sa.Integer(),
        sa.ForeignKey(target, ondelete="CASCADE", name=name),
        nullable=nullable,
        **kw,
    )


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True),
        _fk("message_id", "message.id", "fk_feedback_message_id_message"),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.UniqueConstraint("message_id", "owner", name="uq_feedback_message_owner"),
    )
    op.create_table(
        "annotation",
        sa.Column("id", sa.Integer(), primary_key=True),
        _fk("conversation_id", "conversation.id", "fk_annotation_conversation_id_conversation"),
        _fk("message_id", "message.id", "fk_annotation_message_id_message", nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        _timestamp("created_at"),
    )
    op.create_index("ix_annotation_conversation_id", "annotation", ["conversation_id"])
    op.create_index("ix_annotation_kind_text", "annotation", ["kind", "text"])
    op.create_table(
        "golden_case",
        _fk(
            "conversation_id",
            "conversation.id",
            "fk_golden_case_conversation_id_conversation",
            primary_key=True,
        ),
        sa.Column("added_by", sa.String(), nullable=False),
        _timestamp("added_at"),
        sa.Column("note", sa.String(), nullable=True),
    )
    op.create_table(
        "qa_check",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        _timestamp("created_at"),
        sa.UniqueConstraint("name", name="uq_qa_check_name"),
    )
    op.create_table(
        "replay_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("label", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("persona", sa.String(), nullable=True),
        sa.Column("persona_version", sa.Integer(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("conversation_ids", sa.JSON(), nullable=False),
        sa.Column("check_ids", sa.JSON(), nullable=False),
        sa.Column("turns_total", sa.Integer(), nullable=False),
        sa.Column("turns_done", sa.Integer(), nullable=False),
        sa.Column("estimated_cost_usd", sa.Float(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("created_by", sa.String(), nullable=False),
        _timestamp("created_at"),
        _timestamp("finished_at", nullable=True),
    )
    op.create_index("ix_replay_run_created_at", "replay_run", ["created_at"])
    op.create_table(
        "replay_result",
        sa.Column("id", sa.Integer(), primary_key=True),
        _fk("run_id", "replay_run.id", "fk_replay_result_run_id_replay_run"),
        _fk("conversation_id", "conversation.id", "fk_replay_result_conversation_id_conversation"),
        _fk("source_message_id", "message.id", "fk_replay_result_source_message_id_message"),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("persona_version", sa.Integer(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.Column("total_ms", sa.Float(), nullable=True),
        sa.Column("request_id", sa.String(), nullable=True),
        _timestamp("created_at"),
        sa.UniqueConstraint("run_id", "source_message_id", name="uq_replay_result_run_source"),
    )
    op.create_table(
        "check_result",
        sa.Column("id", sa.Integer(), primary_key=True),
        _fk("result_id", "replay_result.id", "fk_check_result_result_id_replay_result"),
        _fk("check_id", "qa_check.id", "fk_check_result_check_id_qa_check"),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.String(), nullable=True),
        sa.UniqueConstraint("result_id", "check_id", name="uq_check_result_once"),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(FTS_TABLE)
        for trigger in FTS_TRIGGERS:
            op.execute(trigger)
        op.execute("INSERT INTO message_fts(message_fts) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS message_fts_{name}")
        op.execute("DROP TABLE IF EXISTS message_fts")
    op.drop_table("check_result")
    op.drop_table("replay_result")
    op.drop_index("ix_replay_run_created_at", table_name="replay_run")
    op.drop_table("replay_run")
    op.drop_table("qa_check")
    op.drop_table("golden_case")
    op.drop_index("ix_annotation_kind_text", table_name="annotation")
    op.drop_index("ix_annotation_conversation_id", table_name="annotation")
    op.drop_table("annotation")
    op.drop_table("feedback")
