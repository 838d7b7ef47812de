"""Proving that something did not arrive, without sleeping.

A test that waits a moment and finds nothing proves only that nothing came yet. Instead, after the event that must
not reach a socket, it makes a later event that must, waits for that, and then checks: every process relays the
event log in id order and sends each socket its events in order, so what was going to arrive before the later
event has arrived by then. The later event is best made by a real action through the same server (a reply, a
notice, a message); where the observer follows no room such an action reaches, `mark_personal_room` records one
in the observer's personal room."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select, text
from sqlmodel import col

from forum import rooms, sqlite_driver
from forum.db import Database, is_sqlite, record_event
from forum.events import NotificationsChanged
from forum.models import Event
from forum.queries.notifications import unread_notification_totals


async def mark_personal_room(db: Database, user_id: int) -> int:
    """Record an event for `user:<user_id>` through the event log, as the actions do: the person's bell count as
    it stands, so it tells them nothing untrue. Returns its id: once a socket of theirs has it, every earlier
    event that was going to reach that socket has.

    The server processes relay an event stored by another process (this test) when they next read the log: after
    their own next commit or Redis announcement, and at the latest after EVENT_POLL_SECONDS (2 s by default), so
    wait for it with a deadline above that."""
    room = rooms.USER(user_id)
    async with db.unit_of_work() as session:
        count = (await unread_notification_totals(session, [user_id]))[user_id]
        record_event(session, NotificationsChanged(unread=count).to_user(user_id))
    return await newest_in(db, room)


async def newest_in(db: Database, room: str) -> int:
    """The id of the newest event stored for `room` (the barrier a test just made there)."""
    async with db.read_only() as session:
        newest = (await session.execute(select(func.max(col(Event.id))).where(col(Event.room) == room))).scalar()
    assert newest is not None, f"no event in {room}"
    return int(newest)


async def until_blocked(db: Database) -> None:
    """Until a transaction on `db` waits for another's lock, as observed by the database: on SQLite in the
    driver's first-come, first-served queue of this process's writers (asyncio.Lock keeps its waiters, and no
    public call counts them), on PostgreSQL in pg_stat_activity."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15  # generous: a busy machine may take long to start the waiting transaction
    while True:
        if is_sqlite(db.url):
            gate = sqlite_driver._write_gate(str(db.engine.url.database))
            waiting = len(gate._waiters or ())
        else:
            async with db.read_only() as session:
                waiting = (
                    await session.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity"
                            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                        )
                    )
                ).scalar_one()
        if waiting:
            return
        assert loop.time() < deadline, "no transaction waited for a lock"
        await asyncio.sleep(0.01)
