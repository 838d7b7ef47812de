"""A profile shows a reader no more of someone's threads and replies than the thread pages show that reader:
what a secretary or flags hid, what was deleted, and replies in hidden or deleted threads stay off it (and out
of its counts), except for whoever the thread page still shows them to. Both databases."""

from __future__ import annotations

import re

from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import select
from sqlmodel import col

from forum.db import Database
from forum.models import Post, Role, Thread, User
from tests.factories import (
    make_community,
    make_district_admin,
    make_like,
    make_member,
    make_reply,
    make_thread,
    make_user,
)
from tests.helpers import bearer, login, text

ENGLISH = {"Accept-Language": "en"}


async def _opening_post(db: Database, thread: Thread) -> Post:
    async with db.unit_of_work() as session:
        return (
            await session.execute(select(Post).where(col(Post.thread_id) == thread.id, col(Post.number) == 1))
        ).scalar_one()


async def _ok(response: object) -> None:
    assert response.status_code in {200, 204}, await text(response)  # type: ignore[attr-defined]


async def _stage(app: Quart, db: Database) -> tuple[dict[str, User], dict[str, Client]]:
    """`writer` wrote one thread and one reply of each kind; the other people read their profile."""
    community = await make_community(db)
    people: dict[str, User] = {}
    for name, role in (
        ("writer", Role.RESIDENT),
        ("reader", Role.RESIDENT),
        ("opener", Role.RESIDENT),  # opened the threads the writer replied in
        ("secretary", Role.SECRETARY),
        ("flagger1", Role.RESIDENT),
        ("flagger2", Role.RESIDENT),
        ("flagger3", Role.RESIDENT),
    ):
        people[name] = await make_user(db, username=f"pv_{name}", display_name=name)
        await make_member(db, user=people[name], community=community, role=role)
    people["admin"] = await make_user(db, username="pv_admin", display_name="admin")
    await make_district_admin(db, user=people["admin"], district_id=community.district_id)
    api = app.test_client()
    secretary = await bearer(api, "pv_secretary")
    writer_token = await bearer(api, "pv_writer")
    writer, opener = people["writer"], people["opener"]

    await make_thread(db, author=writer, community=community, title="写手公开帖")
    hidden_by_secretary = await make_thread(db, author=writer, community=community, title="写手被书记隐藏")
    hidden_by_flags = await make_thread(db, author=writer, community=community, title="写手被举报隐藏")
    deleted = await make_thread(db, author=writer, community=community, title="写手被删除")

    open_thread = await make_thread(db, author=opener, community=community, title="邻居公开帖")
    with_hidden_reply = await make_thread(db, author=opener, community=community, title="回复被隐藏")
    with_deleted_reply = await make_thread(db, author=opener, community=community, title="回复被删除")
    hidden_thread = await make_thread(db, author=opener, community=community, title="邻居被隐藏帖")
    deleted_thread = await make_thread(db, author=opener, community=community, title="邻居被删除帖")
    shown_reply = await make_reply(db, author=writer, thread=open_thread)
    hidden_reply = await make_reply(db, author=writer, thread=with_hidden_reply)
    deleted_reply = await make_reply(db, author=writer, thread=with_deleted_reply)
    await make_reply(db, author=writer, thread=hidden_thread)
    await make_reply(db, author=writer, thread=deleted_thread)

    # Likes given while everything was shown: only the shown reply's counts for a reader afterwards.
    await make_like(db, user=people["reader"], post=shown_reply)
    await make_like(db, user=people["reader"], post=hidden_reply)
    await make_like(db, user=people["reader"], post=await _opening_post(db, hidden_by_secretary))

    reason = {"reason": "不文明用语"}
    for thread in (hidden_by_secretary, hidden_thread):
        hide = {"hidden": True, **reason}
        await _ok(await api.post(f"/api/v1/threads/{thread.id}/hide", json=hide, headers=secretary))
    await _ok(await api.post(f"/api/v1/threads/{deleted.id}/delete", json=reason, headers=secretary))
    await _ok(await api.post(f"/api/v1/threads/{deleted_thread.id}/delete", json=reason, headers=secretary))
    await _ok(await api.post(f"/api/v1/posts/{hidden_reply.id}/hide", json=reason, headers=secretary))
    await _ok(await api.delete(f"/api/v1/posts/{deleted_reply.id}", headers=writer_token))
    opening = await _opening_post(db, hidden_by_flags)
    for flagger in ("pv_flagger1", "pv_flagger2", "pv_flagger3"):
        await _ok(
            await api.post(
                f"/api/v1/posts/{opening.id}/flags", json={"reason": "spam"}, headers=await bearer(api, flagger)
            )
        )
    async with db.unit_of_work() as session:
        assert (await session.get(Thread, hidden_by_flags.id)).hidden_at is not None  # type: ignore[union-attr]

    clients: dict[str, Client] = {}
    for name in ("writer", "reader", "opener", "secretary", "admin"):
        clients[name] = app.test_client()
        await login(clients[name], f"pv_{name}")
    return people, clients


