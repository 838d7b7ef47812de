"""Districts and communities."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.actions import audit, boards, report_settings
from forum.errors import Forbidden
from forum.models import Community, CommunityKind, District, DistrictAdmin, User
from forum.permissions import CommunityStanding, can_moderate

# No 0/O, 1/I/L: a code read aloud or copied off a poster should not be mistyped.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 8
# As typed or pasted: "abcd efgh", "ABCD-EFGH", with spaces around. Longer text is no code.
JOIN_CODE_TYPED_MAX = 50


def new_join_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def normalise_join_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


async def create_district(session: AsyncSession, *, name: str, slug: str) -> District:
    district = District(name=name, slug=slug)
    session.add(district)
    await session.flush()
    return district


async def create_community(
    session: AsyncSession,
    *,
    district: District,
    name: str,
    slug: str,
    kind: CommunityKind = CommunityKind.RESIDENTIAL,
    address: str = "",
) -> Community:
    assert district.id is not None  # noqa: S101 -- a flushed district
    community = Community(
        district_id=district.id, name=name, slug=slug, kind=kind, address=address, join_code=new_join_code()
    )
    session.add(community)
    await session.flush()
    await boards.create_default_boards(session, community=community)
    await report_settings.create_default_categories(session, community=community)
    return community


async def grant_district_admin(session: AsyncSession, *, user: User, district: District) -> DistrictAdmin:
    assert user.id is not None and district.id is not None  # noqa: S101 -- flushed rows
    existing = await session.get(DistrictAdmin, (user.id, district.id))
    if existing is not None:
        return existing
    admin = DistrictAdmin(user_id=user.id, district_id=district.id)
    session.add(admin)
    await session.flush()
    await audit.record(session, actor=None, action="district_admin.grant", target_user_id=user.id)
    return admin


async def regenerate_join_code(
    session: AsyncSession, *, actor: User, community: Community, standing: CommunityStanding
) -> str:
    """A new code makes old posters stop working: for when a code has leaked."""
    if not can_moderate(standing):
        raise Forbidden()
    community.join_code = new_join_code()
    await session.flush()
    await audit.record(session, actor=actor, action="community.join_code", community_id=community.id)
    return community.join_code


async def find_by_join_code(session: AsyncSession, code: str) -> Community | None:
    if len(code) > JOIN_CODE_TYPED_MAX:
        return None
    normalised = normalise_join_code(code)
    if len(normalised) != JOIN_CODE_LENGTH:
        return None
    result = await session.execute(select(Community).where(col(Community.join_code) == normalised))
    return result.scalar_one_or_none()
