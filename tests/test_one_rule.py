"""Rules written once and asked everywhere: who may read a community's content (pages and API give the same
answer, a suspension's reason included), who may reply (the thread page, the API and the action agree: a muted
member may not), periodic jobs that fail alone (both databases), and every Redis client made in one place."""

from __future__ import annotations

import ast
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from quart import Quart
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.access import standing_in
from forum.actions import mutes, suspensions
from forum.actions.thread_tools import close_due
from forum.app import _each_alone, create_app
from forum.db import Database
from forum.models import Community, Membership, Role, Thread, User
from forum.timeutil import utcnow
from tests.conftest import app_config
from tests.factories import make_community, make_member, make_pending, make_thread, make_user
from tests.helpers import bearer, login, text


async def _membership(db: Database, user: User, community: Community) -> Membership:
    async with db.read_only() as session:
        return (
            await session.execute(
                select(Membership).where(
                    col(Membership.user_id) == user.id, col(Membership.community_id) == community.id
                )
            )
        ).scalar_one()


async def _people(db: Database, community: Community) -> dict[str, User]:
    people = {
        name: await make_user(db, username=f"or_{name}") for name in ("secretary", "pending", "suspended", "away")
    }
    await make_member(db, user=people["secretary"], community=community, role=Role.SECRETARY)
    await make_pending(db, user=people["pending"], community=community)
    await make_member(db, user=people["suspended"], community=community)
    secretary = people["secretary"]
    async with db.unit_of_work() as session:
        target = await session.get(Membership, (await _membership(db, people["suspended"], community)).id)
        assert target is not None
        await suspensions.set_suspended(
            session,
            actor=secretary,
            membership=target,
            standing=await standing_in(session, secretary, community),
            suspended=True,
            days=7,
            reason="多次辱骂邻居",
        )
    return people


async def test_who_may_read_a_community_gets_one_answer_on_pages_and_in_the_api(app: Quart, db: Database) -> None:
    """Outsiders learn nothing (404); a pending member is told to wait for a secretary (403); a suspended member
    is told why (403, with the reason), on every way in. The API's board list answered 404 to members, its
    mentions and search 403 to outsiders and without the reason, the pages' mentions and search 403 to
    outsiders."""
    community = await make_community(db)
    await _people(db, community)
    slug = community.slug
    pages = [f"/c/{slug}/b/talk", f"/c/{slug}/search?q=x", f"/c/{slug}/mentions?q=a"]
    api = [
        f"/api/v1/communities/{slug}/boards",
        f"/api/v1/communities/{slug}/mentions?q=a",
        f"/api/v1/communities/{slug}/search?q=x",
        f"/api/v1/communities/{slug}/letters",
        f"/api/v1/communities/{slug}/market",
    ]
    for name, status, words in (("away", 404, ""), ("pending", 403, "书记"), ("suspended", 403, "多次辱骂邻居")):
        client = app.test_client()
        await login(client, f"or_{name}")
        for path in pages:
            response = await client.get(path)
            assert response.status_code == status, (name, path)
            assert words in await text(response), (name, path)
        headers = await bearer(app.test_client(), f"or_{name}")
        for path in api:
            response = await app.test_client().get(path, headers=headers)
            assert response.status_code == status, (name, path)
            assert words in (await response.get_json())["message"], (name, path)


async def test_a_muted_member_may_not_reply_and_every_way_in_says_so(app: Quart, db: Database) -> None:
    community = await make_community(db)
    secretary, muted = await make_user(db, username="mr_sec"), await make_user(db, username="mr_muted")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    await make_member(db, user=muted, community=community)
    thread = await make_thread(db, author=secretary, community=community)
    async with db.unit_of_work() as session:
        target = await session.get(Membership, (await _membership(db, muted, community)).id)
        assert target is not None
        await mutes.set_muted(
            session,
            actor=secretary,
            membership=target,
            standing=await standing_in(session, secretary, community),
            hours=24,
            reason="刷屏",
            muted=True,
        )
    headers = await bearer(app.test_client(), "mr_muted")
    answer = await (await app.test_client().get(f"/api/v1/threads/{thread.id}", headers=headers)).get_json()
    assert answer["can_reply"] is False  # it said True
    replied = await app.test_client().post(
        f"/api/v1/threads/{thread.id}/replies", json={"body": "我还要说"}, headers=headers
    )
    assert replied.status_code == 403 and "刷屏" in str((await replied.get_json())["fields"])
    client = app.test_client()
    await login(client, "mr_muted")
    page = await text(await client.get(f"/t/{thread.id}"))
    assert 'id="reply-section"' not in page and "刷屏" in page
    # Locked, then unlocked: still muted, still no reply box.
    async with db.unit_of_work() as session:
        await session.execute(update(Thread).where(col(Thread.id) == thread.id).values(locked_at=utcnow()))
    async with db.unit_of_work() as session:
        await session.execute(update(Thread).where(col(Thread.id) == thread.id).values(locked_at=None))
    answer = await (await app.test_client().get(f"/api/v1/threads/{thread.id}", headers=headers)).get_json()
    assert answer["can_reply"] is False


