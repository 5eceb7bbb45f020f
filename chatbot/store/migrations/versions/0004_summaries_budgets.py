"""Ticket summaries of conversations, budgets with their alerts, and app settings.

Revision ID: 0004_summaries_budgets
Revises: 0003_personas
Create Date: 2026-11-30

Hand-written and frozen, like the others. Summaries go with their conversation
(CASCADE); budget alerts go with their budget.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_summaries_budgets"
down_revision: str | None = "0003_personas"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str) -> sa.Column:
    # Always UTC; chatbot.store.models.UTCDateTime converts on the way in and out.
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "ticket_summary",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "conversation_id",
            sa.Integer(),
            sa.ForeignKey(
                "conversation.id",
                ondelete="CASCADE",
                name="fk_ticket_summary_conversation_id_conversation",
            ),
            nullable=False,
        ),
        sa.Column("through_message_id", sa.Integer(), nullable=True),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        _timestamp("created_at"),
    )
    op.create_index(
        "ix_ticket_summary_conversation_id", "ticket_summary", ["conversation_id", "created_at"]
    )
    op.create_table(
        "budget",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user", sa.String(), nullable=False),
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("limit_usd", sa.Float(), nullable=False),
        sa.Column("updated_by", sa.String(), nullable=False),
        _timestamp("updated_at"),
        sa.UniqueConstraint("user", "period", name="uq_budget_user_period"),
    )
    op.create_table(
        "budget_alert",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "budget_id",
            sa.Integer(),
            sa.ForeignKey("budget.id", ondelete="CASCADE", name="fk_budget_alert_budget_id_budget"),
            nullable=False,
        ),
        _timestamp("period_start"),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("spent_usd", sa.Float(), nullable=False),
        sa.Column("limit_usd", sa.Float(), nullable=False),
        _timestamp("created_at"),
        sa.UniqueConstraint("budget_id", "period_start", "threshold", name="uq_budget_alert_once"),
    )
    op.create_table(
        "app_setting",
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(), nullable=False),
        _timestamp("updated_at"),
    )


def downgrade() -> None:
    op.drop_table("app_setting")
    op.drop_table("budget_alert")
    op.drop_table("budget")
    op.drop_index("ix_ticket_summary_conversation_id", table_name="ticket_summary")
    op.drop_table("ticket_summary")
