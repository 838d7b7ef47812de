"""Redis clients that fail fast while Redis is away.

Redis only speeds things up and shares counters between processes; the database is the source of truth. So a
Redis outage must cost a request at most one quick failed attempt: no retries with back-off, and no waiting
redis-py's default five seconds for a connection that will not come (an unreachable host, not a refused port).
"""

from __future__ import annotations

from typing import Any

from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

TIMEOUT = 1.0  # seconds to connect, and to wait for an answer to a command

# What a failed Redis call raises: redis-py wraps socket errors, but not every one on every path.
UNAVAILABLE: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


def fail_fast_options() -> dict[str, Any]:
    """Options for `Redis.from_url` (or python-socketio's `redis_options`): no retries, and give up after
    TIMEOUT. Blocking pub/sub reads are not affected by the timeout (redis-py waits indefinitely for messages)."""
    return {"socket_connect_timeout": TIMEOUT, "socket_timeout": TIMEOUT, "retry": Retry(NoBackoff(), retries=0)}


def fail_fast(url: str) -> aioredis.Redis:
    return aioredis.from_url(url, **fail_fast_options())
