"""SQLAlchemy's aiosqlite adapter, with each statement run in one trip to the connection's thread.

aiosqlite runs every call on a thread of its own and hands the result back to the event loop. SQLAlchemy's
adapter makes four such trips per statement (open a cursor, execute, fetch all rows, close the cursor), each a
queue put, a thread wake-up and a wake-up of the loop; on a page of three short statements the trips cost more
CPU than SQLite takes to answer. Here a statement's execute, fetch and close run as one function on that thread.

Everything else (transactions, isolation levels, closing, errors) is SQLAlchemy's own adapter; `create_engine`
in `forum.db` passes `DBAPI` as the engine's `module`, which is the documented way to give a dialect another
DBAPI. It reaches into private names of aiosqlite, as SQLAlchemy's adapter itself does:
`Connection._execute` (queue a function on the connection's thread) and `Connection._conn` /
`Connection._connection` (the sqlite3 connection that thread owns; the latter is None once closed).
tests/test_sqlite_driver.py covers what SQLAlchemy asks of a cursor.

Short reads skip the trip altogether. A SELECT on a connection with no transaction open runs on the event
loop's own thread: in WAL mode a reader never waits for the writer, and an indexed lookup takes SQLite tens of
microseconds, while the trip costs two thread wake-ups and, under load, a wait for the GIL that the loop holds
(docs/performance.md, "SQLite reads on the loop"). A read that may take long (full-text search, counting a
community's threads) runs inside `long_reads()`, which sends it to the connection's thread so the loop keeps
serving meanwhile. Writes, and every statement of a transaction that has written, always go to the
connection's thread: only they can wait for SQLite's write lock (busy_timeout). So does every statement of a
connection whose database is not in WAL mode, where a reader may wait for the writer (`forum.db` checks).

Writers take turns. SQLite has one write lock, and a connection that finds it taken polls for it, sleeping a
little longer each time (1 ms up to 100 ms, for busy_timeout in all): a writer that has just committed leaves
the lock idle until some poller wakes, and a poller can lose to newer writers again and again until its
timeout ends in "database is locked". So within a process a transaction's first write waits for a first-come,
first-served `asyncio.Lock` per database file (`_write_gate`), held until its commit or rollback: the next
writer starts the moment the last one ends. Writers of other processes still meet at SQLite's lock.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sqlite3
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import immutabledict
from sqlalchemy.util.concurrency import await_

_Outcome = tuple[Any, list[Any], int, int | None, bool]

_LONG_READS: ContextVar[bool] = ContextVar("linli_sqlite_long_reads", default=False)
# How long a write waits for its turn in this process, as SQLite's busy_timeout (forum.db) waits for others.
GATE_TIMEOUT_SECONDS = 5.0
# The statements before which sqlite3 opens a transaction (its "DML" test: the first keyword).
_OPENS_TRANSACTION = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})


# One first-come, first-served lock per event loop and database file: see the module's docstring.
_WRITE_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _write_gate(database: str) -> asyncio.Lock:
    return _WRITE_GATES.setdefault(asyncio.get_running_loop(), {}).setdefault(database, asyncio.Lock())


async def _take_turn(gate: asyncio.Lock) -> None:
    try:
        await asyncio.wait_for(gate.acquire(), GATE_TIMEOUT_SECONDS)
    except TimeoutError:
        raise sqlite3.OperationalError("database is locked") from None


@contextmanager
def long_reads() -> Iterator[None]:
    """Run this block's SELECTs on the connection's thread, not the event loop's: for reads that may take long,
    so that other requests and Socket.IO deliveries go on meanwhile. No effect on other databases."""
    token = _LONG_READS.set(True)
    try:
        yield
    finally:
        _LONG_READS.reset(token)


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid, connection.in_transaction
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose results are all read on the connection's thread in the execute trip."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:  # no trip to open a cursor
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]  # there is no driver cursor between statements
        self._soft_closed_memoized = immutabledict()
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int | None:  # type: ignore[override]  # sqlite3 reports None before any insert
        return self._lastrowid

    async def _async_soft_close(self) -> None:
        """Nothing to close: the driver cursor was closed on the connection's thread."""

    def close(self) -> None:
        self._rows.clear()

    def _keep(self, outcome: _Outcome) -> None:
        self._description, rows, self._rowcount, self._lastrowid, in_transaction = outcome
        self._rows = collections.deque(rows)
        self._adapt_connection._in_transaction = in_transaction  # type: ignore[attr-defined]  # a OneTripConnection

    async def _trip(self, operation: str, parameters: Any, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._adapt_connection._execute_mutex:
            self._keep(await connection._execute(_run, connection._conn, operation, parameters, many))

    def _reads_here(self, operation: str) -> bool:
        """Whether this statement runs on the calling (event loop's) thread: see the module's docstring."""
        adapted = self._adapt_connection
        return (
            adapted.reads_on_loop  # type: ignore[attr-defined]  # a OneTripConnection
            and not adapted._in_transaction  # type: ignore[attr-defined]
            and operation.lstrip()[:6].upper() == "SELECT"
            and not _LONG_READS.get()
            and not adapted._execute_mutex.locked()
        )

    async def _read_here(self, operation: str, parameters: Any) -> None:
        """A coroutine that never suspends: SQLAlchemy's async engine insists that an execute awaits."""
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        self._keep(_run(connection._conn, operation, parameters, False))

    def _failed(self, error: Exception) -> None:
        # sqlite3 opens a transaction before a write, and a write that then fails (a constraint) leaves it open,
        # holding the write lock: the coming rollback must not be skipped. The statement has finished, so the
        # connection's thread is not using the connection now. A closed connection has no sqlite3 connection
        # left: then the error is a disconnect, which _handle_exception reports as such.
        raw: sqlite3.Connection | None = self._connection._connection
        if raw is not None:
            with contextlib.suppress(sqlite3.Error):
                self._adapt_connection._in_transaction = raw.in_transaction  # type: ignore[attr-defined]
        self._adapt_connection._handle_exception(error)

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        adapted: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        try:
            if self._reads_here(operation):
                await_(self._read_here(operation, parameters))
            else:
                adapted.wait_turn(operation)
                await_(self._trip(operation, parameters, False))
        except Exception as error:
            self._failed(error)
        finally:
            adapted.end_turn_unless_writing()

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        adapted: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        try:
            adapted.wait_turn(operation)
            await_(self._trip(operation, seq_of_parameters, True))
        except Exception as error:
            self._failed(error)
        finally:
            adapted.end_turn_unless_writing()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """Also skips the trip for a commit or rollback with no transaction open: sqlite3 opens one only before a
    write (SELECTs run outside one), so a page that only read ends without a trip to the connection's thread.
    Every statement runs through OneTripCursor, which notes whether a transaction is open after it."""

    __slots__ = ("_gate", "_gate_held", "_in_transaction", "_loop", "reads_on_loop")
    _cursor_cls = OneTripCursor  # type: ignore[assignment]  # a subclass of the declared one; mypy disagrees

    def __init__(self, dbapi: Any, connection: Any, database: str) -> None:
        super().__init__(dbapi, connection)
        self._in_transaction = False
        # Only in WAL mode does a reader never wait for the writer: `forum.db` turns this off for a connection
        # whose database did not take WAL (an in-memory one, a file system without shared memory).
        self.reads_on_loop = True
        # An in-memory database is this connection's own: nobody to take turns with.
        self._gate = None if database in ("", ":memory:") else _write_gate(database)
        self._gate_held = False
        self._loop = asyncio.get_running_loop()  # the gate's

    def wait_turn(self, operation: str) -> None:
        """Before a statement that opens a transaction (sqlite3 opens one before an INSERT, UPDATE, DELETE or
        REPLACE outside one): this process's other writers first (see the module's docstring). Anything else
        outside a transaction (a PRAGMA as a connection opens, DDL) runs in autocommit as before."""
        if self._gate is None or self._gate_held or self._in_transaction:
            return
        if operation.lstrip()[:7].upper().rstrip() not in _OPENS_TRANSACTION:
            return
        await_(_take_turn(self._gate))
        self._gate_held = True

    def end_turn_unless_writing(self) -> None:
        """After a statement: the turn ends unless a transaction is now open (it ends at commit or rollback)."""
        if self._gate_held and not self._in_transaction:
            self._end_turn()

    def _end_turn(self) -> None:
        if not self._gate_held or self._gate is None:
            return
        self._gate_held = False
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:  # no loop in this thread: a connection collected as garbage
            on_loop = False
        if on_loop:
            self._gate.release()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._gate.release)

    def cursor(self, server_side: bool = False) -> Any:
        if server_side:  # SQLAlchemy's own streaming cursor, which does not report: assume a transaction
            self._in_transaction = True
        return super().cursor(server_side)

    def rollback(self) -> None:
        try:
            if self._in_transaction:
                super().rollback()
                self._in_transaction = False
        finally:
            self._end_turn()

    def commit(self) -> None:
        if self._in_transaction:
            super().commit()  # a failed commit leaves the transaction open: the rollback that follows ends the turn
            self._in_transaction = False
        self._end_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._end_turn()

    def terminate(self) -> None:
        """SQLAlchemy's way out for a connection it no longer trusts (a statement cancelled halfway, a
        disconnect, garbage collection): the turn ends with it, or every other writer would wait it out."""
        try:
            super().terminate()
        finally:
            self._end_turn()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        # Short reads use the sqlite3 connection from the loop's thread, writes from aiosqlite's. SQLAlchemy runs
        # one statement, commit or rollback at a time per connection, so the two do not overlap in normal use;
        # were a connection shared against that rule, SQLite, built serialized, still guards its own state.
        kw.setdefault("check_same_thread", False)
        adapted = super().connect(*arg, **kw)
        database = str(arg[0] if arg else kw.get("database", ""))
        return OneTripConnection(self, adapted._connection, database)


DBAPI = OneTripDBAPI(aiosqlite, sqlite3)
