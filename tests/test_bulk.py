"""`forum seed-bulk` writes rows directly, so check that what it wrote is what the domain actions would have:
consistent counters, a search index equal to forum.search's, ids the forum carries on from."""

from __future__ import annotations

from pathlib import Path

from quart import Quart
from sqlalchemy import func, select, text
from sqlmodel import col

from forum.db import Database
from forum.models import Community, Like, Post, Thread, User
from forum.search import document
from forum.seed import DEMO_PASSWORD
from tests.factories import make_reply
from tests.helpers import login
from tests.test_cli import _forum


async def test_seed_bulk_makes_a_consistent_forum_that_pages_and_search_can_read(
    app: Quart, db: Database, db_url: str, tmp_path: Path
) -> None:
    result = _forum(
        "seed-bulk", "--community", "bulk-test", "--threads", "12", "--replies", "90", "--likes", "60",
        "--users", "6", "--quiet", db_url=db_url, var_dir=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Added 12 threads, 90 replies" in result.stdout

    async with db.read_only() as session:
        community = (await session.execute(select(Community).where(col(Community.slug) == "bulk-test"))).scalar_one()
        threads = list((await session.execute(select(Thread))).scalars())
        posts = list((await session.execute(select(Post))).scalars())
        likes = (await session.execute(select(col(Like.post_id), func.count()).group_by(col(Like.post_id)))).all()
        bulk_user = (await session.execute(select(User).where(col(User.username).like("bulk_%")))).scalars().first()
        if db_url.startswith("postgresql"):
            stored = await session.execute(
                text(
                    "SELECT s.post_id, s.document = to_tsvector('simple', d.doc) FROM post_search s "
                    "JOIN (SELECT unnest(CAST(:ids AS integer[])) AS id, unnest(CAST(:docs AS text[])) AS doc) d "
                    "ON d.id = s.post_id"
                ),
                {
                    "ids": [post.id for post in posts],
                    "docs": [document(_title(threads, post), post.body) for post in posts],
                },
            )
            index = {post_id: same for post_id, same in stored.all()}
            assert index == {post.id: True for post in posts}
        else:
            stored = await session.execute(text("SELECT rowid, document FROM post_fts"))
            index = dict(stored.all())
            assert index == {post.id: document(_title(threads, post), post.body) for post in posts}

    assert len(threads) == 12 and len(posts) == 102 and all(t.community_id == community.id for t in threads)
    for thread in threads:
        own = sorted((post for post in posts if post.thread_id == thread.id), key=lambda post: post.number)
        assert [post.number for post in own] == list(range(1, thread.post_count + 1))
        assert own[0].created_at == thread.created_at and own[-1].created_at == thread.last_posted_at
        assert [post.created_at for post in own] == sorted(post.created_at for post in own)
    counted = dict(likes)
    assert all(post.like_count == counted.get(post.id, 0) for post in posts)
    assert 30 <= sum(counted.values()) <= 120  # about the 60 asked for
    assert all(post.body_html.startswith("<p>") or post.body_html.startswith("<ul>") for post in posts)

    # The forum carries on: a reply through the domain action gets the next number and a fresh id.
    assert bulk_user is not None
    longest = max(threads, key=lambda thread: thread.post_count)
    reply = await make_reply(db, author=bulk_user, thread=longest, body="快递柜修好了")
    assert reply.number == longest.post_count + 1 and reply.id == max(post.id or 0 for post in posts) + 1

    client = app.test_client()
    await login(client, bulk_user.username, DEMO_PASSWORD)
    for path in (f"/t/{longest.id}", "/c/bulk-test/b/talk", "/c/bulk-test"):
        assert (await client.get(path)).status_code == 200, path
    found = await client.get("/c/bulk-test/search", query_string={"q": "快递柜修好了"})
    assert f'href="/t/{longest.id}/p/{reply.number}"' in await found.get_data(as_text=True)
    common = await client.get("/c/bulk-test/search", query_string={"q": "快递"})
    assert "<mark>快递</mark>" in await common.get_data(as_text=True)


def _title(threads: list[Thread], post: Post) -> str | None:
    """The opening post is indexed with its thread's title, as forum.actions.threads does."""
    return next(thread.title for thread in threads if thread.id == post.thread_id) if post.number == 1 else None


def test_seed_bulk_refuses_negative_numbers_with_a_message(tmp_path: Path) -> None:
    result = _forum("seed-bulk", "--threads", "-1", db_url="sqlite+aiosqlite:///unused.db", var_dir=tmp_path)
    assert result.returncode == 2 and "--threads cannot be negative" in result.stderr
