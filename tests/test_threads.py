"""Boards, threads and replies through the pages, and the events they record."""

from __future__ import annotations

import json
import re

from quart import Quart, url_for
from sqlalchemy import func, select
from sqlmodel import col

from forum.db import Database
from forum.events import REGISTRY
from forum.models import Event, Membership, Post, Role, Thread, User
from forum.paths import post_action_path, post_path, profile_path
from tests.factories import make_community, make_member, make_pending, make_reply, make_thread, make_user
from tests.helpers import csrf_token, login, member_client, post_form, text


async def test_a_member_starts_a_thread_and_a_neighbour_replies(app: Quart, db: Database) -> None:
    community = await make_community(db)
    author = await member_client(app, db, community, "starter")
    response = await post_form(
        author,
        f"/c/{community.slug}/b/talk/threads",
        {"title": "楼下快递柜坏了", "body": "**谁知道**怎么报修？"},
        token_from=f"/c/{community.slug}/b/talk",
    )
    assert response.status_code == 302
    thread_url = response.headers["Location"]
    page = await text(await author.get(thread_url))
    assert "楼下快递柜坏了" in page and "<strong>谁知道</strong>" in page
    assert "楼下快递柜坏了" in await text(await author.get(f"/c/{community.slug}/b/talk"))

    neighbour = await member_client(app, db, community, "neighbour", party=True)
    response = await post_form(
        neighbour, f"{thread_url}/replies", {"body": "打 12345 <script>x</script>"}, token_from=thread_url
    )
    assert response.headers["Location"] == f"{thread_url}/p/2"
    landing = await neighbour.get(f"{thread_url}/p/2")
    assert landing.headers["Location"] == f"{thread_url}#post-2"
    page = await text(await neighbour.get(thread_url))
    assert 'id="post-2"' in page and "&lt;script&gt;" in page and "<script>x" not in page
    assert 'class="badge-party"' in page.split('id="post-2"')[1]

    async with db.read_only() as session:
        events = (await session.execute(select(Event).order_by(col(Event.id)))).scalars().all()
    assert [(event.type, event.room.split(":")[0]) for event in events] == [
        ("thread.created", "board"),
        ("post.created", "thread"),
        ("notifications.changed", "user"),  # the thread's author: someone replied
    ]
    for event in events:  # every recorded event matches its declared schema
        model = REGISTRY[event.type]
        model.model_validate(json.loads(event.payload))
    assert events[0].id is not None and events[1].id is not None and events[0].id < events[1].id


async def test_only_secretaries_start_notices_and_only_verified_members_read(app: Quart, db: Database) -> None:
    community = await make_community(db)
    resident = await member_client(app, db, community, "plain_resident")
    secretary = await member_client(app, db, community, "notice_sec", role=Role.SECRETARY)
    form = {"title": "停水通知", "body": "明天上午停水"}
    refused = await post_form(
        resident, f"/c/{community.slug}/b/notices/threads", form, token_from=f"/c/{community.slug}"
    )
    assert refused.status_code == 403
    assert "Start a thread" not in await text(await resident.get(f"/c/{community.slug}/b/notices"))
    ok = await post_form(secretary, f"/c/{community.slug}/b/notices/threads", form, token_from=f"/c/{community.slug}")
    assert ok.status_code == 302
    thread_url = ok.headers["Location"]
    async with db.read_only() as session:
        rooms = set((await session.execute(select(col(Event.room)))).scalars())
    assert any(room.startswith("community:") for room in rooms)

    applicant = await make_user(db, username="not_yet")
    await make_pending(db, user=applicant, community=community)
    pending_client = app.test_client()
    await login(pending_client, "not_yet")
    response = await pending_client.get(thread_url)
    assert response.status_code == 403 and "认证" in await text(response)
    assert (await pending_client.get(f"/c/{community.slug}/b/talk")).status_code == 403
    await make_user(db, username="outsider")
    stranger = app.test_client()
    await login(stranger, "outsider")
    assert (await stranger.get(thread_url)).status_code == 404
    assert (await post_form(stranger, f"{thread_url}/replies", {"body": "hi"})).status_code == 404


