"""Replay runs can go through the Message Batches API: the run's mode, and its batch.

Revision ID: 0006_replay_offline
Revises: 0005_qa
Create Date: 2026-12-07

Hand-written and frozen, like the others. `mode` is "live" (each turn a call of its own,
now, at the full price) or "offline" (every turn in one Message Batch, answered within
24 hours at half the price); existing runs were all live, hence the server default.
`provider_batch_id` is the batch an offline run submitted, stored before waiting on it,
so a run interrupted while it waits resumes by polling that batch instead of paying for
the same turns twice.

replay_run has no triggers, so the SQLite batch rebuild loses nothing (compare 0005_qa's
note about the message table).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_replay_offline"
down_revision: str | None = "0005_qa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("replay_run") as batch:
        batch.add_column(sa.Column("mode", sa.String(), nullable=False, server_default="live"))
        batch.add_column(sa.Column("provider_batch_id", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("replay_run") as batch:
        batch.drop_column("provider_batch_id")
        batch.drop_column("mode")
