"""Faults while replies stream into a thread: a server process killed, Redis restarted, Redis not there at all.
Every reader must end with every reply, in order, exactly once, and no committed write may fail.

The readers do what a real client does (static/js/live.js, docs/realtime.md): remember the last event id, hold
events while a `subscribe` is answered and apply them in id order, ignore ids already seen, and after losing their
server connect to another one and subscribe again from the last id seen.

These run on SQLite as well as PostgreSQL: two processes on one SQLite file work (WAL lets readers run beside the
one writer, busy_timeout makes a second writer wait, and with one writer at a time ids commit in order), so the
same guarantees are checked on both. Production deployments with several processes use PostgreSQL.

Redis here is a private redis-server on a free port for each test, started and stopped by the test: the shared
one on 6379 is used by other tests and must not be restarted, and its rate-limit counters (keyed by user id,
which every test starts again from 1) would refuse this many replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from sqlalchemy import select
from sqlmodel import col

from forum.db import Database
from forum.models import Event, Post, Thread
from forum.queries.threads import latest_event_id
from forum.web.ratelimits import RedisStore
from tests.factories import make_community, make_member, make_thread, make_user
from tests.servers import Server, cookie_header, http_login, http_post_form, run_servers
from tests.services import IN_CI, port_open, reserved_port

pytestmark = pytest.mark.server

REPLIES = 30
PACE = 0.08  # seconds between two replies: a steady stream of about three seconds
WRITERS = 2  # authors, each well inside the per-person posting limit; one per process in the Redis test
READERS_PER_PROCESS = 3
DEADLINE = 15.0  # seconds for every reader to catch up once the last reply is posted


class Reader:
    """A client of one room, with the resume rules of docs/realtime.md."""

    def __init__(self, *, cookie: str, room: str, after: int, fallback_url: str | None) -> None:
        self.cookie = cookie
        self.room = room
        self.last = after
        self.fallback_url = fallback_url
        self.applied: list[dict[str, Any]] = []
        self.reconnects = 0
        self.progress = asyncio.Event()
        self.disconnected = asyncio.Event()
        self.errors: list[BaseException] = []
        self._pending: list[dict[str, Any]] | None = None
        self._client: socketio.AsyncClient | None = None
        self._closing = False
        self._failover: asyncio.Task[None] | None = None

    async def connect(self, url: str) -> None:
        client = socketio.AsyncClient(reconnection=False)
        client.on("event", self._on_event)
        client.on("disconnect", self._on_disconnect)
        await client.connect(url, headers={"Cookie": self.cookie}, transports=["websocket"], wait_timeout=5)
        self._client = client
        await self._subscribe()

    async def _subscribe(self) -> None:
        assert self._client is not None
        self._pending = []
        answer = await self._client.call("subscribe", {"room": self.room, "after": self.last}, timeout=5)
        held, self._pending = self._pending, None
        assert answer == {"ok": True}, answer
        for envelope in sorted(held, key=lambda each: int(each["id"])):
            self._apply(envelope)

    async def _on_event(self, envelope: dict[str, Any]) -> None:
        if envelope.get("room") != self.room:
            return
        if self._pending is not None:
            self._pending.append(envelope)
        else:
            self._apply(envelope)

    def _apply(self, envelope: dict[str, Any]) -> None:
        if envelope["id"] <= self.last:
            return  # seen already (a replay overlapping live events)
        self.last = envelope["id"]
        self.applied.append(envelope)
        self.progress.set()

    def _on_disconnect(self, *_reason: Any) -> None:
        self.disconnected.set()
        if not self._closing and self.fallback_url is not None:
            self._failover = asyncio.create_task(self._reconnect_elsewhere())

    async def _reconnect_elsewhere(self) -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                assert self.fallback_url is not None
                await self.connect(self.fallback_url)
                self.reconnects += 1
                return
            except (socketio.exceptions.ConnectionError, TimeoutError) as error:
                if time.monotonic() > deadline:
                    self.errors.append(error)
                    return
                await asyncio.sleep(0.1)

    def seen(self) -> list[tuple[int, str, int]]:
        return [(each["id"], each["type"], each["data"]["number"]) for each in self.applied]

    async def close(self) -> None:
        self._closing = True
        if self._failover is not None:
            await self._failover
        if self._client is not None and self._client.connected:
            await self._client.disconnect()


@dataclass
class Writer:
    http: httpx.AsyncClient
    token: str

    @classmethod
    async def sign_in(cls, url: str, username: str, thread_id: int) -> Writer:
        http = await http_login(url, username)
        page = (await http.get(f"/t/{thread_id}")).text
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, page[:500]
        return cls(http=http, token=match.group(1))

    async def reply(self, thread_id: int, body: str) -> None:
        response = await self.http.post(f"/t/{thread_id}/replies", data={"body": body, "csrf_token": self.token})
        # A committed reply is a success whatever happens to Redis or to the other process.
        assert response.status_code == 302, (response.status_code, response.text[:500])


@dataclass
class Scene:
    thread: Thread
    room: str
    after: int
    reader_name: str
    writer_names: list[str]


async def _scene(db: Database) -> Scene:
    community = await make_community(db)
    tag = secrets.token_hex(3)
    reader = await make_user(db, username=f"reader_{tag}")
    writers = [await make_user(db, username=f"writer{n}_{tag}") for n in range(WRITERS)]
    for user in (reader, *writers):
        await make_member(db, user=user, community=community)
    thread = await make_thread(db, author=writers[0], community=community)
    async with db.read_only() as session:
        after = await latest_event_id(session)
    assert reader.username is not None
    return Scene(thread, f"thread:{thread.id}", after, reader.username, [w.username for w in writers])


async def _post_steadily(
    scene: Scene, writers: list[Writer], on_posted: Callable[[int], Awaitable[None] | None] | None = None
) -> None:
    """REPLIES replies, one every PACE seconds, round-robin over the writers; `on_posted(n)` after the n-th."""
    assert scene.thread.id is not None
    for n in range(1, REPLIES + 1):
        started = time.monotonic()
        await writers[n % len(writers)].reply(scene.thread.id, f"第{n}条回复")
        if on_posted is not None:
            result = on_posted(n)
            if result is not None:
                await result
        await asyncio.sleep(max(0.0, PACE - (time.monotonic() - started)))


async def _expected(db: Database, scene: Scene, *, replies: int = REPLIES) -> list[tuple[int, str, int]]:
    """What the database holds: the room's events after the scene began, in id order."""
    async with db.read_only() as session:
        rows = (
            await session.execute(
                select(Event).where(col(Event.room) == scene.room, col(Event.id) > scene.after).order_by(col(Event.id))
            )
        ).scalars()
        expected = [(row.id, row.type, json.loads(row.payload)["number"]) for row in rows]
        numbers = list(
            (
                await session.execute(
                    select(col(Post.number)).where(col(Post.thread_id) == scene.thread.id).order_by(col(Post.number))
                )
            ).scalars()
        )
    assert numbers == list(range(1, replies + 2)), "every reply was committed"
    assert [number for _, _, number in expected] == list(range(2, replies + 2))
    return [(int(event_id or 0), kind, number) for event_id, kind, number in expected]


