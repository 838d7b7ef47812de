"""A Redis that hangs (issue 21, part 2): stopped with SIGSTOP, so its connections stay open and no answer ever
comes, which no timeout of a blocking read and no refused connection reveals. Two server processes share it.

While it hangs, every answer comes within HANG_BUDGET: a reply, a private message, a thread subscribe, a socket
that joins, a sign-in and page reads, on either process (the first Redis call after the freeze may spend the
1 s fail-fast budget of forum/redis_client.py once). Each process notices the hang by itself. Once Redis runs
again, a reader on one process gets every reply posted on the other, during the hang and after it, in order and
once, with nothing posted to nudge it and with the event log polled only once a minute, so that only the
recovery can deliver them.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import signal
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import socketio
from redis import asyncio as aioredis

from forum.db import Database
from forum.queries.threads import latest_event_id
from realtime.presence import Presence
from tests.factories import PASSWORD, make_community, make_member, make_thread, make_user
from tests.servers import Server, cookie_header, run_servers
from tests.services import unique_channel
from tests.test_faults import DEADLINE, Reader, Scene, _check, _expected, _until_caught_up, private_redis

pytestmark = pytest.mark.server

HANG_BUDGET = 1.5  # seconds any answer may take while Redis hangs
HTTP_TIMEOUT = 20.0  # far beyond the budget: a slow answer is measured, not cut short
T = TypeVar("T")


class Stopwatch:
    """How long each answer took."""

    def __init__(self) -> None:
        self.times: list[tuple[str, float]] = []

    async def time(self, what: str, answer: Awaitable[T]) -> T:
        started = time.monotonic()
        try:
            return await answer
        finally:
            self.times.append((what, time.monotonic() - started))

    def report(self) -> str:
        return "\n".join(f"{seconds:6.2f} s  {what}" for what, seconds in self.times)


def _token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


async def _sign_in(url: str, username: str, watch: Stopwatch | None = None, where: str = "") -> httpx.AsyncClient:
    """Sign in through the login form, each request timed when `watch` is given."""
    client = httpx.AsyncClient(base_url=url, follow_redirects=False, timeout=HTTP_TIMEOUT)
    page = client.get("/login")
    form = (await (watch.time(f"sign-in form {where}", page) if watch else page)).text
    submitted = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": _token(form)})
    response = await (watch.time(f"sign-in {where}", submitted) if watch else submitted)
    assert response.status_code == 302, response.text[:500]
    return client


async def _read(client: httpx.AsyncClient, path: str, watch: Stopwatch, what: str) -> str:
    response = await watch.time(what, client.get(path))
    assert response.status_code == 200, (path, response.status_code)
    return response.text


async def _reply(client: httpx.AsyncClient, thread_id: int, body: str, watch: Stopwatch, what: str) -> None:
    token = _token(await _read(client, f"/t/{thread_id}", watch, f"thread page (its reply form) before {what}"))
    response = await watch.time(what, client.post(f"/t/{thread_id}/replies", data={"body": body, "csrf_token": token}))
    assert response.status_code == 302, (response.status_code, response.text[:500])


async def _socket(url: str, cookie: str) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, headers={"Cookie": cookie}, transports=["websocket"], wait_timeout=HTTP_TIMEOUT)
    return client


async def _subscribe(client: socketio.AsyncClient, room: str, after: int, watch: Stopwatch, what: str) -> None:
    answer: Any = await watch.time(what, client.call("subscribe", {"room": room, "after": after}, timeout=HTTP_TIMEOUT))
    assert answer == {"ok": True}, answer


async def _until_logged(server: Server, line: str) -> None:
    """Wait until the server's log has `line` (DEADLINE at most)."""
    deadline = time.monotonic() + DEADLINE
    while line not in server.log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{server.url} did not log {line!r}:\n{server.output()}"
        await asyncio.sleep(0.05)


async def _until_counted(redis_url: str, channel: str, expected: dict[str, int]) -> None:
    """Wait until Redis holds this many readers' entries in each room (DEADLINE at most)."""
    client = aioredis.from_url(redis_url)
    deadline = time.monotonic() + DEADLINE
    try:
        while (counts := {room: await client.zcard(f"{channel}:presence:{room}") for room in expected}) != expected:
            assert time.monotonic() < deadline, f"readers in Redis: {counts}, expected {expected}"
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()


