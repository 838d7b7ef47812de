"""The JSON API: bearer tokens, cookie sessions with CSRF, the OpenAPI document, clear errors."""

from __future__ import annotations

from quart import Quart
from sqlalchemy import select

from forum.db import Database
from forum.models import Membership, MembershipStatus, Role
from tests.factories import PASSWORD, make_community, make_member, make_user
from tests.helpers import login


async def _token(client: object, username: str, password: str = PASSWORD) -> str:
    response = await client.post("/api/v1/auth/tokens", json={"username": username, "password": password})  # type: ignore[attr-defined]
    assert response.status_code == 201, await response.get_data(as_text=True)
    return str((await response.get_json())["token"])


async def test_a_mobile_client_registers_joins_and_a_secretary_verifies_by_api(app: Quart, db: Database) -> None:
    community = await make_community(db, name="API小区")
    await make_member(db, user=await make_user(db, username="api_sec"), community=community, role=Role.SECRETARY)
    client = app.test_client()

    created = await client.post(
        "/api/v1/auth/register",
        json={"username": "App_User", "password": "a-long-password", "display_name": "小程序用户"},
    )
    assert created.status_code == 201
    assert (await created.get_json())["username"] == "app_user"
    resident = {"Authorization": f"Bearer {await _token(client, 'app_user', 'a-long-password')}"}
    me = await client.get("/api/v1/me", headers=resident)
    assert (await me.get_json())["display_name"] == "小程序用户"

    joined = await client.post(
        "/api/v1/join",
        json={"code": community.join_code.lower(), "building": "9", "room": "901"},
        headers=resident,
    )
    assert joined.status_code == 201
    membership = await joined.get_json()
    assert membership["status"] == "pending"
    mine = await (await client.get("/api/v1/communities", headers=resident)).get_json()
    assert [(c["slug"], c["membership_status"]) for c in mine["communities"]] == [(community.slug, "pending")]

    secretary = {"Authorization": f"Bearer {await _token(client, 'api_sec')}"}
    pending = await (
        await client.get(f"/api/v1/communities/{community.slug}/members?status=pending", headers=secretary)
    ).get_json()
    assert [m["person"]["username"] for m in pending["members"]] == ["app_user"]
    verified = await client.post(f"/api/v1/memberships/{membership['id']}/verify", headers=secretary)
    assert (await verified.get_json())["status"] == "verified"
    badge = await client.put(
        f"/api/v1/memberships/{membership['id']}/party-member", json={"value": True}, headers=secretary
    )
    assert (await badge.get_json())["is_party_member"] is True
    # Appointing secretaries is for district admins.
    role = await client.put(
        f"/api/v1/memberships/{membership['id']}/role", json={"role": "secretary"}, headers=secretary
    )
    assert role.status_code == 403
    assert (await role.get_json())["error"] == "forbidden"


async def test_a_revoked_or_made_up_token_is_refused(app: Quart, db: Database) -> None:
    await make_user(db, username="token_user")
    client = app.test_client()
    token = await _token(client, "token_user")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    assert (await client.delete("/api/v1/auth/tokens/current", headers=headers)).status_code == 204
    response = await client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert (await response.get_json())["error"] == "not_authenticated"
    assert (await client.get("/api/v1/me", headers={"Authorization": "Bearer made-up"})).status_code == 401


async def test_cookie_sessions_need_the_csrf_header_for_api_writes(app: Quart, db: Database) -> None:
    await make_user(db, username="cookie_user")
    client = app.test_client()
    await login(client, "cookie_user")
    refused = await client.patch("/api/v1/me", json={"display_name": "新名字"})
    assert refused.status_code == 403
    assert (await refused.get_json())["error"] == "csrf_failed"
    token = (await (await client.get("/api/v1/csrf")).get_json())["csrf_token"]
    accepted = await client.patch("/api/v1/me", json={"display_name": "新名字"}, headers={"X-CSRF-Token": token})
    assert accepted.status_code == 200
    assert (await accepted.get_json())["display_name"] == "新名字"


