"""Alembic environment of the review store.

Run programmatically by :func:`pipeline.store.migration.ensure_schema`, which passes its own
connection in ``config.attributes["connection"]``. Without one (a developer's ``command.revision``
or ``command.upgrade`` call with :func:`~pipeline.store.migration.alembic_config`), it connects to
``sqlalchemy.url`` itself. ``render_as_batch`` makes autogenerate write SQLite-safe batch
operations, which run as plain ALTERs on PostgreSQL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from pipeline.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Write the migrations as SQL to stdout (``alembic upgrade --sql``)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the caller's connection, or on a new one to ``sqlalchemy.url``."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from pipeline.store.engine import WRITE_OPTION, get_engine

    engine = get_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as new_connection:
        new_connection.execution_options(**{WRITE_OPTION: True})
        _run(new_connection)
        new_connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
