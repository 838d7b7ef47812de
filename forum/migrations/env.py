"""Alembic environment (async template). Used by `forum db upgrade` and by `alembic` from the repo root."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import forum.models  # noqa: F401 -- registers every table on the metadata
from forum.db import create_engine, is_sqlite
from forum.migrate import include_object
from forum.models import metadata

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from forum.config import load_config

        url = load_config()["DATABASE_URL"]
    return url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=is_sqlite(_url()),
        include_object=include_object,
        compare_type=True,
    )


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True, render_as_batch=is_sqlite(_url()))
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    sqlite = is_sqlite(_url())
    if sqlite:
        # Batch mode rebuilds a SQLite table by copying it and dropping the old one, and with foreign keys on,
        # that drop deletes (ON DELETE CASCADE) every row that refers to it: a rebuilt `listing` would empty
        # `offer`. SQLite only takes this pragma outside a transaction, so first; it is checked after instead.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()  # end SQLAlchemy's implicit transaction, so Alembic's own commits the migration
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:  # before the commit: a migration that broke a reference is not applied at all
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise RuntimeError(f"the migration left rows whose foreign keys point nowhere: {broken[:5]}")
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


async def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run_sync(connectable)
        return
    engine: AsyncEngine = create_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
