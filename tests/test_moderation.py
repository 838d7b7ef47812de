"""A secretary's tools on threads and replies: hiding a reply with a reason its author sees, showing it again,
locking a thread with a reason; who may (the permission matrix over the pages and the API), what everyone
else sees, the audit entries and the moderation log. Both databases."""

from __future__ import annotations

from datetime import timedelta

from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import select, update
from sqlmodel import col

from forum.access import standing_in
from forum.actions import hiding, memberships, mutes, suspensions, thread_tools
from forum.db import Database
from forum.errors import InvalidInput
from forum.flaggables import ReplyItem
from forum.models import (
    AuditEntry,
    Community,
    Event,
    Membership,
    Notification,
    NotificationKind,
    Post,
    PostImage,
    Role,
    Thread,
    User,
)
from forum.timeutil import utcnow
from tests.factories import (
    PASSWORD,
    make_community,
    make_district,
    make_district_admin,
    make_member,
    make_reply,
    make_thread,
    make_user,
)
from tests.helpers import bearer, post_form, signed_in, text


async def _cast(app: Quart, db: Database) -> tuple[dict[str, Client], Thread, Post, dict[str, User]]:
    """A thread with a reply by `author`, and one of each kind of person the permission matrix asks about."""
    community, elsewhere = await make_community(db), await make_community(db)
    people: dict[str, User] = {}
    for name, where, role in (
        ("author", community, Role.RESIDENT),
        ("resident", community, Role.RESIDENT),
        ("secretary", community, Role.SECRETARY),
        ("other_secretary", elsewhere, Role.SECRETARY),
        ("removed", community, Role.RESIDENT),
        ("muted", community, Role.RESIDENT),
        ("suspended", community, Role.RESIDENT),
    ):
        people[name] = await make_user(db, username=f"mod_{name}", display_name=name)
        await make_member(db, user=people[name], community=where, role=role)
    people["admin"] = await make_user(db, username="mod_admin")
    await make_district_admin(db, user=people["admin"], district_id=community.district_id)
    thread = await make_thread(db, author=people["resident"], community=community, title="楼道堆物")
    reply = await make_reply(db, author=people["author"], thread=thread, body="骂人的话")
    async with db.unit_of_work() as session:
        secretary = people["secretary"]
        membership = (
            await session.execute(
                select(Membership).where(
                    col(Membership.user_id) == people["removed"].id, col(Membership.community_id) == community.id
                )
            )
        ).scalar_one()
        await memberships.remove_member(
            session,
            actor=secretary,
            membership=membership,
            standing=await standing_in(session, secretary, community),
        )
        standing = await standing_in(session, secretary, community)
        for name, act in (("muted", mutes.set_muted), ("suspended", suspensions.set_suspended)):
            target = (
                await session.execute(
                    select(Membership).where(
                        col(Membership.user_id) == people[name].id, col(Membership.community_id) == community.id
                    )
                )
            ).scalar_one()
            options = {"hours": 24} if name == "muted" else {"days": 7}
            await act(session, actor=secretary, membership=target, standing=standing, reason="冷静一下", **options)
    clients = {name: await signed_in(app, f"mod_{name}") for name in people}
    return clients, thread, reply, people


async def test_only_the_communitys_secretaries_and_district_admins_hide_show_and_lock(app: Quart, db: Database) -> None:
    clients, thread, reply, _people = await _cast(app, db)
    page = f"/t/{thread.id}"
    hide = f"/posts/{reply.id}/hide"
    expected = {
        "author": 403,
        "resident": 403,
        "other_secretary": 404,
        "removed": 403,
        "muted": 403,
        "suspended": 403,
    }
    for name, status in expected.items():
        response = await post_form(clients[name], hide, {"reason": "不文明"}, token_from="/")
        assert response.status_code == status, (name, response.status_code)
        locked = await post_form(clients[name], f"{page}/lock", {"locked": "1", "reason": "吵架"}, token_from="/")
        assert locked.status_code == status, (name, "lock")
    for name in ("secretary", "admin"):
        hidden = await post_form(clients[name], hide, {"reason": "人身攻击"}, token_from=page)
        assert hidden.status_code == 302, name
        shown = await post_form(clients[name], f"/posts/{reply.id}/show", token_from=page)
        assert shown.status_code == 302, name
    async with db.read_only() as session:
        actions = (await session.execute(select(AuditEntry.action).order_by(col(AuditEntry.id)))).scalars().all()
    assert [a for a in actions if a.startswith("post.")] == ["post.hidden", "post.shown"] * 2

    # Through the API the same rules hold.
    for name, status in (
        ("resident", 403),
        ("other_secretary", 404),
        ("muted", 403),
        ("suspended", 403),
        ("removed", 403),
        ("secretary", 200),
    ):
        token = await (
            await app.test_client().post("/api/v1/auth/tokens", json={"username": f"mod_{name}", "password": PASSWORD})
        ).get_json()
        answer = await app.test_client().post(
            f"/api/v1/threads/{thread.id}/lock",
            json={"locked": True, "reason": "冷静一下"},
            headers={"Authorization": f"Bearer {token['token']}"},
        )
        assert answer.status_code == status, (name, answer.status_code)


