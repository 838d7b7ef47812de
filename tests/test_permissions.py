"""The permission matrix: every secretary action, for each kind of person who might try it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from quart import Quart
from sqlalchemy import select
from sqlmodel import col

from forum.db import Database
from forum.models import AuditEntry, Board, Community, Membership, MembershipStatus, Role
from forum.permissions import CommunityStanding, can_appoint_secretaries, can_decide_on, can_moderate
from tests.factories import make_community, make_district_admin, make_member, make_pending, make_user
from tests.helpers import login, post_form


@dataclass
class World:
    community: Community
    pending: Membership  # a resident waiting for verification
    verified: Membership  # a verified resident
    badged: Membership  # a verified resident with the party badge
    fellow: Membership  # a second secretary of the community


async def build_world(db: Database) -> World:
    community = await make_community(db, name="本社区")
    other = await make_community(db, name="别的社区")
    for username, where, role in [
        ("resident_here", community, Role.RESIDENT),
        ("secretary_here", community, Role.SECRETARY),
        ("secretary_elsewhere", other, Role.SECRETARY),
    ]:
        await make_member(db, user=await make_user(db, username=username), community=where, role=role)
    await make_user(db, username="outsider")
    admin = await make_user(db, username="district_admin")
    await make_district_admin(db, user=admin, district_id=community.district_id)
    other_admin = await make_user(db, username="other_district_admin")
    await make_district_admin(db, user=other_admin, district_id=other.district_id)
    pending = await make_pending(db, user=await make_user(db, username="applicant"), community=community)
    verified = await make_member(db, user=await make_user(db, username="neighbour"), community=community)
    badged = await make_member(
        db, user=await make_user(db, username="party_neighbour"), community=community, is_party_member=True
    )
    fellow = await make_member(
        db, user=await make_user(db, username="fellow_secretary"), community=community, role=Role.SECRETARY
    )
    return World(community, pending, verified, badged, fellow)


ACTORS = [
    "resident_here",
    "secretary_here",
    "secretary_elsewhere",
    "outsider",
    "district_admin",
    "other_district_admin",
]
# What each actor gets: 2xx allowed, 403 a member who may not, 404 someone who learns nothing.
EXPECTED = {
    "view members": {
        "resident_here": 403,
        "secretary_here": 200,
        "secretary_elsewhere": 403,
        "outsider": 403,
        "district_admin": 200,
        "other_district_admin": 403,
    },
    "poster": {
        "resident_here": 403,
        "secretary_here": 200,
        "secretary_elsewhere": 403,
        "outsider": 403,
        "district_admin": 200,
        "other_district_admin": 403,
    },
    "new join code": {
        "resident_here": 403,
        "secretary_here": 302,
        "secretary_elsewhere": 403,
        "outsider": 403,
        "district_admin": 302,
        "other_district_admin": 403,
    },
    "verify": {
        "resident_here": 403,
        "secretary_here": 302,
        "secretary_elsewhere": 404,
        "outsider": 404,
        "district_admin": 302,
        "other_district_admin": 404,
    },
    "reject": {
        "resident_here": 403,
        "secretary_here": 302,
        "secretary_elsewhere": 404,
        "outsider": 404,
        "district_admin": 302,
        "other_district_admin": 404,
    },
    "grant badge": {
        "resident_here": 403,
        "secretary_here": 302,
        "secretary_elsewhere": 404,
        "outsider": 404,
        "district_admin": 302,
        "other_district_admin": 404,
    },
    "withdraw badge": {
        "resident_here": 403,
        "secretary_here": 302,
        "secretary_elsewhere": 404,
        "outsider": 404,
        "district_admin": 302,
        "other_district_admin": 404,
    },
    "decline a fellow secretary": {
        "resident_here": 403,
        "secretary_here": 403,
        "secretary_elsewhere": 404,
        "outsider": 404,
        "district_admin": 302,
        "other_district_admin": 404,
    },
    "make secretary": {
        "resident_here": 403,
        "secretary_here": 403,
        "secretary_elsewhere": 404,
        "outsider": 404,
        "district_admin": 302,
        "other_district_admin": 404,
    },
    # Boards are for members: a community's own residents are refused (403), everyone else learns nothing (404).
    "view boards": {
        "resident_here": 403,
        "secretary_here": 200,
        "secretary_elsewhere": 404,
        "outsider": 404,
        "district_admin": 200,
        "other_district_admin": 404,
    },
    "add board": {
        "resident_here": 403,
        "secretary_here": 302,
        "secretary_elsewhere": 404,
        "outsider": 404,
        "district_admin": 302,
        "other_district_admin": 404,
    },
    "rename board": {
        "resident_here": 403,
        "secretary_here": 302,
        "secretary_elsewhere": 404,
        "outsider": 404,
        "district_admin": 302,
        "other_district_admin": 404,
    },
    "move board": {
        "resident_here": 403,
        "secretary_here": 302,
        "secretary_elsewhere": 404,
        "outsider": 404,
        "district_admin": 302,
        "other_district_admin": 404,
    },
    "archive board": {
        "resident_here": 403,
        "secretary_here": 302,
        "secretary_elsewhere": 404,
        "outsider": 404,
        "district_admin": 302,
        "other_district_admin": 404,
    },
}


async def _attempt(client: object, action: str, world: World) -> int:
    slug = world.community.slug
    if action == "view members":
        return (await client.get(f"/c/{slug}/members")).status_code  # type: ignore[attr-defined, no-any-return]
    if action == "poster":
        return (await client.get(f"/c/{slug}/poster")).status_code  # type: ignore[attr-defined, no-any-return]
    if action == "view boards":
        return (await client.get(f"/c/{slug}/boards")).status_code  # type: ignore[attr-defined, no-any-return]
    paths = {
        "new join code": (f"/c/{slug}/join-code", {"confirm": "1"}),
        "verify": (f"/memberships/{world.pending.id}/verify", {}),
        "reject": (f"/memberships/{world.pending.id}/reject", {}),
        "grant badge": (f"/memberships/{world.verified.id}/party", {"value": "1"}),
        "withdraw badge": (f"/memberships/{world.badged.id}/party", {"value": "0"}),
        "decline a fellow secretary": (f"/memberships/{world.fellow.id}/reject", {}),
        "make secretary": (f"/memberships/{world.verified.id}/role", {"role": "secretary"}),
        "add board": (f"/c/{slug}/boards", {"name": "矩阵版块"}),
        "rename board": (f"/c/{slug}/boards/talk/rename", {"name": "矩阵茶馆"}),
        "move board": (f"/c/{slug}/boards/guides/move", {"direction": "up"}),
        "archive board": (f"/c/{slug}/boards/guides/archive", {}),
    }
    path, form = paths[action]
    response = await post_form(client, path, form)  # type: ignore[arg-type]
    return response.status_code  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("actor", ACTORS)
async def test_permission_matrix_for_every_secretary_action(app: Quart, db: Database, actor: str) -> None:
    world = await build_world(db)
    client = app.test_client()
    await login(client, actor)
    got = {action: await _attempt(client, action, world) for action in EXPECTED}
    assert got == {action: expected[actor] for action, expected in EXPECTED.items()}

    async with db.read_only() as session:
        pending = await session.get(Membership, world.pending.id)
        verified = await session.get(Membership, world.verified.id)
        badged = await session.get(Membership, world.badged.id)
        fellow = await session.get(Membership, world.fellow.id)
        by_people = select(col(AuditEntry.action)).where(col(AuditEntry.actor_id).is_not(None))
        audit_actions = set((await session.execute(by_people)).scalars())
    assert pending is not None and verified is not None and badged is not None and fellow is not None
    allowed = EXPECTED["verify"][actor] == 302
    assert badged.is_party_member == (not allowed)
    fellow_declined = EXPECTED["decline a fellow secretary"][actor] == 302
    assert (fellow.status, fellow.role) == (
        (MembershipStatus.REJECTED, Role.RESIDENT) if fellow_declined else (MembershipStatus.VERIFIED, Role.SECRETARY)
    )
    # Verify, then reject: the last decision stands; refused attempts change nothing and leave no trace.
    assert pending.status == (MembershipStatus.REJECTED if allowed else MembershipStatus.PENDING)
    assert verified.is_party_member == allowed
    assert verified.role == (Role.SECRETARY if EXPECTED["make secretary"][actor] == 302 else Role.RESIDENT)
    assert bool(audit_actions) == allowed
    async with db.read_only() as session:
        boards = (await session.execute(select(Board).where(col(Board.community_id) == world.community.id))).scalars()
        names = {board.slug: (board.name, board.is_archived) for board in boards}
    boards_managed = EXPECTED["add board"][actor] == 302
    assert ("board-1" in names) == boards_managed
    assert names["talk"] == (("矩阵茶馆", False) if boards_managed else ("", False))
    assert names["guides"] == ("", boards_managed)


async def test_a_secretary_cannot_badge_themselves(app: Quart, db: Database) -> None:
    community = await make_community(db)
    secretary = await make_user(db, username="self_sec")
    own = await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    client = app.test_client()
    await login(client, "self_sec")
    assert (await post_form(client, f"/memberships/{own.id}/party", {"value": "1"})).status_code == 403


async def test_a_badge_can_only_go_to_a_verified_member(app: Quart, db: Database) -> None:
    community = await make_community(db)
    secretary = await make_user(db, username="badge_sec")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    pending = await make_pending(db, user=await make_user(db), community=community)
    client = app.test_client()
    await login(client, "badge_sec")
    assert (await post_form(client, f"/memberships/{pending.id}/party", {"value": "1"})).status_code == 409


def _membership(status: str, role: str = Role.RESIDENT, user_id: int = 1) -> Membership:
    return Membership(user_id=user_id, community_id=1, status=status, role=role)


def test_permission_predicates_need_no_database() -> None:
    secretary = CommunityStanding(_membership(MembershipStatus.VERIFIED, Role.SECRETARY), is_district_admin=False)
    pending_secretary = CommunityStanding(
        _membership(MembershipStatus.PENDING, Role.SECRETARY), is_district_admin=False
    )
    resident = CommunityStanding(_membership(MembershipStatus.VERIFIED), is_district_admin=False)
    admin = CommunityStanding(None, is_district_admin=True)
    stranger = CommunityStanding(None, is_district_admin=False)
    assert [can_moderate(s) for s in (secretary, pending_secretary, resident, admin, stranger)] == [
        True,
        False,
        False,
        True,
        False,
    ]
    assert [can_appoint_secretaries(s) for s in (secretary, admin)] == [False, True]
    assert not can_decide_on(secretary, _membership(MembershipStatus.VERIFIED, user_id=1), actor_id=1)
    assert can_decide_on(secretary, _membership(MembershipStatus.VERIFIED, user_id=2), actor_id=1)


API_ACTIONS = {
    "view members": ("GET", "/api/v1/communities/{slug}/members", None, "view members"),
    "verify": ("POST", "/api/v1/memberships/{pending}/verify", None, "verify"),
    "grant badge": ("PUT", "/api/v1/memberships/{verified}/party-member", {"value": True}, "grant badge"),
    "make secretary": ("PUT", "/api/v1/memberships/{verified}/role", {"role": "secretary"}, "make secretary"),
    "new join code": ("POST", "/api/v1/communities/{slug}/join-code", None, "new join code"),
    "list archived boards": ("GET", "/api/v1/communities/{slug}/boards?include_archived=true", None, "view boards"),
    "add board": ("POST", "/api/v1/communities/{slug}/boards", {"name": "接口版块"}, "add board"),
    "rename board": ("PATCH", "/api/v1/communities/{slug}/boards/talk", {"name": "接口茶馆"}, "rename board"),
    "move board": ("PUT", "/api/v1/communities/{slug}/boards/guides/position", {"position": 0}, "move board"),
    "archive board": ("PUT", "/api/v1/communities/{slug}/boards/guides/archived", {"value": True}, "archive board"),
}
CREATED = {"add board"}  # answered 201 when allowed


@pytest.mark.parametrize("actor", ACTORS)
async def test_the_api_enforces_the_same_matrix(app: Quart, db: Database, actor: str) -> None:
    world = await build_world(db)
    client = app.test_client()
    token = await client.post("/api/v1/auth/tokens", json={"username": actor, "password": "correct horse battery"})
    headers = {"Authorization": f"Bearer {(await token.get_json())['token']}"}
    got, want = {}, {}
    for name, (method, template, body, matrix_row) in API_ACTIONS.items():
        path = template.format(slug=world.community.slug, pending=world.pending.id, verified=world.verified.id)
        response = await client.open(path, method=method, json=body, headers=headers)
        got[name] = response.status_code
        expected = EXPECTED[matrix_row][actor]
        want[name] = (201 if name in CREATED else 200) if expected in {200, 302} else expected
    assert got == want
