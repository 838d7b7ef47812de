"""Redis clients that fail fast while Redis is away.

Redis only speeds things up and shares counters between processes; the database is the source of truth. So a
Redis outage must cost a request at most one quick failed attempt, never redis-py's default of ten retries with
back-off (seconds per command) or a long wait for a connection that will not come.
"""

from __future__ import annotations

from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

TIMEOUT = 1.0  # seconds to connect, and to wait for an answer to a command

# What a failed Redis call raises: redis-py wraps socket errors, but not every one on every path.
UNAVAILABLE: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


def fail_fast(url: str) -> aioredis.Redis:
    """A client that does not retry and gives up after TIMEOUT. Blocking pub/sub reads are not affected by the
    timeout (redis-py waits indefinitely for messages)."""
    return aioredis.from_url(
        url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT, retry=Retry(NoBackoff(), retries=0)
    )
