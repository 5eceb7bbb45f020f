"""Remember how many turns of history a reply's request left out.

Revision ID: 0002_message_context_dropped
Revises: 0001_initial
Create Date: 2026-11-24

The chat page says when the oldest turns were left out of a request to fit the model's
context budget; keeping the number on the reply lets it say so after a reload too.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_message_context_dropped"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("context_dropped", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.drop_column("context_dropped")
