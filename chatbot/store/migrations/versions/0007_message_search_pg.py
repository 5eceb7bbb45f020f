"""Full-text search over message content on PostgreSQL: a GIN index on its tsvector.

Revision ID: 0007_message_search_pg
Revises: 0006_replay_offline
Create Date: 2026-12-14

Hand-written and frozen. A no-op on SQLite, which has FTS5 (0005_qa). On PostgreSQL
`chatbot/store/search_pg.py` matches `to_tsvector('chatbot_english', content) @@ query`,
exactly the expression indexed here, so the planner can use the index.

`chatbot_english` is PostgreSQL's `english` configuration without its stop-word list:
FTS5's porter tokenizer keeps every word, so "black OR cat" must need "or" and a search
for "not" must find it, on both databases. Stemming is the same snowball stemmer.

Plain CREATE INDEX, not CONCURRENTLY: migrations run in a transaction. On a large
history this locks the message table against writes while it builds.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_message_search_pg"
down_revision: str | None = "0006_replay_offline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_SEARCH = (
    "CREATE TEXT SEARCH DICTIONARY chatbot_english_stem (TEMPLATE = snowball, LANGUAGE = english)",
    "CREATE TEXT SEARCH CONFIGURATION chatbot_english (COPY = english)",
    "ALTER TEXT SEARCH CONFIGURATION chatbot_english ALTER MAPPING FOR "
    "asciiword, asciihword, hword_asciipart, word, hword, hword_part WITH chatbot_english_stem",
    "CREATE INDEX ix_message_content_fts ON message "
    "USING gin (to_tsvector('chatbot_english'::regconfig, content))",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in TEXT_SEARCH:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_message_content_fts")
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS chatbot_english")
        op.execute("DROP TEXT SEARCH DICTIONARY IF EXISTS chatbot_english_stem")