async def test_a_hidden_reply_is_gone_for_neighbours_and_its_author_sees_why(app: Quart, db: Database) -> None:
    clients, thread, reply, people = await _cast(app, db)
    page = f"/t/{thread.id}"
    slug = await _slug(db, thread)
    hit = f"/t/{thread.id}/p/2"
    assert hit in await text(await clients["resident"].get(f"/c/{slug}/search", query_string={"q": "骂人"}))
    bad = await post_form(clients["secretary"], f"/posts/{reply.id}/hide", {"reason": ""}, token_from=page)
    assert bad.status_code == 422 and "此项必填" in await text(bad)
    hidden = await post_form(clients["secretary"], f"/posts/{reply.id}/hide", {"reason": "人身攻击"}, token_from=page)
    assert hidden.status_code == 302
    again = await post_form(clients["secretary"], f"/posts/{reply.id}/hide", {"reason": "再来"}, token_from=page)
    assert again.status_code == 409

    neighbour = await text(await clients["resident"].get(page))
    assert "骂人的话" not in neighbour and "这条回复已被书记隐藏" in neighbour
    own = await text(await clients["author"].get(page))
    assert "骂人的话" in own and "人身攻击" in own
    secretary = await text(await clients["secretary"].get(page))
    assert "骂人的话" in secretary and f"/posts/{reply.id}/show" in secretary
    # Not in search, not quotable, not in the API for neighbours.
    assert hit not in await text(await clients["resident"].get(f"/c/{slug}/search", query_string={"q": "骂人"}))
    api = await app.test_client().post("/api/v1/auth/tokens", json={"username": "mod_resident", "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {(await api.get_json())['token']}"}
    posts = (await (await app.test_client().get(f"/api/v1/threads/{thread.id}", headers=bearer)).get_json())["posts"]
    assert posts[1]["hidden"] is True and posts[1]["body_html"] == "" and posts[1]["hidden_reason"] is None
    quoted = await clients["resident"].get(f"/posts/{reply.id}/quote", headers={"Accept": "application/json"})
    assert quoted.status_code == 404
    # Nor are its pictures, nor can it be shown again once its author deleted it.
    # Its author may still edit it; the new text is not sent to the thread's readers.
    edited = await post_form(clients["author"], f"/posts/{reply.id}/edit", {"body": "改过的话"}, token_from=page)
    assert edited.status_code == 302
    async with db.read_only() as session:
        rooms = (await session.execute(select(Event.type).where(col(Event.room) == f"thread:{thread.id}"))).scalars()
        assert "post.edited" not in set(rooms)
    async with db.read_only() as session:
        told = (
            (await session.execute(select(Notification.kind).where(col(Notification.user_id) == people["author"].id)))
            .scalars()
            .all()
        )
    assert NotificationKind.HIDDEN in told
    opening = await post_form(clients["secretary"], f"/posts/{reply.id - 1}/hide", {"reason": "x理由"}, token_from=page)
    assert opening.status_code in (404, 422)


async def test_a_locked_thread_takes_no_replies_from_residents_and_says_why(app: Quart, db: Database) -> None:
    clients, thread, _reply, _people = await _cast(app, db)
    page = f"/t/{thread.id}"
    locked = await post_form(
        clients["secretary"], f"{page}/lock", {"locked": "1", "reason": "讨论已结束"}, token_from=page
    )
    assert locked.status_code == 302
    shown = await text(await clients["resident"].get(page))
    assert "讨论已结束" in shown and 'class="reply-form"' not in shown
    refused = await post_form(clients["resident"], f"{page}/replies", {"body": "我还想说"}, token_from=page)
    assert refused.status_code == 403 and "讨论已结束" in await text(refused)
    by_secretary = await post_form(clients["secretary"], f"{page}/replies", {"body": "书记的总结"}, token_from=page)
    assert by_secretary.status_code == 302
    log = await text(await clients["secretary"].get(f"/c/{(await _slug(db, thread))}/moderation-log"))
    assert "thread.locked" in log and "讨论已结束" in log
    assert (await clients["resident"].get(f"/c/{await _slug(db, thread)}/moderation-log")).status_code == 403
    unlocked = await post_form(clients["secretary"], f"{page}/lock", {"locked": "0"}, token_from=page)
    assert unlocked.status_code == 302
    assert (
        await post_form(clients["resident"], f"{page}/replies", {"body": "终于"}, token_from=page)
    ).status_code == 302


async def _slug(db: Database, thread: Thread) -> str:
    async with db.read_only() as session:
        community = await session.get(Community, thread.community_id)
        assert community is not None
        return community.slug


async def test_a_pinned_thread_leads_its_board_until_it_expires_or_is_unpinned(app: Quart, db: Database) -> None:
    clients, thread, _reply, people = await _cast(app, db)
    slug = await _slug(db, thread)
    newer = await make_thread(db, author=people["resident"], community=await _community(db, thread), title="新话题")
    board = f"/c/{slug}/b/talk"
    order = await text(await clients["resident"].get(board))
    assert order.index("新话题") < order.index("楼道堆物")  # newest activity first
    assert (
        await post_form(clients["resident"], f"/t/{thread.id}/pin", {"hours": "24"}, token_from="/")
    ).status_code == 403
    pinned = await post_form(clients["secretary"], f"/t/{thread.id}/pin", {"hours": "24"}, token_from=f"/t/{thread.id}")
    assert pinned.status_code == 302
    order = await text(await clients["resident"].get(board))
    assert order.index("楼道堆物") < order.index("新话题") and order.count("楼道堆物") == 1  # above, listed once
    api = await app.test_client().post("/api/v1/auth/tokens", json={"username": "mod_resident", "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {(await api.get_json())['token']}"}
    listed = await (
        await app.test_client().get(f"/api/v1/communities/{slug}/boards/talk/threads", headers=bearer)
    ).get_json()
    assert [t["id"] for t in listed["pinned"]] == [thread.id] and thread.id not in [t["id"] for t in listed["threads"]]
    async with db.unit_of_work() as session:  # its day is over
        await session.execute(
            update(Thread).where(col(Thread.id) == thread.id).values(pinned_until=utcnow() - timedelta(seconds=1))
        )
    order = await text(await clients["resident"].get(board))
    assert order.index("新话题") < order.index("楼道堆物")
    del newer


async def _community(db: Database, thread: Thread) -> Community:
    async with db.read_only() as session:
        community = await session.get(Community, thread.community_id)
        assert community is not None
        return community


async def test_slow_mode_spaces_a_residents_replies_but_not_a_secretarys(app: Quart, db: Database) -> None:
    clients, thread, _reply, _people = await _cast(app, db)
    page = f"/t/{thread.id}"
    bad = await post_form(clients["secretary"], f"{page}/slow-mode", {"minutes": "99999"}, token_from=page)
    assert bad.status_code == 303
    assert (
        await post_form(clients["resident"], f"{page}/slow-mode", {"minutes": "15"}, token_from="/")
    ).status_code == 403
    assert (
        await post_form(clients["secretary"], f"{page}/slow-mode", {"minutes": "15"}, token_from=page)
    ).status_code == 302
    assert "每 15 分钟" in await text(await clients["resident"].get(page))
    async with db.unit_of_work() as session:  # the thread was started yesterday
        await session.execute(
            update(Post).where(col(Post.thread_id) == thread.id).values(created_at=utcnow() - timedelta(days=1))
        )
    first = await post_form(clients["resident"], f"{page}/replies", {"body": "第一条"}, token_from=page)
    assert first.status_code == 302
    second = await post_form(clients["resident"], f"{page}/replies", {"body": "第二条"}, token_from=page)
    assert second.status_code == 429 and "慢速模式" in await text(second)
    for body in ("书记一", "书记二"):
        assert (
            await post_form(clients["secretary"], f"{page}/replies", {"body": body}, token_from=page)
        ).status_code == 302
    async with db.unit_of_work() as session:  # a quarter of an hour later
        await session.execute(
            update(Post)
            .where(col(Post.thread_id) == thread.id, col(Post.body) == "第一条")
            .values(created_at=utcnow() - timedelta(minutes=16))
        )
    assert (
        await post_form(clients["resident"], f"{page}/replies", {"body": "第二条"}, token_from=page)
    ).status_code == 302


async def test_a_timer_locks_the_thread_by_itself_with_its_reason(app: Quart, db: Database) -> None:
    clients, thread, _reply, _people = await _cast(app, db)
    page = f"/t/{thread.id}"
    timed = await post_form(
        clients["secretary"], f"{page}/timer", {"hours": "24", "reason": "报名已截止"}, token_from=page
    )
    assert timed.status_code == 302
    assert "此帖将于" in await text(await clients["resident"].get(page))
    async with db.unit_of_work() as session:
        assert await thread_tools.close_due(session, now=utcnow()) == 0  # not yet
        await session.execute(
            update(Thread).where(col(Thread.id) == thread.id).values(closes_at=utcnow() - timedelta(seconds=1))
        )
    async with db.unit_of_work() as session:
        assert await thread_tools.close_due(session, now=utcnow()) == 1
    async with db.unit_of_work() as session:
        assert await thread_tools.close_due(session, now=utcnow()) == 0  # once
    shown = await text(await clients["resident"].get(page))
    assert "报名已截止" in shown and 'class="reply-form"' not in shown
    async with db.read_only() as session:
        events = (await session.execute(select(Event.type).where(col(Event.room) == f"thread:{thread.id}"))).scalars()
        assert "thread.locked" in set(events)


async def test_a_secretary_moves_and_deletes_threads_and_the_author_is_told(app: Quart, db: Database) -> None:
    clients, thread, _reply, people = await _cast(app, db)
    page = f"/t/{thread.id}"
    slug = await _slug(db, thread)
    assert (
        await post_form(clients["resident"], f"{page}/move", {"board": "guides"}, token_from="/")
    ).status_code == 403
    assert (
        await post_form(clients["secretary"], f"{page}/move", {"board": "nowhere"}, token_from=page)
    ).status_code == 404
    moved = await post_form(clients["secretary"], f"{page}/move", {"board": "guides"}, token_from=page)
    assert moved.status_code == 302
    assert "楼道堆物" in await text(await clients["resident"].get(f"/c/{slug}/b/guides"))
    assert "楼道堆物" not in await text(await clients["resident"].get(f"/c/{slug}/b/talk"))
    no_reason = await post_form(clients["secretary"], f"{page}/delete", {"reason": ""}, token_from=page)
    assert no_reason.status_code == 303
    deleted = await post_form(clients["secretary"], f"{page}/delete", {"reason": "重复发帖"}, token_from=page)
    assert deleted.status_code == 302
    assert (await clients["resident"].get(page)).status_code == 404
    async with db.read_only() as session:
        told = (
            (
                await session.execute(
                    select(Notification.title).where(col(Notification.user_id) == people["resident"].id)
                )
            )
            .scalars()
            .all()
        )
        actions = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert any("重复发帖" in title for title in told)
    assert "thread.moved" in actions and "thread.deleted" in actions


async def test_the_api_sets_slow_mode_a_timer_moves_and_deletes_under_the_same_rules(app: Quart, db: Database) -> None:
    _clients, thread, _reply, _people = await _cast(app, db)
    client = app.test_client()

    async def bearer(username: str) -> dict[str, str]:
        answer = await client.post("/api/v1/auth/tokens", json={"username": username, "password": PASSWORD})
        return {"Authorization": f"Bearer {(await answer.get_json())['token']}"}

    resident, secretary = await bearer("mod_resident"), await bearer("mod_secretary")
    base = f"/api/v1/threads/{thread.id}"
    assert (await client.post(f"{base}/slow-mode", json={"minutes": 5}, headers=resident)).status_code == 403
    assert (await client.post(f"{base}/slow-mode", json={"minutes": -1}, headers=secretary)).status_code == 400
    slowed = await (await client.post(f"{base}/slow-mode", json={"minutes": 5}, headers=secretary)).get_json()
    assert slowed["slow_mode_minutes"] == 5
    no_reason = await client.post(f"{base}/timer", json={"hours": 2}, headers=secretary)
    assert no_reason.status_code == 422 and "reason" in (await no_reason.get_json())["fields"]
    timed = await (
        await client.post(f"{base}/timer", json={"hours": 2, "reason": "截止"}, headers=secretary)
    ).get_json()
    assert timed["closes_at"]
    assert (await client.post(f"{base}/move", json={"board": "nowhere"}, headers=secretary)).status_code == 404
    moved = await (await client.post(f"{base}/move", json={"board": "guides"}, headers=secretary)).get_json()
    assert moved["board_id"] != thread.board_id
    assert (await client.post(f"{base}/delete", json={"reason": "重复"}, headers=resident)).status_code == 403
    assert (await client.post(f"{base}/delete", json={"reason": "重复"}, headers=secretary)).status_code == 204
    assert (await client.get(base, headers=resident)).status_code == 404


async def test_a_hidden_replys_pictures_are_gone_and_edits_meet_the_mute_and_the_word_filter(
    app: Quart, db: Database
) -> None:
    from tests.helpers import post_multipart
    from tests.test_images import png

    clients, thread, _reply, people = await _cast(app, db)
    page = f"/t/{thread.id}"
    posted = await post_multipart(
        clients["author"], f"{page}/replies", {"body": "带图回复"}, [("images", "a.png", png())], token_from=page
    )
    assert posted.status_code == 302
    async with db.read_only() as session:
        post = (await session.execute(select(Post).where(col(Post.body) == "带图回复"))).scalar_one()
        image_id = (await session.execute(select(PostImage.id).where(col(PostImage.post_id) == post.id))).scalar_one()
    assert (await clients["resident"].get(f"/images/{image_id}/thumb")).status_code == 200
    await post_form(clients["secretary"], f"/posts/{post.id}/hide", {"reason": "不宜公开"}, token_from=page)
    assert (await clients["resident"].get(f"/images/{image_id}/thumb")).status_code == 404
    assert (await clients["author"].get(f"/images/{image_id}/thumb")).status_code == 200
    assert (await clients["secretary"].get(f"/images/{image_id}/thumb")).status_code == 200

    words = f"/c/{await _slug(db, thread)}/word-filter"
    await post_form(clients["secretary"], words, {"word": "违禁词", "mode": "block"}, token_from=words)
    edit = f"/posts/{post.id}/edit"
    refused = await post_form(clients["author"], edit, {"body": "改成违禁词"}, token_from=edit)
    assert refused.status_code == 422 and "违禁词" in await text(refused)

    async with db.unit_of_work() as session:  # its author deletes it: it cannot be shown again
        loaded = await session.get(Post, post.id)
        assert loaded is not None
        loaded.deleted_at = utcnow()
    async with db.unit_of_work() as session:
        loaded, thread_row = await session.get(Post, post.id), await session.get(Thread, thread.id)
        assert loaded is not None and thread_row is not None
        secretary = people["secretary"]
        try:
            await hiding.set_hidden(
                session,
                actor=secretary,
                item=ReplyItem(loaded, thread_row),
                standing=await standing_in(session, secretary, await _community(db, thread)),
                hidden=False,
            )
        except InvalidInput as error:
            assert error.status == 409
        else:
            raise AssertionError("a deleted reply was shown again")


async def test_a_secretary_edits_a_post_with_a_note_everyone_sees_and_its_author_is_told(
    app: Quart, db: Database
) -> None:
    clients, thread, reply, people = await _cast(app, db)
    page = f"/t/{thread.id}"
    edit = f"/posts/{reply.id}/moderate-edit"
    assert (await clients["resident"].get(edit)).status_code == 403
    refused = await post_form(clients["resident"], edit, {"body": "改", "note": "改"}, token_from="/")
    assert refused.status_code == 403
    no_note = await post_form(clients["secretary"], edit, {"body": "（已删除电话号码）"}, token_from=edit)
    assert no_note.status_code == 422
    done = await post_form(
        clients["secretary"], edit, {"body": "（已删除电话号码）", "note": "删去了个人电话"}, token_from=edit
    )
    assert done.status_code == 302
    shown = await text(await clients["resident"].get(page))
    assert "（已删除电话号码）" in shown and "删去了个人电话" in shown and "骂人的话" not in shown
    async with db.read_only() as session:
        kinds = (
            (await session.execute(select(Notification.kind).where(col(Notification.user_id) == people["author"].id)))
            .scalars()
            .all()
        )
        actions = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert NotificationKind.MODERATED in kinds and "post.edited" in actions
    history = await text(await clients["author"].get(f"/posts/{reply.id}/history"))
    assert "骂人的话" in history  # the earlier text stays in its history


async def test_a_hidden_thread_is_gone_for_neighbours_and_its_author_sees_why(app: Quart, db: Database) -> None:
    clients, thread, reply, people = await _cast(app, db)
    page = f"/t/{thread.id}"
    slug = await _slug(db, thread)
    assert (await post_form(clients["author"], f"{page}/hide", {"reason": "x理由"}, token_from="/")).status_code == 403
    no_reason = await post_form(clients["secretary"], f"{page}/hide", {"hidden": "1"}, token_from=page)
    assert no_reason.status_code == 303
    hidden = await post_form(
        clients["secretary"], f"{page}/hide", {"hidden": "1", "reason": "涉及隐私"}, token_from=page
    )
    assert hidden.status_code == 302
    assert (await clients["author"].get(page)).status_code == 404  # the reply's author is not the thread's
    own = await clients["resident"].get(page)  # the thread's author
    assert own.status_code == 200 and "涉及隐私" in await text(own)
    assert "楼道堆物" not in await text(await clients["author"].get(f"/c/{slug}/b/talk"))
    refused = await post_form(clients["resident"], f"{page}/replies", {"body": "为什么"}, token_from=page)
    assert refused.status_code == 403
    assert (await clients["author"].get(f"/t/{thread.id}/p/2")).status_code == 404
    async with db.read_only() as session:
        kinds = (
            (await session.execute(select(Notification.kind).where(col(Notification.user_id) == people["resident"].id)))
            .scalars()
            .all()
        )
        events = (await session.execute(select(Event.type).where(col(Event.room) == f"thread:{thread.id}"))).scalars()
        assert "thread.hidden" in set(events)
    assert NotificationKind.THREAD_HIDDEN in kinds
    shown = await post_form(clients["secretary"], f"{page}/hide", {"hidden": "0"}, token_from=page)
    assert shown.status_code == 302
    assert (await clients["author"].get(page)).status_code == 200
    del reply


async def test_a_district_admin_reads_the_whole_districts_log_and_automatic_entries_say_so(
    app: Quart, db: Database
) -> None:
    district = await make_district(db)
    east, west = await make_community(db, district=district), await make_community(db, district=district)
    far = await make_community(db)
    admin = await make_user(db, username="dl_admin")
    await make_district_admin(db, user=admin, district_id=district.id or 0)
    secretary = await make_user(db, username="dl_sec")
    await make_member(db, user=secretary, community=east, role=Role.SECRETARY)
    for community, name in ((east, "dl_east"), (west, "dl_west"), (far, "dl_far")):
        user = await make_user(db, username=name)
        await make_member(db, user=user, community=community)
        thread = await make_thread(db, author=user, community=community, title=f"{name} 的帖子")
        async with db.unit_of_work() as session:
            await session.execute(
                update(Thread)
                .where(col(Thread.id) == thread.id)
                .values(closes_at=utcnow() - timedelta(minutes=1), close_reason="到期")
            )
    async with db.unit_of_work() as session:
        assert await thread_tools.close_due(session, now=utcnow()) == 3  # one timer entry in each community, by nobody
    admin_client, secretary_client = await signed_in(app, "dl_admin"), await signed_in(app, "dl_sec")
    log = f"/c/{east.slug}/moderation-log"
    own = await text(await secretary_client.get(log))
    assert own.count("thread.locked") == 1 and "自动" in own and "已注销用户" not in own
    assert (await secretary_client.get(f"{log}?scope=district")).status_code == 403
    whole = await text(await admin_client.get(f"{log}?scope=district"))
    assert whole.count("thread.locked") == 2 and east.name in whole and west.name in whole and far.name not in whole
    api = app.test_client()
    headers = await bearer(api, "dl_admin")
    entries = (
        await (
            await api.get(f"/api/v1/communities/{west.slug}/moderation-log?scope=district", headers=headers)
        ).get_json()
    )["entries"]
    assert sorted(e["community"] for e in entries if e["action"] == "thread.locked") == sorted([east.slug, west.slug])
    assert all(e["automatic"] and e["actor"] is None for e in entries if e["action"] == "thread.locked")
    refused = await api.get(
        f"/api/v1/communities/{east.slug}/moderation-log?scope=district", headers=await bearer(api, "dl_sec")
    )
    assert refused.status_code == 403
