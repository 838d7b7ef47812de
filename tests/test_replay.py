"""A socket replay shows a reader no more than the room's page shows them now, against a real server process and a
real Socket.IO client: a client may ask to replay from any point in the retention window (`after: 0`), after
replies were edited or hidden, threads hidden, deleted or moved, listings removed, notices hidden."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import col

from forum import rooms
from forum.access import standing_in
from forum.actions import flags, hiding, likes, thread_tools, threads
from forum.db import Database
from forum.errors import NotFound
from forum.events import REGISTRY
from forum.flaggables import ListingItem, ReplyItem, ThreadItem
from forum.models import Board, Community, Event, Listing, Membership, MembershipStatus, Post, Role, Thread, User, id_of
from forum.queries.threads import latest_event_id
from forum.timeutil import utcnow
from tests.barriers import mark_personal_room, until_blocked
from tests.factories import make_community, make_listing, make_member, make_reply, make_thread, make_user
from tests.servers import Server, http_login, http_post_form, run_server
from tests.test_messages_live import Participant

# Only PostgreSQL lets a test hold a table locked so that a reader waits (on SQLite it would fail instead).
ONLY_POSTGRESQL = pytest.mark.only_postgresql


async def _cast(db: Database, prefix: str) -> tuple[Community, dict[str, User]]:
    community = await make_community(db)
    people = {}
    for name, role in (("author", Role.RESIDENT), ("reader", Role.RESIDENT), ("secretary", Role.SECRETARY)):
        people[name] = await make_user(db, username=f"{prefix}_{name}")
        await make_member(db, user=people[name], community=community, role=role)
    return community, people


async def _replayed(server: Server, username: str, room: str, barrier: Any) -> list[dict[str, Any]]:
    """Everything `username` is replayed in `room` from the start of the log, up to the event `barrier()` then
    records (the relay sends in id order, so once the barrier arrives, the replay has too)."""
    reader = Participant()
    await reader.connect(server, username)
    try:
        assert await reader.subscribe(room, 0) == {"ok": True}
        marker = await barrier()
        received = []
        while True:
            envelope = await reader.next()
            if envelope["room"] != room:
                continue
            received.append(envelope)
            if marker(envelope):
                return received
    finally:
        await reader.close()


async def _like(db: Database, user: User, community: Community, post: Post) -> Any:
    async with db.unit_of_work() as session:
        standing = await standing_in(session, user, community)
        await likes.set_like(session, actor=user, post=post, standing=standing, liked=True)
    return lambda envelope: envelope["type"] == "post.liked" and envelope["data"]["post_id"] == post.id


async def test_a_replayed_reply_shows_its_text_as_it_is_now_not_before_an_edit_or_a_secretarys_edit(
    server: Server, db: Database
) -> None:
    community, people = await _cast(db, "rt")
    thread = await make_thread(db, author=people["author"], community=community)
    own_edit = await make_reply(db, author=people["author"], thread=thread, body="原来的电话 13800000000")
    moderated = await make_reply(db, author=people["author"], thread=thread, body="骂人的原话")
    async with db.unit_of_work() as session:
        standing = await standing_in(session, people["author"], community)
        post = await session.get(Post, own_edit.id)
        assert post is not None
        await threads.edit_post(session, actor=people["author"], post=post, standing=standing, body="电话已删除")
    async with db.unit_of_work() as session:
        standing = await standing_in(session, people["secretary"], community)
        post = await session.get(Post, moderated.id)
        assert post is not None
        await threads.edit_post(
            session, actor=people["secretary"], post=post, standing=standing, body="（已删改）", note="不文明用语"
        )

    async def barrier() -> Any:
        return await _like(db, people["reader"], community, own_edit)

    replay = await _replayed(server, people["reader"].username, rooms.THREAD(id_of(thread)), barrier)
    text = json.dumps(replay, ensure_ascii=False)
    assert "13800000000" not in text and "骂人的原话" not in text  # what the edits replaced
    bodies = {
        (envelope["type"], envelope["data"]["post_id"]): envelope["data"]["body_html"]
        for envelope in replay
        if "body_html" in envelope["data"]
    }
    assert (
        "电话已删除" in bodies[("post.created", own_edit.id)] and "电话已删除" in bodies[("post.edited", own_edit.id)]
    )
    assert "（已删改）" in bodies[("post.created", moderated.id)]
    assert [e["data"]["moderator_note"] for e in replay if e["type"] == "post.edited"] == ["", "不文明用语"]


async def test_a_replayed_board_lists_no_thread_hidden_deleted_or_moved_since(server: Server, db: Database) -> None:
    community, people = await _cast(db, "rb")
    hidden = await make_thread(db, author=people["author"], community=community, title="被隐藏的标题")
    deleted = await make_thread(db, author=people["author"], community=community, title="被删除的标题")
    moved = await make_thread(db, author=people["author"], community=community, title="被移走的标题")
    kept = await make_thread(db, author=people["author"], community=community, title="留下的标题")
    async with db.unit_of_work() as session:
        secretary = people["secretary"]
        standing = await standing_in(session, secretary, community)
        rows = {thread.id: await session.get(Thread, thread.id) for thread in (hidden, deleted, moved)}
        await hiding.set_hidden(
            session, actor=secretary, item=ThreadItem(rows[hidden.id]), standing=standing, hidden=True, reason="广告"
        )
        await thread_tools.delete_thread(
            session, actor=secretary, thread=rows[deleted.id], standing=standing, reason="重复"
        )
        guides = (
            await session.execute(
                select(Board).where(col(Board.community_id) == community.id, col(Board.slug) == "guides")
            )
        ).scalar_one()
        await thread_tools.move_thread(session, actor=secretary, thread=rows[moved.id], standing=standing, board=guides)

    async def barrier() -> Any:
        latest = await make_thread(db, author=people["author"], community=community, title="之后的帖子")
        return lambda envelope: envelope["type"] == "thread.created" and envelope["data"]["thread_id"] == latest.id

    replay = await _replayed(server, people["reader"].username, rooms.BOARD(kept.board_id), barrier)
    titles = [envelope["data"]["title"] for envelope in replay if envelope["type"] == "thread.created"]
    assert titles == ["留下的标题", "之后的帖子"]


async def test_a_replayed_market_lists_no_listing_removed_or_hidden_by_flags_since(
    server: Server, db: Database
) -> None:
    community, people = await _cast(db, "rm")
    flaggers = []
    for n in range(3):
        flaggers.append(await make_user(db, username=f"rm_flagger{n}"))
        await make_member(db, user=flaggers[-1], community=community)
    removed = await make_listing(
        db, owner=people["author"], community=community, title="违规的推车", pickup_area="我家门口 3号楼"
    )
    flagged = await make_listing(db, owner=people["author"], community=community, title="被举报的推车")
    kept = await make_listing(db, owner=people["author"], community=community, title="正常的推车")
    async with db.unit_of_work() as session:
        secretary = people["secretary"]
        listing = await session.get(Listing, removed.id)
        await hiding.set_hidden(
            session,
            actor=secretary,
            item=ListingItem(listing),  # type: ignore[arg-type]
            standing=await standing_in(session, secretary, community),
            hidden=True,
            reason="商业广告",
        )
    for flagger in flaggers:
        async with db.unit_of_work() as session:
            listing = await session.get(Listing, flagged.id)
            await flags.flag(
                session,
                actor=flagger,
                item=ListingItem(listing),  # type: ignore[arg-type]
                standing=await standing_in(session, flagger, community),
                reason="spam",
            )

    async def barrier() -> Any:
        latest = await make_listing(db, owner=people["author"], community=community, title="之后的推车")
        return lambda envelope: envelope["type"] == "listing.created" and envelope["data"]["listing_id"] == latest.id

    replay = await _replayed(server, people["reader"].username, rooms.MARKET(id_of(community)), barrier)
    assert [e["data"]["title"] for e in replay if e["type"] == "listing.created"] == ["正常的推车", "之后的推车"]
    assert "我家门口" not in json.dumps(replay, ensure_ascii=False)
    assert kept.id in {e["data"]["listing_id"] for e in replay}


async def test_a_replayed_community_room_tells_no_notice_hidden_since(server: Server, db: Database) -> None:
    community, people = await _cast(db, "rn")
    secretary = people["secretary"]
    withdrawn = await make_thread(db, author=secretary, community=community, board_slug="notices", title="发错的通知")
    async with db.unit_of_work() as session:
        thread = await session.get(Thread, withdrawn.id)
        await hiding.set_hidden(
            session,
            actor=secretary,
            item=ThreadItem(thread),  # type: ignore[arg-type]
            standing=await standing_in(session, secretary, community),
            hidden=True,
            reason="发错了",
        )

    async def barrier() -> Any:
        latest = await make_thread(db, author=secretary, community=community, board_slug="notices", title="停水通知")
        return lambda envelope: envelope["type"] == "notice.published" and envelope["data"]["thread_id"] == latest.id

    replay = await _replayed(server, people["reader"].username, rooms.COMMUNITY(id_of(community)), barrier)
    assert [e["data"]["title"] for e in replay if e["type"] == "notice.published"] == ["停水通知"]


def test_every_event_that_carries_content_is_decided_by_the_replay_of_each_of_its_rooms() -> None:
    for name, model in REGISTRY.items():
        if not model.content:
            continue
        assert model.to, f"{name} carries content but names no room"
        for kind, _field in model.to:
            assert kind.replay is not None and name in kind.replay.decides, (
                f"{name} carries content a page may stop showing, but a replay of {kind.name}: rooms does not "
                "decide it (forum.queries.replay)"
            )


def test_every_room_kind_an_event_names_is_in_the_table_and_events_name_their_rooms_from_their_own_fields() -> None:
    for name, model in REGISTRY.items():
        for kind, field in model.to:
            assert rooms.KINDS[kind.name] is kind
            assert field == "_user_id" or field in model.model_fields, f"{name}: no field {field}"


async def test_a_room_a_client_may_not_follow_is_not_found_even_its_own_personal_room(db: Database) -> None:
    community, people = await _cast(db, "rp")
    thread = await make_thread(db, author=people["author"], community=community)
    reader = people["reader"]
    async with db.read_only() as session:
        for room in (
            rooms.USER(id_of(reader)),  # the server puts a socket in its personal rooms; a client cannot
            rooms.SESSION(1),
            f"thread:+{thread.id}",
            f"thread:0{thread.id}",
            f"nothing:{thread.id}",
            "thread:",
            "thread:99999999999",
        ):
            with pytest.raises(NotFound):
                await rooms.check_access(session, reader, room)
        kind, standing = await rooms.check_access(session, reader, rooms.THREAD(id_of(thread)))
        assert kind is rooms.THREAD and standing.is_verified_member


async def test_every_stored_event_names_its_rooms_as_recorded(db: Database) -> None:
    """An action's event lands in exactly the rooms its model names (a sale's units in the sale's and the
    market's)."""
    community, people = await _cast(db, "rr")
    thread = await make_thread(db, author=people["author"], community=community)
    await make_reply(db, author=people["reader"], thread=thread)
    async with db.read_only() as session:
        stored = (await session.execute(select(Event).order_by(col(Event.id)))).scalars().all()
    assert stored
    for event in stored:
        model = REGISTRY[event.type]
        data = model.model_validate(json.loads(event.payload))
        if event.room.startswith(rooms.USER.name + ":"):
            continue  # personal events are addressed, not named by their fields
        assert event.room in data.rooms()


