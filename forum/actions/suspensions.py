"""Suspending a member: stronger than a mute. A suspended member can neither read nor post in the community
(its content answers 403 with the reason), their open pages lose its rooms at once, and they cannot ask to
join again to get round it. The suspension ends by itself (`lift_due`, on the moderation clock) or when a
secretary lifts it, and they are a verified member again with their role and badge.

A status, not a flag beside it: every statement that asks for "verified members of this community" (mentions,
notifications, the member count, who may be written to) leaves a suspended member out without knowing of
suspensions."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum import subjects
from forum.access import require_moderator
from forum.actions import audit, notifications
from forum.db import queue_event
from forum.errors import Forbidden, field_error
from forum.events import AccessChanged
from forum.i18n import N_
from forum.models import Community, Membership, MembershipStatus, NotificationKind, Role, User
from forum.paths import community_path
from forum.permissions import CommunityStanding
from forum.timeutil import utcnow
from forum.validation import clean_reason, whole_number

SUSPEND_DAYS_MAX = 365  # 0 is "until a secretary lifts it"


def _days(value: object) -> int:
    value = whole_number(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SUSPEND_DAYS_MAX:
        raise field_error("days", N_("From 0 (until lifted) to %(most)d days."), most=SUSPEND_DAYS_MAX)
    return value


async def set_suspended(
    session: AsyncSession,
    *,
    actor: User,
    membership: Membership,
    standing: CommunityStanding,
    suspended: bool = True,
    days: object = None,
    reason: object = "",
) -> None:
    """Suspend a verified member for `days` (0: until lifted) with a reason they see, or lift a suspension.
    Secretaries suspend residents; a fellow secretary only a district admin may; nobody suspends themselves.
    Their sockets leave the community's rooms in every process; notified; audited."""
    require_moderator(standing)
    if membership.role == Role.SECRETARY and not standing.is_district_admin:
        raise Forbidden(N_("Only a district admin can suspend a secretary."))
    if membership.user_id == actor.id:
        raise Forbidden(N_("You cannot suspend yourself."))
    if suspended:
        length = _days(days)
        text = clean_reason(reason)
        until = utcnow() + timedelta(days=length) if length else None
        changed = await session.execute(
            update(Membership)
            .where(col(Membership.id) == membership.id, col(Membership.status) == MembershipStatus.VERIFIED)
            .values(status=MembershipStatus.SUSPENDED, suspended_until=until, suspend_reason=text)
            .returning(col(Membership.id))
        )
        if changed.first() is None:
            raise field_error("member", N_("Only a verified member can be suspended."), status=409)
        membership.status, membership.suspended_until, membership.suspend_reason = (
            MembershipStatus.SUSPENDED,
            until,
            text,
        )
        # They lose the community's content: their open sockets leave its rooms at once, in every process.
        queue_event(session, AccessChanged(user_ids=[membership.user_id]))
        detail = f"{length} d: {text}" if length else f"until lifted: {text}"
    else:
        if not await _reinstate(session, [membership.id]):
            raise field_error("member", N_("This member is not suspended."), status=409)
        membership.status, membership.suspended_until, membership.suspend_reason = MembershipStatus.VERIFIED, None, ""
        detail = ""
    community = await session.get(Community, membership.community_id)
    await notifications.notify(
        session,
        recipients=[membership.user_id],
        kind=NotificationKind.SUSPENDED if suspended else NotificationKind.REINSTATED,
        community_id=membership.community_id,
        subject=subjects.suspended(membership.community_id),
        actor_id=actor.id,
        title=(membership.suspend_reason if suspended else community.name if community else ""),
        url=community_path(community.slug) if community else "/",
        members_only=False,
    )
    await audit.record(
        session,
        actor=actor,
        action="member.suspended" if suspended else "member.unsuspended",
        community_id=membership.community_id,
        target_user_id=membership.user_id,
        detail=detail,
    )


async def _reinstate(session: AsyncSession, membership_ids: list[int | None]) -> list[tuple[int, int, int]]:
    """Verified again, those of `membership_ids` still suspended: (membership, user, community) of each."""
    rows = await session.execute(
        update(Membership)
        .where(col(Membership.id).in_(membership_ids), col(Membership.status) == MembershipStatus.SUSPENDED)
        .values(status=MembershipStatus.VERIFIED, suspended_until=None, suspend_reason="")
        .returning(col(Membership.id), col(Membership.user_id), col(Membership.community_id))
    )
    return [(int(row[0] or 0), int(row[1]), int(row[2])) for row in rows.all()]


async def lift_due(session: AsyncSession, *, now: datetime, most: int = 200) -> int:
    """End the suspensions whose time has run out (the moderation clock); each once, whichever process gets
    there first. The members are told and it is audited, by nobody. Returns how many."""
    due = list(
        (
            await session.execute(
                select(col(Membership.id))
                .where(
                    col(Membership.status) == MembershipStatus.SUSPENDED,
                    col(Membership.suspended_until) <= now,
                )
                .order_by(col(Membership.suspended_until))
                .limit(most)
            )
        ).scalars()
    )
    if not due:
        return 0
    lifted = await _reinstate(session, list(due))
    communities = {
        community.id: community
        for community in (
            await session.execute(select(Community).where(col(Community.id).in_({row[2] for row in lifted})))
        ).scalars()
    }
    for _membership_id, user_id, community_id in lifted:
        community = communities.get(community_id)
        await notifications.notify(
            session,
            recipients=[user_id],
            kind=NotificationKind.REINSTATED,
            community_id=community_id,
            subject=subjects.suspended(community_id),
            actor_id=None,
            title=community.name if community else "",
            url=community_path(community.slug) if community else "/",
            members_only=False,
        )
        await audit.record(
            session,
            actor=None,
            action="member.unsuspended",
            community_id=community_id,
            target_user_id=user_id,
            detail="time served",
        )
    return len(lifted)
