"""Moderation over Socket.IO, against a real server process: a thread's readers get `post.hidden`, `post.shown`
(with the text back) and `thread.locked` as a secretary acts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col

from forum.db import Database
from forum.models import Membership, Role, User
from forum.queries.threads import latest_event_id
from tests.factories import make_community, make_district_admin, make_member, make_reply, make_thread, make_user
from tests.servers import Server, http_login, http_post_form, run_server
from tests.test_messages_live import Participant

pytestmark = pytest.mark.server


async def test_hiding_showing_and_locking_reach_the_threads_readers(server: Server, db: Database) -> None:
    community = await make_community(db)
    secretary = await make_user(db, username="lmod_sec")
    reader_user = await make_user(db, username="lmod_reader")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    await make_member(db, user=reader_user, community=community)
    thread = await make_thread(db, author=reader_user, community=community)
    reply = await make_reply(db, author=reader_user, thread=thread, body="**吵架**的话")
    async with db.read_only() as session:
        seen = await latest_event_id(session)
    reader = Participant()
    await reader.connect(server, "lmod_reader")
    client = await http_login(server.url, "lmod_sec")
    page = f"/t/{thread.id}"
    try:
        assert await reader.subscribe(f"thread:{thread.id}", seen) == {"ok": True}
        hidden = await http_post_form(client, f"/posts/{reply.id}/hide", {"reason": "不友善"}, token_from=page)
        assert hidden.status_code == 302, hidden.text
        event = await reader.next_of("post.hidden")
        assert event["data"] == {"type": "post.hidden", "post_id": reply.id, "thread_id": thread.id, "number": 2}
        shown = await http_post_form(client, f"/posts/{reply.id}/show", token_from=page)
        assert shown.status_code == 302
        back = (await reader.next_of("post.shown"))["data"]
        assert back["number"] == 2 and "<strong>吵架</strong>" in back["body_html"]
        locked = await http_post_form(client, f"{page}/lock", {"locked": "1", "reason": "冷静一下"}, token_from=page)
        assert locked.status_code == 302
        lock = (await reader.next_of("thread.locked"))["data"]
        assert (lock["locked"], lock["reason"]) == (True, "冷静一下")
    finally:
        await client.aclose()
        await reader.client.disconnect()


async def test_a_connection_that_floods_is_dropped_and_a_calm_one_is_not(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    community = await make_community(db)
    for name in ("flood", "calm", "writer"):
        await make_member(db, user=await make_user(db, username=f"lmod_{name}"), community=community)
    async with db.read_only() as session:
        writer = (await session.execute(select(User).where(col(User.username) == "lmod_writer"))).scalar_one()
    thread = await make_thread(db, author=writer, community=community)
    settings = {"SOCKET_EVENTS_PER_WINDOW": "20", "SOCKET_WINDOW_SECONDS": "10"}
    with run_server(db_url=db_url, var_dir=tmp_path, settings=settings) as server:
        flood, calm = Participant(), Participant()
        await flood.connect(server, "lmod_flood")
        await calm.connect(server, "lmod_calm")
        try:
            assert await flood.subscribe(f"thread:{thread.id}", 0) == {"ok": True}
            for _ in range(40):  # far past 20 in 10 s: typing is fire-and-forget, as a broken client would
                await flood.client.emit("typing", {"thread_id": thread.id})
            for _ in range(150):  # up to 15 s, on a busy machine
                if not flood.client.connected:
                    break
                await asyncio.sleep(0.1)
            assert not flood.client.connected
            for _ in range(5):  # a page's few subscribes stay well within the allowance
                assert await calm.subscribe(f"thread:{thread.id}", 0) == {"ok": True}
            assert calm.client.connected
        finally:
            for participant in (flood, calm):
                if participant.client.connected:
                    await participant.client.disconnect()


async def test_a_client_replaying_the_log_gets_no_text_of_a_reply_hidden_since(server: Server, db: Database) -> None:
    community = await make_community(db)
    secretary = await make_user(db, username="rmod_sec")
    reader_user = await make_user(db, username="rmod_reader")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    await make_member(db, user=reader_user, community=community)
    thread = await make_thread(db, author=secretary, community=community)
    async with db.read_only() as session:
        seen = await latest_event_id(session)
    reply = await make_reply(db, author=secretary, thread=thread, body="将被隐藏的话")
    client = await http_login(server.url, "rmod_sec")
    page = f"/t/{thread.id}"
    try:
        hidden = await http_post_form(client, f"/posts/{reply.id}/hide", {"reason": "测试"}, token_from=page)
        assert hidden.status_code == 302
    finally:
        await client.aclose()
    reader = Participant()
    await reader.connect(server, "rmod_reader")
    try:
        assert await reader.subscribe(f"thread:{thread.id}", seen) == {"ok": True}  # replays from before the reply
        created = await reader.next_of("post.created")
        assert created["data"]["post_id"] == reply.id and created["data"]["body_html"] == ""
        assert (await reader.next_of("post.hidden"))["data"]["post_id"] == reply.id
    finally:
        await reader.client.disconnect()


async def test_the_review_queue_is_live_for_secretaries_only(server: Server, db: Database) -> None:
    community = await make_community(db)
    for name, role in (("rq_sec", Role.SECRETARY), ("rq_author", Role.RESIDENT), ("rq_flagger", Role.RESIDENT)):
        await make_member(db, user=await make_user(db, username=name), community=community, role=role)
    async with db.read_only() as session:
        author = (await session.execute(select(User).where(col(User.username) == "rq_author"))).scalar_one()
        seen = await latest_event_id(session)
    thread = await make_thread(db, author=author, community=community)
    reply = await make_reply(db, author=author, thread=thread, body="广告")
    secretary, resident = Participant(), Participant()
    await secretary.connect(server, "rq_sec")
    await resident.connect(server, "rq_flagger")
    room = f"review:{community.id}"
    client = await http_login(server.url, "rq_flagger")
    try:
        assert await resident.subscribe(room, seen) == {"ok": False, "error": "forbidden"}
        assert await secretary.subscribe(room, seen) == {"ok": True}
        flag = f"/posts/{reply.id}/flag"
        assert (await http_post_form(client, flag, {"reason": "spam"}, token_from=flag)).status_code == 302
        event = await secretary.next_of("review.changed")
        assert event["data"] == {"type": "review.changed", "community_id": community.id, "waiting": 1}
        sec_client = await http_login(server.url, "rq_sec")
        decided = await http_post_form(
            sec_client, f"/posts/{reply.id}/review", {"decision": "disagree"}, token_from=f"/c/{community.slug}/review"
        )
        assert decided.status_code == 302
        assert (await secretary.next_of("review.changed"))["data"]["waiting"] == 0
        review_page = (await sec_client.get(f"/c/{community.slug}/review")).text
        assert f'data-room="review:{community.id}"' in review_page
        await sec_client.aclose()
    finally:
        await client.aclose()
        await secretary.client.disconnect()
        await resident.client.disconnect()


async def test_who_may_follow_a_thread_and_its_review_queue_over_socketio(server: Server, db: Database) -> None:
    """The matrix over Socket.IO: muted members still read (and follow) the thread; suspended and removed ones,
    and another community's secretary, may not; only secretaries and district admins follow the review queue."""
    community, elsewhere = await make_community(db), await make_community(db)
    people: dict[str, User] = {}
    for name, where, role in (
        ("sm_sec", community, Role.SECRETARY),
        ("sm_resident", community, Role.RESIDENT),
        ("sm_muted", community, Role.RESIDENT),
        ("sm_suspended", community, Role.RESIDENT),
        ("sm_removed", community, Role.RESIDENT),
        ("sm_far", elsewhere, Role.SECRETARY),
    ):
        people[name] = await make_user(db, username=name)
        await make_member(db, user=people[name], community=where, role=role)
    people["sm_admin"] = await make_user(db, username="sm_admin")
    await make_district_admin(db, user=people["sm_admin"], district_id=community.district_id)
    thread = await make_thread(db, author=people["sm_resident"], community=community)
    secretary = await http_login(server.url, "sm_sec")
    members = f"/c/{community.slug}/members"
    try:
        async with db.read_only() as session:
            ids = {
                name: (
                    await session.execute(
                        select(col(Membership.id)).where(
                            col(Membership.user_id) == people[name].id, col(Membership.community_id) == community.id
                        )
                    )
                ).scalar_one()
                for name in ("sm_muted", "sm_suspended", "sm_removed")
            }
        for path, form in (
            (f"/memberships/{ids['sm_muted']}/mute", {"hours": "24", "reason": "冷静一下"}),
            (f"/memberships/{ids['sm_suspended']}/suspend", {"days": "7", "reason": "冷静一周"}),
            (f"/memberships/{ids['sm_removed']}/remove", {}),
        ):
            assert (await http_post_form(secretary, path, form, token_from=members)).status_code == 302, path
        async with db.read_only() as session:
            seen = await latest_event_id(session)
        expected = {
            "sm_sec": ({"ok": True}, {"ok": True}),
            "sm_admin": ({"ok": True}, {"ok": True}),
            "sm_resident": ({"ok": True}, {"ok": False, "error": "forbidden"}),
            "sm_muted": ({"ok": True}, {"ok": False, "error": "forbidden"}),
            "sm_suspended": ({"ok": False, "error": "forbidden"}, {"ok": False, "error": "forbidden"}),
            "sm_removed": ({"ok": False, "error": "forbidden"}, {"ok": False, "error": "forbidden"}),
            "sm_far": ({"ok": False, "error": "not_found"}, {"ok": False, "error": "not_found"}),
        }
        for name, (thread_answer, review_answer) in expected.items():
            client = Participant()
            await client.connect(server, name)
            try:
                assert await client.subscribe(f"thread:{thread.id}", seen) == thread_answer, name
                assert await client.subscribe(f"review:{community.id}", seen) == review_answer, name
            finally:
                await client.client.disconnect()
    finally:
        await secretary.aclose()


async def test_a_secretarys_edit_reaches_open_pages_with_its_note(server: Server, db: Database) -> None:
    community = await make_community(db)
    secretary, author = await make_user(db, username="ln_sec"), await make_user(db, username="ln_author")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    await make_member(db, user=author, community=community)
    thread = await make_thread(db, author=author, community=community)
    reply = await make_reply(db, author=author, thread=thread, body="我的电话是13800138000")
    async with db.read_only() as session:
        seen = await latest_event_id(session)
    reader = Participant()
    await reader.connect(server, "ln_author")
    client = await http_login(server.url, "ln_sec")
    try:
        assert await reader.subscribe(f"thread:{thread.id}", seen) == {"ok": True}
        edit = f"/posts/{reply.id}/moderate-edit"
        done = await http_post_form(
            client, edit, {"body": "我的电话是（已删除）", "note": "删去电话号码"}, token_from=edit
        )
        assert done.status_code == 302, done.text
        data = (await reader.next_of("post.edited"))["data"]
        assert data["moderator_note"] == "删去电话号码" and "已删除" in data["body_html"]
    finally:
        await client.aclose()
        await reader.client.disconnect()