async def test_a_periodic_job_that_fails_rolls_back_only_its_own_work(
    db: Database, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The clock's jobs each run in their own unit of work: one that fails is logged by name and undone, and the
    jobs after it still run and commit (they shared one transaction, so one failure undid all six)."""
    community = await make_community(db)
    author = await make_user(db, username="pj_author")
    await make_member(db, user=author, community=community)
    thread = await make_thread(db, author=author, community=community)
    async with db.unit_of_work() as session:
        await session.execute(
            update(Thread).where(col(Thread.id) == thread.id).values(closes_at=utcnow() - timedelta(minutes=1))
        )
    app = create_app(app_config(db_url, tmp_path))

    async def fails(session: AsyncSession) -> None:
        await session.execute(update(Thread).where(col(Thread.id) == thread.id).values(title="不该留下的标题"))
        raise RuntimeError("a broken job")

    async with app.test_app():
        with caplog.at_level(logging.ERROR):
            await _each_alone(
                app,
                [
                    ("a broken job", fails),
                    ("close timed threads", lambda session: close_due(session, now=utcnow())),
                ],
            )
    async with db.read_only() as session:
        row = await session.get(Thread, thread.id)
        assert row is not None
    assert row.title != "不该留下的标题"  # the failed job's change was rolled back
    assert row.locked_at is not None  # the job after it ran and committed
    assert "'a broken job' failed" in caplog.text


# What makes a Redis client, a pool of connections, or something that makes one of its own (python-socketio's
# managers): only forum/redis_client.py may call these, so that every client fails fast.
_REDIS_MAKERS = frozenset(
    {
        "from_url",
        "from_pool",
        "Redis",
        "StrictRedis",
        "RedisCluster",
        "Sentinel",
        "ConnectionPool",
        "BlockingConnectionPool",
        "AsyncRedisManager",
        "RedisManager",
    }
)
_ONE_PLACE = Path("forum/redis_client.py")


def _redis_clients_made(source: str) -> list[tuple[int, str]]:
    """(line, name) of every call, or import from a Redis module, of something in _REDIS_MAKERS."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            callee = node.func
            name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", None)
            if name in _REDIS_MAKERS:
                found.append((node.lineno, str(name)))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in {"redis", "socketio"}:
            found += [(node.lineno, alias.name) for alias in node.names if alias.name in _REDIS_MAKERS]
    return found


def test_every_redis_client_comes_from_the_one_place_that_makes_it_fail_fast() -> None:
    """A client made with redis-py's defaults waits five seconds for a hung Redis, and retries: presence made its
    own that way, and a subscribe waited 5 s, a private message 6 s with its transaction open (issue 21)."""
    # The rule sees what it must see (so it cannot pass by having stopped looking).
    assert sorted(_redis_clients_made(EXAMPLE_OFFENDERS)) == [
        (2, "ConnectionPool"),
        (3, "from_url"),
        (4, "Redis"),
        (5, "AsyncRedisManager"),
    ]
    root = Path(__file__).resolve().parent.parent
    offenders = [
        f"{path.relative_to(root)}:{line}: {name}"
        for package in ("forum", "realtime", "bench")
        for path in sorted((root / package).rglob("*.py"))
        if path.relative_to(root) != _ONE_PLACE
        for line, name in _redis_clients_made(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, f"make Redis clients with forum.redis_client (fail_fast, fail_fast_manager): {offenders}"


EXAMPLE_OFFENDERS = """
from redis.asyncio import ConnectionPool
client = aioredis.from_url(url)
other = Redis(host="localhost")
manager = socketio.AsyncRedisManager(url)
"""
