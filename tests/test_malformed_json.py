"""A JSON body that is not UTF-8, is nested absurdly deep, or holds a NUL character is a clear 400 with the
usual error shape on every JSON endpoint, signed in or not, and nothing is stored. Both databases (PostgreSQL
refuses NUL in text; SQLite would have kept it)."""

from __future__ import annotations

import json

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import func, select

from forum.db import Database
from forum.models import Post, Thread, User
from tests.factories import make_community, make_member, make_thread, make_user
from tests.helpers import bearer, csrf_token, login

JSON = {"Content-Type": "application/json"}
NOT_UTF8 = b"\xff"
DEEP = b"[" * 100_000 + b"]" * 100_000


def _with_nul(body: dict[str, str], field: str) -> bytes:
    """`body` as JSON with a NUL inside `field`, written the only way JSON can carry one (\\u0000)."""
    return json.dumps({**body, field: body[field][:2] + "\x00" + body[field][2:]}).encode()


async def _assert_refused(response: object, field: str) -> None:
    assert response.status_code == 400, await response.get_data(as_text=True)  # type: ignore[attr-defined]
    answer = await response.get_json()  # type: ignore[attr-defined]
    assert set(answer) == {"error", "message", "fields"}
    assert answer["error"] == "invalid_body" and answer["message"]
    assert list(answer["fields"]) == [field]


async def _count(db: Database, model: type[User] | type[Thread] | type[Post]) -> int:
    async with db.unit_of_work() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.mark.parametrize("signed_in_by", ["bearer", "cookie"])
async def test_malformed_json_bodies_are_a_clear_400_and_store_nothing(
    app: Quart, db: Database, signed_in_by: str
) -> None:
    """Every kind of malformed body on a few endpoints, signed out (sign-in, register) and signed in."""
    community = await make_community(db)
    author = await make_user(db, username="mj_author", display_name="原名")
    await make_member(db, user=author, community=community)
    thread = await make_thread(db, author=author, community=community)
    client = app.test_client()
    if signed_in_by == "bearer":
        headers = await bearer(client, "mj_author")
    else:  # the login cookie, and its CSRF token as the API's browser clients send it
        await login(client, "mj_author")
        headers = {"X-CSRF-Token": await csrf_token(client)}
    users, threads, posts = await _count(db, User), await _count(db, Thread), await _count(db, Post)

    register = {"username": "mj_new", "password": "a-long-password", "display_name": "新邻居"}
    signed_out = app.test_client()
    endpoints: list[tuple[Client, str, str, dict[str, str], str, dict[str, str]]] = [
        (signed_out, "post", "/api/v1/auth/tokens", {"username": "mj_author", "password": "whatever"}, "username", {}),
        (signed_out, "post", "/api/v1/auth/register", register, "display_name", {}),
        (client, "patch", "/api/v1/me", {"display_name": "新名字"}, "display_name", headers),
        (
            client,
            "post",
            f"/api/v1/communities/{community.slug}/boards/talk/threads",
            {"title": "停车位", "body": "地下车库"},
            "title",
            headers,
        ),
        (client, "post", f"/api/v1/threads/{thread.id}/replies", {"body": "我也觉得"}, "body", headers),
    ]
    for sender, method, path, body, field, sent_headers in endpoints:
        send = getattr(sender, method)
        for data, where in ((NOT_UTF8, "body"), (DEEP, "body"), (_with_nul(body, field), field)):
            response = await send(path, data=data, headers={**JSON, **sent_headers})
            await _assert_refused(response, where)

    assert (await _count(db, User), await _count(db, Thread), await _count(db, Post)) == (users, threads, posts)
    me = await client.get("/api/v1/me", headers=headers)
    assert (await me.get_json())["display_name"] == "原名"
    # The same endpoints take a well-formed body as before.
    renamed = await client.patch("/api/v1/me", json={"display_name": "新名字"}, headers=headers)
    assert renamed.status_code == 200, await renamed.get_data(as_text=True)
