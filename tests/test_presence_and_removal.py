"""Who is reading a thread, notices for every member online, and removed members leaving rooms at once: against
real server processes, with and without Redis between them."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import socketio
from quart import Quart
from sqlalchemy import delete, select
from sqlmodel import col

from forum.db import Database, record_event
from forum.events import PostLiked
from forum.models import AuditEntry, AuthSession, Membership, MembershipStatus, Role, User, id_of
from forum.queries.threads import latest_event_id
from tests.barriers import mark_personal_room, newest_in
from tests.event_schemas import check_signal
from tests.factories import make_community, make_member, make_pending, make_reply, make_thread, make_user
from tests.helpers import login, post_form
from tests.servers import Server, cookie_header, http_login, http_post_form, run_server
from tests.services import REDIS_URL, require_service, unique_channel

# Generous: a server relays an event that this test stored when it next reads the log (EVENT_POLL_SECONDS), and
# sends reader counts at most once a second, on a machine that may be running other suites.
DEADLINE = 15.0


class Client:
    """A Socket.IO client that keeps what it receives: envelopes, reader counts, revoked rooms."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[dict[str, Any]] = []
        self.counts: list[int] = []
        self.revoked: list[str] = []
        self.sio.on("event", self.events.append)
        self.sio.on("presence", self._presence)
        self.sio.on("revoked", self._revoked)

    def _presence(self, signal: dict[str, Any]) -> None:
        check_signal("presence", signal)
        self.counts.append(signal["count"])

    def _revoked(self, signal: dict[str, Any]) -> None:
        check_signal("revoked", signal)
        self.revoked.append(signal["room"])

    async def before(self, event_id: int) -> list[dict[str, Any]]:
        """The envelopes received before the one with `event_id` (a barrier: see tests/barriers.py), once it
        has arrived."""
        await until(lambda: any(envelope["id"] == event_id for envelope in self.events), f"event {event_id}")
        return list(itertools.takewhile(lambda envelope: envelope["id"] != event_id, self.events))

    async def connect(self, server: Server, username: str) -> Client:
        http = await http_login(server.url, username)
        await self.sio.connect(server.url, headers={"Cookie": cookie_header(http)}, transports=["websocket"])
        await http.aclose()
        return self

    async def subscribe(self, room: str, after: int = 0) -> dict[str, Any]:
        answer: dict[str, Any] = await self.sio.call("subscribe", {"room": room, "after": after}, timeout=5)
        return answer

    async def close(self) -> None:
        await self.sio.disconnect()