ALL_TITLES = (
    *("写手公开帖", "写手被书记隐藏", "写手被举报隐藏", "写手被删除"),
    *("邻居公开帖", "回复被隐藏", "回复被删除", "邻居被隐藏帖", "邻居被删除帖"),
)


def _listed(page: str) -> set[str]:
    return {title for title in ALL_TITLES if f"“{title}”" in page}


def _counts(page: str) -> tuple[int, int, int]:
    found = [
        int(re.search(rf"(\d+) {word}", page).group(1))  # type: ignore[union-attr]
        for word in (r"threads?\b", r"repl(?:y|ies)\b", r"likes? received")
    ]
    return found[0], found[1], found[2]


async def test_a_profile_shows_each_reader_only_the_threads_and_replies_the_thread_pages_show_them(
    app: Quart, db: Database
) -> None:
    _people, clients = await _stage(app, db)
    expected = {
        # Everyone who may read the community: what is shown to all.
        "reader": ({"写手公开帖", "邻居公开帖"}, (1, 1, 1)),
        # The writer: their own hidden threads and hidden reply (the thread pages show them why), not their reply
        # in someone else's hidden thread (a 404 to them).
        "writer": ({"写手公开帖", "写手被书记隐藏", "写手被举报隐藏", "邻居公开帖", "回复被隐藏"}, (3, 2, 3)),
        # The hidden thread's own author sees the writer's reply in it.
        "opener": ({"写手公开帖", "邻居公开帖", "邻居被隐藏帖"}, (1, 2, 1)),
        # Secretaries and district admins see everything hidden; nobody sees what was deleted.
        "secretary": (
            {"写手公开帖", "写手被书记隐藏", "写手被举报隐藏", "邻居公开帖", "回复被隐藏", "邻居被隐藏帖"},
            (3, 3, 3),
        ),
        "admin": (
            {"写手公开帖", "写手被书记隐藏", "写手被举报隐藏", "邻居公开帖", "回复被隐藏", "邻居被隐藏帖"},
            (3, 3, 3),
        ),
    }
    for name, (titles, counts) in expected.items():
        response = await clients[name].get("/u/pv_writer", headers=ENGLISH)
        assert response.status_code == 200
        page = await text(response)
        assert _listed(page) == titles, name
        assert _counts(page) == counts, name


async def test_every_link_on_a_profile_opens_for_its_reader(app: Quart, db: Database) -> None:
    _people, clients = await _stage(app, db)
    for name, client in clients.items():
        page = await text(await client.get("/u/pv_writer"))
        links = re.findall(r'href="(/t/[^"]+)"', page)
        assert links, name
        for link in links:
            response = await client.get(link)  # a reply's permalink: to the page it is on
            assert response.status_code == 302, (name, link)
            response = await client.get(response.headers["Location"].split("#")[0])
            assert response.status_code == 200, (name, link)
