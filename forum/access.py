"""Every fetch by id (or slug) of something a user asked for goes through here: it returns it or raises."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.errors import Forbidden, NotFound
from forum.models import Community, DistrictAdmin, Membership, User
from forum.permissions import CommunityStanding, can_moderate


async def standing_in(session: AsyncSession, user: User, community: Community) -> CommunityStanding:
    membership = (
        await session.execute(
            select(Membership).where(
                col(Membership.user_id) == user.id,
                col(Membership.community_id) == community.id,
            )
        )
    ).scalar_one_or_none()
    admin = await session.get(DistrictAdmin, (user.id, community.district_id))
    return CommunityStanding(membership=membership, is_district_admin=admin is not None)


async def access_community(session: AsyncSession, user: User, slug: str) -> tuple[Community, CommunityStanding]:
    """Any signed-in user may see that a community exists (name, district); members see more."""
    community = (await session.execute(select(Community).where(col(Community.slug) == slug))).scalar_one_or_none()
    if community is None:
        raise NotFound()
    return community, await standing_in(session, user, community)


async def access_community_to_moderate(
    session: AsyncSession, user: User, slug: str
) -> tuple[Community, CommunityStanding]:
    community, standing = await access_community(session, user, slug)
    if not can_moderate(standing):
        raise Forbidden()
    return community, standing


async def access_membership_to_moderate(
    session: AsyncSession, user: User, membership_id: int
) -> tuple[Membership, Community, CommunityStanding]:
    """A membership the user may decide on. Outsiders learn nothing (404); members who are not secretaries get 403."""
    membership = await session.get(Membership, membership_id)
    if membership is None:
        raise NotFound()
    community = await session.get(Community, membership.community_id)
    if community is None:
        raise NotFound()
    standing = await standing_in(session, user, community)
    if not can_moderate(standing):
        if standing.is_verified_member:
            raise Forbidden()
        raise NotFound()
    return membership, community, standing
