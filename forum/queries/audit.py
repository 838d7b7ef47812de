"""The moderation log as secretaries read it, and district admins for their whole district."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from forum.models import AuditEntry, Community, User

LOG_LIMIT = 200


# Done by Linli itself (flags, the word filter, timers, the clock), not by a person who has since left.
AUTOMATIC_ACTIONS = frozenset(
    {
        "post.auto_hidden",
        "thread.auto_hidden",
        "letter.auto_hidden",
        "listing.auto_hidden",
        "message.auto_hidden",
        "post.held",
    }
)
AUTOMATIC_DETAILS = (": timer", "time served")


@dataclass(frozen=True, slots=True)
class LogEntry:
    entry: AuditEntry
    actor: User | None
    target: User | None
    community: Community

    @property
    def automatic(self) -> bool:
        return self.entry.actor_id is None and (
            self.entry.action in AUTOMATIC_ACTIONS or self.entry.detail.endswith(AUTOMATIC_DETAILS)
        )


async def audit_log(
    session: AsyncSession, community: Community, *, whole_district: bool = False, limit: int = LOG_LIMIT
) -> list[LogEntry]:
    """The community's newest audit entries (or, `whole_district`, those of every community of its district)
    with who did them, to whom and where, in one statement."""
    actor, target = aliased(User), aliased(User)
    where = (
        col(Community.district_id) == community.district_id
        if whole_district
        else col(AuditEntry.community_id) == community.id
    )
    rows = await session.execute(
        select(AuditEntry, actor, target, Community)
        .join(Community, col(Community.id) == col(AuditEntry.community_id))
        .outerjoin(actor, col(actor.id) == col(AuditEntry.actor_id))
        .outerjoin(target, col(target.id) == col(AuditEntry.target_user_id))
        .where(where)
        .order_by(col(AuditEntry.id).desc())
        .limit(limit)
    )
    return [LogEntry(entry, who, whom, where_) for entry, who, whom, where_ in rows.all()]
