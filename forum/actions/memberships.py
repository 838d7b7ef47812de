"""Joining a community, and the secretary's decisions on members."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from forum import subjects
from forum.actions import audit, notifications
from forum.db import queue_event
from forum.errors import DomainError, Forbidden
from forum.events import AccessChanged
from forum.i18n import N_
from forum.models import Community, Membership, MembershipStatus, NotificationKind, Role, User
from forum.paths import community_path
from forum.permissions import CommunityStanding, can_appoint_secretaries, can_decide_on, can_request_to_join
from forum.timeutil import utcnow
from forum.validation import FieldErrors, clean_text

ADDRESS_PART_MAX = 20  # building, unit and room, each


class AlreadyMember(DomainError):
    status = 409
    code = "already_member"
    default_message = N_("You are already a verified member of this community.")


class StillSuspended(DomainError):
    status = 409
    code = "suspended"
    default_message = N_("A secretary suspended you from this community; asking to join again does not end it.")


async def request_to_join(
    session: AsyncSession,
    *,
    user: User,
    community: Community,
    standing: CommunityStanding,
    building: object,
    unit: object,
    room: object,
) -> Membership:
    """Ask to join; the membership stays pending until a secretary verifies it. Asking again while pending
    corrects the address (a double tap does no harm); after a refusal it renews the request."""
    if standing.membership is not None and standing.membership.status == MembershipStatus.SUSPENDED:
        raise StillSuspended()
    if not can_request_to_join(standing):
        raise AlreadyMember()
    errors = FieldErrors()
    clean_building = errors.check(clean_text, building, "building", max_length=ADDRESS_PART_MAX)
    clean_unit = errors.check(clean_text, unit, "unit", max_length=ADDRESS_PART_MAX, required=False)
    clean_room = errors.check(clean_text, room, "room", max_length=ADDRESS_PART_MAX)
    errors.raise_if_any()
    assert user.id is not None and community.id is not None  # noqa: S101 -- flushed rows

    membership = standing.membership
    if membership is None:
        membership = Membership(user_id=user.id, community_id=community.id)
        session.add(membership)
    membership.status = MembershipStatus.PENDING
    membership.role = Role.RESIDENT
    membership.is_party_member = False  # a badge is granted to a verified member, never carried over
    membership.building = _bare(clean_building, ("号楼", "幢", "栋", "楼", "组"))
    membership.unit = _bare(clean_unit, ("单元",))
    membership.room = _bare(clean_room, ("室", "号"))
    membership.requested_at = utcnow()
    membership.decided_at = None
    membership.decided_by_id = None
    await session.flush()
    return membership


def _bare(value: str | None, suffixes: tuple[str, ...]) -> str:
    """'3号楼' and '3' are the same building: store the number, and let the page say '号楼' (or 'Building')."""
    text = value or ""
    for suffix in suffixes:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)].strip()
    return text


def _require_decision_right(standing: CommunityStanding, target: Membership, actor: User) -> None:
    assert actor.id is not None  # noqa: S101 -- a flushed user
    if not can_decide_on(standing, target, actor.id):
        raise Forbidden()


async def _decide(
    session: AsyncSession,
    *,
    actor: User,
    membership: Membership,
    standing: CommunityStanding,
    status: str,
    action: str | None = None,
) -> Membership:
    _require_decision_right(standing, membership, actor)
    if membership.status == status:
        return membership  # idempotent: a double click or a second secretary does no harm
    if membership.status == MembershipStatus.VERIFIED:
        # They lose the members' content: their open sockets leave its rooms at once, in every process.
        queue_event(session, AccessChanged(user_ids=[membership.user_id]))
    membership.status = status
    membership.suspended_until, membership.suspend_reason = None, ""  # a decision ends a suspension
    membership.decided_at = utcnow()
    membership.decided_by_id = actor.id
    if status != MembershipStatus.VERIFIED:
        membership.role = Role.RESIDENT
        membership.is_party_member = False
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action=action or f"membership.{status}",
        community_id=membership.community_id,
        target_user_id=membership.user_id,
    )
    return membership


async def verify_membership(
    session: AsyncSession, *, actor: User, membership: Membership, standing: CommunityStanding
) -> Membership:
    was_verified = membership.status == MembershipStatus.VERIFIED
    decided = await _decide(
        session, actor=actor, membership=membership, standing=standing, status=MembershipStatus.VERIFIED
    )
    if not was_verified:
        community = await session.get(Community, membership.community_id)
        assert community is not None  # noqa: S101 -- enforced by the foreign key
        await notifications.notify(
            session,
            recipients=[membership.user_id],
            kind=NotificationKind.VERIFIED,
            community_id=membership.community_id,
            subject=subjects.membership(membership.community_id),
            actor_id=actor.id,
            title=community.name,
            url=community_path(community.slug),
        )
    return decided


async def reject_membership(
    session: AsyncSession, *, actor: User, membership: Membership, standing: CommunityStanding
) -> Membership:
    return await _decide(
        session, actor=actor, membership=membership, standing=standing, status=MembershipStatus.REJECTED
    )


async def remove_member(
    session: AsyncSession, *, actor: User, membership: Membership, standing: CommunityStanding
) -> Membership:
    """Take a verified member out of the community (moved away, or not a resident after all). They keep their
    account and posts, lose access to members-only content at once, and may ask to join again; a secretary can
    also verify them again from the declined list. A suspended member can be removed too."""
    if membership.status not in {MembershipStatus.VERIFIED, MembershipStatus.SUSPENDED}:
        raise NotVerified()
    return await _decide(
        session,
        actor=actor,
        membership=membership,
        standing=standing,
        status=MembershipStatus.REMOVED,
    )


class NotVerified(DomainError):
    status = 409
    code = "not_verified"
    default_message = N_("Only verified members can have this.")


async def set_party_member(
    session: AsyncSession, *, actor: User, membership: Membership, standing: CommunityStanding, value: bool
) -> Membership:
    """Grant or withdraw the party-member badge; only secretaries and district admins may."""
    _require_decision_right(standing, membership, actor)
    if value and membership.status != MembershipStatus.VERIFIED:
        raise NotVerified()
    if membership.is_party_member != value:
        membership.is_party_member = value
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action="badge.party.grant" if value else "badge.party.revoke",
            community_id=membership.community_id,
            target_user_id=membership.user_id,
        )
    return membership


async def set_role(
    session: AsyncSession, *, actor: User, membership: Membership, standing: CommunityStanding, role: Role
) -> Membership:
    """Appoint or stand down a secretary; only district admins may."""
    if not can_appoint_secretaries(standing):
        raise Forbidden()
    if role == Role.SECRETARY and membership.status != MembershipStatus.VERIFIED:
        raise NotVerified()
    if membership.role != role:
        if membership.role == Role.SECRETARY:  # stood down: out of the review queue and hidden threads at once
            queue_event(session, AccessChanged(user_ids=[membership.user_id]))
        membership.role = role
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action=f"role.{role}",
            community_id=membership.community_id,
            target_user_id=membership.user_id,
        )
    return membership


async def add_verified_member(
    session: AsyncSession,
    *,
    user: User,
    community: Community,
    role: Role = Role.RESIDENT,
    is_party_member: bool = False,
    building: str = "",
    unit: str = "",
    room: str = "",
) -> Membership:
    """Seeding and administration: a membership that starts verified."""
    assert user.id is not None and community.id is not None  # noqa: S101 -- flushed rows
    now = utcnow()
    membership = Membership(
        user_id=user.id,
        community_id=community.id,
        status=MembershipStatus.VERIFIED,
        role=role,
        is_party_member=is_party_member,
        building=building,
        unit=unit,
        room=room,
        requested_at=now,
        decided_at=now,
    )
    session.add(membership)
    await session.flush()
    return membership
