"""Notifications: who is told what, likes and messages gathered, the bell's count sent as the full number,
marking read, turning kinds off; the page, the settings and the API. Both databases."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from quart import Quart
from sqlalchemy import select
from sqlmodel import col

from forum.access import access_conversation, standing_in
from forum.actions import conversations, likes, memberships, messages, notifications
from forum.db import Database
from forum.markup import quote_markdown
from forum.models import Community, Event, Membership, Notification, NotificationKind, Post, Role, User
from forum.paths import post_path
from forum.queries.notifications import notifications_page, unread_notification_totals
from forum.timeutil import utcnow
from tests.factories import (
    PASSWORD,
    make_community,
    make_conversation,
    make_like,
    make_member,
    make_members,
    make_message,
    make_pending,
    make_reply,
    make_thread,
    make_user,
)
from tests.helpers import login, post_form, text


async def _mine(db: Database, user: User) -> list[Notification]:
    async with db.read_only() as session:
        rows = await session.execute(
            select(Notification).where(col(Notification.user_id) == user.id).order_by(col(Notification.id))
        )
        return list(rows.scalars())


async def _bell_events(db: Database, user: User) -> list[int]:
    async with db.read_only() as session:
        rows = await session.execute(
            select(Event.payload)
            .where(col(Event.room) == f"user:{user.id}", col(Event.type) == "notifications.changed")
            .order_by(col(Event.id))
        )
        return [json.loads(payload)["unread"] for payload in rows.scalars()]


async def test_a_reply_tells_the_threads_author_and_quotes_and_mentions_tell_each_person_once(db: Database) -> None:
    community = await make_community(db)
    author, replier, quoted, mentioned, both = await make_members(
        db, community=community, usernames=["nt_author", "nt_replier", "nt_quoted", "nt_mentioned", "nt_both"]
    )
    outsider = await make_user(db, username="nt_outsider")
    waiting = await make_user(db, username="nt_waiting")
    await make_pending(db, user=waiting, community=community)
    thread = await make_thread(db, author=author, community=community, title="电梯又坏了")
    earlier = await make_reply(db, author=quoted, thread=thread, body="物业说明天修 @nt_replier")
    quote = quote_markdown(earlier.body, username="nt_quoted", label="#1", url=post_path(thread.id or 0, 2))
    # "@nt_both" is both quoted (first) and mentioned: one notification, as a quote. Mentions inside the quote
    # (nt_replier, who is writing) tell nobody; outsiders and people still waiting are not told.
    names = "@nt_mentioned @nt_both @nt_outsider @nt_waiting @nt_replier"
    body = f"{quote}{names} 大家看看\n\n> @nt_both [#9](/t/1#p10):\n> 引"
    reply = await make_reply(db, author=replier, thread=thread, body=body)

    assert [(n.kind, n.subject, n.title, n.url) for n in await _mine(db, author)] == [
        ("reply", f"post:{earlier.id}", "电梯又坏了", post_path(thread.id or 0, 2)),
        ("reply", f"post:{reply.id}", "电梯又坏了", post_path(thread.id or 0, 3)),
    ]
    assert [n.kind for n in await _mine(db, quoted)] == ["quote"]
    assert [n.kind for n in await _mine(db, mentioned)] == ["mention"]
    assert [n.kind for n in await _mine(db, both)] == ["quote"]
    # nt_replier was mentioned by nt_quoted's reply, but not by their own post.
    assert [(n.kind, n.actor_id) for n in await _mine(db, replier)] == [("mention", quoted.id)]
    assert await _mine(db, outsider) == [] and await _mine(db, waiting) == []
    assert await _bell_events(db, author) == [1, 2]

    # A new thread that mentions someone tells them; starting it tells its own author nothing.
    await make_thread(db, author=mentioned, community=community, title="新话题", body="@nt_author 请看")
    assert [n.kind for n in await _mine(db, author)][-1] == "mention"
    assert [n.kind for n in await _mine(db, mentioned)] == ["mention"]


async def test_likes_on_one_post_gather_while_unread_and_start_again_once_read(db: Database) -> None:
    community = await make_community(db)
    author, *likers = await make_members(db, community=community, usernames=["lk_author", "lk_a", "lk_b", "lk_c"])
    thread = await make_thread(db, author=author, community=community, title="谢谢保安师傅")
    opening = await _opening(db, thread.id or 0)
    await make_like(db, user=author, post=opening)  # one's own like tells nobody
    assert await _mine(db, author) == []
    for liker in likers:
        await make_like(db, user=liker, post=opening)
    await make_like(db, user=likers[0], post=opening)  # a double tap changes nothing
    for _ in range(3):  # liking and unliking over and over counts one person once
        await _unlike(db, likers[1], opening, community)
        await make_like(db, user=likers[1], post=opening)
    (gathered,) = await _mine(db, author)
    assert (gathered.kind, gathered.count, gathered.actor_id) == ("like", 3, likers[1].id)
    assert await _bell_events(db, author) == [1, 1, 1, 1, 1, 1]
    # The only liker taking it back takes the notification away.
    other = await make_thread(db, author=author, community=community, title="第二个")
    second = await _opening(db, other.id or 0)
    await make_like(db, user=likers[0], post=second)
    await _unlike(db, likers[0], second, community)
    assert [n.subject for n in await _mine(db, author)] == [f"post:{opening.id}"]
    assert (await _bell_events(db, author))[-2:] == [2, 1]

    async with db.read_only() as session:
        page = await notifications_page(session, author)
    assert [(row.actor.display_name if row.actor else None, row.notification.count) for row in page.rows] == [
        ("Lk_B", 3)
    ]
    async with db.unit_of_work() as session:
        assert await notifications.mark_read(session, user=author) == 1
    await _unlike(db, likers[1], opening, community)
    await make_like(db, user=likers[1], post=opening)
    assert [(n.count, n.read_at is None) for n in await _mine(db, author)] == [(3, False), (1, True)]
    assert (await _bell_events(db, author))[-2:] == [0, 1]


async def _opening(db: Database, thread_id: int) -> Post:
    async with db.read_only() as session:
        return (
            await session.execute(select(Post).where(col(Post.thread_id) == thread_id, col(Post.number) == 1))
        ).scalar_one()


async def _unlike(db: Database, user: User, post: Post, community: Community) -> None:
    async with db.unit_of_work() as session:
        standing = await standing_in(session, user, community)
        await likes.set_like(session, actor=user, post=post, standing=standing, liked=False)


async def test_messages_notify_those_not_reading_gathered_per_conversation_and_reading_clears_them(
    db: Database,
) -> None:
    community = await make_community(db)
    zhang, wang = await make_members(db, community=community, usernames=["pm_zhang", "pm_wang"])
    conversation = await make_conversation(db, starter=zhang, community=community, others=[wang])
    conversation_id = conversation.id or 0
    await make_message(db, sender=zhang, conversation=conversation_id, body="first", reading=set())
    await make_message(db, sender=zhang, conversation=conversation_id, body="second", reading=set())
    (gathered,) = await _mine(db, wang)
    assert (gathered.kind, gathered.count, gathered.subject) == ("message", 2, f"conversation:{conversation_id}")
    assert await _mine(db, zhang) == []
    # Wang has the conversation open: nothing more for the bell.
    await make_message(db, sender=zhang, conversation=conversation_id, body="third", reading={wang.id or 0})
    assert [n.count for n in await _mine(db, wang)] == [2]

    async with db.unit_of_work() as session:
        conversation, member, _standing = await access_conversation(session, wang, conversation_id)
        await messages.mark_read(session, conversation=conversation, member=member, up_to=conversation.last_message_id)
    assert [n.read_at is not None for n in await _mine(db, wang)] == [True]
    assert await _bell_events(db, wang) == [1, 1, 0]


async def test_being_verified_is_a_notification_and_a_muted_kind_is_never_recorded(db: Database) -> None:
    community = await make_community(db)
    secretary = await make_user(db, username="vf_secretary")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    newcomer, quiet = await make_user(db, username="vf_new"), await make_user(db, username="vf_quiet")
    async with db.unit_of_work() as session:
        await notifications.set_muted(session, user=quiet, kinds=["verified", "mention"])
    for user in (newcomer, quiet):
        pending = await make_pending(db, user=user, community=community)
        async with db.unit_of_work() as session:
            standing = await standing_in(session, secretary, community)
            membership = await session.get(Membership, pending.id)
            assert membership is not None
            await memberships.verify_membership(session, actor=secretary, membership=membership, standing=standing)
    assert [(n.kind, n.title, n.url) for n in await _mine(db, newcomer)] == [
        ("verified", community.name, f"/c/{community.slug}")
    ]
    assert await _mine(db, quiet) == []
    await make_thread(db, author=newcomer, community=community, body="@vf_quiet @vf_secretary 你好")
    assert await _mine(db, quiet) == []
    assert [n.kind for n in await _mine(db, secretary)] == ["mention"]


async def test_concurrent_likes_gather_into_one_row_and_the_last_count_sent_is_right(db: Database) -> None:
    community = await make_community(db)
    author, *likers = await make_members(
        db, community=community, usernames=["cc_author", *[f"cc_liker{n}" for n in range(6)]]
    )
    posts = [await _opening(db, (await make_thread(db, author=author, community=community)).id or 0) for _ in likers]
    # The same post from everyone at once: one gathered row counting all of them.
    await asyncio.gather(*(make_like(db, user=liker, post=posts[0]) for liker in likers))
    assert [(n.kind, n.count) for n in await _mine(db, author)] == [("like", 6)]
    # A post each, at once: the rows do not meet, only the author's count does. Whatever order the likes
    # commit in, the last count sent (events are numbered in commit order) is the real one.
    await asyncio.gather(
        *(make_like(db, user=liker, post=post) for liker, post in zip(likers[1:], posts[1:], strict=True))
    )
    async with db.read_only() as session:
        assert await unread_notification_totals(session, [author.id or 0]) == {author.id: 6}
    assert (await _bell_events(db, author))[-1] == 6


# --- pages, settings and API -----------------------------------------------------------------------------------


async def test_the_notifications_page_opens_marks_read_and_keeps_each_persons_own(app: Quart, db: Database) -> None:
    community = await make_community(db)
    author, fan, nosy = await make_members(db, community=community, usernames=["pg_author", "pg_fan", "pg_nosy"])
    await make_member(db, user=author, community=await make_community(db))  # a second community
    thread = await make_thread(db, author=author, community=community, title="<b>楼道灯</b>")
    opening = await _opening(db, thread.id or 0)
    await make_like(db, user=fan, post=opening)
    await make_like(db, user=nosy, post=opening)
    await make_reply(db, author=fan, thread=thread, body="已经报修了")
    client = app.test_client()
    await login(client, "pg_author")

    page = await text(await client.get("/notifications"))
    assert "2 条未读" in page
    assert '<span class="person">Pg_Fan</span> 回复了“&lt;b&gt;楼道灯&lt;/b&gt;”' in page
    assert '<span class="person">Pg_Nosy</span> 和另外 1 人赞了您在“&lt;b&gt;楼道灯&lt;/b&gt;”中的帖子' in page
    reply_notification, like_notification = sorted(await _mine(db, author), key=lambda n: n.kind != "reply")

    other = app.test_client()
    await login(other, "pg_nosy")
    for path in (f"/notifications/{reply_notification.id}/open", f"/notifications/{reply_notification.id}/read"):
        assert (await post_form(other, path, token_from="/notifications")).status_code == 404
    assert "暂无通知" in await text(await other.get("/notifications"))

    opened = await post_form(client, f"/notifications/{reply_notification.id}/open", token_from="/notifications")
    assert opened.status_code == 302 and opened.headers["Location"] == reply_notification.url
    assert "1 条未读" in await text(await client.get("/notifications"))
    assert (await post_form(client, "/notifications/read", token_from="/notifications")).status_code == 302
    assert "全部已读" in await text(await client.get("/notifications"))
    assert all(n.read_at is not None for n in await _mine(db, author))
    assert like_notification.kind == "like"
    no_token = await client.post(f"/notifications/{like_notification.id}/read")
    assert no_token.status_code in (400, 403)


async def test_turning_kinds_off_in_settings_and_through_the_api(app: Quart, db: Database) -> None:
    community = await make_community(db)
    await make_members(db, community=community, usernames=["st_user"])
    client = app.test_client()
    await login(client, "st_user")
    settings = await text(await client.get("/settings"))
    assert settings.count('name="on"') == len(NotificationKind) and "有人赞了我的帖子" in settings
    kept = [kind.value for kind in NotificationKind if kind not in (NotificationKind.LIKE, NotificationKind.REPLY)]
    saved = await _post_many(client, "/settings/notifications", [("on", kind) for kind in kept])
    assert saved.status_code == 302

    client = app.test_client()  # an app: a bearer token, no cookie
    token = (
        await (await client.post("/api/v1/auth/tokens", json={"username": "st_user", "password": PASSWORD})).get_json()
    )["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert await (await client.get("/api/v1/notifications/preferences", headers=bearer)).get_json() == {
        "muted": ["like", "reply"]
    }
    changed = await client.put("/api/v1/notifications/preferences", json={"muted": ["message"]}, headers=bearer)
    assert changed.status_code == 200 and (await changed.get_json()) == {"muted": ["message"]}
    bad = await client.put("/api/v1/notifications/preferences", json={"muted": ["gossip"]}, headers=bearer)
    assert bad.status_code == 400
    assert await (await client.get("/api/v1/notifications/preferences", headers=bearer)).get_json() == {
        "muted": ["message"]
    }


async def _post_many(client: object, path: str, pairs: list[tuple[str, str]]) -> object:
    from urllib.parse import urlencode

    from tests.helpers import csrf_token

    token = await csrf_token(client, "/settings")  # type: ignore[arg-type]
    body = urlencode([*pairs, ("csrf_token", token)])
    return await client.post(  # type: ignore[attr-defined]
        path, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )


async def test_the_api_lists_notifications_and_marks_them_read(app: Quart, db: Database) -> None:
    community = await make_community(db)
    author, fan = await make_members(db, community=community, usernames=["api_author", "api_fan"])
    thread = await make_thread(db, author=author, community=community, title="失物招领")
    await make_reply(db, author=fan, thread=thread, body="是我的钥匙")
    await make_thread(db, author=fan, community=community, title="谢谢", body="@api_author 谢谢您")
    client = app.test_client()
    token = (
        await (
            await client.post("/api/v1/auth/tokens", json={"username": "api_author", "password": PASSWORD})
        ).get_json()
    )["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    listed = await (await client.get("/api/v1/notifications", headers=bearer)).get_json()
    assert listed["unread"] == 2 and listed["earlier"] is None
    assert [(n["kind"], n["title"], n["actor"]["username"], n["read"]) for n in listed["notifications"]] == [
        ("mention", "谢谢", "api_fan", False),
        ("reply", "失物招领", "api_fan", False),
    ]
    first = listed["notifications"][0]["id"]
    marked = await client.post("/api/v1/notifications/read", json={"ids": [first, 999999]}, headers=bearer)
    assert (await marked.get_json()) == {"unread": 1}
    assert (await (await client.post("/api/v1/notifications/read", json={}, headers=bearer)).get_json()) == {
        "unread": 0
    }
    for ids in (["x"], [9223372036854775808], [0]):
        bad = await client.post("/api/v1/notifications/read", json={"ids": ids}, headers=bearer)
        assert bad.status_code == 400, ids
    assert (await client.get("/api/v1/notifications?before=abc", headers=bearer)).status_code == 400


async def test_someone_who_left_hears_nothing_more_about_the_community_but_still_about_their_messages(
    db: Database,
) -> None:
    community = await make_community(db)
    secretary = await make_user(db, username="lv_secretary")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    mover, neighbour = await make_members(db, community=community, usernames=["lv_mover", "lv_neighbour"])
    thread = await make_thread(db, author=mover, community=community, title="搬家前的旧家具")
    async with db.unit_of_work() as session:
        standing = await standing_in(session, secretary, community)
        conversation, _new = await conversations.start_direct(
            session, actor=secretary, community=community, standing=standing, other=mover
        )
    async with db.unit_of_work() as session:
        membership = (
            await session.execute(
                select(Membership).where(
                    col(Membership.user_id) == mover.id, col(Membership.community_id) == community.id
                )
            )
        ).scalar_one()
        standing = await standing_in(session, secretary, community)
        await memberships.remove_member(session, actor=secretary, membership=membership, standing=standing)
    await make_reply(db, author=neighbour, thread=thread, body="@lv_mover 还在吗？")
    assert await _mine(db, mover) == []
    await make_message(
        db, sender=secretary, conversation=conversation.id or 0, body="物业费的收据还要吗？", reading=set()
    )
    assert [n.kind for n in await _mine(db, mover)] == ["message"]


async def test_crossed_replies_at_once_never_deadlock(db: Database) -> None:
    """C replies in A's thread mentioning B while D replies in B's thread mentioning A: each reply tells A and
    B. Locking one kind's people at a time took them in opposite orders (a deadlock on PostgreSQL)."""
    community = await make_community(db)
    a, b, c, d = await make_members(db, community=community, usernames=["dl_a", "dl_b", "dl_c", "dl_d"])
    threads_of = {
        "a": await make_thread(db, author=a, community=community, title="A 的话题"),
        "b": await make_thread(db, author=b, community=community, title="B 的话题"),
    }
    for round_number in range(15):
        results = await asyncio.gather(
            make_reply(db, author=c, thread=threads_of["a"], body=f"@dl_b 你看 {round_number}"),
            make_reply(db, author=d, thread=threads_of["b"], body=f"@dl_a 你看 {round_number}"),
            return_exceptions=True,
        )
        assert [r for r in results if isinstance(r, BaseException)] == []
    assert len(await _mine(db, a)) == len(await _mine(db, b)) == 30


