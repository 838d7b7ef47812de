"""Event ids become visible in increasing order even under concurrent writers, so a reader that has seen id N
never later finds a smaller one (which it would miss forever)."""

from __future__ import annotations

import asyncio
from typing import Any

from quart import Quart
from sqlalchemy import event, select
from sqlmodel import col

from forum.db import Database, record_event
from forum.events import PostLiked
from forum.models import Event
from tests.factories import make_community, make_member, make_reply, make_thread, make_user

WRITERS = 12
REPLIES_EACH = 8
LIKED = PostLiked(post_id=1, thread_id=1, number=1, like_count=1)  # any registered event will do


async def test_a_polling_reader_misses_no_event_while_many_writers_commit(db: Database) -> None:
    community = await make_community(db)
    authors = [await make_user(db) for _ in range(WRITERS)]
    for author in authors:
        await make_member(db, user=author, community=community)
    # One thread per writer, so the writers do not serialise on a shared thread row.
    threads = [await make_thread(db, author=author, community=community) for author in authors]
    async with db.read_only() as session:
        start = (await session.execute(select(col(Event.id)).order_by(col(Event.id).desc()).limit(1))).scalar_one()

    done = asyncio.Event()
    seen: list[int] = []

    async def read() -> None:
        last = start
        while True:
            finished = done.is_set()
            async with db.read_only() as session:
                ids = list(
                    (
                        await session.execute(select(col(Event.id)).where(col(Event.id) > last).order_by(col(Event.id)))
                    ).scalars()
                )
            for event_id in ids:
                assert event_id is not None
                seen.append(event_id)
                last = event_id
            if finished:
                return
            await asyncio.sleep(0)

    async def write(author_index: int) -> None:
        for n in range(REPLIES_EACH):
            await make_reply(db, author=authors[author_index], thread=threads[author_index], body=f"{author_index}-{n}")

    reader = asyncio.create_task(read())
    await asyncio.gather(*(write(i) for i in range(WRITERS)))
    done.set()
    await reader

    async with db.read_only() as session:
        committed = list((await session.execute(select(col(Event.id)).where(col(Event.id) > start))).scalars())
    assert len(committed) == WRITERS * REPLIES_EACH
    assert seen == sorted(committed), "the reader skipped an event that committed behind a later one"


async def test_a_process_relays_its_own_next_events_from_memory_and_reads_the_log_for_anything_else(
    app: Quart, db: Database
) -> None:
    """Relay's fast path: events committed here that follow on from the last one relayed are emitted without
    reading the log back; a gap (another process's events) makes it read the log, which keeps the order."""
    relay = app.extensions["linli.relay"]
    sio = relay.sio
    emitted: list[int] = []
    reads: list[str] = []
    original = sio.emit

    async def recording_emit(event: str, data: Any = None, **kwargs: Any) -> None:
        if event == "event":
            emitted.append(data["id"])
        await original(event, data, **kwargs)

    def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        reads.append(statement)

    here: Database = app.extensions["linli.db"]
    engine = here.engine.sync_engine
    sio.emit = recording_emit
    try:

        async def commit_here(count: int) -> list[int]:
            async with here.unit_of_work() as session:
                for _ in range(count):
                    record_event(session, LIKED)
            async with here.read_only() as session:
                return list((await session.execute(select(col(Event.id)).order_by(col(Event.id)))).scalars())

        async def settle(expected: list[int]) -> None:
            for _ in range(500):  # up to 10 s: a busy machine
                if emitted == expected and not relay._due.is_set():
                    return
                await asyncio.sleep(0.02)
            raise AssertionError(f"relayed {emitted}, expected {expected}")

        event.listen(engine, "before_cursor_execute", count)
        ids = await commit_here(2)
        await settle(ids)
        event.remove(engine, "before_cursor_execute", count)
        log_reads = [statement for statement in reads if "WHERE event.id >" in statement]
        assert reads and log_reads == []  # sent from memory: the log was not read back

        async with db.unit_of_work() as session:  # "another process": only the log has its event
            record_event(session, LIKED)
        event.listen(engine, "before_cursor_execute", count)
        ids = await commit_here(1)  # after a gap: the log is read, and gives both, in order
        await settle(ids)
        event.remove(engine, "before_cursor_execute", count)
        assert len(ids) == 4 and any("WHERE event.id >" in statement for statement in reads)
    finally:
        sio.emit = original