async def test_bad_posts_are_explained_and_store_nothing(app: Quart, db: Database) -> None:
    community = await make_community(db)
    client = await member_client(app, db, community, "careless")
    board = f"/c/{community.slug}/b/talk"
    response = await post_form(client, f"{board}/threads", {"title": "", "body": "x" * 10_001}, token_from=board)
    assert response.status_code == 422
    page = await text(response)
    assert 'id="e-title"' in page and 'id="e-body"' in page
    async with db.read_only() as session:
        assert (await session.execute(select(func.count()).select_from(Thread))).scalar_one() == 0
        assert (await session.execute(select(func.count()).select_from(Event))).scalar_one() == 0


async def test_replies_are_numbered_in_order_and_pages_hold_fifty(app: Quart, db: Database) -> None:
    community = await make_community(db)
    author = await make_user(db, username="prolific")
    await make_member(db, user=author, community=community)
    thread = await make_thread(db, author=author, community=community)
    for n in range(54):
        await make_reply(db, author=author, thread=thread, body=f"第{n + 1}条回复")
    client = app.test_client()
    await login(client, "prolific")
    first = await text(await client.get(f"/t/{thread.id}"))
    assert first.count('class="post"') == 50 and "第49条回复" in first and "第50条回复" not in first
    assert 'data-room="thread:' not in first  # only the last page follows new replies live
    assert f'href="/t/{thread.id}?after=50"' in first
    landing = await client.get(f"/t/{thread.id}/p/55")
    assert landing.headers["Location"] == f"/t/{thread.id}?after=50#post-55"
    last = await text(await client.get(f"/t/{thread.id}?after=50"))
    assert last.count('class="post"') == 5 and f'data-room="thread:{thread.id}"' in last
    assert f'href="/t/{thread.id}"' in last  # earlier replies: the first page
    async with db.read_only() as session:
        numbers = (await session.execute(select(col(Post.number)).where(col(Post.thread_id) == thread.id))).scalars()
        assert sorted(numbers) == list(range(1, 56))


async def test_liking_is_one_per_person_idempotent_and_shows_who(app: Quart, db: Database) -> None:
    community = await make_community(db)
    author = await make_user(db, username="liked_author")
    await make_member(db, user=author, community=community)
    thread = await make_thread(db, author=author, community=community)
    fan = await member_client(app, db, community, "fan", party=True)
    async with db.read_only() as session:
        opening = (await session.execute(select(Post).where(col(Post.thread_id) == thread.id))).scalar_one()
    url = f"/posts/{opening.id}/like"
    for _ in range(2):  # a double tap likes once
        response = await post_form(fan, url, {"value": "1"}, token_from=f"/t/{thread.id}")
        assert response.status_code == 302
    as_json = await fan.post(
        url,
        form={"value": "1", "csrf_token": await csrf_token(fan, f"/t/{thread.id}")},
        headers={"Accept": "application/json"},
    )
    assert await as_json.get_json() == {"post_id": opening.id, "liked": True, "like_count": 1}
    page = await text(await fan.get(f"/t/{thread.id}"))
    assert 'aria-pressed="true"' in page and '<span class="like-number">1</span>' in page
    who = await text(await fan.get(f"/posts/{opening.id}/likes"))
    assert "fan" in who and 'class="badge-party"' in who.split("<main", 1)[1]

    await post_form(fan, url, {"value": "0"}, token_from=f"/t/{thread.id}")
    await post_form(fan, url, {"value": "0"}, token_from=f"/t/{thread.id}")
    async with db.read_only() as session:
        stored = await session.get(Post, opening.id)
        liked_events = (
            (await session.execute(select(Event).where(col(Event.type) == "post.liked").order_by(col(Event.id))))
            .scalars()
            .all()
        )
    assert stored is not None and stored.like_count == 0
    assert [json.loads(event.payload)["like_count"] for event in liked_events] == [1, 0]

    await make_user(db, username="nosy_outsider")
    outsider = app.test_client()
    await login(outsider, "nosy_outsider")
    assert (await post_form(outsider, url, {"value": "1"})).status_code == 404
    assert (await outsider.get(f"/posts/{opening.id}/likes")).status_code == 404


