"""Read paths for community pages. Each returns a page's data in a constant number of statements."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from sqlalchemy import ScalarSelect, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.models import (
    Community,
    District,
    DistrictAdmin,
    Membership,
    MembershipStatus,
    Post,
    Role,
    Thread,
    User,
    id_of,
)
from forum.permissions import CommunityStanding, can_moderate
from forum.queries.flags import open_flag_count
from forum.queries.people import Person


@dataclass(frozen=True)
class MyCommunity:
    community: Community
    district: District
    membership: Membership | None
    is_district_admin: bool
    pending_count: int = 0  # requests waiting, counted only where the user moderates


async def my_communities(session: AsyncSession, user: User) -> list[MyCommunity]:
    """Communities the user belongs to or asked to join, and those of districts they administer."""
    member_rows = (
        await session.execute(
            select(Community, District, Membership)
            .join(District, col(District.id) == col(Community.district_id))
            .join(Membership, col(Membership.community_id) == col(Community.id))
            .where(col(Membership.user_id) == user.id)
            .order_by(col(Community.name))
        )
    ).all()
    admin_rows = (
        await session.execute(
            select(Community, District)
            .join(District, col(District.id) == col(Community.district_id))
            .join(DistrictAdmin, col(DistrictAdmin.district_id) == col(District.id))
            .where(col(DistrictAdmin.user_id) == user.id)
            .order_by(col(Community.name))
        )
    ).all()
    admin_ids = {community.id for community, _ in admin_rows}
    result = [
        MyCommunity(community, district, membership, community.id in admin_ids)
        for community, district, membership in member_rows
    ]
    seen = {item.community.id for item in result}
    result += [
        MyCommunity(community, district, None, True) for community, district in admin_rows if community.id not in seen
    ]
    moderated = [
        item.community.id for item in result if can_moderate(CommunityStanding(item.membership, item.is_district_admin))
    ]
    if not moderated:
        return result
    waiting = dict(
        (
            await session.execute(
                select(col(Membership.community_id), func.count())
                .where(col(Membership.community_id).in_(moderated), col(Membership.status) == MembershipStatus.PENDING)
                .group_by(col(Membership.community_id))
            )
        ).all()
    )
    return [replace(item, pending_count=int(waiting.get(id_of(item.community), 0))) for item in result]


async def followed_community_ids(session: AsyncSession, user: User) -> list[int]:
    """Communities whose members-wide news (notices) reach the user live: those they are a verified member of."""
    return list(
        (
            await session.execute(
                select(col(Membership.community_id)).where(
                    col(Membership.user_id) == user.id, col(Membership.status) == MembershipStatus.VERIFIED
                )
            )
        ).scalars()
    )


@dataclass(frozen=True)
class CommunityOverview:
    district: District
    member_count: int
    pending_count: int
    waiting_review: int  # items with open flags (the review queue), for the secretaries' link to it
    secretaries: list[Person]


async def community_overview(session: AsyncSession, community: Community) -> CommunityOverview:
    def counted(status: str) -> ScalarSelect[int]:
        return (
            select(func.count())
            .where(col(Membership.community_id) == community.id, col(Membership.status) == status)
            .scalar_subquery()
        )

    district, verified, pending, waiting = (
        await session.execute(
            select(
                District,
                counted(MembershipStatus.VERIFIED),
                counted(MembershipStatus.PENDING),
                open_flag_count(id_of(community)),
            ).where(col(District.id) == community.district_id)
        )
    ).one()
    secretaries = (
        await session.execute(
            select(User, Membership)
            .join(Membership, col(Membership.user_id) == col(User.id))
            .where(
                col(Membership.community_id) == community.id,
                col(Membership.role) == Role.SECRETARY,
                col(Membership.status) == MembershipStatus.VERIFIED,
            )
            .order_by(col(User.display_name))
        )
    ).all()
    return CommunityOverview(
        district=district,
        member_count=int(verified),
        pending_count=int(pending),
        waiting_review=int(waiting),
        secretaries=[Person.of(user, membership) for user, membership in secretaries],
    )


@dataclass(frozen=True)
class MemberRow:
    person: Person
    membership: Membership


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """'2' before '10', and '3A' after '3': how people number buildings and rooms."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part)


