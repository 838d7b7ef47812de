"""The moderation log as secretaries read it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from forum.models import AuditEntry, Community, User

LOG_LIMIT = 200


@dataclass(frozen=True, slots=True)
class LogEntry:
    entry: AuditEntry
    actor: User | None
    target: User | None


async def audit_log(session: AsyncSession, community: Community, *, limit: int = LOG_LIMIT) -> list[LogEntry]:
    """The community's newest audit entries with who did them and to whom, in one statement."""
    actor, target = aliased(User), aliased(User)
    rows = await session.execute(
        select(AuditEntry, actor, target)
        .outerjoin(actor, col(actor.id) == col(AuditEntry.actor_id))
        .outerjoin(target, col(target.id) == col(AuditEntry.target_user_id))
        .where(col(AuditEntry.community_id) == community.id)
        .order_by(col(AuditEntry.id).desc())
        .limit(limit)
    )
    return [LogEntry(entry, who, whom) for entry, who, whom in rows.all()]
