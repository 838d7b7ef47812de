"""Every fetch by id (or slug) of something a user asked for goes through here: it returns it or raises."""

from __future__ import annotations

from sqlalchemy import Select, and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from forum.errors import Forbidden, NotFound
from forum.models import Community, DistrictAdmin, Membership, User
from forum.permissions import CommunityStanding, can_moderate


def _with_standing(user: User) -> Select[Community, Membership, DistrictAdmin]:
    """Communities with the user's membership there and their admin row for its district, in one statement."""
    return (
        select(Community, Membership, DistrictAdmin)
        .outerjoin(
            Membership,
            and_(col(Membership.community_id) == col(Community.id), col(Membership.user_id) == user.id),
        )
        .outerjoin(
            DistrictAdmin,
            and_(
                col(DistrictAdmin.district_id) == col(Community.district_id),
                col(DistrictAdmin.user_id) == user.id,
            ),
        )
    )


async def standing_in(session: AsyncSession, user: User, community: Community) -> CommunityStanding:
    row = (await session.execute(_with_standing(user).where(col(Community.id) == community.id))).one()
    return CommunityStanding(membership=row[1], is_district_admin=row[2] is not None)


async def access_community(session: AsyncSession, user: User, slug: str) -> tuple[Community, CommunityStanding]:
    """Any signed-in user may see that a community exists (name, district); members see more."""
    row = (await session.execute(_with_standing(user).where(col(Community.slug) == slug))).first()
    if row is None:
        raise NotFound()
    community, membership, admin = row
    return community, CommunityStanding(membership=membership, is_district_admin=admin is not None)


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
    target = aliased(Membership)
    row = (
        await session.execute(
            _with_standing(user)
            .add_columns(target)
            .join(target, col(target.community_id) == col(Community.id))
            .where(col(target.id) == membership_id)
        )
    ).first()
    if row is None:
        raise NotFound()
    community, mine, admin, membership = row
    standing = CommunityStanding(membership=mine, is_district_admin=admin is not None)
    if not can_moderate(standing):
        if standing.is_verified_member:
            raise Forbidden()
        raise NotFound()
    return membership, community, standing
