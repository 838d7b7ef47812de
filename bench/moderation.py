"""What moderation costs on the hot paths, in-process against a real database.

    python -m bench.moderation [--writes 300] [--flagged 100] [--redis] [--database-url postgresql+asyncpg://...]

Two measurements, each against a baseline taken in the same run:
- a write's rate limits: `--writes` likes by one neighbour (one reply, liked and unliked in turn) through the
  app with rate limits on, against the same with them off. Each write now draws on four allowances (likes and
  every write, per account and per address). With `--redis` the counters live in Redis, as with several
  processes.
- the review queue: the secretaries' page with `--flagged` flagged items of every kind (replies, threads,
  letters, listings, private messages), against the page with an empty queue.

The report is the median milliseconds per request and the ratio to its baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from quart import Quart
from sqlalchemy import select
from sqlmodel import col

from bench.fanout import database
from forum.access import standing_in
from forum.actions import communities, conversations, flags, letters, listings, memberships, messages, threads
from forum.app import create_app
from forum.db import Database
from forum.flaggables import LetterItem, ListingItem, MessageItem, of_post
from forum.models import Community, ConversationMember, Post, Role, Thread, User
from forum.passwords import hash_password
from forum.queries.flags import open_flag_count
from forum.queries.threads import boards_of
from tests.factories import PASSWORD
from tests.helpers import csrf_token

REDIS_URL = "redis://127.0.0.1:6379/0"


async def _people(db: Database, count: int) -> tuple[Community, list[User]]:
    async with db.unit_of_work() as session:
        district = await communities.create_district(session, name="宝山区", slug="bench-moderation")
        community = await communities.create_community(
            session, district=district, name="月浦新村", slug="bench-moderation"
        )
        password = await hash_password(PASSWORD)
        people = [User(username=f"m{n}", display_name=f"邻居{n}", password_hash=password) for n in range(count)]
        session.add_all(people)
        await session.flush()
        for n, person in enumerate(people):
            role = Role.SECRETARY if n == 0 else Role.RESIDENT
            await memberships.add_verified_member(session, user=person, community=community, role=role)
    return community, people


async def _flag_everything(db: Database, community: Community, people: list[User], count: int) -> Thread:
    """`count` items with an open flag each, a fifth of each kind; returns a thread to like in."""
    author, flagger = people[1], people[2]
    async with db.unit_of_work() as session:
        standing = await standing_in(session, author, community)
        board = next(row.board for row in await boards_of(session, community) if row.board.slug == "talk")
        thread = await threads.create_thread(
            session, actor=author, board=board, standing=standing, title="压测", body="内容"
        )
        conversation, _new = await conversations.start_direct(
            session, actor=author, community=community, standing=standing, other=flagger
        )
        member = (
            await session.execute(
                select(ConversationMember).where(
                    col(ConversationMember.conversation_id) == conversation.id,
                    col(ConversationMember.user_id) == author.id,
                )
            )
        ).scalar_one()
    for n in range(count):
        async with db.unit_of_work() as session:
            mine = await standing_in(session, author, community)
            theirs = await standing_in(session, flagger, community)
            kind = n % 5
            if kind == 0:
                reply = await threads.reply(
                    session, actor=author, thread=thread, board=board, standing=mine, body=f"回复 {n}"
                )
                await flags.flag(session, actor=flagger, item=of_post(reply, thread), standing=theirs, reason="spam")
            elif kind == 1:
                other = await threads.create_thread(
                    session, actor=author, board=board, standing=mine, title=f"帖子 {n}", body="内容"
                )
                opening = await _opening(session, other)
                await flags.flag(session, actor=flagger, item=of_post(opening, other), standing=theirs, reason="spam")
            elif kind == 2:
                letter = await letters.write_letter(
                    session,
                    actor=author,
                    community=community,
                    standing=mine,
                    usernames=flagger.username,
                    title=f"谢谢 {n}",
                    body="谢谢",
                )
                await flags.flag(session, actor=flagger, item=LetterItem(letter), standing=theirs, reason="spam")
            elif kind == 3:
                listing = await listings.create_listing(
                    session,
                    actor=author,
                    community=community,
                    standing=mine,
                    kind="free",
                    title=f"旧书 {n}",
                    description="",
                    wanted="",
                    category="books",
                    condition="good",
                    pickup_area="楼下",
                )
                await flags.flag(session, actor=flagger, item=ListingItem(listing), standing=theirs, reason="spam")
            else:
                sent = await messages.send_message(
                    session,
                    actor=author,
                    conversation=conversation,
                    member=member,
                    standing=mine,
                    body=f"私信 {n}",
                    client_id=f"bench-{n:08d}",
                )
                await flags.flag(
                    session, actor=flagger, item=MessageItem(sent.message, community), standing=theirs, reason="spam"
                )
    return thread


async def _opening(session: Any, thread: Thread) -> Post:
    return (
        await session.execute(select(Post).where(col(Post.thread_id) == thread.id, col(Post.number) == 1))
    ).scalar_one()


async def _timed(app: Quart, username: str, calls: int, request: Any) -> list[float]:
    client = app.test_client()
    token = await csrf_token(client, "/login")
    await client.post("/login", form={"username": username, "password": PASSWORD, "csrf_token": token})
    token = await csrf_token(client)
    times = []
    for n in range(calls):
        started = time.perf_counter()
        response = await request(client, token, n)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code in (200, 302), response.status_code
    return times


async def run(options: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as var:
        async with database(options.database_url or None, Path(var)) as db_url:
            db = Database(db_url)
            community, people = await _people(db, 4)
            thread = await _flag_everything(db, community, people, 0)
            reply_id = await _opening_id(db, thread)
            results: dict[str, Any] = {}

            async def like(client: Any, token: str, n: int) -> Any:
                return await client.post(f"/posts/{reply_id}/like", form={"value": str(n % 2), "csrf_token": token})

            for label, overrides in (
                ("writes, no rate limits", {"RATE_LIMITS_ENABLED": False}),
                ("writes, rate limits in memory", {"RATE_LIMITS": "likes.account=100000/1m,writes.account=100000/1m"}),
            ):
                results[label] = await _with_app(
                    db_url, var, overrides, lambda app: _timed(app, people[3].username, options.writes, like)
                )
            if options.redis:
                results["writes, rate limits in Redis"] = await _with_app(
                    db_url,
                    var,
                    {
                        "REDIS_URL": REDIS_URL,
                        "REDIS_CHANNEL": f"bench-{time.time_ns()}",
                        "RATE_LIMITS": "likes.account=100000/1m,writes.account=100000/1m",
                    },
                    lambda app: _timed(app, people[3].username, options.writes, like),
                )

            async def queue(client: Any, _token: str, _n: int) -> Any:
                return await client.get(f"/c/{community.slug}/review")

            results["review queue, empty"] = await _with_app(
                db_url, var, {}, lambda app: _timed(app, people[0].username, 50, queue)
            )
            await _flag_everything(db, community, people, options.flagged)
            async with db.read_only() as session:  # the queue holds what was flagged, or the timing means little
                waiting = (await session.execute(select(open_flag_count(community.id or 0)))).scalar_one()
            assert waiting == options.flagged, (waiting, options.flagged)
            results[f"review queue, {options.flagged} flagged"] = await _with_app(
                db_url, var, {}, lambda app: _timed(app, people[0].username, 50, queue)
            )
            await db.dispose()
    return {label: statistics.median(times) for label, times in results.items()}


async def _opening_id(db: Database, thread: Thread) -> int:
    async with db.read_only() as session:
        return (await _opening(session, thread)).id or 0


async def _with_app(db_url: str, var: str, overrides: dict[str, Any], work: Any) -> list[float]:
    config = {"DATABASE_URL": db_url, "VAR_DIR": var, "SECRET_KEY": "bench", "EVENT_POLL_SECONDS": 3600.0}
    app = create_app({**config, **overrides})
    async with app.test_app():
        times: list[float] = await work(app)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--flagged", type=int, default=100)
    parser.add_argument("--redis", action="store_true", help="also count in Redis (127.0.0.1:6379)")
    parser.add_argument("--database-url", default="")
    options = parser.parse_args()
    medians = asyncio.run(run(options))
    write_base = medians["writes, no rate limits"]
    queue_base = medians["review queue, empty"]
    print(f"{'':40} {'median ms':>10} {'ratio':>7}")
    for label, value in medians.items():
        base = write_base if label.startswith("writes") else queue_base
        print(f"{label:40} {value:10.2f} {value / base:7.2f}")


if __name__ == "__main__":
    main()
