"""Flags and the review queue: one member flagging three times counts once; three distinct members hide the
reply until reviewed; the queue shows flagged replies most-flagged or newest first; agreeing hides with a
reason, disagreeing keeps (and shows again a reply the flags hid); the flaggers are told; only secretaries
review. Both databases."""

from __future__ import annotations

import asyncio

from quart import Quart
from sqlalchemy import select
from sqlmodel import col

from forum.access import standing_in
from forum.actions import flags
from forum.db import Database
from forum.flaggables import of_post
from forum.models import AuditEntry, Community, Event, Flag, Notification, NotificationKind, Post, Role, Thread, User
from tests.factories import PASSWORD, make_community, make_member, make_members, make_reply, make_thread, make_user
from tests.helpers import post_form, signed_in, text


async def _flag(db: Database, user: User, community: Community, post: Post, reason: str = "abuse") -> bool:
    async with db.unit_of_work() as session:
        thread = await session.get(Thread, post.thread_id)
        loaded = await session.get(Post, post.id)
        assert thread is not None and loaded is not None
        standing = await standing_in(session, user, community)
        return await flags.flag(session, actor=user, item=of_post(loaded, thread), standing=standing, reason=reason)


async def _hidden(db: Database, post: Post) -> bool:
    async with db.read_only() as session:
        loaded = await session.get(Post, post.id)
        assert loaded is not None
        return loaded.hidden_at is not None


async def test_three_distinct_neighbours_hide_a_reply_and_one_neighbour_counts_once(db: Database) -> None:
    community = await make_community(db)
    author, first, second, third = await make_members(
        db, community=community, usernames=["fl_author", "fl_a", "fl_b", "fl_c"]
    )
    thread = await make_thread(db, author=author, community=community)
    reply = await make_reply(db, author=author, thread=thread, body="广告：低价卖房")
    assert await _flag(db, first, community, reply) is True
    assert [await _flag(db, first, community, reply, "spam") for _ in range(2)] == [False, False]
    assert not await _hidden(db, reply)  # one member, three times: one flag
    await _flag(db, second, community, reply, "spam")
    assert not await _hidden(db, reply)
    await _flag(db, third, community, reply, "spam")
    assert await _hidden(db, reply)
    async with db.read_only() as session:
        events = (await session.execute(select(Event.type).where(col(Event.room) == f"thread:{thread.id}"))).scalars()
        assert "post.hidden" in set(events)
        audited = (await session.execute(select(AuditEntry.action))).scalars().all()
        assert "post.auto_hidden" in audited
    try:
        await _flag(db, author, community, reply)
    except Exception as error:
        assert getattr(error, "status", None) == 403
    else:
        raise AssertionError("flagged one's own post")


async def test_flags_arriving_together_still_hide_at_the_third(db: Database) -> None:
    community = await make_community(db)
    author, *flaggers = await make_members(
        db, community=community, usernames=["ft_author", "ft_a", "ft_b", "ft_c", "ft_d"]
    )
    thread = await make_thread(db, author=author, community=community)
    for round_number in range(3):
        reply = await make_reply(db, author=author, thread=thread, body=f"第{round_number}条")
        await asyncio.gather(*(_flag(db, flagger, community, reply) for flagger in flaggers[:3]))
        assert await _hidden(db, reply), round_number


