"""The JSON API's community routes: my communities, one community, asking to join, and for secretaries and
district admins the members, the join code and decisions on memberships."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart_rate_limiter import rate_limit
from quart_schema import tag, validate_querystring, validate_request, validate_response

from forum.access import (
    access_community,
    access_community_to_moderate,
    access_membership_to_moderate,
    standing_in,
)
from forum.actions import communities as community_actions
from forum.actions import memberships
from forum.actions.communities import JOIN_CODE_TYPED_MAX
from forum.actions.memberships import ADDRESS_PART_MAX
from forum.api.schemas import PersonOut, SwitchIn, longest
from forum.api.v1 import blueprint
from forum.errors import NotFound
from forum.i18n import N_
from forum.models import Community, Membership, MembershipStatus, Role, User
from forum.permissions import CommunityStanding, can_moderate
from forum.queries.communities import community_overview, members, my_communities
from forum.queries.people import Person
from forum.web.context import commit, db_session, require_user
from forum.web.ratelimits import JOIN_LIMITS
from forum.web.urls import join_url


class CommunityOut(BaseModel):
    id: int
    slug: str
    name: str
    kind: str
    district: str
    membership_status: str | None
    role: str | None
    is_party_member: bool
    can_moderate: bool


class CommunityDetailOut(CommunityOut):
    member_count: int
    secretaries: list[PersonOut]


class CommunityListOut(BaseModel):
    communities: list[CommunityOut]


class JoinIn(BaseModel):
    code: str = Field(max_length=JOIN_CODE_TYPED_MAX)
    building: str = Field(max_length=ADDRESS_PART_MAX)
    unit: str = Field(default="", max_length=ADDRESS_PART_MAX)
    room: str = Field(max_length=ADDRESS_PART_MAX)


class MembershipOut(BaseModel):
    id: int
    community_id: int
    status: str
    role: str
    is_party_member: bool
    building: str
    unit: str
    room: str
    person: PersonOut | None = None


class MemberListOut(BaseModel):
    members: list[MembershipOut]


class MemberQuery(BaseModel):
    status: str = Field(default=MembershipStatus.VERIFIED, max_length=longest(MembershipStatus))


class RoleIn(BaseModel):
    role: Role


class JoinCodeOut(BaseModel):
    join_code: str
    join_url: str


def _membership_out(membership: Membership, person: Person | None = None) -> MembershipOut:
    assert membership.id is not None  # noqa: S101 -- loaded rows
    return MembershipOut(
        id=membership.id,
        community_id=membership.community_id,
        status=membership.status,
        role=membership.role,
        is_party_member=membership.is_party_member,
        building=membership.building,
        unit=membership.unit,
        room=membership.room,
        person=PersonOut(**person.payload()) if person else None,
    )


def _community_out(
    community: Community, district: str, membership: Membership | None, moderates: bool
) -> dict[str, Any]:
    return {
        "id": community.id,
        "slug": community.slug,
        "name": community.name,
        "kind": community.kind,
        "district": district,
        "membership_status": membership.status if membership else None,
        "role": membership.role if membership else None,
        "is_party_member": bool(membership and membership.is_party_member),
        "can_moderate": moderates,
    }


@blueprint.get("/communities")
@tag(["communities"])
@validate_response(CommunityListOut)
async def list_communities() -> CommunityListOut:
    """The communities I belong to, asked to join, or administer."""
    items = await my_communities(db_session(), require_user())
    return CommunityListOut(
        communities=[
            CommunityOut(
                **_community_out(
                    item.community,
                    item.district.name,
                    item.membership,
                    can_moderate(CommunityStanding(item.membership, item.is_district_admin)),
                )
            )
            for item in items
        ]
    )


@blueprint.get("/communities/<slug>")
@tag(["communities"])
@validate_response(CommunityDetailOut)
async def get_community(slug: str) -> CommunityDetailOut:
    community, standing = await access_community(db_session(), require_user(), slug)
    overview = await community_overview(db_session(), community)
    return CommunityDetailOut(
        **_community_out(community, overview.district.name, standing.membership, can_moderate(standing)),
        member_count=overview.member_count,
        secretaries=[PersonOut(**person.payload()) for person in overview.secretaries],
    )


@blueprint.post("/join")
@tag(["communities"])
@rate_limit(limits=JOIN_LIMITS)
@validate_request(JoinIn)
@validate_response(MembershipOut, 201)
async def join(data: JoinIn) -> tuple[MembershipOut, int]:
    """Ask to join the community whose poster shows this code. The membership is pending until verified."""
    user = require_user()
    community = await community_actions.find_by_join_code(db_session(), data.code)
    if community is None:
        raise NotFound(N_("This join code does not belong to any community. Check the poster and try again."))
    standing = await standing_in(db_session(), user, community)
    membership = await memberships.request_to_join(
        db_session(),
        user=user,
        community=community,
        standing=standing,
        building=data.building,
        unit=data.unit,
        room=data.room,
    )
    await commit()
    return _membership_out(membership), 201


@blueprint.get("/communities/<slug>/members")
@tag(["moderation"])
@validate_querystring(MemberQuery)
@validate_response(MemberListOut)
async def list_members(slug: str, query_args: MemberQuery) -> MemberListOut:
    """Secretaries and district admins only. `status`: pending, verified, rejected or removed."""
    community, _standing = await access_community_to_moderate(db_session(), require_user(), slug)
    status = query_args.status if query_args.status in set(MembershipStatus) else MembershipStatus.VERIFIED
    rows = await members(db_session(), community, status=status)
    return MemberListOut(members=[_membership_out(row.membership, row.person) for row in rows])


@blueprint.post("/communities/<slug>/join-code")
@tag(["moderation"])
@validate_response(JoinCodeOut)
async def regenerate_join_code(slug: str) -> JoinCodeOut:
    """Secretaries: a new join code; posters with the old one stop working."""
    user = require_user()
    community, standing = await access_community_to_moderate(db_session(), user, slug)
    code = await community_actions.regenerate_join_code(
        db_session(), actor=user, community=community, standing=standing
    )
    await commit()
    return JoinCodeOut(join_code=code, join_url=join_url(code))


async def _moderate(membership_id: int) -> tuple[User, Membership, Any]:
    user = require_user()
    membership, _community, standing = await access_membership_to_moderate(db_session(), user, membership_id)
    return user, membership, standing


@blueprint.post("/memberships/<id:membership_id>/verify")
@tag(["moderation"])
@validate_response(MembershipOut)
async def verify(membership_id: int) -> MembershipOut:
    user, membership, standing = await _moderate(membership_id)
    await memberships.verify_membership(db_session(), actor=user, membership=membership, standing=standing)
    await commit()
    return _membership_out(membership)


@blueprint.post("/memberships/<id:membership_id>/reject")
@tag(["moderation"])
@validate_response(MembershipOut)
async def reject(membership_id: int) -> MembershipOut:
    user, membership, standing = await _moderate(membership_id)
    await memberships.reject_membership(db_session(), actor=user, membership=membership, standing=standing)
    await commit()
    return _membership_out(membership)


@blueprint.post("/memberships/<id:membership_id>/remove")
@tag(["moderation"])
@validate_response(MembershipOut)
async def remove(membership_id: int) -> MembershipOut:
    """Take a verified member out of the community; their live connections leave its rooms at once."""
    user, membership, standing = await _moderate(membership_id)
    await memberships.remove_member(db_session(), actor=user, membership=membership, standing=standing)
    await commit()
    return _membership_out(membership)


@blueprint.put("/memberships/<id:membership_id>/party-member")
@tag(["moderation"])
@validate_request(SwitchIn)
@validate_response(MembershipOut)
async def set_party_member(membership_id: int, data: SwitchIn) -> MembershipOut:
    user, membership, standing = await _moderate(membership_id)
    await memberships.set_party_member(
        db_session(), actor=user, membership=membership, standing=standing, value=data.value
    )
    await commit()
    return _membership_out(membership)


@blueprint.put("/memberships/<id:membership_id>/role")
@tag(["moderation"])
@validate_request(RoleIn)
@validate_response(MembershipOut)
async def set_role(membership_id: int, data: RoleIn) -> MembershipOut:
    """District admins only: appoint (`secretary`) or stand down (`resident`) a community's secretary."""
    user, membership, standing = await _moderate(membership_id)
    await memberships.set_role(db_session(), actor=user, membership=membership, standing=standing, role=data.role)
    await commit()
    return _membership_out(membership)
