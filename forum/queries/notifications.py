"""A person's notifications: the bell's count and the notifications page."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.models import Community, Membership, Notification, NotificationKind, NotificationMute, User, id_of
from forum.queries.people import Person

PER_PAGE = 50


async def unread_notification_totals(session: AsyncSession, user_ids: Collection[int]) -> dict[int, int]:
    """Each person's number of unread notifications (0 included); one statement."""
    totals = dict.fromkeys(user_ids, 0)
    if totals:
        rows = await session.execute(
            select(col(Notification.user_id), func.count())
            .where(col(Notification.user_id).in_(list(totals)), col(Notification.read_at).is_(None))
            .group_by(col(Notification.user_id))
        )
        totals.update({user_id: int(count) for user_id, count in rows.all()})
    return totals


@dataclass(frozen=True, slots=True)
class NotificationRow:
    notification: Notification
    actor: Person | None  # as shown in the notification's community; None: the account is gone, or nobody
    community: Community


@dataclass(frozen=True, slots=True)
class NotificationPage:
    rows: list[NotificationRow]
    unread: int
    earlier: int | None  # ask again with before=this for older ones


async def notifications_page(
    session: AsyncSession, user: User, *, before: int | None = None, limit: int = PER_PAGE
) -> NotificationPage:
    """The newest notifications first, a gathered one by its latest addition; older ones by keyset after the
    notification `before` (the last one of the previous page)."""
    statement = (
        select(Notification, Community, User, Membership)
        .join(Community, col(Community.id) == col(Notification.community_id))
        .outerjoin(User, col(User.id) == col(Notification.actor_id))
        .outerjoin(
            Membership,
            and_(col(Membership.user_id) == col(User.id), col(Membership.community_id) == col(Community.id)),
        )
        .where(col(Notification.user_id) == user.id)
    )
    if before is not None:
        after = await session.get(Notification, before)
        if after is not None and after.user_id == user.id:
            statement = statement.where(
                or_(
                    col(Notification.updated_at) < after.updated_at,
                    and_(col(Notification.updated_at) == after.updated_at, col(Notification.id) < before),
                )
            )
    newest_first = col(Notification.updated_at).desc(), col(Notification.id).desc()
    found = (await session.execute(statement.order_by(*newest_first).limit(limit + 1))).all()
    rows = [
        NotificationRow(notification, Person.of(actor, membership) if actor else None, community)
        for notification, community, actor, membership in found[:limit]
    ]
    unread = (await unread_notification_totals(session, [id_of(user)]))[id_of(user)]
    earlier = rows[-1].notification.id if len(found) > limit else None
    return NotificationPage(rows, unread, earlier)


async def muted_kinds(session: AsyncSession, user: User) -> set[NotificationKind]:
    rows = await session.execute(select(col(NotificationMute.kind)).where(col(NotificationMute.user_id) == user.id))
    return {NotificationKind(kind) for kind in rows.scalars()}
