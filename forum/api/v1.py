"""JSON API, version 1. The same domain actions as the pages; authenticate with a bearer token
(`POST /api/v1/auth/tokens`) or the login cookie plus an `X-CSRF-Token` header on writes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import Blueprint
from quart_rate_limiter import rate_limit
from quart_schema import tag, validate_querystring, validate_request, validate_response

from forum.access import (
    access_community,
    access_community_to_moderate,
    access_membership_to_moderate,
    standing_in,
)
from forum.actions import accounts, memberships
from forum.actions import communities as community_actions
from forum.actions import sessions as session_actions
from forum.errors import NotFound
from forum.i18n import N_
from forum.models import Community, Membership, MembershipStatus, Role, SessionKind, User
from forum.permissions import CommunityStanding, can_moderate
from forum.queries.accounts import list_sessions
from forum.queries.communities import community_overview, members, my_communities, profile
from forum.queries.people import Person, viewer_person
from forum.web import csrf
from forum.web.context import commit, current_auth_session, db_session, require_user
from forum.web.ratelimits import JOIN_LIMITS, LOGIN_LIMITS, PASSWORD_LIMITS, REGISTER_LIMITS
from forum.web.signin import sign_in
from forum.web.urls import join_url

blueprint = Blueprint("api_v1", __name__, url_prefix="/api/v1")


# --- schemas -------------------------------------------------------------------------------------------------


class RegisterIn(BaseModel):
    username: str = Field(max_length=200)
    password: str = Field(max_length=1000)
    display_name: str = Field(max_length=200)
    locale: str | None = None


class CredentialsIn(BaseModel):
    username: str = Field(max_length=200)
    password: str = Field(max_length=1000)


class TokenOut(BaseModel):
    token: str
    expires_at: str


class PersonOut(BaseModel):
    id: int
    username: str
    display_name: str
    is_party_member: bool


class MeOut(BaseModel):
    id: int
    username: str
    display_name: str
    locale: str | None
    is_party_member: bool


class MeIn(BaseModel):
    display_name: str = Field(max_length=200)
    locale: str | None = None


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
    code: str = Field(max_length=50)
    building: str = Field(max_length=200)
    unit: str = Field(default="", max_length=200)
    room: str = Field(max_length=200)


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
    status: str = MembershipStatus.VERIFIED


class FlagIn(BaseModel):
    value: bool


class RoleIn(BaseModel):
    role: Role


class CsrfOut(BaseModel):
    csrf_token: str


class PasswordIn(BaseModel):
    current_password: str = Field(max_length=1000)
    new_password: str = Field(max_length=1000)


class SessionOut(BaseModel):
    id: int
    kind: str
    user_agent: str
    ip: str
    created_at: str
    last_seen_at: str
    current: bool


class SessionListOut(BaseModel):
    sessions: list[SessionOut]


class JoinCodeOut(BaseModel):
    join_code: str
    join_url: str


class ProfileOut(BaseModel):
    person: PersonOut
    communities: list[str]


# --- helpers ------------------------------------------------------------------------------------------------


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


async def _me(user: User) -> MeOut:
    person = await viewer_person(db_session(), user)
    return MeOut(**person.payload(), locale=user.locale)


# --- authentication -----------------------------------------------------------------------------------------


@blueprint.get("/csrf")
@tag(["auth"])
@validate_response(CsrfOut)
async def get_csrf() -> CsrfOut:
    """The token to send as `X-CSRF-Token` on writes authenticated by the login cookie."""
    return CsrfOut(csrf_token=csrf.csrf_token())


@blueprint.post("/auth/register")
@tag(["auth"])
@rate_limit(limits=REGISTER_LIMITS)
@validate_request(RegisterIn)
@validate_response(MeOut, 201)
async def register(data: RegisterIn) -> tuple[MeOut, int]:
    user = await accounts.register_user(
        db_session(),
        username=data.username,
        password=data.password,
        display_name=data.display_name,
        locale=data.locale,
    )
    await commit()
    return await _me(user), 201


@blueprint.post("/auth/tokens")
@tag(["auth"])
@rate_limit(limits=LOGIN_LIMITS)
@validate_request(CredentialsIn)
@validate_response(TokenOut, 201)
async def create_token(data: CredentialsIn) -> tuple[TokenOut, int]:
    """Sign in and get a bearer token for `Authorization: Bearer <token>`."""
    user = await accounts.authenticate(db_session(), username=data.username, password=data.password)
    auth_session, token = await sign_in(user, kind=SessionKind.API)
    return TokenOut(token=token, expires_at=auth_session.expires_at.isoformat()), 201


@blueprint.delete("/auth/tokens/current")
@tag(["auth"])
async def revoke_current() -> tuple[str, int]:
    """Sign this token (or cookie session) out."""
    require_user()
    auth_session = current_auth_session()
    if auth_session is not None:
        await session_actions.end_session(db_session(), auth_session=auth_session)
        await commit()
    return "", 204


@blueprint.post("/auth/logout-everywhere")
@tag(["auth"])
async def logout_everywhere() -> tuple[str, int]:
    await session_actions.end_all_sessions(db_session(), user=require_user())
    await commit()
    return "", 204


# --- me -----------------------------------------------------------------------------------------------------


@blueprint.get("/me")
@tag(["me"])
@validate_response(MeOut)
async def get_me() -> MeOut:
    return await _me(require_user())


@blueprint.patch("/me")
@tag(["me"])
@validate_request(MeIn)
@validate_response(MeOut)
async def update_me(data: MeIn) -> MeOut:
    user = await accounts.update_profile(
        db_session(), user=require_user(), display_name=data.display_name, locale=data.locale
    )
    await commit()
    return await _me(user)


@blueprint.post("/me/password")
@tag(["me"])
@rate_limit(limits=PASSWORD_LIMITS)
@validate_request(PasswordIn)
async def change_password(data: PasswordIn) -> tuple[str, int]:
    """Change the password; every other session of this user ends."""
    auth_session = current_auth_session()
    await accounts.change_password(
        db_session(),
        user=require_user(),
        current_password=data.current_password,
        new_password=data.new_password,
        keep_session_id=auth_session.id if auth_session else None,
    )
    await commit()
    return "", 204


@blueprint.get("/me/sessions")
@tag(["me"])
@validate_response(SessionListOut)
async def get_sessions() -> SessionListOut:
    """Where this user is signed in (browsers and API tokens)."""
    current = current_auth_session()
    return SessionListOut(
        sessions=[
            SessionOut(
                id=item.id or 0,
                kind=item.kind,
                user_agent=item.user_agent,
                ip=item.ip,
                created_at=item.created_at.isoformat(),
                last_seen_at=item.last_seen_at.isoformat(),
                current=current is not None and item.id == current.id,
            )
            for item in await list_sessions(db_session(), user=require_user())
        ]
    )


@blueprint.delete("/me/sessions/<id:session_id>")
@tag(["me"])
async def end_session(session_id: int) -> tuple[str, int]:
    ended = await session_actions.end_session_of_user(db_session(), user=require_user(), session_id=session_id)
    if not ended:
        raise NotFound()
    await commit()
    return "", 204


@blueprint.get("/users/<username>")
@tag(["people"])
@validate_response(ProfileOut)
async def get_user(username: str) -> ProfileOut:
    found = await profile(db_session(), viewer=require_user(), username=username)
    if found is None:
        raise NotFound()
    return ProfileOut(
        person=PersonOut(**found.person.payload()),
        communities=[item.community.slug for item in found.communities],
    )


# --- communities --------------------------------------------------------------------------------------------


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
@validate_request(FlagIn)
@validate_response(MembershipOut)
async def set_party_member(membership_id: int, data: FlagIn) -> MembershipOut:
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
