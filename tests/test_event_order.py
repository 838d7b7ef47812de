"""Event ids become visible in increasing order even under concurrent writers, so a reader that has seen id N
never later finds a smaller one (which it would miss forever)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlmodel import col

from forum.db import Database
from forum.models import Event
from tests.factories import make_community, make_member, make_reply, make_thread, make_user

WRITERS = 12
REPLIES_EACH = 8


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
