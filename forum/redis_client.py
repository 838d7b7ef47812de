"""Every Redis client of the project, made here and nowhere else (tests/test_one_rule.py fails on any other):
clients that fail fast while Redis is away or hung.

Redis only speeds things up and shares counters between processes; the database is the source of truth. So a
Redis outage must cost a request at most one quick failed attempt: no retries with back-off, and no waiting
redis-py's default five seconds for a connection that will not come (an unreachable host, not a refused port) or
an answer that will not come (a Redis that hangs: stopped, swapping, or behind a network that drops packets).
"""

from __future__ import annotations

from typing import Any

import socketio
from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

TIMEOUT = 1.0  # seconds to connect, and to wait for an answer to a command

# What a failed Redis call raises: redis-py wraps socket errors, but not every one on every path.
UNAVAILABLE: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


def fail_fast_options() -> dict[str, Any]:
    """Options for `Redis.from_url` (or python-socketio's `redis_options`): no retries, and give up after
    TIMEOUT. Blocking pub/sub reads are not affected by the timeout (redis-py waits indefinitely for messages): a
    subscriber checks its connection itself (realtime.server.Relay sends PING when it has been quiet)."""
    return {"socket_connect_timeout": TIMEOUT, "socket_timeout": TIMEOUT, "retry": Retry(NoBackoff(), retries=0)}


def fail_fast(url: str) -> aioredis.Redis:
    return aioredis.from_url(url, **fail_fast_options())


def fail_fast_manager(url: str, channel: str) -> socketio.AsyncRedisManager:
    """python-socketio's client manager on Redis (typing signals and reader counts between processes), with the
    same options. Its publishing tries twice, so an emit through it may take twice TIMEOUT: never emit through
    it in the path of an answer (use `ignore_queue=True` for this process's own sockets)."""
    return socketio.AsyncRedisManager(url, channel=channel, redis_options=fail_fast_options())
