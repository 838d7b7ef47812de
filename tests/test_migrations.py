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


def _run(url: str, statements: list[str]) -> list[tuple[object, ...]]:
    """Run SQL against `url`; the rows of the last statement."""

    async def run() -> list[tuple[object, ...]]:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                result = None
                for statement in statements:
                    result = await connection.exec_driver_sql(statement)
                return [tuple(row) for row in result.all()] if result is not None and result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_reports_of_listings_become_flags_and_back(empty_database: str) -> None:
    upgrade(empty_database, "a4c8e2f6b917")  # the revision before listings were flagged
    _run(
        empty_database,
        [
            "INSERT INTO district (id, name, slug, created_at) VALUES (1, '宝山区', 'baoshan', '2026-12-01 00:00:00')",
            "INSERT INTO community (id, district_id, name, slug, kind, address, join_code, created_at)"
            " VALUES (7, 1, '一居', 'yi', 'residential', '', 'JOIN1', '2026-12-01 00:00:00')",
            'INSERT INTO "user" (id, username, display_name, password_hash, is_active, message_policy, created_at)'
            " VALUES (1, 'owner', 'O', 'x', true, 'everyone', '2026-12-01 00:00:00'),"
            " (2, 'neighbour', 'N', 'x', true, 'everyone', '2026-12-01 00:00:00')",
            "INSERT INTO listing (id, community_id, owner_id, kind, title, description, wanted, category, condition,"
            " pickup_area, status, created_at, expires_at, removed_reason)"
            " VALUES (5, 7, 1, 'swap', '婴儿车', '', '', 'baby', 'good', '3号楼', 'open',"
            " '2026-12-01 00:00:00', '2026-12-31 00:00:00', '')",
            "INSERT INTO listing_report (listing_id, reporter_id, reason, created_at)"
            " VALUES (5, 2, '像是在卖货', '2026-12-02 00:00:00')",
        ],
    )
    upgrade(empty_database)
    flags = _run(empty_database, ["SELECT community_id, listing_id, reporter_id, reason, note, resolved_at FROM flag"])
    assert flags == [(7, 5, 2, "other", "像是在卖货", None)]
    downgrade(empty_database, "a4c8e2f6b917")
    reports = _run(empty_database, ["SELECT listing_id, reporter_id, reason FROM listing_report"])
    assert reports == [(5, 2, "像是在卖货")]
