"""Conversations, messages and API-call records.

Revision ID: 0001_initial
Revises:
Create Date: 2026-05-09

Hand-written and frozen: later changes go in new revisions, never here. Types are
spelled out (not imported from chatbot.store.models) so this file keeps meaning
what it meant when it shipped.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str) -> sa.Column:
    # Always UTC; chatbot.store.models.UTCDateTime converts on the way in and out.
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "conversation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("title_locked", sa.Boolean(), nullable=False),
        sa.Column("persona", sa.String(), nullable=False),
        sa.Column("persona_version", sa.Integer(), nullable=True),
        sa.Column("persona_vars", sa.JSON(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.Column("archived", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_conversation_updated_at", "conversation", ["updated_at"])
    op.create_index(
        "ix_conversation_owner_updated_at", "conversation", ["owner", "updated_at"]
    )

    op.create_table(
        "message",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "conversation_id",
            sa.Integer(),
            sa.ForeignKey(
                "conversation.id",
                ondelete="CASCADE",
                name="fk_message_conversation_id_conversation",
            ),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cache_creation_input_tokens", sa.Integer(), nullable=True),
        sa.Column("cache_read_input_tokens", sa.Integer(), nullable=True),
        sa.Column("stop_reason", sa.String(), nullable=True),
        sa.Column("request_id", sa.String(), nullable=True),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.Column("total_ms", sa.Float(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.UniqueConstraint(
            "conversation_id", "position", name="uq_message_conversation_id_position"
        ),
    )
    op.create_index("ix_message_status_updated_at", "message", ["status", "updated_at"])

    op.create_table(
        "api_call",
        sa.Column("id", sa.Integer(), primary_key=True),
        _timestamp("created_at"),
        sa.Column(
            "conversation_id",
            sa.Integer(),
            sa.ForeignKey(
                "conversation.id",
                ondelete="SET NULL",
                name="fk_api_call_conversation_id_conversation",
            ),
            nullable=True,
        ),
        sa.Column(
            "message_id",
            sa.Integer(),
            sa.ForeignKey(
                "message.id", ondelete="SET NULL", name="fk_api_call_message_id_message"
            ),
            nullable=True,
        ),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("purpose", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error_type", sa.String(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cache_creation_input_tokens", sa.Integer(), nullable=False),
        sa.Column("cache_read_input_tokens", sa.Integer(), nullable=False),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.Column("total_ms", sa.Float(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=True),
        sa.Column("cache_hit", sa.Boolean(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=True),
    )
    op.create_index("ix_api_call_created_at", "api_call", ["created_at"])
    op.create_index("ix_api_call_conversation_id", "api_call", ["conversation_id"])
    op.create_index("ix_api_call_message_id", "api_call", ["message_id"])


def downgrade() -> None:
    op.drop_table("api_call")
    op.drop_table("message")
    op.drop_table("conversation")
