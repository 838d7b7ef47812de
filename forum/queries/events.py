"""The event log, read for clients that resume."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.models import Event, EventRetention, Letter, Message, Post

# More missed events than this and the client is better off reloading the page.
REPLAY_LIMIT = 500


async def events_after(session: AsyncSession, *, room: str, after: int, limit: int) -> list[dict[str, Any]] | None:
    """Envelopes of the room's events after id `after`, oldest first; None if the client must reload because
    some of them were pruned or there are more than `limit`."""
    retention = await session.get(EventRetention, 1)
    if retention is not None and after < retention.pruned_through:
        return None
    rows = (
        (
            await session.execute(
                select(Event)
                .where(col(Event.room) == room, col(Event.id) > after)
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


_CARRIES_TEXT = frozenset({"post.created", "post.edited", "post.shown"})


async def redact_replay(session: AsyncSession, envelopes: list[dict[str, Any]], *, viewer_id: int) -> None:
    """Blank, in place, the text and pictures that replayed thread events carry for replies hidden or deleted
    since: a client may ask to replay from any point in the log, and must not read there what the page no
    longer shows it. The author still gets their own hidden reply (as the page shows it to them)."""
    post_ids = {envelope["data"].get("post_id") for envelope in envelopes if envelope["type"] in _CARRIES_TEXT} - {None}
    if not post_ids:
        return
    rows = await session.execute(
        select(col(Post.id), col(Post.author_id), col(Post.hidden_at), col(Post.deleted_at)).where(
            col(Post.id).in_(post_ids)
        )
    )
    withheld = {
        post_id
        for post_id, author_id, hidden_at, deleted_at in rows.all()
        if deleted_at is not None or (hidden_at is not None and author_id != viewer_id)
    }
    for envelope in envelopes:
        data = envelope["data"]
        if envelope["type"] in _CARRIES_TEXT and data.get("post_id") in withheld:
            data["body_html"] = ""
            if "images" in data:
                data["images"] = []


async def withhold_hidden_letters(session: AsyncSession, envelopes: list[dict[str, Any]], *, viewer_id: int) -> None:
    """Take out, in place, replayed `letter.created` events of letters hidden since (all but their writer's)."""
    letter_ids = {envelope["data"].get("letter_id") for envelope in envelopes if envelope["type"] == "letter.created"}
    if not letter_ids - {None}:
        return
    rows = await session.execute(
        select(col(Letter.id)).where(
            col(Letter.id).in_(letter_ids - {None}),
            col(Letter.hidden_at).is_not(None),
            col(Letter.author_id).is_distinct_from(viewer_id),
        )
    )
    withheld = set(rows.scalars())
    if withheld:
        envelopes[:] = [
            envelope
            for envelope in envelopes
            if not (envelope["type"] == "letter.created" and envelope["data"].get("letter_id") in withheld)
        ]


async def redact_hidden_messages(session: AsyncSession, envelopes: list[dict[str, Any]], *, viewer_id: int) -> None:
    """Blank, in place, the text and pictures of replayed `message.created` events whose message was hidden
    since, for everyone but its sender (as the conversation's page shows it)."""
    message_ids = {e["data"].get("message_id") for e in envelopes if e["type"] == "message.created"} - {None}
    if not message_ids:
        return
    rows = await session.execute(
        select(col(Message.id)).where(
            col(Message.id).in_(message_ids),
            col(Message.hidden_at).is_not(None),
            col(Message.sender_id).is_distinct_from(viewer_id),
        )
    )
    withheld = set(rows.scalars())
    for envelope in envelopes:
        if envelope["type"] == "message.created" and envelope["data"].get("message_id") in withheld:
            envelope["data"]["body_html"] = ""
            envelope["data"]["images"] = []
