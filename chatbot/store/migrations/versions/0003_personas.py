"""Personas and their immutable, numbered versions.

Revision ID: 0003_personas
Revises: 0002_message_context_dropped
Create Date: 2026-11-25

Hand-written and frozen, like 0001. Conversations already hold the persona key and
version number (conversation.persona, conversation.persona_version); those are left
as plain values, not foreign keys, so a conversation never blocks a persona change.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_personas"
down_revision: str | None = "0002_message_context_dropped"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str) -> sa.Column:
    # Always UTC; chatbot.store.models.UTCDateTime converts on the way in and out.
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "persona",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.UniqueConstraint("key", name="uq_persona_key"),
    )
    op.create_table(
        "persona_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "persona_id",
            sa.Integer(),
            sa.ForeignKey(
                "persona.id", ondelete="CASCADE", name="fk_persona_version_persona_id_persona"
            ),
            nullable=False,
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        _timestamp("created_at"),
        sa.Column("note", sa.String(), nullable=True),
        sa.UniqueConstraint(
            "persona_id", "number", name="uq_persona_version_persona_id_number"
        ),
    )


def downgrade() -> None:
    op.drop_table("persona_version")
    op.drop_table("persona")
