"""Migrations build the schema from empty on both databases, match the models, and go back down."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from forum.db import create_engine, is_sqlite
from forum.migrate import downgrade, include_object, upgrade
from forum.models import metadata
from tests.conftest import create_pg_database, drop_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


def _inspect(url: str) -> tuple[set[str], list[object]]:
    def work(connection: Connection) -> tuple[set[str], list[object]]:
        context = MigrationContext.configure(
            connection,
            opts={"render_as_batch": is_sqlite(url), "compare_type": True, "include_object": include_object},
        )
        return set(inspect(connection).get_table_names()), list(compare_metadata(context, metadata))

    async def run() -> tuple[set[str], list[object]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_migrations_run_from_empty_to_head_and_match_the_models(empty_database: str) -> None:
    upgrade(empty_database)
    tables, differences = _inspect(empty_database)
    assert set(metadata.tables) <= tables
    assert differences == [], "models and migrations differ: write a migration (alembic revision --autogenerate)"
    upgrade(empty_database)  # running again is harmless

    downgrade(empty_database, "base")
    tables, _ = _inspect(empty_database)
    assert tables <= {"alembic_version"}
