"""Read paths for community pages. Each returns a page's data in a constant number of statements."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from forum.models import Community, District, DistrictAdmin, Membership, MembershipStatus, Role, User
from forum.queries.people import Person


@dataclass(frozen=True)
class MyCommunity:
    community: Community
    district: District
    membership: Membership | None
    is_district_admin: bool


async def my_communities(session: AsyncSession, user: User) -> list[MyCommunity]:
    """Communities the user belongs to or asked to join, and those of districts they administer."""
    member_rows = (
        await session.execute(
            select(Community, District, Membership)
            .join(District, District.id == Community.district_id)  # type: ignore[arg-type]
            .join(Membership, Membership.community_id == Community.id)  # type: ignore[arg-type]
            .where(Membership.user_id == user.id)  # type: ignore[arg-type]
            .order_by(Community.name)
        )
    ).all()
    admin_rows = (
        await session.execute(
            select(Community, District)
            .join(District, District.id == Community.district_id)  # type: ignore[arg-type]
            .join(DistrictAdmin, DistrictAdmin.district_id == District.id)  # type: ignore[arg-type]
            .where(DistrictAdmin.user_id == user.id)  # type: ignore[arg-type]
            .order_by(Community.name)
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
    return result


@dataclass(frozen=True)
class CommunityOverview:
    district: District
    member_count: int
    pending_count: int
    secretaries: list[Person]


async def community_overview(session: AsyncSession, community: Community) -> CommunityOverview:
    district = await session.get(District, community.district_id)
    assert district is not None  # noqa: S101 -- enforced by the foreign key
    counts = dict(
        (
            await session.execute(
                select(Membership.status, func.count())
                .where(Membership.community_id == community.id)  # type: ignore[arg-type]
                .group_by(Membership.status)
            )
        ).all()
    )
    secretaries = (
        await session.execute(
            select(User, Membership)
            .join(Membership, Membership.user_id == User.id)  # type: ignore[arg-type]
            .where(
                Membership.community_id == community.id,  # type: ignore[arg-type]
                Membership.role == Role.SECRETARY,  # type: ignore[arg-type]
                Membership.status == MembershipStatus.VERIFIED,  # type: ignore[arg-type]
            )
            .order_by(User.display_name)
        )
    ).all()
    return CommunityOverview(
        district=district,
        member_count=int(counts.get(MembershipStatus.VERIFIED, 0)),
        pending_count=int(counts.get(MembershipStatus.PENDING, 0)),
        secretaries=[Person.of(user, membership) for user, membership in secretaries],
    )


@dataclass(frozen=True)
class MemberRow:
    person: Person
    membership: Membership


async def members(session: AsyncSession, community: Community, *, status: str) -> list[MemberRow]:
    """Members with a given status; pending requests oldest first, so nobody waits longest."""
    order = (
        Membership.requested_at.asc()  # type: ignore[attr-defined]
        if status == MembershipStatus.PENDING
        else User.display_name.asc()  # type: ignore[attr-defined]
    )
    rows = (
        await session.execute(
            select(User, Membership)
            .join(Membership, Membership.user_id == User.id)  # type: ignore[arg-type]
            .where(Membership.community_id == community.id, Membership.status == status)  # type: ignore[arg-type]
            .order_by(order)
        )
    ).all()
    return [MemberRow(Person.of(user, membership), membership) for user, membership in rows]


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
    user = (await session.execute(select(User).where(User.username == username.lower()))).scalar_one_or_none()
    if user is None:
        return None
    viewer_membership = (
        select(Membership.community_id)
        .where(Membership.user_id == viewer.id, Membership.status == MembershipStatus.VERIFIED)  # type: ignore[arg-type]
        .scalar_subquery()
    )
    viewer_districts = select(DistrictAdmin.district_id).where(DistrictAdmin.user_id == viewer.id).scalar_subquery()  # type: ignore[arg-type]
    rows = (
        await session.execute(
            select(Community, Membership)
            .join(Membership, Membership.community_id == Community.id)  # type: ignore[arg-type]
            .where(
                Membership.user_id == user.id,  # type: ignore[arg-type]
                Membership.status == MembershipStatus.VERIFIED,  # type: ignore[arg-type]
                (Community.id.in_(viewer_membership)) | (Community.district_id.in_(viewer_districts)),  # type: ignore[union-attr,attr-defined]
            )
            .order_by(Community.name)
        )
    ).all()
    shared = [SharedCommunity(community, membership) for community, membership in rows]
    badge = any(item.membership.is_party_member for item in shared)
    person = Person(id=user.id or 0, username=user.username, display_name=user.display_name, is_party_member=badge)
    return Profile(user=user, person=person, communities=shared)