async def test_an_author_edits_with_a_visible_history_and_deletes_their_own_post(app: Quart, db: Database) -> None:
    community = await make_community(db)
    author = await member_client(app, db, community, "editor")
    secretary = await member_client(app, db, community, "history_sec", role=Role.SECRETARY)
    neighbour = await member_client(app, db, community, "bystander")
    board = f"/c/{community.slug}/b/talk"
    created = await post_form(author, f"{board}/threads", {"title": "借梯子", "body": "谁家有梯子？"}, token_from=board)
    thread_url = created.headers["Location"]
    async with db.read_only() as session:
        post = (await session.execute(select(Post))).scalar_one()

    assert (
        await post_form(neighbour, f"/posts/{post.id}/edit", {"body": "hacked"}, token_from=thread_url)
    ).status_code == 403
    assert (await neighbour.get(f"/posts/{post.id}/edit")).status_code == 403
    edited = await post_form(author, f"/posts/{post.id}/edit", {"body": "谁家有**长**梯子？"}, token_from=thread_url)
    assert edited.status_code == 302
    page = await text(await neighbour.get(thread_url))
    assert "<strong>长</strong>" in page and "已编辑" in page
    assert f"/posts/{post.id}/history" not in page  # bystanders see that it changed, not what it said
    assert (await neighbour.get(f"/posts/{post.id}/history")).status_code == 403
    for reader in (author, secretary):
        history = await text(await reader.get(f"/posts/{post.id}/history"))
        assert "谁家有梯子？" in history and "谁家有**长**梯子？" in history

    not_confirmed = await post_form(author, f"/posts/{post.id}/delete", token_from=thread_url)
    assert not_confirmed.headers["Location"] == f"/posts/{post.id}/edit"
    deleted = await post_form(author, f"/posts/{post.id}/delete", {"confirm": "1"}, token_from=thread_url)
    assert deleted.status_code == 302
    page = await text(await neighbour.get(thread_url))
    assert "梯子？" not in page.split("<main", 1)[1] and "已被作者删除" in page
    async with db.read_only() as session:
        types = list((await session.execute(select(col(Event.type)).order_by(col(Event.id)))).scalars())
    assert types == ["thread.created", "post.edited", "post.deleted"]
    assert (
        await post_form(author, f"/posts/{post.id}/edit", {"body": "again"}, token_from=thread_url)
    ).status_code == 403


async def test_line_breaks_typed_on_a_phone_survive_in_posts(app: Quart, db: Database) -> None:
    community = await make_community(db)
    client = await member_client(app, db, community, "line_breaker")
    board = f"/c/{community.slug}/b/talk"
    created = await post_form(
        client,
        f"{board}/threads",
        {"title": "失物招领", "body": "第一行\r\n第二行\n\n- 钥匙\n- 雨伞"},
        token_from=board,
    )
    page = await text(await client.get(created.headers["Location"]))
    assert "第一行<br>" in page and "第二行" in page and "<li>钥匙</li>" in page
    async with db.read_only() as session:
        post = (await session.execute(select(Post))).scalar_one()
    assert post.body == "第一行\n第二行\n\n- 钥匙\n- 雨伞"


async def test_board_pages_go_back_in_time_by_cursor_without_repeating_or_skipping_a_thread(
    app: Quart, db: Database
) -> None:
    community = await make_community(db)
    author = await make_user(db, username="board_keyset")
    await make_member(db, user=author, community=community)
    started = [await make_thread(db, author=author, community=community, title=f"话题{n}") for n in range(33)]
    client = app.test_client()
    await login(client, "board_keyset")
    first = await text(await client.get(f"/c/{community.slug}/b/talk"))
    older = re.search(r'href="(/c/[^"]+\?before=[^"]+)"', first)
    assert older is not None
    second = await text(await client.get(older.group(1).replace("&amp;", "&")))
    ids = [int(found) for found in re.findall(r'data-thread-id="(\d+)"', first + second)]
    assert ids == [thread.id for thread in reversed(started)]  # newest first, each once
    assert re.search(r'href="[^"]*\?before=', second) is None  # the last page links no further
    # Only the first page follows the board: a new thread belongs at its top, not at an older page's.
    assert 'data-room="board:' in first and "data-room=" not in second
    for bad in ("garbage", "2026-01-01_x", "_1", "2026-01-01T00:00:00_1"):  # malformed: from the top, never a 500
        response = await client.get(f"/c/{community.slug}/b/talk", query_string={"before": bad})
        assert response.status_code == 200, bad


