"""Muting: a secretary mutes a verified member for a while, with a reason they see; they can still read the
community, but not post, reply, write letters, list things or message there (`require_voice`)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum import subjects
from forum.access import require_moderator
from forum.actions import audit, notifications
from forum.db import record_event
from forum.errors import Forbidden, field_error
from forum.events import MemberMuted
from forum.i18n import N_
from forum.models import Community, Membership, MembershipStatus, NotificationKind, Role, User
from forum.paths import community_path
from forum.permissions import CommunityStanding
from forum.timeutil import utcnow
from forum.validation import clean_reason, whole_number

MUTE_HOURS_MAX = 30 * 24  # a month at most; longer is a removal


def require_voice(standing: CommunityStanding, field: str = "body") -> None:
    """Raise (403, on `field`) if a secretary muted this member here: they can read, not post or message."""
    if standing.muted_until is not None:
        reason = standing.membership.mute_reason if standing.membership is not None else ""
        raise field_error(
            field,
            N_("A secretary muted you here for a while: %(reason)s. You can still read."),
            status=403,
            reason=reason,
        )


def _hours(value: object) -> int:
    value = whole_number(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MUTE_HOURS_MAX:
        raise field_error("hours", N_("From 1 to %(most)d hours."), most=MUTE_HOURS_MAX)
    return value


async def set_muted(
    session: AsyncSession,
    *,
    actor: User,
    membership: Membership,
    standing: CommunityStanding,
    hours: object = None,
    reason: object = "",
    muted: bool = True,
) -> None:
    """Mute a verified member for `hours` with a reason they see (they can read, not post or message here), or
    lift it. Secretaries mute residents; a fellow secretary only a district admin may. The member's open
    pages are told at once; audited."""
    require_moderator(standing)
    if membership.status != MembershipStatus.VERIFIED:
        raise field_error("member", N_("Only a verified member can be muted."), status=409)
    if membership.role == Role.SECRETARY and not standing.is_district_admin:
        raise Forbidden(N_("Only a district admin can mute a secretary."))
    if membership.user_id == actor.id:
        raise Forbidden(N_("You cannot mute yourself."))
    until = None
    text = ""
    if muted:
        length = _hours(hours)
        text = clean_reason(reason)
        until = utcnow() + timedelta(hours=length)
    elif membership.muted_until is None:
        raise field_error("member", N_("This member is not muted."), status=409)
    await session.execute(
        update(Membership).where(col(Membership.id) == membership.id).values(muted_until=until, mute_reason=text)
    )
    membership.muted_until, membership.mute_reason = until, text
    record_event(
        session,
        MemberMuted(
            community_id=membership.community_id,
            muted_until=until.isoformat() if until else None,
            reason=text,
        ).to_user(membership.user_id),
    )
    if muted:
        community = await session.get(Community, membership.community_id)
        await notifications.notify(
            session,
            recipients=[membership.user_id],
            kind=NotificationKind.MUTED,
            community_id=membership.community_id,
            subject=subjects.muted(membership.community_id),
            actor_id=actor.id,
            title=text,
            url=community_path(community.slug) if community else "/",
            members_only=False,
        )
    await audit.record(
        session,
        actor=actor,
        action="member.muted" if muted else "member.unmuted",
        community_id=membership.community_id,
        target_user_id=membership.user_id,
        detail=f"{hours} h: {text}" if muted else "",
    )