async def test_malformed_bodies_get_400_with_the_field_named(app: Quart, db: Database) -> None:
    await make_user(db, username="shape_user")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {await _token(client, 'shape_user')}"}
    wrong_type = await client.put("/api/v1/memberships/1/party-member", json={"value": "maybe"}, headers=headers)
    assert wrong_type.status_code == 400
    assert "value" in (await wrong_type.get_json())["fields"]
    not_json = await client.post(
        "/api/v1/join", data=b"{not json", headers={**headers, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 400
    missing = await client.post("/api/v1/auth/tokens", json={})
    assert missing.status_code == 400
    unknown = await client.get("/api/v1/communities/no-such-place", headers=headers)
    assert unknown.status_code == 404


async def test_an_outsider_cannot_read_or_decide_on_another_communitys_members(app: Quart, db: Database) -> None:
    community = await make_community(db)
    resident = await make_user(db, username="member_here")
    membership = await make_member(db, user=resident, community=community)
    await make_user(db, username="stranger")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {await _token(client, 'stranger')}"}
    assert (await client.get(f"/api/v1/communities/{community.slug}/members", headers=headers)).status_code == 403
    assert (await client.post(f"/api/v1/memberships/{membership.id}/reject", headers=headers)).status_code == 404
    async with db.read_only() as session:
        stored = (await session.execute(select(Membership).where(Membership.id == membership.id))).scalar_one()
    assert stored.status == MembershipStatus.VERIFIED


async def test_the_openapi_document_describes_the_api_and_only_the_api(app: Quart) -> None:
    document = await (await app.test_client().get("/openapi.json")).get_json()
    paths = set(document["paths"])
    assert {
        "/api/v1/auth/tokens",
        "/api/v1/join",
        "/api/v1/communities/{slug}/members",
        "/api/v1/me",
    } <= paths
    assert all(path.startswith("/api/v1/") for path in paths)
    assert "bearer" in document["components"]["securitySchemes"]
    person = document["components"]["schemas"]["PersonOut"]
    assert "is_party_member" in person["properties"]


async def test_health_reports_the_database(app: Quart) -> None:
    response = await app.test_client().get("/healthz")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ok", "database": "ok"}


async def test_a_client_reads_boards_starts_a_thread_replies_and_likes_by_api(app: Quart, db: Database) -> None:
    community = await make_community(db)
    for username in ("api_author", "api_fan"):
        await make_member(db, user=await make_user(db, username=username), community=community)
    client = app.test_client()
    author = {"Authorization": f"Bearer {await _token(client, 'api_author')}"}
    fan = {"Authorization": f"Bearer {await _token(client, 'api_fan')}"}

    boards = await (await client.get(f"/api/v1/communities/{community.slug}/boards", headers=author)).get_json()
    assert [board["kind"] for board in boards["boards"]] == ["notices", "talk", "guides", "sale", "swap"]
    started = await client.post(
        f"/api/v1/communities/{community.slug}/boards/talk/threads",
        json={"title": "周末跳蚤市场", "body": "有人一起吗？"},
        headers=author,
    )
    assert started.status_code == 201
    thread_id = (await started.get_json())["id"]
    refused = await client.post(
        f"/api/v1/communities/{community.slug}/boards/notices/threads",
        json={"title": "x" * 3, "body": "y"},
        headers=fan,
    )
    assert refused.status_code == 403
    replied = await client.post(f"/api/v1/threads/{thread_id}/replies", json={"body": "**算我一个**"}, headers=fan)
    assert replied.status_code == 201
    post = await replied.get_json()
    assert post["number"] == 2 and "<strong>算我一个</strong>" in post["body_html"]
    liked = await client.put(f"/api/v1/posts/{post['id']}/like", json={"value": True}, headers=author)
    assert await liked.get_json() == {"post_id": post["id"], "liked": True, "like_count": 1}

    thread = await (await client.get(f"/api/v1/threads/{thread_id}", headers=author)).get_json()
    assert [(p["number"], p["like_count"], p["liked_by_me"]) for p in thread["posts"]] == [(1, 0, False), (2, 1, True)]
    assert thread["last_event_id"] > 0 and thread["can_reply"] is True
    listing = await (
        await client.get(f"/api/v1/communities/{community.slug}/boards/talk/threads", headers=fan)
    ).get_json()
    assert listing["threads"][0]["reply_count"] == 1
    likers = await (await client.get(f"/api/v1/posts/{post['id']}/likes", headers=fan)).get_json()
    assert [person["username"] for person in likers["people"]] == ["api_author"]

    empty = await client.post(f"/api/v1/threads/{thread_id}/replies", json={"body": "   "}, headers=fan)
    assert empty.status_code == 422 and "body" in (await empty.get_json())["fields"]
    await make_user(db, username="api_stranger")
    stranger = {"Authorization": f"Bearer {await _token(client, 'api_stranger')}"}
    assert (await client.get(f"/api/v1/threads/{thread_id}", headers=stranger)).status_code == 404
    assert (await client.get(f"/api/v1/communities/{community.slug}/boards", headers=stranger)).status_code == 404