async def test_a_deleted_post_takes_its_notifications_with_it(app: Quart, db: Database) -> None:
    community = await make_community(db)
    author, replier = await make_members(db, community=community, usernames=["del_author", "del_replier"])
    thread = await make_thread(db, author=author, community=community, title="旧话题")
    reply = await make_reply(db, author=replier, thread=thread, body="@del_author 说错了，我删掉")
    assert [n.kind for n in await _mine(db, author)] == ["mention"]
    client = app.test_client()
    await login(client, "del_replier")
    deleted = await post_form(client, f"/posts/{reply.id}/delete", {"confirm": "1"}, token_from=f"/t/{thread.id}")
    assert deleted.status_code == 302
    assert await _mine(db, author) == []
    assert (await _bell_events(db, author))[-1] == 0


async def test_read_notifications_are_pruned_after_the_retention_window_and_unread_ones_kept(db: Database) -> None:
    community = await make_community(db)
    (neighbour,) = await make_members(db, community=community, usernames=["pr_neighbour"])
    now = utcnow()
    ages = {"read long ago": 91, "read lately": 89, "unread, old": None}
    async with db.unit_of_work() as session:
        for title, days in ages.items():
            session.add(
                Notification(
                    user_id=neighbour.id or 0,
                    community_id=community.id or 0,
                    kind=NotificationKind.REPLY,
                    subject=title,
                    title=title,
                    url="/",
                    created_at=now - timedelta(days=200),
                    updated_at=now - timedelta(days=200),
                    read_at=None if days is None else now - timedelta(days=days),
                )
            )
    async with db.unit_of_work() as session:
        assert await notifications.prune_read(session, before=now - timedelta(days=90)) == 1
    assert sorted(n.title for n in await _mine(db, neighbour)) == ["read lately", "unread, old"]
