"""Retention of the event log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.models import Event, EventRetention


async def prune_events(session: AsyncSession, *, before: datetime) -> int:
    """Delete events created before `before`; clients that last saw one of them are told to reload.
    Returns how many were deleted."""
    newest_old: int | None = (
        await session.execute(select(func.max(col(Event.id))).where(col(Event.created_at) < before))
    ).scalar_one()
    if newest_old is None:
        return 0
    deleted = await session.execute(delete(Event).where(col(Event.id) <= newest_old).returning(col(Event.id)))
    count = len(deleted.scalars().all())
    retention = await session.get(EventRetention, 1)
    if retention is None:
        session.add(EventRetention(id=1, pruned_through=newest_old))
    else:
        retention.pruned_through = max(retention.pruned_through, newest_old)
    await session.flush()
    return count
