"""Muting: a secretary mutes a member for a while with a reason they see; the member can still read but can
not start threads, reply, write letters, list things, make offers or send private messages, and is told why;
a fellow secretary only a district admin may mute; lifting it restores everything; all audited. Both
databases."""

from __future__ import annotations

from quart import Quart
from sqlalchemy import select
from sqlmodel import col

from forum.db import Database
from forum.models import AuditEntry, Community, Event, Membership, Notification, NotificationKind, Role, User
from tests.factories import (
    PASSWORD,
    make_community,
    make_district_admin,
    make_member,
    make_thread,
    make_user,
)
from tests.helpers import post_form, post_multipart, signed_in, text


async def _membership_id(db: Database, user: User, community: Community) -> int:
    async with db.read_only() as session:
        return int(
            (
                await session.execute(
                    select(col(Membership.id)).where(
                        col(Membership.user_id) == user.id, col(Membership.community_id) == community.id
                    )
                )
            ).scalar_one()
        )


async def test_a_muted_member_reads_but_cannot_post_anywhere_until_the_mute_is_lifted(app: Quart, db: Database) -> None:
    community = await make_community(db)
    people = {}
    for name, role in (("mu_loud", Role.RESIDENT), ("mu_other", Role.RESIDENT), ("mu_sec", Role.SECRETARY)):
        people[name] = await make_user(db, username=name, display_name=name)
        await make_member(db, user=people[name], community=community, role=role)
    thread = await make_thread(db, author=people["mu_other"], community=community)
    loud, other, secretary = [await signed_in(app, name) for name in ("mu_loud", "mu_other", "mu_sec")]
    loud_id = await _membership_id(db, people["mu_loud"], community)
    members = f"/c/{community.slug}/members"

    refused = await post_form(other, f"/memberships/{loud_id}/mute", {"hours": "24", "reason": "刷屏"}, token_from="/")
    assert refused.status_code == 403
    no_reason = await post_form(secretary, f"/memberships/{loud_id}/mute", {"hours": "24"}, token_from=members)
    assert no_reason.status_code == 303
    muted = await post_form(
        secretary, f"/memberships/{loud_id}/mute", {"hours": "24", "reason": "连续刷屏"}, token_from=members
    )
    assert muted.status_code == 302
    assert "连续刷屏" in await text(await secretary.get(members))

    page = f"/t/{thread.id}"
    shown = await loud.get(page)
    assert shown.status_code == 200
    body = await text(shown)
    assert "连续刷屏" in body and 'class="reply-form"' not in body
    for path, fields in (
        (f"{page}/replies", {"body": "我还要说"}),
        (f"/c/{community.slug}/b/talk/threads", {"title": "新帖子", "body": "内容"}),
        (f"/c/{community.slug}/thanks", {"usernames": "mu_other", "title": "谢谢", "body": "谢谢你"}),
    ):
        response = await post_multipart(loud, path, fields, [], token_from=page)
        assert response.status_code == 403, path
        assert "连续刷屏" in await text(response), path
    listing = await post_multipart(
        loud,
        f"/c/{community.slug}/market",
        {"kind": "free", "title": "旧椅子", "category": "furniture", "condition": "good", "pickup_area": "楼下"},
        [],
        token_from=page,
    )
    assert listing.status_code == 403
    started = await post_form(
        loud, f"/c/{community.slug}/messages/with/mu_sec", token_from=f"/c/{community.slug}/messages"
    )
    assert started.status_code == 403

    async with db.read_only() as session:
        events = (
            (await session.execute(select(Event.type).where(col(Event.room) == f"user:{people['mu_loud'].id}")))
            .scalars()
            .all()
        )
        kinds = (
            (await session.execute(select(Notification.kind).where(col(Notification.user_id) == people["mu_loud"].id)))
            .scalars()
            .all()
        )
    assert "member.muted" in events and NotificationKind.MUTED in kinds

    lifted = await post_form(secretary, f"/memberships/{loud_id}/mute", {"muted": "0"}, token_from=members)
    assert lifted.status_code == 302
    assert (await post_multipart(loud, f"{page}/replies", {"body": "我冷静了"}, [], token_from=page)).status_code == 302
    async with db.read_only() as session:
        actions = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert "member.muted" in actions and "member.unmuted" in actions


async def test_only_a_district_admin_mutes_a_secretary_and_the_api_follows_the_same_rules(
    app: Quart, db: Database
) -> None:
    community = await make_community(db)
    first, second = await make_user(db, username="ms_first"), await make_user(db, username="ms_second")
    for user in (first, second):
        await make_member(db, user=user, community=community, role=Role.SECRETARY)
    admin = await make_user(db, username="ms_admin")
    await make_district_admin(db, user=admin, district_id=community.district_id)
    second_id = await _membership_id(db, second, community)
    client = app.test_client()

    async def bearer(username: str) -> dict[str, str]:
        answer = await client.post("/api/v1/auth/tokens", json={"username": username, "password": PASSWORD})
        return {"Authorization": f"Bearer {(await answer.get_json())['token']}"}

    path = f"/api/v1/memberships/{second_id}/mute"
    body = {"muted": True, "hours": 24, "reason": "冷静一下"}
    assert (await client.post(path, json=body, headers=await bearer("ms_first"))).status_code == 403
    assert (await client.post(path, json={**body, "hours": 0}, headers=await bearer("ms_admin"))).status_code == 400
    done = await client.post(path, json=body, headers=await bearer("ms_admin"))
    assert done.status_code == 200 and (await done.get_json())["muted_until"]
