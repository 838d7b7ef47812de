"""Suspending: a secretary shuts a member out of the community for a while, or until lifted, with a reason
they see. A suspended member can neither read nor post there (403 with the reason), cannot ask to join again
to get round it, is left out of the members everything else counts, and is a verified member again (role and
badge kept) when it is lifted or its time runs out. Who may, over the pages and the API; all audited. Both
databases. (That their open sockets leave the community's rooms at once is in test_presence_and_removal.)"""

from __future__ import annotations

from datetime import timedelta

from quart import Quart
from sqlalchemy import select, update
from sqlmodel import col

from forum.actions.suspensions import lift_due
from forum.db import Database
from forum.models import AuditEntry, Community, Membership, MembershipStatus, Notification, Role, User
from forum.queries.communities import community_overview
from forum.timeutil import utcnow
from tests.factories import make_community, make_district_admin, make_member, make_thread, make_user
from tests.helpers import bearer, post_form, signed_in, text


async def _membership(db: Database, user: User, community: Community) -> Membership:
    async with db.read_only() as session:
        return (
            await session.execute(
                select(Membership).where(
                    col(Membership.user_id) == user.id, col(Membership.community_id) == community.id
                )
            )
        ).scalar_one()


async def test_a_suspended_member_can_neither_read_nor_post_until_the_suspension_is_lifted(
    app: Quart, db: Database
) -> None:
    community = await make_community(db)
    people = {}
    for name, role in (("su_rude", Role.RESIDENT), ("su_other", Role.RESIDENT), ("su_sec", Role.SECRETARY)):
        people[name] = await make_user(db, username=name, display_name=name)
        await make_member(db, user=people[name], community=community, role=role, is_party_member=name == "su_rude")
    thread = await make_thread(db, author=people["su_other"], community=community)
    rude, secretary = await signed_in(app, "su_rude"), await signed_in(app, "su_sec")
    target = await _membership(db, people["su_rude"], community)
    members = f"/c/{community.slug}/members"
    page = f"/t/{thread.id}"
    assert (await rude.get(page)).status_code == 200
    async with db.read_only() as session:
        before = (await community_overview(session, community)).member_count

    # A reason is required and the length is checked; nothing changes when refused.
    for fields in ({"days": "7"}, {"days": "366", "reason": "辱骂邻居"}, {"days": "一周", "reason": "辱骂邻居"}):
        refused = await post_form(secretary, f"/memberships/{target.id}/suspend", fields, token_from=members)
        assert refused.status_code == 303, fields
    assert (await _membership(db, people["su_rude"], community)).status == MembershipStatus.VERIFIED

    done = await post_form(
        secretary, f"/memberships/{target.id}/suspend", {"days": "7", "reason": "辱骂邻居"}, token_from=members
    )
    assert done.status_code == 302
    listed = await text(await secretary.get(members))
    assert "辱骂邻居" in listed and "解除停用" in listed

    # Shut out of the content, with the reason, over the pages and the API; the community page says until when.
    for path in (page, f"/c/{community.slug}/b/talk", f"/c/{community.slug}/search?q=x"):
        response = await rude.get(path)
        assert response.status_code == 403, path
        assert "辱骂邻居" in await text(response), path
    reply = await post_form(rude, f"{page}/replies", {"body": "我还要说"}, token_from="/")
    assert reply.status_code == 403
    headers = await bearer(app.test_client(), "su_rude")
    assert (await app.test_client().get(f"/api/v1/threads/{thread.id}", headers=headers)).status_code == 403
    home = await text(await rude.get(f"/c/{community.slug}"))
    assert "您已被停用" in home and "辱骂邻居" in home and "再次申请" not in home
    # Asking to join again would end the suspension: refused.
    for path in (f"/c/{community.slug}/request", f"/join/{community.join_code}"):
        again = await post_form(rude, path, {"building": "1", "room": "101"}, token_from=f"/c/{community.slug}")
        assert again.status_code == 409, path
        assert "重新申请加入不会解除停用" in await text(again), path
    stored = await _membership(db, people["su_rude"], community)
    assert stored.status == MembershipStatus.SUSPENDED and stored.suspended_until is not None
    assert stored.suspended_until - utcnow() > timedelta(days=6)
    async with db.read_only() as session:
        assert (await community_overview(session, community)).member_count == before - 1

    lifted = await post_form(secretary, f"/memberships/{target.id}/suspend", {"suspended": "0"}, token_from=members)
    assert lifted.status_code == 302
    assert (await rude.get(page)).status_code == 200
    stored = await _membership(db, people["su_rude"], community)
    assert stored.status == MembershipStatus.VERIFIED and stored.is_party_member and stored.suspend_reason == ""
    # Lifting twice is a conflict, not a silent success.
    assert (
        await post_form(secretary, f"/memberships/{target.id}/suspend", {"suspended": "0"}, token_from=members)
    ).status_code == 303
    async with db.read_only() as session:
        audit = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.detail).where(col(AuditEntry.action).like("member.%suspended"))
            )
        ).all()
        kinds = (
            await session.execute(select(Notification.kind).where(col(Notification.user_id) == people["su_rude"].id))
        ).scalars()
        assert sorted(kinds) == ["reinstated", "suspended"]
    assert [action for action, _detail in audit] == ["member.suspended", "member.unsuspended"]
    assert audit[0][1] == "7 d: 辱骂邻居"


