"""What SQLAlchemy asks of a DBAPI cursor, asserted on both databases: on SQLite it exercises
forum.sqlite_driver (one trip to aiosqlite's thread per statement, short reads on the loop's thread), on
PostgreSQL the stock asyncpg adapter, so the two must agree. One test is about where forum.sqlite_driver runs
a statement, which only SQLite has: it uses a SQLite file of its own."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlmodel import col

from forum import sqlite_driver
from forum.db import Database, create_engine, is_sqlite
from forum.models import District
from forum.sqlite_driver import OneTripConnection, long_reads


async def test_sqlite_engines_use_the_one_trip_driver(db: Database) -> None:
    async with db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.dbapi_connection, OneTripConnection) == is_sqlite(db.url)


async def test_rows_rowcounts_and_returning(db: Database) -> None:
    async with db.unit_of_work() as session:
        inserted = await session.execute(
            insert(District).returning(col(District.id), col(District.name)), [{"name": "宝山区", "slug": "baoshan"}]
        )
        district_id, name = inserted.one()
        assert name == "宝山区"
        connection = await session.connection()  # Core results, which carry the row count
        many = await connection.execute(insert(District), [{"name": f"区{n}", "slug": f"d{n}"} for n in range(5)])
        assert many.rowcount in (5, -1)  # executemany: sqlite3 counts, asyncpg does not say
    async with db.unit_of_work() as session:
        connection = await session.connection()
        changed = await connection.execute(update(District).where(col(District.name).like("区%")).values(name="改"))
        assert changed.rowcount == 5
        names = (await session.execute(select(col(District.name)).order_by(col(District.id)))).scalars().all()
        assert names == ["宝山区", "改", "改", "改", "改", "改"]
        assert (await session.execute(select(func.count()).select_from(District))).scalar_one() == 6
        gone = await connection.execute(delete(District).where(col(District.id) != district_id))
        assert gone.rowcount == 5
        empty = await session.execute(select(District).where(col(District.id) == -1))
        assert empty.first() is None


async def test_a_rolled_back_write_is_gone_and_a_read_only_session_leaves_no_transaction(db: Database) -> None:
    async with db.sessionmaker() as session:
        await session.execute(insert(District), [{"name": "不保存", "slug": "no"}])
        await session.rollback()
    async with db.sessionmaker() as session:
        assert (await session.execute(select(func.count()).select_from(District))).scalar_one() == 0
        # Only read: closing it must release nothing another writer would wait for.
    async with db.unit_of_work() as writer:
        await writer.execute(insert(District), [{"name": "保存", "slug": "yes"}])
    async with db.sessionmaker() as session:
        await session.execute(insert(District), [{"name": "也保存", "slug": "also"}])
        await session.commit()
        assert (await session.execute(select(func.count()).select_from(District))).scalar_one() == 2


async def test_errors_arrive_as_sqlalchemy_errors_and_the_session_goes_on(db: Database) -> None:
    async with db.sessionmaker() as session:
        await session.execute(insert(District), [{"name": "一", "slug": "one"}])
        await session.commit()
        district_id = (await session.execute(select(col(District.id)))).scalar_one()
        with pytest.raises(IntegrityError):
            await session.execute(insert(District), [{"id": district_id, "name": "重复", "slug": "dup"}])
        await session.rollback()
        with pytest.raises((OperationalError, ProgrammingError)):
            await session.execute(text("SELECT no_such_column FROM district"))
        await session.rollback()
        assert (await session.execute(select(col(District.name)))).scalars().all() == ["一"]


async def test_a_write_through_a_streaming_cursor_is_committed(db: Database) -> None:
    async with db.sessionmaker() as session:
        connection = await session.connection()
        result = await connection.stream(
            insert(District).returning(col(District.name)), [{"name": "流式", "slug": "streamed"}]
        )
        assert [row.name async for row in result] == ["流式"]
        await session.commit()
    elsewhere = Database(db.url)  # another connection: it sees only what was really committed
    try:
        async with elsewhere.read_only() as session:
            assert (await session.execute(select(col(District.name)))).scalars().all() == ["流式"]
    finally:
        await elsewhere.dispose()


async def test_a_read_does_not_wait_for_an_open_write(db: Database) -> None:
    """Short reads run on the event loop's thread on SQLite, which is sound because in WAL mode a reader never
    waits for the writer (were it to wait, the whole process would stop): the database must be in WAL mode,
    and a read beside an uncommitted write sees the last committed state at once, on both databases."""
    if is_sqlite(db.url):
        async with db.read_only() as session:
            assert (await session.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
    async with db.unit_of_work() as session:
        await session.execute(insert(District), [{"name": "已提交", "slug": "committed"}])
    async with db.sessionmaker() as writer, db.sessionmaker() as reader:
        await writer.execute(insert(District), [{"name": "未提交", "slug": "pending"}])  # holds the write lock
        names = select(col(District.name)).order_by(col(District.id))
        seen = await asyncio.wait_for(reader.execute(names), timeout=2)
        assert seen.scalars().all() == ["已提交"]
        await writer.commit()
        await reader.rollback()  # PostgreSQL's reader had a transaction (and snapshot) of its own
        assert (await reader.execute(names)).scalars().all() == ["已提交", "未提交"]


async def test_short_reads_run_on_the_loop_and_everything_else_on_the_connection_thread(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")

    def report_thread(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection._connection._conn.create_function("linli_thread", 0, threading.get_ident)

    event.listen(engine.sync_engine, "connect", report_thread)
    loop_thread = threading.get_ident()
    where = text("SELECT linli_thread()")
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(where)).scalar_one() == loop_thread
            with long_reads():
                worker = (await connection.execute(where)).scalar_one()
            assert worker != loop_thread
            await connection.execute(text("CREATE TABLE t (x INTEGER)"))
            await connection.execute(text("INSERT INTO t VALUES (linli_thread())"))  # opens a transaction
            assert (await connection.execute(where)).scalar_one() == worker  # a read inside it: on the thread
            assert (await connection.execute(text("SELECT x FROM t"))).scalar_one() == worker
            await connection.commit()
            assert (await connection.execute(where)).scalar_one() == loop_thread
            # Only plain SELECTs are taken for short reads; anything else goes to the connection's thread.
            assert (
                await connection.execute(text("WITH w AS (SELECT linli_thread() AS x) SELECT x FROM w"))
            ).scalar_one() == worker
            assert (await connection.execute(text("  select linli_thread()"))).scalar_one() == loop_thread
    finally:
        await engine.dispose()


async def test_a_database_not_in_wal_mode_reads_on_the_connection_thread() -> None:
    """In-memory SQLite cannot use WAL, so a reader there could wait for a writer: no reads on the loop."""
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            assert (await connection.execute(text("PRAGMA journal_mode"))).scalar_one() == "memory"
            assert raw.dbapi_connection.reads_on_loop is False
    finally:
        await engine.dispose()


async def test_a_failed_write_rolled_back_leaves_the_database_free_for_other_writers(db: Database) -> None:
    async with db.unit_of_work() as session:
        await session.execute(insert(District), [{"name": "一", "slug": "one"}])
    async with db.sessionmaker() as session:
        district_id = (await session.execute(select(col(District.id)))).scalar_one()
        with pytest.raises(IntegrityError):  # the write began (and on SQLite took the write lock), then failed
            await session.execute(insert(District), [{"id": district_id, "name": "重复", "slug": "dup"}])
        await session.rollback()
        elsewhere = Database(db.url)
        try:

            async def write_elsewhere() -> None:
                async with elsewhere.unit_of_work() as other:
                    await other.execute(insert(District), [{"name": "二", "slug": "two"}])

            await asyncio.wait_for(write_elsewhere(), timeout=2)  # SQLite would wait 5 s for a lock still held
        finally:
            await elsewhere.dispose()
    async with db.read_only() as session:
        assert (await session.execute(select(col(District.name)).order_by(col(District.id)))).scalars().all() == [
            "一",
            "二",
        ]


async def test_a_connection_closed_underneath_is_reported_as_a_disconnect(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'closed.db'}")
    try:
        for statement in ("SELECT 1", "CREATE TABLE t (x INTEGER)"):
            async with engine.connect() as connection:
                raw = await connection.get_raw_connection()
                await raw.driver_connection.close()
                with pytest.raises(OperationalError):
                    await connection.execute(text(statement))
                assert connection.invalidated  # the pool drops it instead of handing it out again
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_writers_in_one_process_take_turns_in_the_order_they_came(tmp_path: Path) -> None:
    """SQLite's own busy handler lets waiting writers poll for the lock at growing intervals, in no order: under
    load one can lose again and again until "database is locked". Within a process they queue instead."""
    path = tmp_path / "turns.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))
        gate = sqlite_driver._write_gate(str(path))  # the driver's first-come, first-served queue for this file
        finished: list[int] = []

        async def write(n: int) -> None:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
                await asyncio.sleep(0.01)  # work inside the transaction, on the event loop
            finished.append(n)

        async def queued(count: int) -> None:
            """Until `count` writers wait in the gate's queue (asyncio.Lock keeps them in arrival order and no
            public call counts them), however long the machine takes to start one."""
            deadline = asyncio.get_running_loop().time() + 10
            while len(gate._waiters or ()) < count:
                assert asyncio.get_running_loop().time() < deadline, f"{count} writers never queued"
                await asyncio.sleep(0.005)

        async with engine.connect() as holder:
            await holder.execute(text("INSERT INTO t VALUES (-1)"))  # holds the write lock until it commits
            writers = []
            for n in range(8):
                writers.append(asyncio.create_task(write(n)))
                await queued(n + 1)  # in the queue before the next one starts
            assert finished == []
            await holder.commit()
        await asyncio.wait_for(asyncio.gather(*writers), timeout=10)
        assert finished == list(range(8))
    finally:
        await engine.dispose()


async def test_a_writer_that_waits_too_long_for_its_turn_is_told_the_database_is_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_driver, "GATE_TIMEOUT_SECONDS", 0.2)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'timeout.db'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))
        async with engine.connect() as holder:
            await holder.execute(text("INSERT INTO t VALUES (1)"))
            with pytest.raises(OperationalError, match="database is locked"):
                async with engine.begin() as late:
                    await late.execute(text("INSERT INTO t VALUES (2)"))
            await holder.commit()
        async with engine.begin() as after:  # the turn that timed out took nothing with it
            await after.execute(text("INSERT INTO t VALUES (3)"))
        async with engine.connect() as reader:
            assert (await reader.execute(text("SELECT n FROM t ORDER BY n"))).scalars().all() == [1, 3]
    finally:
        await engine.dispose()


async def test_a_connection_given_up_halfway_through_a_write_leaves_the_turn_to_the_next_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLAlchemy terminates a connection it no longer trusts (a statement cancelled halfway, as when a client
    goes away mid-request) instead of rolling it back: its turn must end with it."""
    monkeypatch.setattr(sqlite_driver, "GATE_TIMEOUT_SECONDS", 1.0)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'terminated.db'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))
        async with engine.connect() as abandoned:
            await abandoned.execute(text("INSERT INTO t VALUES (1)"))
            await abandoned.invalidate()  # terminates the DBAPI connection
        async with engine.begin() as after:
            await after.execute(text("INSERT INTO t VALUES (2)"))
        async with engine.connect() as reader:
            assert (await reader.execute(text("SELECT n FROM t"))).scalars().all() == [2]
    finally:
        await engine.dispose()