async def _until_caught_up(readers: list[Reader], last_id: int) -> None:
    """Wait until every reader has applied `last_id`, or DEADLINE passes (the checks that follow say what is
    missing)."""

    async def one(reader: Reader) -> None:
        while reader.last < last_id:
            reader.progress.clear()
            await reader.progress.wait()

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(one(reader) for reader in readers)), DEADLINE)


def _check(readers: list[Reader], expected: list[tuple[int, str, int]]) -> None:
    for index, reader in enumerate(readers):
        assert not reader.errors, (index, reader.errors)
        seen = reader.seen()
        missing = sorted(set(expected) - set(seen))
        assert seen == expected, f"reader {index}: missing {missing}, got {[n for _, _, n in seen]}"


class PrivateRedis:
    """A redis-server of the test's own, without persistence, that the test may kill and start again."""

    def __init__(self, port: int, log: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            message = "redis-server is not installed (apt-get install redis-server)"
            if IN_CI:
                pytest.fail(message)
            pytest.skip(message)
        self.binary = binary
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.02)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextmanager
def private_redis(var_dir: Path) -> Iterator[PrivateRedis]:
    with reserved_port() as port:  # kept while the test kills and restarts it
        redis = PrivateRedis(port, var_dir / "redis.log")
        redis.start()
        try:
            yield redis
        finally:
            redis.kill()


