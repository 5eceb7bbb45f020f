"""Alembic environment for chatbot.store.

At runtime ``chatbot.store.db.migrate`` passes an open, locked connection through
``config.attributes["connection"]``. From the alembic CLI (developers only:
``alembic -c chatbot/store/alembic.ini revision -m "..."``) the database comes from
``sqlalchemy.url`` in the ini file or from CHATBOT_DATABASE_URL / CHATBOT_DATA_DIR.
"""

from alembic import context

from chatbot.store import models  # noqa: F401  (registers the tables on the metadata)
from chatbot.store.db import (
    database_url_from_env,
    include_name,
    locked_migration_connection,
    make_engine,
)
from sqlmodel import SQLModel

config = context.config
target_metadata = SQLModel.metadata


def _configure_and_run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=True,
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or database_url_from_env()


if context.is_offline_mode():
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()
elif (connection := config.attributes.get("connection")) is not None:
    _configure_and_run(connection)
else:
    engine = make_engine(_url())
    try:
        with locked_migration_connection(engine) as connection:
            _configure_and_run(connection)
    finally:
        engine.dispose()
