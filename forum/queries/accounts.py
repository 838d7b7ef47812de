from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from forum.models import AuthSession, User
from forum.timeutil import utcnow


async def list_sessions(session: AsyncSession, *, user: User) -> list[AuthSession]:
    result = await session.execute(
        select(AuthSession)
        .where(AuthSession.user_id == user.id, AuthSession.expires_at > utcnow())  # type: ignore[arg-type]
        .order_by(AuthSession.last_seen_at.desc())  # type: ignore[attr-defined]
    )
    return list(result.scalars())
