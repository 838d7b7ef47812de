"""Schema migrations with Alembic, run programmatically (no alembic.ini needed at run time)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """For autogenerate: search tables (FTS5 and its shadow tables on SQLite, the tsvector table on PostgreSQL)
    are written by hand in migrations (see forum/search.py), so they are not compared with the models."""
    search_table = name is not None and (name.endswith("_fts") or "_fts_" in name or name == "post_search")
    return not (type_ == "table" and search_table)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Blocking: runs its own event loop (Alembic's env.py is sync at the top). Call from a thread inside async code."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade, url, revision)
