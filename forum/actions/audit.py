from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from forum.models import AuditEntry, User


async def record(
    session: AsyncSession,
    *,
    actor: User | None,
    action: str,
    community_id: int | None = None,
    target_user_id: int | None = None,
    detail: str = "",
) -> AuditEntry:
    entry = AuditEntry(
        actor_id=actor.id if actor else None,
        action=action,
        community_id=community_id,
        target_user_id=target_user_id,
        detail=detail[:500],
    )
    session.add(entry)
    await session.flush()
    return entry
