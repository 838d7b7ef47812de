"""Who has a thread open right now, counted once per person across every server process.

Each process knows its own sockets. With Redis, every process also keeps its readers in one sorted set per room
(member `<process>:<sid>:<user_id>`, score = when the entry expires) and refreshes them on a heartbeat, so the
count covers every process and the readers of a process that died (SIGKILL, power loss) drop out when their
entries expire. Without Redis there is one process and its own sockets are the whole answer.

Presence is an ephemeral signal: it is never stored in the database and a lost update heals with the next one.
If Redis is unreachable the count falls back to this process's own readers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import defaultdict

from redis import asyncio as aioredis

log = logging.getLogger(__name__)

TTL = 90.0  # seconds an entry lives in Redis without a heartbeat
HEARTBEAT = 30.0  # seconds between refreshes of this process's entries


class Presence:
    def __init__(self, redis_url: str, prefix: str) -> None:
        self.redis_url = redis_url
        self.prefix = prefix
        self.node = secrets.token_hex(4)  # this process, so that two processes' sids never collide
        self._rooms: defaultdict[str, dict[str, int]] = defaultdict(dict)  # room -> {sid: user_id}, this process
        self._redis: aioredis.Redis | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.redis_url:
            self._redis = aioredis.from_url(self.redis_url)
            self._heartbeat = asyncio.create_task(self._beat())

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        if self._redis is not None:
            # Leave no ghosts behind on a clean shutdown; a crash leaves them to expire.
            with contextlib.suppress(Exception):
                async with self._redis.pipeline(transaction=False) as pipe:
                    for room, readers in self._rooms.items():
                        for sid, user_id in readers.items():
                            pipe.zrem(self._key(room), self._member(sid, user_id))
                    await pipe.execute()
            await self._redis.aclose()

    def _key(self, room: str) -> str:
        return f"{self.prefix}:presence:{room}"

    def _member(self, sid: str, user_id: int) -> str:
        return f"{self.node}:{sid}:{user_id}"

    async def enter(self, room: str, sid: str, user_id: int) -> bool:
        """Count this socket as reading `room`; False if it already was."""
        readers = self._rooms[room]
        if sid in readers:
            return False
        readers[sid] = user_id
        if self._redis is not None:
            try:
                key = self._key(room)
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.zadd(key, {self._member(sid, user_id): time.time() + TTL})
                    pipe.expire(key, int(TTL))
                    await pipe.execute()
                if sid not in self._rooms.get(room, {}):
                    # It left while the entry was being written, and that removal may have reached Redis first:
                    # remove the entry again, or it would be counted until it expired.
                    await self._redis.zrem(key, self._member(sid, user_id))
            except Exception:  # Redis away: the local count still works, the heartbeat restores the rest
                log.debug("presence: Redis unavailable on enter", exc_info=True)
        return True

    async def leave(self, room: str, sid: str) -> bool:
        """Stop counting this socket in `room`; False if it was not counted."""
        readers = self._rooms.get(room)
        if not readers or sid not in readers:
            return False
        user_id = readers.pop(sid)
        if not readers:
            del self._rooms[room]
        if self._redis is not None:
            try:
                await self._redis.zrem(self._key(room), self._member(sid, user_id))
            except Exception:
                log.debug("presence: Redis unavailable on leave", exc_info=True)
        return True

    def rooms_of(self, sid: str) -> list[str]:
        return [room for room, readers in self._rooms.items() if sid in readers]

    async def count(self, room: str) -> int:
        """Distinct people reading `room` now, in every process."""
        return len(await self.people_in(room))

    async def people_in(self, room: str) -> set[int]:
        """The user ids of the people reading `room` now, in every process (this process's own if Redis is
        away)."""
        local = set(self._rooms.get(room, {}).values())
        if self._redis is None:
            return local
        try:
            key = self._key(room)
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zremrangebyscore(key, "-inf", time.time())
                pipe.zrange(key, 0, -1)
                _, members = await pipe.execute()
        except Exception:
            log.debug("presence: Redis unavailable on count", exc_info=True)
            return local
        return local | {int(member.rsplit(b":", 1)[-1]) for member in members}

    async def _beat(self) -> None:
        assert self._redis is not None  # noqa: S101 -- started with Redis
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                expires = time.time() + TTL
                async with self._redis.pipeline(transaction=False) as pipe:
                    for room, readers in list(self._rooms.items()):
                        key = self._key(room)
                        pipe.zadd(key, {self._member(sid, user_id): expires for sid, user_id in readers.items()})
                        pipe.expire(key, int(TTL))
                    await pipe.execute()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("presence heartbeat could not reach Redis; retrying", exc_info=True)
