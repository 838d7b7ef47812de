"""Rate limits on every write, per account and per client address, each kind of write with its own allowance
(configurable by name with the RATE_LIMITS setting), shared by every process through Redis when REDIS_URL is
set.

The client address is the ASGI peer; uvicorn replaces it from X-Forwarded-For only for FORWARDED_ALLOW_IPS, so a
client cannot pick its own bucket (quart-rate-limiter's default key reads that header from anyone).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
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


async def is_read(_: Any = None) -> bool:
    return request.method in {"GET", "HEAD", "OPTIONS"}


@dataclass
class NamedLimit(RateLimit):
    """A limit with a name (`posts.account`, `posts.address`) that the RATE_LIMITS setting can override; its
    count and period here are the defaults (see LinliRateLimiter)."""

    name: str = ""


def _named(category: str, scope: str, count: int, period: timedelta, *, skip: Any = None) -> NamedLimit:
    """A limit on `category` per account (the signed-in user; the address when signed out) or per client
    address. Keys start with SHARED: every route of a category draws on one allowance (page and API alike)."""

    async def account() -> str:
        if category in {"sign-in", "register"}:  # nobody is signed in yet: the account being signed into
            return f"{SHARED}{category}:account:{await _submitted_username()}"
        return f"{SHARED}{category}:{await user_or_address_key()}"

    async def address() -> str:
        return f"{SHARED}{category}:from:{await client_address_key()}"

    key_function = account if scope == "account" else address
    return NamedLimit(count, period, key_function=key_function, skip_function=skip, name=f"{category}.{scope}")


def _per_account_and_address(
    category: str, account: tuple[int, timedelta], address: tuple[int, timedelta], *, skip: Any = None
) -> list[RateLimit]:
    return [_named(category, "account", *account, skip=skip), _named(category, "address", *address, skip=skip)]


MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)
# GCRA: a burst of `count`, then one more every period/count. Long periods keep the refill slow. Many
# households share one address behind a carrier's NAT, so the per-address limits are about ten accounts'
# worth: they stop one person's script that rotates accounts, not a busy apartment block. Every name can be
# changed with the RATE_LIMITS setting (docs/configuration.md).
LOGIN_LIMITS = _per_account_and_address("sign-in", (5, 5 * MINUTE), (30, 10 * MINUTE))
REGISTER_LIMITS = _per_account_and_address("register", (5, HOUR), (10, HOUR))
# Changing the password takes the current one: as few guesses at it as signing in allows, per signed-in account
# (a borrowed phone or a stolen session must not try a dictionary at the general write limit's pace).
PASSWORD_LIMITS = _per_account_and_address("password", (5, 5 * MINUTE), (30, 10 * MINUTE))
# Asking to join is counted per person, so neighbours behind one address do not use up each other's tries.
JOIN_LIMITS = _per_account_and_address("join", (10, HOUR), (100, HOUR))
# Threads, replies and edits (with their pictures), across the page and the API.
POST_LIMITS = _per_account_and_address("posts", (20, 5 * MINUTE), (200, 5 * MINUTE))
# Private messages and new conversations: a chat's pace, not a flood.
MESSAGE_LIMITS = _per_account_and_address("messages", (60, 5 * MINUTE), (600, 5 * MINUTE))
# Thank-you letters: public praise, not a stream.
LETTER_LIMITS = _per_account_and_address("letters", (10, HOUR), (100, HOUR))
# Problem reports (我身边的事), with their photos, across the page and the API: a bad week's worth, not a flood.
REPORT_LIMITS = _per_account_and_address("reports", (10, HOUR), (100, HOUR))
# New sales, donated items, listings, offers: a bazaar's worth, not a flood.
MARKET_LIMITS = _per_account_and_address("market", (30, HOUR), (300, HOUR))
# Likes of posts and letters, and taking them back.
LIKE_LIMITS = _per_account_and_address("likes", (120, 10 * MINUTE), (1200, 10 * MINUTE))
# Flags and reports to the secretaries: enough to report a bad morning, not to bury the review queue.
FLAG_LIMITS = _per_account_and_address("flags", (30, HOUR), (300, HOUR))
# A secretary's changes to boards: enough to reorder a long list one step at a time, not enough to flood the
# audit log.
BOARD_LIMITS = _per_account_and_address("boards", (60, 10 * MINUTE), (600, 10 * MINUTE))
# Every write endpoint, unless a stricter limit applies.
WRITE_LIMITS = _per_account_and_address("writes", (60, MINUTE), (600, MINUTE), skip=is_read)
ALL_LIMITS = [
    *LOGIN_LIMITS,
    *REGISTER_LIMITS,
    *PASSWORD_LIMITS,
    *JOIN_LIMITS,
    *POST_LIMITS,
    *MESSAGE_LIMITS,
    *LETTER_LIMITS,
    *REPORT_LIMITS,
    *MARKET_LIMITS,
    *LIKE_LIMITS,
    *FLAG_LIMITS,
    *BOARD_LIMITS,
    *WRITE_LIMITS,
]
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_overrides(text: str) -> dict[str, tuple[int, timedelta]]:
    """`posts.account=20/5m, likes.address=600/10m` -> {name: (count, period)}; raises ValueError saying what
    is wrong (an unknown name, a count below 1, a period without s, m, h or d)."""
    known = {limit.name for limit in ALL_LIMITS if isinstance(limit, NamedLimit)}
    overrides: dict[str, tuple[int, timedelta]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = (piece.strip() for piece in item.partition("="))
        if name not in known:
            raise ValueError(f"unknown rate limit {name!r}; known: {', '.join(sorted(known))}")
        count, _, period = value.partition("/")
        unit = period[-1:] if period else ""
        amount = period[:-1] if period else ""
        if not (count.isdigit() and int(count) >= 1 and unit in _UNITS and amount.isdigit() and int(amount) >= 1):
            raise ValueError(f"rate limit {name!r}: write it as COUNT/PERIOD, for example 20/5m, not {value!r}")
        overrides[name] = (int(count), timedelta(seconds=int(amount) * _UNITS[unit]))
    return overrides


class RedisStore(RateLimiterStoreABC):
    """Shared by every server process; keys expire once their period is over, so Redis does not fill up.

    While Redis cannot be reached, each process counts in memory instead and tries Redis again after
    RETRY_SECONDS: limits then hold per process, and a write is never refused because a counter is away.
    """

    RETRY_SECONDS = 5.0

    def __init__(self, url: str, channel: str = "linli") -> None:
        self._url = url
        self._prefix = f"{channel}:rl:"  # deployments sharing one Redis (REDIS_CHANNEL) count apart
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
                result = await self._redis.get(f"{self._prefix}{key}")
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
                await self._redis.set(f"{self._prefix}{key}", tat.timestamp(), ex=ttl)
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
    def __init__(self, *, overrides: dict[str, tuple[int, timedelta]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._overrides = overrides
        self._configured: dict[tuple[int, ...], list[RateLimit]] = {}  # by the view's limits' identity

    def _get_limits_for_view_function(self, view_func: Any, blueprint: Any) -> list[RateLimit]:
        """The declared limits with the counts and periods the RATE_LIMITS setting gives their names."""
        declared = super()._get_limits_for_view_function(view_func, blueprint)
        key = tuple(id(limit) for limit in declared)
        configured = self._configured.get(key)
        if configured is None:
            configured = [self._configure(limit) for limit in declared]
            self._configured[key] = configured
        return configured

    def _configure(self, limit: RateLimit) -> RateLimit:
        if isinstance(limit, NamedLimit) and limit.name in self._overrides:
            count, period = self._overrides[limit.name]
            return replace(limit, count=count, period=period)
        return limit

    async def _create_key(self, endpoint: str, rate_limit: RateLimit) -> str:
        # quart-rate-limiter puts the endpoint into every key; shared keys leave it out (pinned < 0.13).
        key_function = rate_limit.key_function or self.key_function
        key = await key_function()
        if key.startswith(SHARED):
            return f"linli-{rate_limit.key}-{key}"
        return await super()._create_key(endpoint, rate_limit)


def create_limiter(redis_url: str, overrides: str = "", channel: str = "linli") -> RateLimiter:
    store: RateLimiterStoreABC = RedisStore(redis_url, channel) if redis_url else MemoryStore()
    return LinliRateLimiter(
        overrides=parse_overrides(overrides),
        key_function=client_address_key,
        store=store,
        default_limits=WRITE_LIMITS,
    )
