"""Who has a thread open right now, counted once per person across every server process.

Each process knows its own sockets. With Redis, every process also keeps its readers in one sorted set per room
(member `<process>:<sid>:<user_id>`, score = when the entry expires) and refreshes them on a heartbeat, so the
count covers every process and the readers of a process that died (SIGKILL, power loss) drop out when their
entries expire. Without Redis there is one process and its own sockets are the whole answer.

Presence is an ephemeral signal: it is never stored in the database, and nothing waits for Redis because of it.
`enter` and `leave` change this process's own map at once and return; one writer task brings Redis in line with
that map afterwards, a round at a time, so a socket's entry and removal reach Redis in the order they happened
(or not at all, if it left before the round that would have written its entry). A round that fails (Redis away,
or hung) leaves nothing lost: the next successful round writes every reader of this process again and removes
every entry it may have left behind, so a failure only makes the other processes' view stale for a while (the
removal of someone who left meanwhile is retried then, and their entry expires after TTL at the latest).

Asking who is reading (`people_in`) inside a request is bounded by `within`: a Redis that does not answer in
time is taken as away, and skipped for PAUSE seconds, during which each process answers with its own readers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import defaultdict

from redis import asyncio as aioredis

from forum.redis_client import fail_fast

log = logging.getLogger(__name__)

TTL = 90.0  # seconds an entry lives in Redis without a heartbeat
HEARTBEAT = 30.0  # seconds between refreshes of this process's entries


class Presence:
    # Seconds a request (a private message deciding whom to notify, inside its transaction) waits for Redis to
    # say who is reading. Redis answers in about a millisecond; the rest is room for a busy machine, where a
    # needless timeout would notify someone who is reading on another process.
    BUDGET = 0.1
    PAUSE = 5.0  # seconds Redis is left alone after it failed or was slow to answer

    def __init__(self, redis_url: str, prefix: str) -> None:
        self.redis_url = redis_url
        self.prefix = prefix
        self.node = secrets.token_hex(4)  # this process, so that two processes' sids never collide
        self._rooms: defaultdict[str, dict[str, int]] = defaultdict(dict)  # room -> {sid: user_id}, this process
        self._redis: aioredis.Redis | None = None
        # What Redis may hold of this process's readers: room -> members written and not known to be removed.
        self._written: dict[str, set[str]] = {}
        self._written_at = time.monotonic()  # of the last round Redis took
        self._stale = False  # a write failed: the next round writes every reader again
        self._dirty = False  # this process's readers changed since the writer's last round began
        self._wake = asyncio.Event()  # set: the writer should look again (a change, or Redis answering again)
        self._paused_until = 0.0  # monotonic time before which Redis is not asked (it failed or was slow)
        self._away = False  # Redis was found away, and not yet back (for the log: one line each way)
        self._writer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.redis_url:
            self._redis = fail_fast(self.redis_url)
            self._writer = asyncio.create_task(self._write_forever())

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        if self._redis is not None:
            # Leave no ghosts behind on a clean shutdown; a crash (or Redis away now) leaves them to expire.
            with contextlib.suppress(Exception):
                async with self._redis.pipeline(transaction=False) as pipe:
                    for room, members in self._wanted().items():
                        pipe.zrem(self._key(room), *members)
                    await pipe.execute()
            await self._redis.aclose()

    def _key(self, room: str) -> str:
        return f"{self.prefix}:presence:{room}"

    def _member(self, sid: str, user_id: int) -> str:
        return f"{self.node}:{sid}:{user_id}"

    def enter(self, room: str, sid: str, user_id: int) -> bool:
        """Count this socket as reading `room`; False if it already was. Redis is told afterwards."""
        readers = self._rooms[room]
        if sid in readers:
            return False
        readers[sid] = user_id
        self._dirty = True
        self._wake.set()
        return True

    def leave(self, room: str, sid: str) -> bool:
        """Stop counting this socket in `room`; False if it was not counted. Redis is told afterwards."""
        readers = self._rooms.get(room)
        if not readers or sid not in readers:
            return False
        del readers[sid]
        if not readers:
            del self._rooms[room]
        self._dirty = True
        self._wake.set()
        return True

    def rooms_of(self, sid: str) -> list[str]:
        return [room for room, readers in self._rooms.items() if sid in readers]

    async def count(self, room: str) -> int:
        """Distinct people reading `room` now, in every process."""
        return len(await self.people_in(room))

    async def people_in(self, room: str, *, within: float | None = None) -> set[int]:
        """The user ids of the people reading `room` now, in every process; this process's own if Redis is away,
        paused, or (with `within`, in seconds) does not answer in time."""
        local = set(self._rooms.get(room, {}).values())
        if self._redis is None or time.monotonic() < self._paused_until:
            return local
        try:
            members = await asyncio.wait_for(self._members_of(room), within)
        except Exception as error:  # Redis away or slow: the local answer, and Redis is left alone for a while
            self._failed("asking who is reading", error)
            return local
        self._answered()
        return local | {int(member.rsplit(b":", 1)[-1]) for member in members}

    async def _members_of(self, room: str) -> list[bytes]:
        assert self._redis is not None  # noqa: S101 -- only called with Redis
        key = self._key(room)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, "-inf", time.time())
            pipe.zrange(key, 0, -1)
            _, members = await pipe.execute()
        return list(members)

    def _failed(self, doing: str, error: BaseException) -> None:
        self._paused_until = time.monotonic() + self.PAUSE
        if not self._away:
            self._away = True
            log.warning(
                "presence: Redis unavailable while %s (%s); counting this process's readers only, trying again "
                "every %.0f s",
                doing,
                f"{type(error).__name__}: {error}" if str(error) else type(error).__name__,
                self.PAUSE,
            )

    def _answered(self) -> None:
        self._paused_until = 0.0
        if self._away:
            self._away = False
            log.warning("presence: Redis is back")
            self._wake.set()  # the writer need not wait for its pause to end

    def _wanted(self) -> dict[str, set[str]]:
        """This process's readers as Redis members, room by room."""
        return {
            room: {self._member(sid, user_id) for sid, user_id in readers.items()}
            for room, readers in self._rooms.items()
            if readers
        }

    async def _write_forever(self) -> None:
        """Bring Redis in line with this process's readers: soon after a change, everything every HEARTBEAT
        seconds; while Redis is paused (it failed or was slow), nothing until the pause ends or Redis answers a
        request again, and then everything."""
        next_beat = time.monotonic() + HEARTBEAT
        while True:
            while (wait := self._next_round(next_beat) - time.monotonic()) > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
            self._dirty = False
            full = self._stale or time.monotonic() >= next_beat
            if await self._write(full=full) and full:
                next_beat = time.monotonic() + HEARTBEAT

    def _next_round(self, next_beat: float) -> float:
        """When the writer's next round is due (monotonic time)."""
        due = 0.0 if self._dirty or self._stale else next_beat
        return max(due, self._paused_until)

    async def _write(self, *, full: bool) -> bool:
        """One round: remove the entries of readers who left, add those of readers who came (all of them when
        `full`, with a fresh expiry). False if Redis could not be told; what it may hold is kept for the next."""
        assert self._redis is not None  # noqa: S101 -- only called with Redis
        wanted = self._wanted()
        written = self._written
        expires = time.time() + TTL
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for room in written.keys() - wanted.keys():
                    if written[room]:
                        pipe.zrem(self._key(room), *written[room])
                for room, members in wanted.items():
                    gone = written.get(room, set()) - members
                    if gone:
                        pipe.zrem(self._key(room), *gone)
                    new = members if full else members - written.get(room, set())
                    if new:
                        pipe.zadd(self._key(room), dict.fromkeys(new, expires))
                        pipe.expire(self._key(room), int(TTL))
                asked = len(pipe) > 0
                if asked:
                    await pipe.execute()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # Anything of this round may or may not have reached Redis: remember it all as possibly there (so
            # removals are tried again) and write every reader again next time. Entries older than TTL have
            # expired: forgotten, so that this stays bounded by the readers of the last TTL seconds.
            if time.monotonic() - self._written_at > TTL:
                self._written = {}
            for room, members in wanted.items():
                self._written.setdefault(room, set()).update(members)
            self._stale = True
            self._failed("writing readers", error)
            return False
        self._written = wanted
        self._written_at = time.monotonic()
        self._stale = False
        if asked:  # (a round with nothing to write says nothing about Redis)
            self._answered()
        return True
