"""When the database is away: tell it from a bug by its cause, and say so once per outage.

A database can be away in many ways, and each surfaces as a different exception: a refused or cut TCP connection
(a raw `ConnectionRefusedError` or `OSError` from the driver), PostgreSQL starting up or shutting down, a database
not accepting connections, too many connections (a SQLSTATE from the server), a connection dropped in the middle of
a statement, a pool with no connection free in time, SQLite's file locked or unreadable. A list of exception
classes misses the next one, so `classify` looks at what caused the error instead (following `__cause__` and
SQLAlchemy's `.orig`, never `__context__`: a bug in an `except` block is still a bug):

- away: anything raised while a new connection was being opened (`watch` marks it, raw socket errors and connect
  timeouts included): whatever the reason, the database could not be reached and the request did nothing; a
  connection SQLAlchemy found dead (`connection_invalidated`); the server closing the connection (SQLSTATE class
  08, 57P01-57P03: shutdown, crash, starting up);
- busy: the database is there but cannot do this now: no pooled connection free in time, SQLSTATE class 40
  (deadlock, serialization), 53 (out of resources), 58 (system error), 55P03 (lock not granted), 57014
  (statement cancelled), SQLite busy, locked, I/O error, full or cannot open.

Both answer 503 with Retry-After. `Outage` (one per engine) writes one log line when the database goes away and
one when it is back (a new connection opened), with how long it was away, instead of a traceback per request;
busy answers are logged at most every BUSY_LOG_SECONDS.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5  # what a 503 asks a client to wait

_CONNECTING = "_linli_while_connecting"
AWAY, BUSY = "away", "busy"
# SQLSTATEs on a live connection. Away: the server is closing it (connection exceptions, shutdown, crash, cannot
# connect now); the connection is gone with it, so the next one that opens says the database is back. Busy: the
# database is there but cannot do this now (out of resources, a statement cancelled, a deadlock or serialization
# failure, a lock not granted in time); the connection stays, and so does no outage.
_AWAY_STATES = ("08", "57P01", "57P02", "57P03")
_BUSY_STATES = ("40", "53", "55P03", "57014", "58")
# SQLite primary result codes: BUSY, LOCKED, IOERR, FULL, CANTOPEN, PROTOCOL (busy: the file stays open).
_SQLITE_BUSY = {5, 6, 10, 13, 14, 15}
_SQLITE_BUSY_MESSAGES = ("database is locked", "unable to open database file", "disk i/o error")


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and what it was raised from (`__cause__`, SQLAlchemy's `.orig`), once each. Not `__context__`:
    an error raised while another was being handled (a bug in an `except` block) is not caused by it."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (getattr(current, "orig", None), current.__cause__):
            if isinstance(linked, BaseException):
                pending.append(linked)


def _sqlstate(error: BaseException) -> str | None:
    for name in ("sqlstate", "pgcode"):
        value = getattr(error, name, None)
        if isinstance(value, str) and len(value) == 5:
            return value
    return None


def classify(error: BaseException) -> tuple[str, str] | None:
    """(AWAY or BUSY, a short description for the log) if `error` means the database cannot serve right now;
    None for anything else (a bug, a constraint, bad input)."""
    for cause in _chain(error):
        if getattr(cause, _CONNECTING, False):
            return AWAY, f"could not connect: {_describe(error)}"
        if isinstance(cause, sa_exc.DBAPIError) and cause.connection_invalidated:
            return AWAY, f"connection lost: {_describe(error)}"
        if isinstance(cause, sa_exc.TimeoutError):
            return BUSY, "no database connection free in time (pool timeout)"
        state = _sqlstate(cause)
        if state is not None and state.startswith(_AWAY_STATES):
            return AWAY, f"SQLSTATE {state}: {_describe(error)}"
        if state is not None and state.startswith(_BUSY_STATES):
            return BUSY, f"SQLSTATE {state}: {_describe(error)}"
        if isinstance(cause, sqlite3.OperationalError | sqlite3.DatabaseError) and not isinstance(
            cause, sqlite3.IntegrityError
        ):
            code = getattr(cause, "sqlite_errorcode", None)
            if (isinstance(code, int) and code & 0xFF in _SQLITE_BUSY) or str(cause).lower().startswith(
                _SQLITE_BUSY_MESSAGES
            ):
                return BUSY, f"SQLite: {cause}"
    return None


def unavailable(error: BaseException) -> str | None:
    """Why the database cannot serve right now (away or busy), if that is what `error` means; else None."""
    found = classify(error)
    return found[1] if found else None


def _describe(error: BaseException) -> str:
    """The innermost cause, in one line."""
    innermost = error
    for cause in _chain(error):
        innermost = cause
    text = str(innermost).strip().splitlines()
    return f"{type(innermost).__name__}: {text[0] if text else ''}".strip()


class Outage:
    """One engine's view of whether its database is away: one log line when an outage begins (the first failure),
    one when it ends (the first new connection that opens afterwards), with how long it lasted. A database that is
    there but busy is no outage: it is logged at most every BUSY_LOG_SECONDS."""

    BUSY_LOG_SECONDS = 10.0

    def __init__(self, name: str = "database") -> None:
        self.name = name
        self.since: float | None = None  # monotonic time of the first failure of the current outage
        self.failures = 0
        self._busy = 0  # busy answers not logged yet
        self._busy_logged = -self.BUSY_LOG_SECONDS

    @property
    def ongoing(self) -> bool:
        return self.since is not None

    def failed(self, cause: str) -> None:
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            log.error("%s unavailable (%s); answering 503 until it is back", self.name, cause)

    def recovered(self) -> None:
        if self.since is not None:
            lasted = time.monotonic() - self.since
            log.warning(
                "%s available again after %.1f s (%d requests or rounds failed meanwhile)",
                self.name,
                lasted,
                self.failures,
            )
            self.since = None
            self.failures = 0

    def busy(self, cause: str) -> None:
        """The database is there but could not do this now: logged at most once per BUSY_LOG_SECONDS, with how
        many times it happened since the last line."""
        self._busy += 1
        now = time.monotonic()
        if now >= self._busy_logged + self.BUSY_LOG_SECONDS:
            log.warning("%s busy (%s); answered 503 %d times since the last such line", self.name, cause, self._busy)
            self._busy_logged, self._busy = now, 0

    def note(self, error: BaseException) -> bool:
        """Log `error` as the database away or busy if it means that (True); False for anything else."""
        found = classify(error)
        if found is None:
            return False
        kind, cause = found
        if kind == AWAY:
            self.failed(cause)
        else:
            self.busy(cause)
        return True


def watch(engine: AsyncEngine, outage: Outage) -> None:
    """Mark every error raised while a new connection is opened, and end the outage when one opens again."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
        # The dialect's own connect, so that every failure is seen here: SQLAlchemy's error hooks see only the
        # driver's DB-API errors, not a raw ConnectionRefusedError or a connect timeout.
        try:
            return dialect.connect(*cargs, **cparams)
        except BaseException as error:
            _set_flag(error)
            raise

    @event.listens_for(engine.sync_engine, "connect")
    def _connected(_dbapi_connection: Any, _record: Any) -> None:
        outage.recovered()


def _set_flag(error: BaseException) -> None:
    # An exception type with __slots__ cannot be marked: its cause is still classified.
    with contextlib.suppress(AttributeError, TypeError):
        setattr(error, _CONNECTING, True)