async def test_post_paths_built_without_url_for_match_the_routes(app: Quart) -> None:
    async with app.test_request_context("/"):
        for action, endpoint in (("like", "like"), ("likes", "who_liked"), ("edit", "edit"), ("history", "history")):
            assert post_action_path(7, action) == url_for(f"threads.{endpoint}", post_id=7)
        for action, endpoint in (
            ("hide", "hide_form"),
            ("show", "show"),
            ("flag", "flag_form"),
            ("moderate-edit", "edit_form"),
        ):
            assert post_action_path(7, action) == url_for(f"moderation.{endpoint}", post_id=7)
        assert post_path(3, 4) == url_for("threads.permalink", thread_id=3, number=4)
        assert profile_path("li.na-2") == url_for("profile.show", username="li.na-2")


async def test_kept_posts_never_show_a_reader_anything_stale_or_meant_for_someone_else(
    app: Quart, db: Database
) -> None:
    """Posts are rendered once and kept (forum.web.templating.PostFragments): every change and every reader
    must still see their own page."""
    community = await make_community(db)
    author = await member_client(app, db, community, "kept_author")
    reader = await member_client(app, db, community, "kept_reader")
    secretary = await member_client(app, db, community, "kept_sec", role=Role.SECRETARY)
    board = f"/c/{community.slug}/b/talk"
    created = await post_form(author, f"{board}/threads", {"title": "修车", "body": "第一版"}, token_from=board)
    thread_url = created.headers["Location"]
    async with db.read_only() as session:
        post = (await session.execute(select(Post))).scalar_one()
        membership = (
            await session.execute(
                select(Membership)
                .join(User, col(User.id) == col(Membership.user_id))
                .where(col(User.username) == "kept_author")
            )
        ).scalar_one()

    def article(page: str) -> str:
        return page.split(f'id="post-{post.number}"', 1)[1].split("</article>", 1)[0]

    for client in (author, reader, secretary):  # every kind of reader, so each has a kept copy
        assert "第一版" in article(await text(await client.get(thread_url)))
    own = article(await text(await author.get(thread_url)))
    assert f"/posts/{post.id}/edit" in own
    assert f"/posts/{post.id}/edit" not in article(await text(await reader.get(thread_url)))

    await post_form(author, f"/posts/{post.id}/edit", {"body": "第二版"}, token_from=thread_url)
    await post_form(reader, f"/posts/{post.id}/like", {"value": "1"}, token_from=thread_url)
    liked = article(await text(await reader.get(thread_url)))
    assert "第二版" in liked and "第一版" not in liked
    assert 'aria-pressed="true"' in liked and '<span class="like-number">1</span>' in liked
    not_liked = article(await text(await secretary.get(thread_url)))
    assert 'aria-pressed="false"' in not_liked and '<span class="like-number">1</span>' in not_liked
    assert f"/posts/{post.id}/history" in not_liked  # a secretary may read what it said before
    assert f"/posts/{post.id}/history" not in liked

    assert "badge-party" not in article(await text(await reader.get(thread_url)))
    await post_form(secretary, f"/memberships/{membership.id}/party", {"value": "1"})
    assert "badge-party" in article(await text(await reader.get(thread_url)))

    await post_form(reader, "/language", {"locale": "en", "next": thread_url})
    english = article(await text(await reader.get(thread_url)))
    assert ">Like<" in english and "点赞" not in english
    assert "点赞" in article(await text(await secretary.get(thread_url)))

    page = await text(await reader.get(thread_url))
    token = re.search(
        r'<form id="like-form" method="post" hidden><input type="hidden" name="csrf_token" value="([^"]+)"', page
    )
    assert token is not None and token.group(1) not in article(page)  # nothing bound to a session is kept