async def until(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _neighbours(db: Database, *names: str) -> tuple[Any, Any]:
    community = await make_community(db)
    users = [await make_user(db, username=name) for name in names]
    for user in users:
        await make_member(db, user=user, community=community)
    thread = await make_thread(db, author=users[0], community=community)
    return community, thread


@pytest.mark.server
async def test_readers_of_a_thread_are_counted_once_per_person_and_leave_when_they_go(
    server: Server, db: Database
) -> None:
    _community, thread = await _neighbours(db, "reader_one", "reader_two")
    room = f"thread:{thread.id}"
    phone = await Client().connect(server, "reader_one")
    laptop = await Client().connect(server, "reader_one")  # the same person twice counts once
    other = await Client().connect(server, "reader_two")
    try:
        for client in (phone, laptop, other):
            assert await client.subscribe(room) == {"ok": True}
        await until(lambda: bool(phone.counts) and phone.counts[-1] == 2, "two readers")
        await other.close()
        await until(lambda: phone.counts[-1] == 1, "one reader after the other left")
        # One tab less, the same person: still one reader. Closing the tab makes the server count again, and
        # send that count; it says one, as does every count sent since.
        sent = len(phone.counts)
        await laptop.sio.call("unsubscribe", {"room": room}, timeout=5)
        await until(lambda: len(phone.counts) > sent, "the count after the tab closed")
        assert phone.counts[sent:] == [1] * (len(phone.counts) - sent)
    finally:
        for client in (phone, laptop, other):
            if client.sio.connected:
                await client.close()


@pytest.mark.server
async def test_with_redis_readers_on_two_processes_are_counted_together(
    db_url: str, tmp_path: Path, db: Database
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    channel = unique_channel()
    _community, thread = await _neighbours(db, "east_reader", "west_reader")
    room = f"thread:{thread.id}"
    with (
        run_server(db_url=db_url, var_dir=tmp_path, redis_url=REDIS_URL, channel=channel, name="a") as first,
        run_server(db_url=db_url, var_dir=tmp_path, redis_url=REDIS_URL, channel=channel, name="b") as second,
    ):
        east = await Client().connect(first, "east_reader")
        west = await Client().connect(second, "west_reader")
        try:
            assert await east.subscribe(room) == {"ok": True}
            assert await west.subscribe(room) == {"ok": True}
            await until(lambda: bool(east.counts) and east.counts[-1] == 2, "the reader on the other process")
            await until(lambda: bool(west.counts) and west.counts[-1] == 2, "both readers, seen from the west")
            await west.close()
            await until(lambda: east.counts[-1] == 1, "the count after the other process's reader left")
        finally:
            for client in (east, west):
                if client.sio.connected:
                    await client.close()


@pytest.mark.server
async def test_a_notice_reaches_every_member_online_whatever_page_they_have_open(server: Server, db: Database) -> None:
    community = await make_community(db)
    secretary = await make_user(db, username="notice_sec")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    await make_member(db, user=await make_user(db, username="notice_reader"), community=community)
    request = await make_pending(db, user=await make_user(db, username="notice_applicant"), community=community)
    reader = await Client().connect(server, "notice_reader")  # subscribed to nothing: any page at all
    applicant = await Client().connect(server, "notice_applicant")
    try:
        http = await http_login(server.url, "notice_sec")
        response = await http_post_form(
            http, f"/c/{community.slug}/b/notices/threads", {"title": "停水通知", "body": "明天上午九点到十二点停水。"}
        )
        assert response.status_code == 302
        await until(lambda: any(e["type"] == "notice.published" for e in reader.events), "the notice")
        notice = next(e for e in reader.events if e["type"] == "notice.published")
        assert notice["room"] == f"community:{community.id}" and notice["data"]["title"] == "停水通知"
        # Not a member yet: notices are for members. Being verified next tells the applicant (their bell), and
        # that comes after anything stored before it.
        verified = await http_post_form(http, f"/memberships/{request.id}/verify", token_from=f"/c/{community.slug}")
        assert verified.status_code == 302
        await http.aclose()
        bell = await newest_in(db, f"user:{request.user_id}")
        assert await applicant.before(bell) == []
    finally:
        await reader.close()
        await applicant.close()


async def _remove_and_check_kick(
    db: Database,
    reader_server: Server,
    writer_server: Server,
    action: str = "remove",
    fields: dict[str, str] | None = None,
) -> None:
    community = await make_community(db)
    secretary = await make_user(db, username="kick_sec")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    leaver = await make_user(db, username="moved_away")
    membership = await make_member(db, user=leaver, community=community)
    thread = await make_thread(db, author=secretary, community=community)
    async with db.read_only() as session:
        seen = await latest_event_id(session)
    reader = await Client().connect(reader_server, "moved_away")
    try:
        thread_room, board_room = f"thread:{thread.id}", f"board:{thread.board_id}"
        assert await reader.subscribe(thread_room, seen) == {"ok": True}
        assert await reader.subscribe(board_room, seen) == {"ok": True}
        http = await http_login(writer_server.url, "kick_sec")
        assert (await http_post_form(http, f"/memberships/{membership.id}/{action}", fields or {})).status_code == 302
        expected = {thread_room, board_room, f"community:{community.id}"}
        await until(lambda: set(reader.revoked) == expected, "every room of the community revoked")
        assert (await http_post_form(http, f"/t/{thread.id}/replies", {"body": "搬走之后的回复"})).status_code == 302
        await http.aclose()
        assert leaver.id is not None
        after_reply = await reader.before(await mark_personal_room(db, leaver.id))
        assert [e for e in after_reply if e["type"] == "post.created"] == []
        # And they cannot simply join again.
        assert await reader.subscribe(thread_room, seen) == {"ok": False, "error": "forbidden"}
        assert reader.sio.connected  # the rest of the connection (their own room) goes on
    finally:
        await reader.close()


@pytest.mark.server
async def test_a_removed_member_is_taken_out_of_the_communitys_rooms_at_once(server: Server, db: Database) -> None:
    await _remove_and_check_kick(db, server, server)


@pytest.mark.server
async def test_a_suspended_member_is_taken_out_of_the_communitys_rooms_at_once(server: Server, db: Database) -> None:
    await _remove_and_check_kick(db, server, server, "suspend", {"days": "7", "reason": "辱骂邻居"})


@pytest.mark.server
async def test_with_redis_a_removal_through_one_process_kicks_a_reader_on_another(
    db_url: str, tmp_path: Path, db: Database
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    channel = unique_channel()
    with (
        run_server(db_url=db_url, var_dir=tmp_path, redis_url=REDIS_URL, channel=channel, name="a") as first,
        run_server(db_url=db_url, var_dir=tmp_path, redis_url=REDIS_URL, channel=channel, name="b") as second,
    ):
        await _remove_and_check_kick(db, first, second)


async def test_a_secretary_removes_a_verified_member_who_keeps_their_account_and_may_ask_again(
    app: Quart, db: Database
) -> None:
    community = await make_community(db)
    secretary = await make_user(db, username="remove_sec")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    resident = await make_user(db, username="removed_resident")
    membership = await make_member(db, user=resident, community=community, is_party_member=True)
    applicant = await make_pending(db, user=await make_user(db), community=community)
    client = app.test_client()
    await login(client, "remove_sec")
    response = await post_form(client, f"/memberships/{membership.id}/remove", {})
    assert response.status_code == 302
    page = await (await client.get(f"/c/{community.slug}/members")).get_data(as_text=True)
    assert "removed_resident" in page or resident.display_name in page
    # Only verified members can be removed; a pending request is declined instead.
    assert (await post_form(client, f"/memberships/{applicant.id}/remove", {})).status_code == 409
    async with db.read_only() as session:
        stored = await session.get(Membership, membership.id)
        actions = list(
            (await session.execute(select(col(AuditEntry.action)).where(col(AuditEntry.actor_id) == secretary.id)))
            .scalars()
            .all()
        )
    assert stored is not None
    assert (stored.status, stored.is_party_member) == (MembershipStatus.REMOVED, False)
    assert actions == ["membership.removed"]
    assert "已移出社区" in page  # listed with the declined requests, labelled for what happened
    # The removed resident reads no more, is told why (not "your request was declined"), and may ask again.
    other = app.test_client()
    await login(other, "removed_resident")
    assert (await other.get(f"/c/{community.slug}/b/talk")).status_code == 403
    own = await (await other.get(f"/c/{community.slug}")).get_data(as_text=True)
    assert "书记已将您移出本社区" in own and "未能核实" not in own
    response = await post_form(
        other,
        f"/c/{community.slug}/request",
        {"building": "3", "unit": "", "room": "402"},
        token_from=f"/c/{community.slug}",
    )
    assert response.status_code == 302  # type: ignore[attr-defined]
    async with db.read_only() as session:
        again = await session.get(Membership, membership.id)
    assert again is not None and again.status == MembershipStatus.PENDING


@pytest.mark.parametrize(("actor", "expected"), [("plain_resident", 403), ("secretary_elsewhere", 404)])
async def test_only_the_communitys_secretaries_can_remove_a_member(
    app: Quart, db: Database, actor: str, expected: int
) -> None:
    community, elsewhere = await make_community(db), await make_community(db)
    await make_member(db, user=await make_user(db, username="plain_resident"), community=community)
    await make_member(
        db, user=await make_user(db, username="secretary_elsewhere"), community=elsewhere, role=Role.SECRETARY
    )
    target = await make_member(db, user=await make_user(db), community=community)
    client = app.test_client()
    await login(client, actor)
    assert (await post_form(client, f"/memberships/{target.id}/remove", {})).status_code == expected
    async with db.read_only() as session:
        stored = await session.get(Membership, target.id)
    assert stored is not None and stored.status == MembershipStatus.VERIFIED


async def test_the_api_removes_a_member_too(app: Quart, db: Database) -> None:
    community = await make_community(db)
    await make_member(db, user=await make_user(db, username="api_remove_sec"), community=community, role=Role.SECRETARY)
    target = await make_member(db, user=await make_user(db), community=community)
    client = app.test_client()
    token = (
        await (
            await client.post(
                "/api/v1/auth/tokens", json={"username": "api_remove_sec", "password": "correct horse battery"}
            )
        ).get_json()
    )["token"]
    response = await client.post(
        f"/api/v1/memberships/{target.id}/remove", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert (await response.get_json())["status"] == MembershipStatus.REMOVED


@pytest.mark.server
async def test_a_page_closed_while_its_subscribe_is_answered_is_not_counted_as_a_reader(
    server: Server, db: Database
) -> None:
    _community, thread = await _neighbours(db, "quick_leaver", "steady_reader")
    room = f"thread:{thread.id}"
    async with db.unit_of_work() as session:  # a long replay keeps each subscribe busy after it joined the room
        for n in range(300):
            record_event(session, PostLiked(post_id=1, thread_id=id_of(thread), number=1, like_count=n))
    http = await http_login(server.url, "quick_leaver")
    cookie = cookie_header(http)
    await http.aclose()
    # A reader flicking between threads: subscribe, and gone before the answer. The pauses sweep the moment of
    # leaving across the subscribe's work (access check, joining, the 300-event replay).
    for pause_ms in range(0, 60, 3):
        flicker = Client()
        await flicker.sio.connect(server.url, headers={"Cookie": cookie}, transports=["websocket"])
        await flicker.sio.emit("subscribe", {"room": room, "after": 0})
        await asyncio.sleep(pause_ms / 1000)
        await flicker.close()
    steady = await Client().connect(server, "steady_reader")
    try:
        assert await steady.subscribe(room) == {"ok": True}
        await until(lambda: bool(steady.counts), "a reader count")
        # A ghost is a flickering socket whose subscribe entered it in the count after its disconnect had run.
        # Entering calls for a count, so a ghost shows in a count sent after the steady reader's: a second
        # reader joining and leaving makes the server count twice more, long after every flicker's subscribe has
        # answered or found its socket gone (each answers in well under a second, the steady reader's included).
        check = await Client().connect(server, "quick_leaver")
        assert await check.subscribe(room) == {"ok": True}
        await until(lambda: steady.counts[-1] == 2, "the second reader counted")
        await check.close()
        await until(lambda: steady.counts[-1] == 1, "the count after the second reader left")
        assert set(steady.counts) <= {1, 2}, steady.counts
    finally:
        await steady.close()


@pytest.mark.server
async def test_a_client_cannot_leave_the_rooms_that_logout_and_removal_use_to_find_it(
    server: Server, db: Database
) -> None:
    community = await make_community(db)
    secretary = await make_user(db, username="stay_sec")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    sly = await make_user(db, username="sly_reader")
    membership = await make_member(db, user=sly, community=community)
    thread = await make_thread(db, author=secretary, community=community)
    http = await http_login(server.url, "sly_reader")
    reader = Client()
    await reader.sio.connect(server.url, headers={"Cookie": cookie_header(http)}, transports=["websocket"])
    try:
        assert await reader.subscribe(f"thread:{thread.id}") == {"ok": True}
        async with db.read_only() as session:
            auth_session = (
                await session.execute(select(AuthSession).where(col(AuthSession.user_id) == sly.id))
            ).scalar_one()
        for room in (f"user:{sly.id}", f"session:{auth_session.id}"):
            answer = await reader.sio.call("unsubscribe", {"room": room}, timeout=5)
            assert answer == {"ok": False, "error": "bad_request"}, room
        secretary_http = await http_login(server.url, "stay_sec")
        assert (await http_post_form(secretary_http, f"/memberships/{membership.id}/remove")).status_code == 302
        await secretary_http.aclose()
        await until(lambda: f"thread:{thread.id}" in reader.revoked, "the thread room revoked")
        assert (await http_post_form(http, "/logout")).status_code == 302
        await until(lambda: not reader.sio.connected, "the socket disconnected at logout")
    finally:
        await http.aclose()
        if reader.sio.connected:
            await reader.close()


async def test_a_post_whose_author_is_gone_offers_no_quote_and_quoting_it_is_not_found(
    app: Quart, db: Database
) -> None:
    community = await make_community(db)
    reader = await make_user(db, username="quote_reader_left")
    gone = await make_user(db, username="gone_author")
    for user in (reader, gone):
        await make_member(db, user=user, community=community)
    thread = await make_thread(db, author=reader, community=community)
    reply = await make_reply(db, author=gone, thread=thread, body="我搬走了")
    async with db.unit_of_work() as session:
        await session.execute(delete(Membership).where(col(Membership.user_id) == gone.id))
        await session.execute(delete(AuthSession).where(col(AuthSession.user_id) == gone.id))
        await session.execute(delete(User).where(col(User.id) == gone.id))
    client = app.test_client()
    await login(client, "quote_reader_left")
    page = await (await client.get(f"/t/{thread.id}")).get_data(as_text=True)
    assert f'href="/posts/{reply.id}/quote"' not in page and "我搬走了" in page
    response = await client.get(f"/posts/{reply.id}/quote", headers={"Accept": "application/json"})
    assert response.status_code == 404


@pytest.mark.server
async def test_the_author_and_the_secretaries_keep_following_a_thread_that_is_hidden(
    server: Server, db: Database
) -> None:
    community = await make_community(db)
    secretary = await make_user(db, username="hide_sec")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    reader_user = await make_user(db, username="hide_reader")
    await make_member(db, user=reader_user, community=community)
    thread = await make_thread(db, author=reader_user, community=community)
    async with db.read_only() as session:
        seen = await latest_event_id(session)
    reader = await Client().connect(server, "hide_reader")
    watching = await Client().connect(server, "hide_sec")
    try:
        thread_room = f"thread:{thread.id}"
        assert await reader.subscribe(thread_room, seen) == {"ok": True}
        assert await watching.subscribe(thread_room, seen) == {"ok": True}
        http = await http_login(server.url, "hide_sec")
        page = f"/t/{thread.id}"
        hidden = await http_post_form(http, f"{page}/hide", {"hidden": "1", "reason": "泄露隐私"}, token_from=page)
        assert hidden.status_code == 302
        await http.aclose()
        # Hiding rechecks the room's readers (see the next test) before its commit hands `thread.hidden` to the
        # relay, so a `revoked` would reach either socket before the event does: once both have it, neither was.
        barrier = await newest_in(db, thread_room)
        for client in (reader, watching):
            await client.before(barrier)
        assert reader.revoked == [] and watching.revoked == []
    finally:
        await reader.close()
        await watching.close()


async def _hide_and_check_kick(db: Database, reader_server: Server, writer_server: Server) -> None:
    community = await make_community(db)
    secretary = await make_user(db, username="hid_sec")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    author, neighbour = await make_user(db, username="hid_author"), await make_user(db, username="hid_neighbour")
    for user in (author, neighbour):
        await make_member(db, user=user, community=community)
    thread = await make_thread(db, author=author, community=community)
    async with db.read_only() as session:
        seen = await latest_event_id(session)
    reader = await Client().connect(reader_server, "hid_neighbour")
    try:
        thread_room = f"thread:{thread.id}"
        assert await reader.subscribe(thread_room, seen) == {"ok": True}
        http = await http_login(writer_server.url, "hid_sec")
        page = f"/t/{thread.id}"
        hidden = await http_post_form(http, f"{page}/hide", {"hidden": "1", "reason": "泄露隐私"}, token_from=page)
        assert hidden.status_code == 302
        await until(lambda: reader.revoked == [thread_room], "the hidden thread's room revoked")
        replied = await http_post_form(http, f"{page}/replies", {"body": "书记在隐藏的帖子里说的话"}, token_from=page)
        assert replied.status_code == 302
        # A notice reaches the neighbour, who is still a member, after everything stored before it.
        notice = await http_post_form(
            http, f"/c/{community.slug}/b/notices/threads", {"title": "楼道清理", "body": "周六上午清理楼道杂物。"}
        )
        assert notice.status_code == 302
        await http.aclose()
        after_reply = await reader.before(await newest_in(db, f"community:{community.id}"))
        assert [e for e in after_reply if e["type"] == "post.created"] == []
        assert await reader.subscribe(thread_room, seen) == {"ok": False, "error": "not_found"}
    finally:
        await reader.close()


@pytest.mark.server
async def test_a_neighbour_reading_a_thread_that_is_hidden_leaves_its_room_and_hears_nothing_more(
    server: Server, db: Database
) -> None:
    await _hide_and_check_kick(db, server, server)


@pytest.mark.server
async def test_with_redis_hiding_a_thread_through_one_process_kicks_its_reader_on_another(
    db_url: str, tmp_path: Path, db: Database
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    channel = unique_channel()
    with (
        run_server(db_url=db_url, var_dir=tmp_path, redis_url=REDIS_URL, channel=channel, name="a") as first,
        run_server(db_url=db_url, var_dir=tmp_path, redis_url=REDIS_URL, channel=channel, name="b") as second,
    ):
        await _hide_and_check_kick(db, first, second)