async def test_an_event_still_in_the_relay_when_a_reader_joins_reaches_them_only_as_replayed_now(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    """A reply posted and hidden by another process (here: the test's own writes, which the server's relay has
    not read yet; it reads the log only when told or every EVENT_POLL_SECONDS) must not reach a reader who
    subscribes afterwards live, with its text, when the relay catches up: the subscribe waits for the relay,
    then replays the reply as it is now."""
    community, people = await _cast(db, "rj")
    thread = await make_thread(db, author=people["author"], community=community)
    async with db.read_only() as session:
        seen = await latest_event_id(session)
    # The relay reads the log only when told (a commit of its own, a subscribe), never by the clock here.
    with run_server(db_url=db_url, var_dir=tmp_path, settings={"EVENT_POLL_SECONDS": "3600"}) as server:
        reply = await make_reply(db, author=people["author"], thread=thread, body="一会儿就被隐藏的电话号码")
        async with db.unit_of_work() as session:
            post, row = await session.get(Post, reply.id), await session.get(Thread, thread.id)
            assert post is not None and row is not None
            secretary = people["secretary"]
            await hiding.set_hidden(
                session,
                actor=secretary,
                item=ReplyItem(post, row),
                standing=await standing_in(session, secretary, community),
                hidden=True,
                reason="隐私",
            )
        received = await _after_a_like(server, people, thread, await _opening_id(db, thread), seen)
    text = json.dumps(received, ensure_ascii=False)
    assert "电话号码" not in text, received
    assert [e["type"] for e in received if e["data"].get("post_id") == reply.id] == ["post.created", "post.hidden"]


async def _after_a_like(
    server: Server, people: dict[str, User], thread: Thread, opening_id: int, seen: int
) -> list[dict[str, Any]]:
    """What a reader who subscribes to the thread from `seen` receives up to a like made through the server."""
    reader = Participant()
    await reader.connect(server, people["reader"].username)
    try:
        assert await reader.subscribe(rooms.THREAD(id_of(thread)), seen) == {"ok": True}
        # A write through the server itself: its relay now sends what the log holds, in id order, live to
        # everyone in the room, this like last.
        http = await http_login(server.url, people["author"].username)
        liked = await http_post_form(http, f"/posts/{opening_id}/like", {"value": "1"}, token_from=f"/t/{thread.id}")
        assert liked.status_code == 302
        await http.aclose()
        received: list[dict[str, Any]] = []
        while not received or received[-1]["type"] != "post.liked":
            received.append(await reader.next())
        return received
    finally:
        await reader.close()


async def _opening_id(db: Database, thread: Thread) -> int:
    async with db.read_only() as session:
        return int(
            (
                await session.execute(
                    select(col(Post.id)).where(col(Post.thread_id) == thread.id, col(Post.number) == 1)
                )
            ).scalar_one()
        )


@ONLY_POSTGRESQL
async def test_a_thread_hidden_while_a_subscribe_waits_is_not_joined(server: Server, db: Database, db_url: str) -> None:
    """The subscribe checks access, then waits (for the event log and the relay) before it joins. A thread hidden
    in between, by a process whose recheck never reaches this one (another process while Redis is away), must not
    be joined: the subscribe checks again once the socket is in the room. The wait is made real by holding the
    event table locked."""
    community, people = await _cast(db, "rw")
    thread = await make_thread(db, author=people["author"], community=community)
    reader = Participant()
    await reader.connect(server, people["reader"].username)
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as holder:
            transaction = await holder.begin()
            await holder.execute(text("LOCK TABLE event IN ACCESS EXCLUSIVE MODE"))
            answer = asyncio.create_task(reader.subscribe(rooms.THREAD(id_of(thread)), 0))
            await until_blocked(db)  # the subscribe passed its access check and waits for the event log
            async with db.unit_of_work() as session:
                await session.execute(
                    update(Thread).where(col(Thread.id) == thread.id).values(hidden_at=utcnow(), hidden_reason="广告")
                )
            await transaction.rollback()
        assert await answer == {"ok": False, "error": "not_found"}
    finally:
        await engine.dispose()
        await reader.close()


@ONLY_POSTGRESQL
async def test_a_member_removed_while_their_socket_connects_joins_none_of_its_rooms(
    server: Server, db: Database, db_url: str
) -> None:
    """A connect waits for the relay before it joins the member's communities; a removal meanwhile (here written
    straight to the database, as by another process while Redis is away) must leave them out of its rooms: the
    communities are read after the wait. Proven by a notice in the community, then a mark in their personal room
    that must arrive after anything the socket was going to get."""
    community, people = await _cast(db, "rc")
    reader = Participant()
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as holder:
            transaction = await holder.begin()
            await holder.execute(text("LOCK TABLE event IN ACCESS EXCLUSIVE MODE"))
            connecting = asyncio.create_task(reader.connect(server, people["reader"].username))
            await until_blocked(db)  # signed in, and waiting for the event log
            async with db.unit_of_work() as session:
                await session.execute(
                    update(Membership)
                    .where(col(Membership.user_id) == people["reader"].id)
                    .values(status=MembershipStatus.REMOVED)
                )
            await transaction.rollback()
        await connecting
        await make_thread(db, author=people["secretary"], community=community, board_slug="notices", title="停水")
        mark = await mark_personal_room(db, id_of(people["reader"]))
        received = []
        while not received or received[-1]["id"] != mark:
            received.append(await asyncio.wait_for(reader.events.get(), 10))
        assert [e["type"] for e in received if e["type"] == "notice.published"] == []
    finally:
        await engine.dispose()
        await reader.close()
