"""Engine, sessions and the unit of work.

A unit of work is one `AsyncSession`. Domain actions flush but never commit; the caller that opened the unit of
work commits, and only a committed unit of work hands on the events its actions queued (see `queue_event`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

log = logging.getLogger(__name__)

EventSink = Callable[[list[dict[str, Any]]], Awaitable[None]]
_PENDING_EVENTS = "linli.pending_events"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Foreign keys are off per connection in SQLite; WAL lets readers run beside the one writer.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    kwargs: dict[str, Any] = {"echo": echo}
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


class Database:
    """The engine and session factory of one app; created at start-up, disposed at shutdown."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.event_sinks: list[EventSink] = []

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """Yield a session; commit it when the block ends without error (see `commit`)."""
        async with self.sessionmaker() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await self.commit(session)

    async def commit(self, session: AsyncSession) -> None:
        """Commit, then hand the events queued during this unit of work to the sinks (never before commit)."""
        await session.commit()
        events = session.info.pop(_PENDING_EVENTS, [])
        if not events:
            return
        for sink in self.event_sinks:
            try:
                await sink(events)
            except Exception:  # a broken listener must not turn a committed write into an error
                log.exception("event sink failed")

    @asynccontextmanager
    async def read_only(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def queue_event(session: AsyncSession, event: dict[str, Any]) -> None:
    """Queue an event to be delivered only if, and after, the session's unit of work commits."""
    session.info.setdefault(_PENDING_EVENTS, []).append(event)
