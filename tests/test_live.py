"""Live forum events over Socket.IO, against a real server process: rooms, access, resume, retention."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import socketio

from forum.actions.events import prune_events
from forum.db import Database
from forum.queries.threads import latest_event_id
from forum.timeutil import utcnow
from tests.barriers import newest_in
from tests.event_schemas import check_signal
from tests.factories import make_community, make_member, make_pending, make_reply, make_thread, make_user
from tests.servers import Server, cookie_header, http_login, http_post_form, run_server
from tests.services import REDIS_URL, require_service, unique_channel

pytestmark = pytest.mark.server


class Reader:
    """A Socket.IO client that keeps every event envelope it receives, in order, and the reader counts."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.counts: list[int] = []  # `presence` signals of the threads it reads

        @self.client.on("event")
        async def on_event(envelope: dict[str, Any]) -> None:
            await self.events.put(envelope)

        @self.client.on("presence")
        async def on_presence(signal: dict[str, Any]) -> None:
            check_signal("presence", signal)
            self.counts.append(signal["count"])

    async def connect(self, server: Server, username: str) -> None:
        http = await http_login(server.url, username)
        await self.client.connect(server.url, headers={"Cookie": cookie_header(http)}, transports=["websocket"])
        await http.aclose()

    async def subscribe(self, room: str, after: int) -> dict[str, Any]:
        answer: dict[str, Any] = await self.client.call("subscribe", {"room": room, "after": after}, timeout=5)
        return answer

    async def round_trip(self) -> None:
        """An acknowledged no-op through this socket. The server handles one socket's events in the order they
        came, and decides whether to pass a `typing` signal on before it gives way to the next: once this is
        answered, every event this client sent before has been handled."""
        assert await self.client.call("unsubscribe", {"room": "thread:0"}, timeout=5) == {"ok": True}

    async def next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.events.get(), 5)

    async def until(self, event_id: int) -> list[dict[str, Any]]:
        """The envelopes received before the one with `event_id` (a barrier, see tests/barriers.py), which it
        waits for, long enough for a server to read the log (EVENT_POLL_SECONDS) on a busy machine."""
        before = []
        while (envelope := await asyncio.wait_for(self.events.get(), 15))["id"] != event_id:
            before.append(envelope)
        return before

    async def close(self) -> None:
        await self.client.disconnect()


