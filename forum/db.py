"""Engine, sessions and the unit of work.

A unit of work is one `AsyncSession`. Domain actions flush but never commit; the caller that opened the unit of
work commits, and only a committed unit of work hands on the events its actions queued (see `queue_event`).
Files the unit of work refers to are written just before its commit and files it forgot are removed just after
(see `stage_file`, `forum.storage`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from forum.events import Event as ClientEvent
from forum.events import InternalEvent
from forum.models import Event
from forum.outage import Outage, watch
from forum.storage import remove_files, write_files

log = logging.getLogger(__name__)

EventSink = Callable[[list[dict[str, Any]]], Awaitable[None]]
_PENDING_EVENTS = "linli.pending_events"
_OUTBOX = "linli.outbox"
_FILES = "linli.files"
_REMOVALS = "linli.removed_files"
# In session.info: the unit of work has sent its COMMIT, and has committed. A failure after the first and before the
# second leaves it unknown whether the change was saved; after the second, a failure must not say it was not.
COMMITTING = "linli.committing"
COMMITTED = "linli.committed"
# Any constant: the advisory lock that orders event ids on PostgreSQL.
EVENT_LOCK_KEY = 7_205_441


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Foreign keys are off per connection in SQLite; WAL lets readers run beside the one writer.
    from forum.sqlite_driver import OneTripConnection

    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    if isinstance(dbapi_connection, OneTripConnection) and cursor.fetchone()[0] != "wal":
        dbapi_connection.reads_on_loop = False  # a reader may wait for the writer: not on the event loop
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@dataclass(frozen=True)
class PoolSettings:
    """PostgreSQL's connection pool (DB_POOL_* and DB_CONNECT_SECONDS in forum/config.py). A request that
    finds no connection free within `timeout`, or whose new connection does not open within `connect_seconds`,
    fails as the database being away (503), rather than waiting as long as SQLAlchemy's and asyncpg's defaults
    (30 s and 60 s)."""

    size: int = 10
    overflow: int = 10
    timeout: float = 10.0
    connect_seconds: float = 5.0

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PoolSettings:
        return cls(
            size=int(config["DB_POOL_SIZE"]),
            overflow=int(config["DB_POOL_OVERFLOW"]),
            timeout=float(config["DB_POOL_TIMEOUT"]),
            connect_seconds=float(config["DB_CONNECT_SECONDS"]),
        )


def create_engine(url: str, *, echo: bool = False, pool: PoolSettings | None = None) -> AsyncEngine:
    kwargs: dict[str, Any] = {"echo": echo}
    if is_sqlite(url):
        from forum import sqlite_driver

        if make_url(url).get_driver_name() == "aiosqlite":
            kwargs["module"] = sqlite_driver.DBAPI
        database = make_url(url).database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
    else:
        pool = pool or PoolSettings()
        kwargs.update(
            pool_size=pool.size,
            max_overflow=pool.overflow,
            pool_timeout=pool.timeout,
            pool_pre_ping=True,
            connect_args={"timeout": pool.connect_seconds},
        )
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


class Database:
    """The engine and session factory of one app; created at start-up, disposed at shutdown."""

    def __init__(
        self, url: str, *, echo: bool = False, upload_dir: str | Path | None = None, pool: PoolSettings | None = None
    ) -> None:
        self.url = url
        self.upload_dir = Path(upload_dir) if upload_dir is not None else None
        self.engine = create_engine(url, echo=echo, pool=pool)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.event_sinks: list[EventSink] = []
        self.outage = Outage()  # logs when the database goes away and comes back (forum.outage)
        watch(self.engine, self.outage)

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

    def _uploads(self) -> Path:
        if self.upload_dir is None:
            raise RuntimeError("this Database has no upload_dir, so it cannot store the files a change refers to")
        return self.upload_dir

    async def commit(self, session: AsyncSession) -> None:
        """Write the unit of work's staged files, record its client events, commit, remove the files it forgot,
        then hand every queued event to the sinks.

        Files go first and outside the event lock: a failure there (disk full) leaves the transaction
        uncommitted, and if the commit fails after them, the files written for it are removed again.

        Client events get their ids here, as the last thing before commit, under a transaction-wide lock on
        PostgreSQL: ids then become visible in the order they were handed out, so a reader that has seen id N
        can never later find a smaller one. SQLite has one writer at a time and needs no lock. The lock is
        held only from this insert to the commit.
        """
        files: list[tuple[str, bytes]] = session.info.pop(_FILES, [])
        session.info.pop(COMMITTING, None)  # of an earlier unit of work in the same session: not this one's
        session.info.pop(COMMITTED, None)
        try:
            if files:
                await asyncio.to_thread(write_files, self._uploads(), files)
            recorded = await self._record_and_commit(session)
            session.info[COMMITTED] = True
        except BaseException:
            if files:  # the change they belong to did not happen: nothing refers to them, so they go too
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(remove_files, self._uploads(), [name for name, _ in files])
            raise
        removals: list[str] = session.info.pop(_REMOVALS, [])
        if removals:
            await asyncio.to_thread(remove_files, self._uploads(), removals)
        events = session.info.pop(_PENDING_EVENTS, [])
        events += [{"type": data["type"], "id": event.id, "room": event.room, "data": data} for event, data in recorded]
        if not events:
            return
        for sink in self.event_sinks:
            try:
                await sink(events)
            except Exception as error:  # a broken listener must not turn a committed write into an error
                if not self.outage.note(error):  # the database away (a recheck's read): logged once an outage
                    log.exception("event sink failed")

    async def _record_and_commit(self, session: AsyncSession) -> list[tuple[Event, dict[str, Any]]]:
        outbox: list[tuple[str, dict[str, Any]]] = session.info.pop(_OUTBOX, [])
        recorded: list[tuple[Event, dict[str, Any]]] = []
        if outbox:
            if not is_sqlite(self.url):
                await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENT_LOCK_KEY})
            recorded = [
                (Event(room=room, type=data["type"], payload=json.dumps(data, ensure_ascii=False)), data)
                for room, data in outbox
            ]
            session.add_all([event for event, _ in recorded])
            await session.flush()
        session.info[COMMITTING] = True
        await session.commit()
        return recorded

    @asynccontextmanager
    async def read_only(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def insert_for(session: AsyncSession) -> Any:
    """INSERT … ON CONFLICT for the session's database (`.on_conflict_do_nothing()`): concurrent twins of a
    write (a double tap, two tabs) end as one row."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def queue_event(session: AsyncSession, event: InternalEvent) -> None:
    """Queue an internal event (not stored, not sent to clients) for the sinks, only if and after the unit of
    work commits."""
    session.info.setdefault(_PENDING_EVENTS, []).append(event.model_dump())


def stage_file(session: AsyncSession, name: str, data: bytes) -> None:
    """Write `data` to `name` (relative to UPLOAD_DIR) when this unit of work commits, just before the commit."""
    session.info.setdefault(_FILES, []).append((name, data))


def stage_removal(session: AsyncSession, name: str) -> None:
    """Remove the file `name` (relative to UPLOAD_DIR) once this unit of work has committed."""
    session.info.setdefault(_REMOVALS, []).append(name)


def record_event(session: AsyncSession, event: ClientEvent) -> None:
    """Record a client event in each of its rooms in this unit of work; it gets its ids at commit and is sent
    after it."""
    rooms = event.rooms()
    if not rooms:
        raise ValueError(f"{type(event).__name__} is sent straight to sockets, not recorded")
    data = event.model_dump()
    session.info.setdefault(_OUTBOX, []).extend((room, data) for room in rooms)
