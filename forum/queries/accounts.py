from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.models import AuthSession, User
from forum.timeutil import utcnow


async def list_sessions(session: AsyncSession, *, user: User) -> list[AuthSession]:
    result = await session.execute(
        select(AuthSession)
        .where(col(AuthSession.user_id) == user.id, col(AuthSession.expires_at) > utcnow())
        .order_by(col(AuthSession.last_seen_at).desc())
    )
    return list(result.scalars())


async def live_session_ids(session: AsyncSession, session_ids: list[int]) -> set[int]:
    """Which of these login sessions still exist and have not expired."""
    if not session_ids:
        return set()
    result = await session.execute(
        select(col(AuthSession.id)).where(col(AuthSession.id).in_(session_ids), col(AuthSession.expires_at) > utcnow())
    )
    return {session_id for session_id in result.scalars() if session_id is not None}