async def test_while_redis_hangs_everything_answers_in_time_and_delivery_resumes_by_itself_once_it_runs_again(
    db_url: str, tmp_path: Path, db: Database
) -> None:
    community = await make_community(db)
    tag = secrets.token_hex(3)
    reader, writer, sender = [await make_user(db, username=f"{role}_{tag}") for role in ("reader", "writer", "sender")]
    for user in (reader, writer, sender):
        await make_member(db, user=user, community=community)
    thread = await make_thread(db, author=writer, community=community)
    assert thread.id is not None and reader.username and writer.username and sender.username
    async with db.read_only() as session:
        after = await latest_event_id(session)
    scene = Scene(thread, f"thread:{thread.id}", after, reader.username, [writer.username])
    watch = Stopwatch()
    # The event log is read once a minute only: within this test, only the recovery from the hang (or Redis's
    # own announcements) can bring one process's replies to the other's readers.
    settings = {"EVENT_POLL_SECONDS": "60"}
    channel = unique_channel()
    with (
        private_redis(tmp_path) as redis,
        run_servers(
            db_url=db_url, var_dir=tmp_path, redis_url=redis.url, channel=channel, names=["a", "b"], settings=settings
        ) as (first, second),
    ):
        async with contextlib.AsyncExitStack() as cleanup:
            assert redis.process is not None

            async def signed_in(url: str, username: str, where: str = "") -> httpx.AsyncClient:
                client = await _sign_in(url, username, watch if where else None, where)
                cleanup.push_async_callback(client.aclose)
                return client

            async def reader_on(server: Server) -> Reader:
                live = Reader(cookie=cookie, room=scene.room, after=after, fallback_url=None)
                cleanup.push_async_callback(live.close)
                await live.connect(server.url)
                return live

            reading = await signed_in(first.url, reader.username)
            cookie = cookie_header(reading)
            readers = [await reader_on(first) for _ in range(2)]
            writing = await signed_in(second.url, writer.username)
            sending = await signed_in(second.url, sender.username)
            started = await sending.post(
                f"/c/{community.slug}/messages/with/{reader.username}",
                data={"csrf_token": _token((await sending.get(f"/c/{community.slug}/messages")).text)},
            )
            assert started.status_code == 302, started.text[:500]
            conversation = started.headers["location"]
            conversation_room = f"conversation:{int(conversation.rsplit('/', 1)[1])}"
            # Sockets that subscribe while Redis hangs: connected before, one on each process.
            on_first, on_second = await _socket(first.url, cookie), await _socket(second.url, cookie)
            cleanup.push_async_callback(on_first.disconnect)
            cleanup.push_async_callback(on_second.disconnect)
            # Delivery from one process to the other works to begin with.
            await _reply(writing, thread.id, "冻结之前", watch, "reply on b, Redis running")
            await _until_caught_up(readers, (await _expected(db, scene, replies=1))[-1][0])
            _check(readers, await _expected(db, scene, replies=1))
            ok_before = len(watch.times)

            redis.process.send_signal(signal.SIGSTOP)
            try:
                # The first process first: nothing it does below reads the log, which would bring it the second's
                # replies without any recovery.
                await signed_in(first.url, writer.username, "on a")
                await _read(reading, "/", watch, "home page on a")
                await _read(reading, f"/t/{thread.id}", watch, "thread page on a")
                await _subscribe(on_first, scene.room, after, watch, "subscribe to the thread on a")
                # Then the second: replies that the first process's readers must get once Redis runs again.
                for n in range(3):
                    await _reply(writing, thread.id, f"冻结中第{n + 1}条", watch, f"reply {n + 1} on b")
                page = await _read(sending, conversation, watch, "conversation page on b")
                client_id = re.search(r'name="client_id" value="([^"]+)"', page)
                assert client_id is not None
                sent = await watch.time(
                    "private message on b",
                    sending.post(
                        conversation,
                        data={"body": "在吗？", "client_id": client_id.group(1), "csrf_token": _token(page)},
                    ),
                )
                assert sent.status_code == 302, (sent.status_code, sent.text[:500])
                await _subscribe(on_second, scene.room, after, watch, "subscribe to the thread on b")
                await _subscribe(on_second, conversation_room, after, watch, "subscribe to the conversation on b")
                joining = await watch.time("a reader joins on b (connect and subscribe)", reader_on(second))
                await signed_in(second.url, sender.username, "on b")
                await _read(writing, f"/t/{thread.id}", watch, "thread page on b")
                # Each process notices by itself that Redis hangs (a blocking read would wait forever).
                for server in (first, second):
                    await _until_logged(server, "no Redis (no answer to PING")
            except Exception as error:
                raise AssertionError(f"{error!r} while Redis hung, after these answers:\n{watch.report()}") from error
            finally:
                redis.process.send_signal(signal.SIGCONT)

            slow = [(what, seconds) for what, seconds in watch.times[ok_before:] if seconds > HANG_BUDGET]
            assert not slow, f"answers slower than {HANG_BUDGET} s while Redis hung:\n{watch.report()}"
            # Nothing is posted to nudge them: the replies of the hang reach the first process's readers by
            # themselves, in order, once.
            during = await _expected(db, scene, replies=4)
            await _until_caught_up(readers, during[-1][0])
            _check(readers, during)
            # And live delivery between the processes works as before.
            for n in range(2):
                await _reply(writing, thread.id, f"恢复后第{n + 1}条", watch, f"reply {n + 1} on b, Redis back")
            expected = await _expected(db, scene, replies=6)
            await _until_caught_up([*readers, joining], expected[-1][0])
            _check([*readers, joining], expected)
            for server in (first, second):
                await _until_logged(server, "Redis is back; catching up from the event log")
            # Who is reading heals too: the sockets that subscribed while Redis hung are counted there again (three
            # on the first process, two on the second), and nobody twice.
            await _until_counted(redis.url, channel, {scene.room: 5, conversation_room: 1})
            print(f"\n{watch.report()}")  # the numbers, for the record (pytest -s)