async def _readers(scene: Scene, cookie: str, home: Server, fallback: Server) -> list[Reader]:
    readers = [
        Reader(cookie=cookie, room=scene.room, after=scene.after, fallback_url=fallback.url)
        for _ in range(READERS_PER_PROCESS)
    ]
    for reader in readers:
        await reader.connect(home.url)
    return readers


async def test_readers_of_a_killed_process_resume_on_the_other_with_nothing_missed_or_doubled(
    db_url: str, tmp_path: Path, db: Database
) -> None:
    scene = await _scene(db)
    assert scene.thread.id is not None
    with (
        private_redis(tmp_path) as redis,
        run_servers(db_url=db_url, var_dir=tmp_path, redis_url=redis.url, names=["a", "b"]) as (doomed, survivor),
    ):
        http = await http_login(survivor.url, scene.reader_name)
        cookie = cookie_header(http)
        await http.aclose()
        on_doomed = await _readers(scene, cookie, doomed, survivor)
        on_survivor = await _readers(scene, cookie, survivor, survivor)
        writers = [await Writer.sign_in(survivor.url, name, scene.thread.id) for name in scene.writer_names]

        def kill_a_third_of_the_way(n: int) -> None:
            if n == REPLIES // 3:
                doomed.process.kill()
                doomed.process.wait()

        try:
            await _post_steadily(scene, writers, kill_a_third_of_the_way)
            expected = await _expected(db, scene)
            await _until_caught_up(on_doomed + on_survivor, expected[-1][0])
            _check(on_doomed + on_survivor, expected)
            assert [reader.reconnects for reader in on_doomed] == [1] * READERS_PER_PROCESS
            assert [reader.reconnects for reader in on_survivor] == [0] * READERS_PER_PROCESS
        finally:
            for reader in on_doomed + on_survivor:
                await reader.close()
            for writer in writers:
                await writer.http.aclose()


async def test_after_redis_restarts_mid_stream_every_reader_has_every_reply_in_order_once(
    db_url: str, tmp_path: Path, db: Database
) -> None:
    scene = await _scene(db)
    assert scene.thread.id is not None
    # Polling the event log only once a minute: within this test, readers can only be made whole by the
    # catch-up that follows Redis coming back, not by the periodic safety net.
    settings = {"EVENT_POLL_SECONDS": "60"}
    with (
        private_redis(tmp_path) as redis,
        run_servers(db_url=db_url, var_dir=tmp_path, redis_url=redis.url, names=["a", "b"], settings=settings) as (
            first,
            second,
        ),
    ):
        http = await http_login(second.url, scene.reader_name)
        cookie = cookie_header(http)
        await http.aclose()
        on_first = await _readers(scene, cookie, first, second)
        on_second = await _readers(scene, cookie, second, first)
        # Replies go through both processes in turn: while Redis is away, each process's readers get that process's
        # replies at once, and the other process's must still reach them, in id order with the rest.
        writers = [
            await Writer.sign_in(server.url, name, scene.thread.id)
            for server, name in zip([first, second], scene.writer_names, strict=True)
        ]
        # Another login of the reader, with a socket on the first process, that signs out while Redis is away.
        leaving_http = await http_login(second.url, scene.reader_name)
        leaving = Reader(cookie=cookie_header(leaving_http), room=scene.room, after=scene.after, fallback_url=None)
        await leaving.connect(first.url)

        async def stop_then_restart_redis(n: int) -> None:
            if n == REPLIES // 3:
                redis.kill()
            elif n == REPLIES // 3 + 1:
                # The news that this session ended cannot reach the first process through Redis now.
                assert (await http_post_form(leaving_http, "/logout")).status_code == 302
            elif n == 2 * REPLIES // 3:
                redis.start()

        try:
            await _post_steadily(scene, writers, stop_then_restart_redis)
            expected = await _expected(db, scene)
            await _until_caught_up(on_first + on_second, expected[-1][0])
            _check(on_first + on_second, expected)
            # Nobody was disconnected: the servers filled the gap pub/sub left without the clients noticing.
            assert [reader.reconnects for reader in on_first + on_second] == [0] * 2 * READERS_PER_PROCESS
            # Except the socket of the session that ended: once Redis is back, its process checks its sessions.
            await asyncio.wait_for(leaving.disconnected.wait(), DEADLINE)
        finally:
            for reader in [*on_first, *on_second, leaving]:
                await reader.close()
            for http_client in [*(writer.http for writer in writers), leaving_http]:
                await http_client.aclose()


