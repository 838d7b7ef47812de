"""Pages read their data in a constant, small number of SQL statements, however many members, threads and
replies there are."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image
from quart import Quart
from sqlalchemy import event

from forum.db import Database
from forum.models import Role
from tests.factories import (
    PASSWORD,
    make_community,
    make_like,
    make_member,
    make_pending,
    make_reply,
    make_thread,
    make_user,
)
from tests.helpers import login, post_multipart


@contextmanager
def counting(app: Quart) -> Iterator[list[str]]:
    """The statements the app runs meanwhile, except its relay's reads of the event log: after a commit that
    follows events it has not relayed (this test's factories write through another connection) the relay reads
    the log in the background, and on a busy machine that read can land in the middle of the next page."""
    statements: list[str] = []
    engine = app.extensions["linli.db"].engine.sync_engine

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "WHERE event.id >" not in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _statements_for(app: Quart, client: object, path: str) -> int:
    with counting(app) as statements:
        response = await client.get(path)  # type: ignore[attr-defined]
        assert response.status_code == 200
    return len(statements)


async def test_community_pages_use_few_statements_whatever_the_number_of_members(app: Quart, db: Database) -> None:
    community = await make_community(db)
    secretary = await make_user(db, username="counting_sec")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    thread = await make_thread(db, author=secretary, community=community)
    client = app.test_client()
    await login(client, "counting_sec")
    paths = [
        "/",
        f"/c/{community.slug}",
        f"/c/{community.slug}/members",
        f"/c/{community.slug}/boards",
        "/u/counting_sec",
        f"/c/{community.slug}/b/talk",
        f"/t/{thread.id}",
    ]
    await _statements_for(app, client, paths[0])  # the once-a-minute last-seen write happens here, not below
    before = {path: await _statements_for(app, client, path) for path in paths}

    for _ in range(5):
        neighbour = await make_user(db)
        await make_member(db, user=neighbour, community=community, is_party_member=True)
        await make_reply(db, author=neighbour, thread=thread)
        await make_thread(db, author=neighbour, community=community)
        await make_pending(db, user=await make_user(db), community=community)
    after = {path: await _statements_for(app, client, path) for path in paths}

    assert after == before
    # The community page adds the featured thank-you letters (one statement while there are none) and the
    # problem reports' figures over 30 and 90 days (one); the profile adds the person's activity (two) and
    # letters received (two while there are none, six with any number).
    budget = {f"/c/{community.slug}": 7, "/u/counting_sec": 7}
    assert all(count <= budget.get(path, 5) for path, count in after.items()), after


async def test_thread_board_and_search_pages_use_at_most_eight_statements_whatever_the_replies_and_likes(
    app: Quart, db: Database
) -> None:
    community = await make_community(db)
    reader = await make_user(db, username="counting_reader")
    await make_member(db, user=reader, community=community, is_party_member=True)
    thread = await make_thread(db, author=reader, community=community, title="快递柜坏了", body="快递柜又坏了")
    client = app.test_client()
    await login(client, "counting_reader")
    paths = [
        f"/t/{thread.id}",
        f"/c/{community.slug}/b/talk",
        f"/c/{community.slug}/search?q=%E5%BF%AB%E9%80%92",
    ]  # 快递
    await _statements_for(app, client, "/")  # the once-a-minute last-seen write happens here, not below
    before = {path: await _statements_for(app, client, path) for path in paths}

    for n in range(6):
        neighbour = await make_user(db)
        await make_member(db, user=neighbour, community=community, is_party_member=n % 2 == 0)
        reply = await make_reply(db, author=neighbour, thread=thread, body=f"快递 第{n}条")
        await make_like(db, user=reader, post=reply)
        await make_like(db, user=neighbour, post=reply)
        await make_thread(db, author=neighbour, community=community, title=f"快递柜{n}", body="快递")
    after = {path: await _statements_for(app, client, path) for path in paths}
    page = await (await client.get(f"/t/{thread.id}")).get_data(as_text=True)

    assert page.count('class="post"') == 7 and page.count("like liked") == 6  # the likes are on the page
    assert after == before
    assert max(after.values()) <= 8, after


async def test_a_thread_pages_pictures_cost_one_statement_whatever_their_number(app: Quart, db: Database) -> None:
    community = await make_community(db)
    author = await make_user(db, username="counting_pictures")
    await make_member(db, user=author, community=community)
    thread = await make_thread(db, author=author, community=community)
    client = app.test_client()
    await login(client, "counting_pictures")
    path = f"/t/{thread.id}"
    await _statements_for(app, client, "/")  # the once-a-minute last-seen write happens here, not below
    before = await _statements_for(app, client, path)

    picture = io.BytesIO()
    Image.new("RGB", (40, 30), (90, 160, 60)).save(picture, format="JPEG")
    counts = []
    for count in (1, 3, 9):
        response = await post_multipart(
            client,
            f"/t/{thread.id}/replies",
            {"body": f"{count} 张"},
            [("images", f"{n}.jpg", picture.getvalue()) for n in range(count)],
            token_from=path,
        )
        assert response.status_code == 302  # type: ignore[attr-defined]
        await make_reply(db, author=author, thread=thread)
        counts.append(await _statements_for(app, client, path))
    page = await (await client.get(path)).get_data(as_text=True)

    assert page.count('<ul class="post-gallery">') == 3 and page.count("<img ") == 13
    # A page without pictures does not ask for them; one with any asks once, for 1 or 13.
    assert counts == [before + 1] * 3 and before + 1 <= 8


async def test_sending_a_message_costs_a_fixed_number_of_statements(app: Quart, db: Database) -> None:
    """The busiest write: the API send the messages bench drives. A first send, a gathered second one, a retry."""
    community = await make_community(db)
    for username, role in (("counting_resident", Role.RESIDENT), ("counting_secretary", Role.SECRETARY)):
        await make_member(db, user=await make_user(db, username=username), community=community, role=role)
    client = app.test_client()
    token = await client.post("/api/v1/auth/tokens", json={"username": "counting_resident", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {(await token.get_json())['token']}"}
    started = await client.post(
        f"/api/v1/communities/{community.slug}/conversations", json={"username": "counting_secretary"}, headers=headers
    )
    path = f"/api/v1/conversations/{(await started.get_json())['id']}/messages"

    counts = []
    for body, client_id in (("一", "bench-0000001"), ("二", "bench-0000002"), ("二", "bench-0000002")):
        with counting(app) as statements:
            response = await client.post(path, json={"body": body, "client_id": client_id}, headers=headers)
            assert response.status_code == 201
        counts.append(len([s for s in statements if not s.startswith(("BEGIN", "COMMIT"))]))

    # Session, standing, participants, insert, newest message, read mark, unread counts, mute filter, gathered
    # notification, its insert or update, notification counts; on PostgreSQL the people's locks, the event lock
    # and the four events in one insert, on SQLite one insert per event. A retry stops at the insert and reads
    # what the first attempt stored, and its pictures.
    postgres = db.engine.dialect.name == "postgresql"
    assert counts[:2] == [14 if postgres else 15] * 2, counts
    assert counts[2] == 6, counts