async def _until_members(redis_url: str, expected: dict[str, set[str]]) -> None:
    """Wait until these Redis keys hold exactly these members (DEADLINE at most)."""
    client = aioredis.from_url(redis_url, decode_responses=True)
    deadline = time.monotonic() + DEADLINE
    try:
        while (found := {key: set(await client.zrange(key, 0, -1)) for key in expected}) != expected:
            assert time.monotonic() < deadline, f"in Redis: {found}, expected {expected}"
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()


async def test_readers_who_come_and_go_while_redis_hangs_are_right_in_redis_once_it_runs_again(
    tmp_path: Path,
) -> None:
    """Presence never waits for Redis: entering and leaving change this process's count at once, asking who is
    reading takes at most the request budget (then Redis is left alone for a while), and once Redis runs again
    its entries are this process's readers: those who came are there, those who left are not."""
    channel = unique_channel()
    with private_redis(tmp_path) as redis:
        assert redis.process is not None
        presence = Presence(redis.url, channel)
        await presence.start()
        key = f"{channel}:presence:thread:1"
        try:
            presence.enter("thread:1", "one", 1)
            presence.enter("thread:1", "two", 2)
            await _until_members(redis.url, {key: {f"{presence.node}:one:1", f"{presence.node}:two:2"}})
            redis.process.send_signal(signal.SIGSTOP)
            try:
                assert presence.leave("thread:1", "one")
                assert presence.enter("thread:1", "three", 3)
                assert presence.enter("thread:2", "one", 1)
                for _ in range(2):  # Redis's silence is waited for once, then not at all
                    started = time.monotonic()
                    assert await presence.people_in("thread:1", within=Presence.BUDGET) == {2, 3}
                    assert time.monotonic() - started < Presence.BUDGET + 0.4
                assert await presence.count("thread:2") == 1
                # Held until the writer's round has failed (after the fail-fast timeout), so that what Redis
                # holds afterwards is the repair's work, not a round that merely finished late.
                deadline = time.monotonic() + DEADLINE
                while not presence._stale:
                    assert time.monotonic() < deadline, "the write to a hung Redis never failed"
                    await asyncio.sleep(0.05)
            finally:
                redis.process.send_signal(signal.SIGCONT)
            await _until_members(
                redis.url,
                {
                    key: {f"{presence.node}:two:2", f"{presence.node}:three:3"},
                    f"{channel}:presence:thread:2": {f"{presence.node}:one:1"},
                },
            )
            assert await presence.people_in("thread:1", within=Presence.BUDGET) == {2, 3}
        finally:
            await presence.stop()