async def test_without_any_redis_pages_and_replies_work_and_live_updates_still_arrive(
    db_url: str, tmp_path: Path, db: Database
) -> None:
    scene = await _scene(db)
    assert scene.thread.id is not None
    settings = {"EVENT_POLL_SECONDS": "0.5"}
    with (
        reserved_port() as port,  # nothing listens there, from before the processes start to the end
        run_servers(
            db_url=db_url,
            var_dir=tmp_path,
            redis_url=f"redis://127.0.0.1:{port}/0",
            names=["a", "b"],
            settings=settings,
        ) as (first, second),
    ):
        async with httpx.AsyncClient(base_url=first.url) as anonymous:
            assert (await anonymous.get("/")).status_code == 200
            assert (await anonymous.get("/login")).status_code == 200
        http = await http_login(second.url, scene.reader_name)  # a write, behind the rate limiter
        cookie = cookie_header(http)
        assert (await http.get(f"/t/{scene.thread.id}")).status_code == 200
        await http.aclose()
        # Sockets connect and subscribe as usual; each process relays what is committed, whoever wrote it.
        readers = await _readers(scene, cookie, first, second) + await _readers(scene, cookie, second, first)
        writer = await Writer.sign_in(second.url, scene.writer_names[0], scene.thread.id)
        try:
            started = time.monotonic()
            for n in range(3):
                await writer.reply(scene.thread.id, f"没有Redis的第{n + 1}条")
            assert time.monotonic() - started < 5, "a missing Redis must not stall writes"
            expected = await _expected(db, scene, replies=3)
            await _until_caught_up(readers, expected[-1][0])
            _check(readers, expected)
            # A client arriving now is replayed what it missed, without waiting for Redis.
            late = Reader(cookie=cookie, room=scene.room, after=scene.after, fallback_url=None)
            readers.append(late)
            started = time.monotonic()
            await late.connect(first.url)
            assert time.monotonic() - started < 5, "a missing Redis must not stall connecting and resuming"
            _check([late], expected)
        finally:
            for reader in readers:
                await reader.close()
            await writer.http.aclose()


async def test_rate_limits_are_counted_in_memory_while_redis_is_away_and_shared_again_once_it_is_back(
    tmp_path: Path,
) -> None:
    now = datetime.now(UTC)
    with private_redis(tmp_path) as redis:
        here, there = RedisStore(redis.url), RedisStore(redis.url)  # two processes' stores
        await here.before_serving()
        await there.before_serving()
        try:
            await here.set("writes:user:1", now + timedelta(seconds=30))
            assert await there.get("writes:user:1", now) == now + timedelta(seconds=30)

            here.RETRY_SECONDS = there.RETRY_SECONDS = 0.0  # try Redis again at every call, not after 5 s
            redis.kill()
            started = time.monotonic()
            await here.set("writes:user:1", now + timedelta(seconds=40))
            assert await here.get("writes:user:1", now) == now + timedelta(seconds=40)  # from this process's memory
            assert await there.get("writes:user:1", now) == now  # its own memory: nothing counted there yet
            assert time.monotonic() - started < 1, "a missing Redis must cost a request no noticeable time"

            redis.start()  # empty: it keeps nothing on disk
            await here.set("writes:user:1", now + timedelta(seconds=50))
            assert await there.get("writes:user:1", now) == now + timedelta(seconds=50)
        finally:
            await here.after_serving()
            await there.after_serving()
