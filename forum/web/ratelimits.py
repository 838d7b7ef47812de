"""Rate limits: per client address and per account on sign-in, per user on every write.

The client address is the ASGI peer; uvicorn replaces it from X-Forwarded-For only for FORWARDED_ALLOW_IPS, so a
client cannot pick its own bucket (quart-rate-limiter's default key reads that header from anyone).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from quart import g, request
from quart_rate_limiter import RateLimit, RateLimiter
from quart_rate_limiter.store import MemoryStore, RateLimiterStoreABC
from redis import asyncio as aioredis

from forum.redis_client import UNAVAILABLE, fail_fast

log = logging.getLogger(__name__)

# Keys that start with this prefix are shared by every route that uses them (see LinliRateLimiter): signing in
# through the page and through the API draws on one allowance, not two.
SHARED = "shared:"


async def client_address_key() -> str:
    return f"addr:{request.remote_addr or 'unknown'}"


async def sign_in_address_key() -> str:
    return f"{SHARED}sign-in:{await client_address_key()}"


async def registration_address_key() -> str:
    return f"{SHARED}register:{await client_address_key()}"


async def account_key() -> str:
    """The account being signed into (from the form or JSON body), lower-cased."""
    return f"{SHARED}sign-in:account:{await _submitted_username()}"


async def registration_account_key() -> str:
    """The username being registered: one name cannot be hammered from many addresses either."""
    return f"{SHARED}register:account:{await _submitted_username()}"


async def _submitted_username() -> str:
    username: Any = None
    if request.mimetype == "application/json":
        body = await request.get_json(silent=True)
        if isinstance(body, dict):
            username = body.get("username")
    else:
        username = (await request.form).get("username")
    return str(username or "").strip().lower()[:64]


async def user_or_address_key() -> str:
    viewer = g.get("viewer")  # the snapshot: this also runs after a failed write has expired the ORM rows
    return f"user:{viewer.id}" if viewer is not None else await client_address_key()


async def join_key() -> str:
    return f"{SHARED}join:{await user_or_address_key()}"


async def post_key() -> str:
    return f"{SHARED}post:{await user_or_address_key()}"


async def message_key() -> str:
    return f"{SHARED}messages:{await user_or_address_key()}"


async def letter_key() -> str:
    return f"{SHARED}letters:{await user_or_address_key()}"


async def market_key() -> str:
    return f"{SHARED}market:{await user_or_address_key()}"


async def board_key() -> str:
    return f"{SHARED}boards:{await user_or_address_key()}"


async def is_read(_: Any = None) -> bool:
    return request.method in {"GET", "HEAD", "OPTIONS"}


# GCRA: a burst of `count`, then one more every period/count. Long periods keep the refill slow.
LOGIN_LIMITS = [
    RateLimit(5, timedelta(minutes=5), key_function=account_key),
    # Many households share one address behind a carrier's NAT, so the per-address limit is looser.
    RateLimit(30, timedelta(minutes=10), key_function=sign_in_address_key),
]
REGISTER_LIMITS = [
    RateLimit(5, timedelta(hours=1), key_function=registration_account_key),
    RateLimit(10, timedelta(hours=1), key_function=registration_address_key),
]
# Asking to join is counted per person, so neighbours behind one address do not use up each other's tries.
JOIN_LIMITS = [RateLimit(10, timedelta(hours=1), key_function=join_key)]
# Threads and replies, per person, across the page and the API.
POST_LIMITS = [RateLimit(20, timedelta(minutes=5), key_function=post_key)]
# Private messages and new conversations, per person: a chat's pace, not a flood.
MESSAGE_LIMITS = [RateLimit(60, timedelta(minutes=5), key_function=message_key)]
# Thank-you letters, per person, across the page and the API: public praise, not a stream.
LETTER_LIMITS = [RateLimit(10, timedelta(hours=1), key_function=letter_key)]
# New sales and donated items, per person, across the page and the API: a bazaar's worth, not a flood.
MARKET_LIMITS = [RateLimit(30, timedelta(hours=1), key_function=market_key)]
# A secretary's changes to boards, per person, across the page and the API: enough to reorder a long list
# one step at a time, not enough to flood the audit log.
BOARD_LIMITS = [RateLimit(60, timedelta(minutes=10), key_function=board_key)]
# Every write endpoint, per user (or address when signed out), unless a stricter limit applies.
WRITE_LIMITS = [RateLimit(60, timedelta(minutes=1), key_function=user_or_address_key, skip_function=is_read)]


class RedisStore(RateLimiterStoreABC):
    """Shared by every server process; keys expire once their period is over, so Redis does not fill up.

    While Redis cannot be reached, each process counts in memory instead and tries Redis again after
    RETRY_SECONDS: limits then hold per process, and a write is never refused because a counter is away.
    """

    RETRY_SECONDS = 5.0

    def __init__(self, url: str) -> None:
        self._url = url
        self._redis: aioredis.Redis | None = None
        self._memory = MemoryStore()
        self._retry_at: float | None = None  # monotonic time; set while Redis is considered away

    async def before_serving(self) -> None:
        self._redis = fail_fast(self._url)

    def _redis_usable(self) -> bool:
        return self._retry_at is None or time.monotonic() >= self._retry_at

    def _lost(self, error: BaseException) -> None:
        if self._retry_at is None:
            log.warning("rate limits: Redis unavailable (%s); counting in this process until it is back", error)
        self._retry_at = time.monotonic() + self.RETRY_SECONDS

    def _back(self) -> None:
        if self._retry_at is not None:
            log.warning("rate limits: Redis is back")
            self._retry_at = None

    async def get(self, key: str, default: datetime) -> datetime:
        assert self._redis is not None  # noqa: S101 -- set in before_serving
        if self._redis_usable():
            try:
                result = await self._redis.get(f"linli:rl:{key}")
            except UNAVAILABLE as error:
                self._lost(error)
            else:
                self._back()
                return default if result is None else datetime.fromtimestamp(float(result), tz=default.tzinfo)
        return await self._memory.get(key, default)

    async def set(self, key: str, tat: datetime) -> None:
        assert self._redis is not None  # noqa: S101 -- set in before_serving
        if self._redis_usable():
            ttl = max(1, int((tat - datetime.now(tat.tzinfo)).total_seconds()) + 1)
            try:
                await self._redis.set(f"linli:rl:{key}", tat.timestamp(), ex=ttl)
            except UNAVAILABLE as error:
                self._lost(error)
            else:
                return
        await self._memory.set(key, tat)

    async def after_serving(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


class LinliRateLimiter(RateLimiter):
    async def _create_key(self, endpoint: str, rate_limit: RateLimit) -> str:
        # quart-rate-limiter puts the endpoint into every key; shared keys leave it out (pinned < 0.13).
        key_function = rate_limit.key_function or self.key_function
        key = await key_function()
        if key.startswith(SHARED):
            return f"linli-{rate_limit.key}-{key}"
        return await super()._create_key(endpoint, rate_limit)


def create_limiter(redis_url: str) -> RateLimiter:
    store: RateLimiterStoreABC = RedisStore(redis_url) if redis_url else MemoryStore()
    return LinliRateLimiter(key_function=client_address_key, store=store, default_limits=WRITE_LIMITS)