async def test_who_may_suspend_over_the_pages_and_the_api(app: Quart, db: Database) -> None:
    community, elsewhere = await make_community(db), await make_community(db)
    people = {}
    for name, where, role in (
        ("sw_target", community, Role.RESIDENT),
        ("sw_resident", community, Role.RESIDENT),
        ("sw_sec", community, Role.SECRETARY),
        ("sw_sec2", community, Role.SECRETARY),
        ("sw_far", elsewhere, Role.SECRETARY),
    ):
        people[name] = await make_user(db, username=name)
        await make_member(db, user=people[name], community=where, role=role)
    people["sw_admin"] = await make_user(db, username="sw_admin")
    await make_district_admin(db, user=people["sw_admin"], district_id=community.district_id)
    target = await _membership(db, people["sw_target"], community)
    fellow = await _membership(db, people["sw_sec2"], community)
    own = await _membership(db, people["sw_sec"], community)
    form = {"days": "1", "reason": "冷静一下"}
    for name, membership_id, status in (
        ("sw_resident", target.id, 403),
        ("sw_far", target.id, 404),
        ("sw_sec", fellow.id, 403),  # a fellow secretary: the district admin's call
        ("sw_sec", own.id, 403),
    ):
        client = await signed_in(app, name)
        response = await post_form(client, f"/memberships/{membership_id}/suspend", form, token_from="/")
        assert response.status_code == status, (name, membership_id)
    client = app.test_client()
    path = f"/api/v1/memberships/{target.id}/suspend"
    body = {"suspended": True, "days": 0, "reason": "屡教不改"}
    assert (await client.post(path, json=body, headers=await bearer(client, "sw_resident"))).status_code == 403
    assert (await client.post(path, json=body, headers=await bearer(client, "sw_far"))).status_code == 404
    bad = await client.post(path, json={**body, "days": -1}, headers=await bearer(client, "sw_sec"))
    assert bad.status_code == 400
    done = await client.post(path, json=body, headers=await bearer(client, "sw_sec"))
    assert done.status_code == 200
    assert await done.get_json() == {
        "membership_id": target.id,
        "status": "suspended",
        "suspended_until": None,
        "reason": "屡教不改",
    }
    again = await client.post(path, json=body, headers=await bearer(client, "sw_sec"))
    assert again.status_code == 409
    # The district admin may suspend a secretary; a suspended secretary moderates nothing meanwhile.
    admin = await signed_in(app, "sw_admin")
    assert (await post_form(admin, f"/memberships/{fellow.id}/suspend", form, token_from="/")).status_code == 302
    suspended_secretary = await signed_in(app, "sw_sec2")
    members = await suspended_secretary.get(f"/c/{community.slug}/members")
    assert members.status_code == 403
    assert (await _membership(db, people["sw_sec2"], community)).role == Role.SECRETARY


async def test_a_suspension_ends_by_itself_when_its_time_is_up(app: Quart, db: Database) -> None:
    community = await make_community(db)
    secretary, resident = await make_user(db, username="se_sec"), await make_user(db, username="se_res")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    await make_member(db, user=resident, community=community)
    target = await _membership(db, resident, community)
    client = await signed_in(app, "se_sec")
    done = await post_form(
        client, f"/memberships/{target.id}/suspend", {"days": "1", "reason": "冷静一天"}, token_from="/"
    )
    assert done.status_code == 302
    async with db.unit_of_work() as session:
        assert await lift_due(session, now=utcnow()) == 0  # not yet
        await session.execute(
            update(Membership)
            .where(col(Membership.id) == target.id)
            .values(suspended_until=utcnow() - timedelta(seconds=1))
        )
    async with db.unit_of_work() as session:
        assert await lift_due(session, now=utcnow()) == 1
    async with db.unit_of_work() as session:
        assert await lift_due(session, now=utcnow()) == 0  # each once
    stored = await _membership(db, resident, community)
    assert stored.status == MembershipStatus.VERIFIED and stored.suspended_until is None
    reader = await signed_in(app, "se_res")
    assert (await reader.get(f"/c/{community.slug}/b/talk")).status_code == 200
    async with db.read_only() as session:
        last = (await session.execute(select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(1))).scalar_one()
        told = (
            await session.execute(select(Notification.kind).where(col(Notification.user_id) == resident.id))
        ).scalars()
        assert sorted(told) == ["reinstated", "suspended"]
    assert (last.action, last.actor_id, last.detail) == ("member.unsuspended", None, "time served")
