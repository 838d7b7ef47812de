"""Rate limits on writes: each kind of write has its own allowance per account and per client address, the
RATE_LIMITS setting changes any of them by name, a refused write gets 429 with Retry-After and a clear
message and stores nothing, and two processes sharing Redis count together. Both databases where a database
is touched; the two-process test uses real servers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from forum.app import create_app
from forum.config import ConfigError
from forum.db import Database
from forum.models import Flag, Like, Post, Thread, User
from forum.web.ratelimits import parse_overrides
from tests.conftest import app_config
from tests.factories import make_community, make_member, make_reply, make_thread, make_user
from tests.helpers import login, post_form, text
from tests.servers import http_login, http_post_form, run_server
from tests.services import REDIS_URL, require_service, unique_channel


def test_the_setting_changes_limits_by_name_and_says_what_is_wrong() -> None:
    assert parse_overrides(" posts.account=5/2m, likes.address = 100/1h ,") == {
        "posts.account": (5, timedelta(minutes=2)),
        "likes.address": (100, timedelta(hours=1)),
    }
    assert parse_overrides("") == {}
    for bad, says in (
        ("post.account=5/2m", "unknown rate limit 'post.account'"),
        ("posts.account=0/2m", "COUNT/PERIOD"),
        ("posts.account=5/2w", "COUNT/PERIOD"),
        ("posts.account=5", "COUNT/PERIOD"),
        ("posts.account=five/2m", "COUNT/PERIOD"),
    ):
        with pytest.raises(ValueError, match=says):
            parse_overrides(bad)


def test_a_server_with_a_wrong_setting_does_not_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"RATE_LIMITS: unknown rate limit 'likes\.acount'"):
        create_app(app_config("sqlite+aiosqlite:///:memory:", tmp_path, RATE_LIMITS="likes.acount=3/1m"))


async def _neighbours(db: Database, *names: str) -> tuple[Post, Post]:
    community = await make_community(db)
    users = [await make_user(db, username=name) for name in names]
    for user in users:
        await make_member(db, user=user, community=community)
    thread = await make_thread(db, author=users[0], community=community)
    first = await make_reply(db, author=users[0], thread=thread, body="第一条")
    second = await make_reply(db, author=users[0], thread=thread, body="第二条")
    return first, second


async def test_likes_and_flags_have_their_own_allowance_per_account(db_url: str, tmp_path: Path, db: Database) -> None:
    app = create_app(app_config(db_url, tmp_path, RATE_LIMITS="likes.account=3/1m, flags.account=2/1h"))
    first, second = await _neighbours(db, "rl_author", "rl_fan", "rl_other")
    async with app.test_app():
        fan = app.test_client()
        await login(fan, "rl_fan")
        page = f"/t/{first.thread_id}"
        statuses = [
            (await post_form(fan, f"/posts/{first.id}/like", {"value": value}, token_from=page)).status_code
            for value in ("1", "0", "1")
        ]
        assert statuses == [302, 302, 302]
        refused = await post_form(fan, f"/posts/{second.id}/like", {"value": "1"}, token_from=page)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0  # type: ignore[attr-defined]
        assert "请等待" in await text(refused)
        # Flags draw on another allowance: the likes used up do not stop them.
        for post in (first, second):
            flagged = await post_form(fan, f"/posts/{post.id}/flag", {"reason": "spam"}, token_from=page)
            assert flagged.status_code == 302
        third = await make_reply(db, author=await _user(db, "rl_author"), thread=await _thread(db, first), body="x")
        assert (await post_form(fan, f"/posts/{third.id}/flag", {"reason": "spam"}, token_from=page)).status_code == 429
        # Another neighbour's allowance is their own.
        other = app.test_client()
        await login(other, "rl_other")
        assert (await post_form(other, f"/posts/{second.id}/like", {"value": "1"}, token_from=page)).status_code == 302
    async with db.read_only() as session:
        likes = (await session.execute(select(func.count()).select_from(Like))).scalar_one()
        flags = (await session.execute(select(func.count()).select_from(Flag))).scalar_one()
    assert (likes, flags) == (2, 2)  # first by rl_fan, second by rl_other; nothing from the refused writes


async def _user(db: Database, username: str) -> User:
    async with db.read_only() as session:
        return (await session.execute(select(User).where(col(User.username) == username))).scalar_one()


async def _thread(db: Database, post: Post) -> Thread:
    async with db.read_only() as session:
        thread = await session.get(Thread, post.thread_id)
    assert thread is not None
    return thread


async def test_neighbours_behind_one_address_share_its_allowance(db_url: str, tmp_path: Path, db: Database) -> None:
    app = create_app(app_config(db_url, tmp_path, RATE_LIMITS="posts.address=3/1m"))
    first, _second = await _neighbours(db, "ra_one", "ra_two")
    page = f"/t/{first.thread_id}"
    async with app.test_app():
        one, two = app.test_client(), app.test_client()
        await login(one, "ra_one")
        await login(two, "ra_two")
        for client in (one, two):
            response = await post_form(client, f"{page}/replies", {"body": "同一个地址"}, token_from=page)
            assert response.status_code == 302
        assert (await post_form(one, f"{page}/replies", {"body": "第三条"}, token_from=page)).status_code == 302
        refused = await post_form(two, f"{page}/replies", {"body": "第四条"}, token_from=page)
        assert refused.status_code == 429
    async with db.read_only() as session:
        replies = (
            await session.execute(select(func.count()).where(col(Post.thread_id) == first.thread_id))
        ).scalar_one()
    assert replies == 1 + 2 + 3  # the opening post, the two made above, and three of the four here


@pytest.mark.server
async def test_two_processes_sharing_redis_count_one_allowance(db_url: str, tmp_path: Path, db: Database) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    first, _second = await _neighbours(db, "rr_author", "rr_fan")
    channel = unique_channel()
    settings = {"RATE_LIMITS": "likes.account=3/1m"}
    with (
        run_server(
            db_url=db_url, var_dir=tmp_path, redis_url=REDIS_URL, channel=channel, name="a", settings=settings
        ) as east,
        run_server(
            db_url=db_url, var_dir=tmp_path, redis_url=REDIS_URL, channel=channel, name="b", settings=settings
        ) as west,
    ):
        here, there = await http_login(east.url, "rr_fan"), await http_login(west.url, "rr_fan")
        page = f"/t/{first.thread_id}"
        path = f"/posts/{first.id}/like"
        assert (await http_post_form(here, path, {"value": "1"}, token_from=page)).status_code == 302
        assert (await http_post_form(here, path, {"value": "0"}, token_from=page)).status_code == 302
        assert (await http_post_form(there, path, {"value": "1"}, token_from=page)).status_code == 302
        refused = await http_post_form(there, path, {"value": "0"}, token_from=page)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
        # And the other process refuses too: one allowance, not one per process.
        assert (await http_post_form(here, path, {"value": "0"}, token_from=page)).status_code == 429
        await here.aclose()
        await there.aclose()
    async with db.read_only() as session:
        likes = (await session.execute(select(func.count()).select_from(Like))).scalar_one()
    assert likes == 1  # the refused unlikes changed nothing