async def until_counted(readers: list[Reader], count: int) -> None:
    """Until each reader's latest reader count is `count` (sent at most once a second per thread)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while not all(reader.counts and reader.counts[-1] == count for reader in readers):
        assert loop.time() < deadline, f"no reader count of {count}: {[reader.counts for reader in readers]}"
        await asyncio.sleep(0.05)


async def test_a_reply_reaches_a_reader_of_the_thread_live(server: Server, db: Database) -> None:
    community = await make_community(db)
    author, reader_user = await make_user(db, username="writer"), await make_user(db, username="reader")
    for user in (author, reader_user):
        await make_member(db, user=user, community=community)
    thread = await make_thread(db, author=author, community=community)
    async with db.read_only() as session:
        seen = await latest_event_id(session)
    reader = Reader()
    await reader.connect(server, "reader")
    try:
        assert await reader.subscribe(f"thread:{thread.id}", seen) == {"ok": True}
        # Posted through the server, as a browser would: it records the event and emits it after commit.
        http = await http_login(server.url, "writer")
        response = await http_post_form(http, f"/t/{thread.id}/replies", {"body": "我在楼下"})
        assert response.status_code == 302
        await http.aclose()
        envelope = await reader.next()
        assert envelope["type"] == "post.created" and envelope["room"] == f"thread:{thread.id}"
        assert envelope["data"]["number"] == 2 and "我在楼下" in envelope["data"]["body_html"]
        assert envelope["data"]["author"]["username"] == "writer"
    finally:
        await reader.close()


async def test_resuming_returns_exactly_the_missed_events_in_order(server: Server, db: Database) -> None:
    community = await make_community(db)
    author = await make_user(db, username="busy_writer")
    await make_member(db, user=author, community=community)
    thread = await make_thread(db, author=author, community=community)
    async with db.read_only() as session:
        last_seen = await latest_event_id(session)
    for n in range(5):  # written while the reader was away
        await make_reply(db, author=author, thread=thread, body=f"离线时的第{n + 1}条")
    reader = Reader()
    await reader.connect(server, "busy_writer")
    try:
        assert await reader.subscribe(f"thread:{thread.id}", last_seen) == {"ok": True}
        replayed = [await reader.next() for _ in range(5)]
        assert [envelope["data"]["number"] for envelope in replayed] == [2, 3, 4, 5, 6]
        ids = [envelope["id"] for envelope in replayed]
        assert ids == sorted(ids) and ids[0] > last_seen
        # Asking again from the newest id replays nothing: exactly once. The replies were written by another
        # process (this test), so the server's relay may also send them live when it reads the log: the contract
        # lets that overlap the replay (clients ignore ids they have seen); nothing else may come. A reply
        # through the server is the barrier: it makes the server read the log, and is relayed after all of it.
        assert await reader.subscribe(f"thread:{thread.id}", ids[-1]) == {"ok": True}
        http = await http_login(server.url, "busy_writer")
        assert (await http_post_form(http, f"/t/{thread.id}/replies", {"body": "回来了"})).status_code == 302
        await http.aclose()
        overlap = [envelope["id"] for envelope in await reader.until(await newest_in(db, f"thread:{thread.id}"))]
        assert set(overlap) <= set(ids), overlap
    finally:
        await reader.close()


async def test_a_client_away_past_the_retention_window_is_told_to_reload(server: Server, db: Database) -> None:
    community = await make_community(db)
    author = await make_user(db, username="old_reader")
    await make_member(db, user=author, community=community)
    thread = await make_thread(db, author=author, community=community)
    await make_reply(db, author=author, thread=thread)
    async with db.unit_of_work() as session:
        assert await prune_events(session, before=utcnow() + timedelta(seconds=1)) == 2
    reader = Reader()
    await reader.connect(server, "old_reader")
    try:
        assert await reader.subscribe(f"thread:{thread.id}", 0) == {"ok": False, "reload": True}
    finally:
        await reader.close()


async def test_rooms_are_joined_only_with_the_pages_access_rules(server: Server, db: Database) -> None:
    home, elsewhere = await make_community(db), await make_community(db)
    author = await make_user(db, username="home_author")
    await make_member(db, user=author, community=home)
    thread = await make_thread(db, author=author, community=home)
    outsider = await make_user(db, username="other_place")
    await make_member(db, user=outsider, community=elsewhere)
    applicant = await make_user(db, username="applicant_live")
    await make_pending(db, user=applicant, community=home)
    for username, expected in (("other_place", "not_found"), ("applicant_live", "forbidden")):
        reader = Reader()
        await reader.connect(server, username)
        try:
            for room in (f"thread:{thread.id}", f"board:{thread.board_id}", f"community:{home.id}"):
                assert await reader.subscribe(room, 0) == {"ok": False, "error": expected}, (username, room)
            for bad in ("user:1", "thread:abc", "session:1", "", "thread:99999999999"):
                assert (await reader.subscribe(bad, 0))["ok"] is False
            assert reader.events.empty()
        finally:
            await reader.close()


async def test_with_redis_a_reply_posted_through_one_process_reaches_a_reader_on_another(
    db_url: str, tmp_path: Path, db: Database
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    channel = unique_channel()
    community = await make_community(db)
    for username in ("writer_a", "reader_b"):
        await make_member(db, user=await make_user(db, username=username), community=community)
    author = await make_user(db, username="starter_c")
    await make_member(db, user=author, community=community)
    thread = await make_thread(db, author=author, community=community)
    async with db.read_only() as session:
        seen = await latest_event_id(session)
    with (
        run_server(db_url=db_url, var_dir=tmp_path, redis_url=REDIS_URL, channel=channel, name="a") as first,
        run_server(db_url=db_url, var_dir=tmp_path, redis_url=REDIS_URL, channel=channel, name="b") as second,
    ):
        reader = Reader()
        await reader.connect(second, "reader_b")
        try:
            assert await reader.subscribe(f"thread:{thread.id}", seen) == {"ok": True}
            http = await http_login(first.url, "writer_a")
            assert (await http_post_form(http, f"/t/{thread.id}/replies", {"body": "跨进程"})).status_code == 302
            await http.aclose()
            envelope = await reader.next()
            assert envelope["type"] == "post.created" and "跨进程" in envelope["data"]["body_html"]
        finally:
            await reader.close()


async def test_typing_reaches_other_readers_of_the_thread_only_and_is_throttled(server: Server, db: Database) -> None:
    community = await make_community(db)
    names = ("typist", "watcher", "onlooker")
    users = {name: await make_user(db, username=name, display_name=name.upper()) for name in names}
    for user in users.values():
        await make_member(db, user=user, community=community)
    thread = await make_thread(db, author=users["typist"], community=community)
    room = f"thread:{thread.id}"
    typist, watcher, onlooker = Reader(), Reader(), Reader()
    signals: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    watcher.client.on("typing", signals.put)
    echoed: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    typist.client.on("typing", echoed.put)
    for reader, name in ((typist, "typist"), (watcher, "watcher"), (onlooker, "onlooker")):
        await reader.connect(server, name)
    try:
        assert await watcher.subscribe(room, 0) == {"ok": True}
        # The typist has not subscribed: the signal goes nowhere. Subscribing is handled after it, and the
        # count of two readers that the subscription causes reaches the watcher after anything sent before.
        await typist.client.emit("typing", {"thread_id": thread.id})
        assert await typist.subscribe(room, 0) == {"ok": True}
        await until_counted([watcher], 2)
        assert signals.empty()

        for _ in range(3):  # a burst of keystrokes is one signal
            await typist.client.emit("typing", {"thread_id": thread.id})
        signal = await asyncio.wait_for(signals.get(), 5)
        check_signal("typing", signal)
        assert signal == {
            "type": "typing",
            "thread_id": thread.id,
            "conversation_id": None,
            "user_id": users["typist"].id,
            "display_name": "TYPIST",
        }
        # Once the burst is handled, a third reader's arrival is counted to both: nothing more came before it.
        await typist.round_trip()
        assert await onlooker.subscribe(room, 0) == {"ok": True}
        await until_counted([watcher, typist], 3)
        assert signals.empty() and echoed.empty()
    finally:
        for reader in (typist, watcher, onlooker):
            await reader.close()


async def test_likes_edits_and_deletions_reach_a_reader_as_they_happen(server: Server, db: Database) -> None:
    community = await make_community(db)
    author, fan = await make_user(db, username="live_poster"), await make_user(db, username="live_fan")
    for user in (author, fan):
        await make_member(db, user=user, community=community)
    thread = await make_thread(db, author=author, community=community)
    post = await make_reply(db, author=author, thread=thread, body="周末一起打扫楼道")
    async with db.read_only() as session:
        seen = await latest_event_id(session)
    reader = Reader()
    await reader.connect(server, "live_fan")
    fan_http, author_http = await http_login(server.url, "live_fan"), await http_login(server.url, "live_poster")
    try:
        assert await reader.subscribe(f"thread:{thread.id}", seen) == {"ok": True}
        assert (await http_post_form(fan_http, f"/posts/{post.id}/like", {"value": "1"})).status_code == 302
        assert (await http_post_form(fan_http, f"/posts/{post.id}/like", {"value": "1"})).status_code == 302  # again
        assert (await http_post_form(author_http, f"/posts/{post.id}/like", {"value": "1"})).status_code == 302
        assert (await http_post_form(fan_http, f"/posts/{post.id}/like", {"value": "0"})).status_code == 302
        edit = await http_post_form(author_http, f"/posts/{post.id}/edit", {"body": "改到**周日**"})
        assert edit.status_code == 302
        delete = await http_post_form(author_http, f"/posts/{post.id}/delete", {"confirm": "1"})
        assert delete.status_code == 302
        received: list[dict[str, Any]] = []
        while len(received) < 5:
            envelope = await reader.next()
            if envelope["id"] > seen:  # as every client does: what the page already reflects is skipped
                received.append(envelope)
        # The second like of the same person changed nothing, so it said nothing.
        assert [(e["type"], e["data"].get("like_count")) for e in received] == [
            ("post.liked", 1),
            ("post.liked", 2),
            ("post.liked", 1),
            ("post.edited", None),
            ("post.deleted", None),
        ]
        assert "<strong>周日</strong>" in received[3]["data"]["body_html"] and received[3]["data"]["number"] == 2
        assert received[4]["data"]["post_id"] == post.id
        ids = [e["id"] for e in received]
        assert ids == sorted(set(ids))
        # Nothing more: a reply made after them is the next thing the reader gets.
        reply = await http_post_form(author_http, f"/t/{thread.id}/replies", {"body": "到时见"})
        assert reply.status_code == 302
        barrier = await newest_in(db, f"thread:{thread.id}")
        assert [e for e in await reader.until(barrier) if e["id"] > seen] == []
    finally:
        await fan_http.aclose()
        await author_http.aclose()
        await reader.close()
