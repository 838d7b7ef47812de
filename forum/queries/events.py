"""The event log, read for clients that resume."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.models import Event, EventRetention

# More missed events than this and the client is better off reloading the page.
REPLAY_LIMIT = 500


async def events_after(
    session: AsyncSession, *, room: str, after: int, upto: int, limit: int
) -> list[dict[str, Any]] | None:
    """Envelopes of the room's events after id `after` up to id `upto`, oldest first; None if the client must
    reload because some of them were pruned or there are more than `limit`."""
    retention = await session.get(EventRetention, 1)
    if retention is not None and after < retention.pruned_through:
        return None
    rows = (
        (
            await session.execute(
                select(Event)
                .where(col(Event.room) == room, col(Event.id) > after, col(Event.id) <= upto)
                .order_by(col(Event.id))
                .limit(limit + 1)
            )
        )
        .scalars()
        .all()
    )
    if len(rows) > limit:
        return None
    return [_envelope(row) for row in rows]


async def events_since(session: AsyncSession, *, after: int, limit: int) -> list[dict[str, Any]]:
    """Envelopes of every room's events after id `after`, oldest first, at most `limit`: what a server process
    relays to its sockets. Ids become visible in increasing order (see `forum.db.Database.commit`), so reading
    on from the last id relayed never skips one."""
    rows = (
        (await session.execute(select(Event).where(col(Event.id) > after).order_by(col(Event.id)).limit(limit)))
        .scalars()
        .all()
    )
    return [_envelope(row) for row in rows]


def _envelope(row: Event) -> dict[str, Any]:
    return {"type": row.type, "id": row.id, "room": row.room, "data": json.loads(row.payload)}