async def test_secretaries_review_the_queue_and_the_flaggers_are_told(app: Quart, db: Database) -> None:
    community = await make_community(db)
    author, a, b, c = await make_members(db, community=community, usernames=["fr_author", "fr_a", "fr_b", "fr_c"])
    secretary = await make_user(db, username="fr_sec")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    thread = await make_thread(db, author=author, community=community, title="垃圾分类")
    rude = await make_reply(db, author=author, thread=thread, body="你们懂什么")
    mild = await make_reply(db, author=author, thread=thread, body="我觉得不对")
    for flagger in (a, b, c):
        await _flag(db, flagger, community, rude)
    await _flag(db, a, community, mild, "off_topic")
    slug = community.slug
    sec = await signed_in(app, "fr_sec")
    queue = await text(await sec.get(f"/c/{slug}/review"))
    assert queue.index(f"flagged-post-{rude.id}") < queue.index(f"flagged-post-{mild.id}")  # most flagged first
    newest = await text(await sec.get(f"/c/{slug}/review?sort=newest"))
    assert newest.index(f"flagged-post-{mild.id}") < newest.index(f"flagged-post-{rude.id}")
    resident = await signed_in(app, "fr_a")
    assert (await resident.get(f"/c/{slug}/review")).status_code == 403
    assert (
        await post_form(resident, f"/posts/{rude.id}/review", {"decision": "disagree"}, token_from="/")
    ).status_code == 403

    # Disagree on the reply the flags hid: it is shown again.
    kept = await post_form(sec, f"/posts/{rude.id}/review", {"decision": "disagree"}, token_from=f"/c/{slug}/review")
    assert kept.status_code == 302
    assert not await _hidden(db, rude)
    # Agree needs a reason; then the reply is hidden with it.
    refused = await post_form(sec, f"/posts/{mild.id}/review", {"decision": "agree"}, token_from=f"/c/{slug}/review")
    assert refused.status_code == 303
    assert not await _hidden(db, mild)
    agreed = await post_form(
        sec, f"/posts/{mild.id}/review", {"decision": "agree", "reason": "跑题"}, token_from=f"/c/{slug}/review"
    )
    assert agreed.status_code == 302 and await _hidden(db, mild)
    async with db.read_only() as session:
        open_flags = (await session.execute(select(Flag).where(col(Flag.resolved_at).is_(None)))).scalars().all()
        told = {
            (row.user_id, row.kind)
            for row in (await session.execute(select(Notification))).scalars().all()
            if row.kind in (NotificationKind.FLAG_AGREED, NotificationKind.FLAG_KEPT)
        }
    assert open_flags == []
    assert told == {
        (a.id, NotificationKind.FLAG_KEPT),
        (b.id, NotificationKind.FLAG_KEPT),
        (c.id, NotificationKind.FLAG_KEPT),
        (a.id, NotificationKind.FLAG_AGREED),
    }
    assert "fr_author" not in await text(await sec.get(f"/c/{slug}/review"))  # the queue is empty

    # Flagging through the page: the form names a missing reason; "other" needs a note.
    form = f"/posts/{mild.id}/flag"
    assert (await post_form(resident, form, {}, token_from=form)).status_code == 422
    assert (await post_form(resident, form, {"reason": "other"}, token_from=form)).status_code == 422
    assert (
        await post_form(resident, form, {"reason": "other", "note": "重复发帖"}, token_from=form)
    ).status_code == 302


async def test_the_api_flags_and_reviews_with_the_same_rules(app: Quart, db: Database) -> None:
    community = await make_community(db)
    author, _resident = await make_members(db, community=community, usernames=["fa_author", "fa_a"])
    secretary = await make_user(db, username="fa_sec")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    thread = await make_thread(db, author=author, community=community)
    reply = await make_reply(db, author=author, thread=thread, body="广告")
    client = app.test_client()

    async def bearer(username: str) -> dict[str, str]:
        answer = await client.post("/api/v1/auth/tokens", json={"username": username, "password": PASSWORD})
        return {"Authorization": f"Bearer {(await answer.get_json())['token']}"}

    resident, sec = await bearer("fa_a"), await bearer("fa_sec")
    bad = await client.post(f"/api/v1/posts/{reply.id}/flags", json={"reason": "ugly"}, headers=resident)
    assert bad.status_code == 422 and "reason" in (await bad.get_json())["fields"]
    first = await client.post(f"/api/v1/posts/{reply.id}/flags", json={"reason": "spam"}, headers=resident)
    again = await client.post(f"/api/v1/posts/{reply.id}/flags", json={"reason": "spam"}, headers=resident)
    assert (await first.get_json())["added"] is True and (await again.get_json())["added"] is False
    assert (await client.get(f"/api/v1/communities/{community.slug}/review", headers=resident)).status_code == 403
    queue = await (await client.get(f"/api/v1/communities/{community.slug}/review", headers=sec)).get_json()
    assert [(p["post_id"], [f["reporter"] for f in p["flags"]]) for p in queue["items"]] == [(reply.id, ["fa_a"])]
    decided = await client.post(f"/api/v1/posts/{reply.id}/review", json={"agree": True, "reason": "广告"}, headers=sec)
    assert (await decided.get_json())["hidden"] is True
    assert await _hidden(db, reply)


async def test_a_secretary_gives_a_reply_the_flags_hid_their_own_reason(app: Quart, db: Database) -> None:
    community = await make_community(db)
    author, first, second, third = await make_members(
        db, community=community, usernames=["fr_author", "fr_a", "fr_b", "fr_c"]
    )
    secretary = await make_user(db, username="fr_sec")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    thread = await make_thread(db, author=author, community=community)
    reply = await make_reply(db, author=author, thread=thread, body="卖假货")
    for flagger in (first, second, third):
        await _flag(db, flagger, community, reply, "spam")
    assert await _hidden(db, reply)
    client = await signed_in(app, "fr_sec")
    page = f"/t/{thread.id}"
    hidden = await post_form(client, f"/posts/{reply.id}/hide", {"reason": "商业广告"}, token_from=page)
    assert hidden.status_code == 302  # not "hidden already": the flags gave it no reason
    again = await post_form(client, f"/posts/{reply.id}/hide", {"reason": "再说一次"}, token_from=page)
    assert again.status_code == 409  # a secretary's hide is not redone
    async with db.read_only() as session:
        stored = await session.get(Post, reply.id)
        told = (
            (await session.execute(select(Notification.kind).where(col(Notification.user_id) == author.id)))
            .scalars()
            .all()
        )
    assert stored is not None and stored.hidden_reason == "商业广告" and list(told) == [NotificationKind.HIDDEN]