async def members_by_status(session: AsyncSession, community: Community) -> dict[str, list[MemberRow]]:
    """Everyone who belongs to or asked to join the community, in one statement, by status: pending requests
    oldest first, so nobody waits longest; everyone else by address (building, unit, room), which is how a
    secretary knows their neighbourhood."""
    rows = (
        await session.execute(
            select(User, Membership)
            .join(Membership, col(Membership.user_id) == col(User.id))
            .where(col(Membership.community_id) == community.id)
            .order_by(col(Membership.requested_at))
        )
    ).all()
    grouped: dict[str, list[MemberRow]] = {status: [] for status in MembershipStatus}
    for user, membership in rows:
        grouped[membership.status].append(MemberRow(Person.of(user, membership), membership))
    for status, group in grouped.items():
        if status != MembershipStatus.PENDING:
            group.sort(
                key=lambda row: (
                    _natural(row.membership.building),
                    _natural(row.membership.unit),
                    _natural(row.membership.room),
                    row.person.display_name,
                )
            )
    return grouped


async def members(session: AsyncSession, community: Community, *, status: str) -> list[MemberRow]:
    return (await members_by_status(session, community))[status]


@dataclass(frozen=True)
class SharedCommunity:
    community: Community
    membership: Membership


@dataclass(frozen=True)
class Profile:
    user: User
    person: Person
    communities: list[SharedCommunity]


async def profile(session: AsyncSession, *, viewer: User, username: str) -> Profile | None:
    """A person's page. It lists only the communities the viewer is a verified member of too (or administers):
    where someone lives is not for strangers."""
    user = (await session.execute(select(User).where(col(User.username) == username.lower()))).scalar_one_or_none()
    if user is None:
        return None
    viewer_membership = (
        select(col(Membership.community_id))
        .where(col(Membership.user_id) == viewer.id, col(Membership.status) == MembershipStatus.VERIFIED)
        .scalar_subquery()
    )
    viewer_districts = (
        select(col(DistrictAdmin.district_id)).where(col(DistrictAdmin.user_id) == viewer.id).scalar_subquery()
    )
    rows = (
        await session.execute(
            select(Community, Membership)
            .join(Membership, col(Membership.community_id) == col(Community.id))
            .where(
                col(Membership.user_id) == user.id,
                col(Membership.status) == MembershipStatus.VERIFIED,
                (col(Community.id).in_(viewer_membership)) | (col(Community.district_id).in_(viewer_districts)),
            )
            .order_by(col(Community.name))
        )
    ).all()
    shared = [SharedCommunity(community, membership) for community, membership in rows]
    badge = any(item.membership.is_party_member for item in shared)
    person = Person(id=id_of(user), username=user.username, display_name=user.display_name, is_party_member=badge)
    return Profile(user=user, person=person, communities=shared)


@dataclass(frozen=True, slots=True)
class Activity:
    """What someone wrote in the communities shown on their profile: counts, likes received, latest posts."""

    thread_count: int
    reply_count: int
    likes_received: int  # on their threads and replies there
    recent: list[tuple[Post, Thread]]  # newest first


async def activity_of(
    session: AsyncSession, user: User, *, viewer: User, community_ids: list[int], limit: int = 10
) -> Activity:
    """Two statements: the counts, and the latest posts, of what `viewer` may see of them on the thread pages
    in `community_ids` (communities the viewer may read). Deleted posts and threads never count; a thread
    hidden by a secretary or by flags counts only for its author and the community's moderators, a hidden
    reply only for its author and the moderators."""
    if not community_ids:
        return Activity(0, 0, 0, [])
    moderated = (
        select(col(Membership.community_id))
        .where(
            col(Membership.user_id) == viewer.id,
            col(Membership.status) == MembershipStatus.VERIFIED,
            col(Membership.role) == Role.SECRETARY,
        )
        .union(
            select(col(Community.id))
            .join(DistrictAdmin, col(DistrictAdmin.district_id) == col(Community.district_id))
            .where(col(DistrictAdmin.user_id) == viewer.id)
        )
    )
    shown = (
        col(Post.author_id) == user.id,
        col(Post.deleted_at).is_(None),
        col(Thread.is_deleted).is_(False),
        col(Thread.community_id).in_(community_ids),
        or_(
            col(Thread.hidden_at).is_(None),
            col(Thread.author_id) == viewer.id,
            col(Thread.community_id).in_(moderated),
        ),
        or_(col(Post.hidden_at).is_(None), col(Post.author_id) == viewer.id, col(Thread.community_id).in_(moderated)),
    )
    threads, replies, likes = (
        await session.execute(
            select(
                func.count(case((col(Post.number) == 1, 1))),
                func.count(case((col(Post.number) > 1, 1))),
                func.coalesce(func.sum(col(Post.like_count)), 0),
            )
            .join(Thread, col(Thread.id) == col(Post.thread_id))
            .where(*shown)
        )
    ).one()
    recent = (
        await session.execute(
            select(Post, Thread)
            .join(Thread, col(Thread.id) == col(Post.thread_id))
            .where(*shown)
            .order_by(col(Post.id).desc())
            .limit(limit)
        )
    ).all()
    return Activity(int(threads), int(replies), int(likes), [(post, thread) for post, thread in recent])
