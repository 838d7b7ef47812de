"""Thank-you letters over Socket.IO, against a real server process: the wall's readers see a letter as it is
written, its recipient's bell rings, and someone outside the community cannot follow the wall."""

from __future__ import annotations

import pytest

from forum.db import Database
from forum.queries.threads import latest_event_id
from tests.factories import make_community, make_member, make_user
from tests.servers import Server, http_login, http_post_form
from tests.test_messages_live import Participant

pytestmark = pytest.mark.server


async def test_a_letter_reaches_the_wall_and_rings_the_recipients_bell(server: Server, db: Database) -> None:
    community = await make_community(db)
    for username in ("wl_writer", "wl_helper", "wl_reader"):
        await make_member(db, user=await make_user(db, username=username), community=community)
    await make_user(db, username="wl_outsider")
    async with db.read_only() as session:
        seen = await latest_event_id(session)
    room = f"letters:{community.id}"
    reader, helper, outsider = Participant(), Participant(), Participant()
    await reader.connect(server, "wl_reader")
    await helper.connect(server, "wl_helper")
    await outsider.connect(server, "wl_outsider")
    writer = await http_login(server.url, "wl_writer")
    try:
        assert await reader.subscribe(room, seen) == {"ok": True}
        assert await outsider.subscribe(room, 0) == {"ok": False, "error": "not_found"}
        wall = f"/c/{community.slug}/thanks"
        fields = {"usernames": "wl_helper", "title": "谢谢修水管", "body": "半夜帮我关了总闸"}
        written = await http_post_form(writer, wall, fields, token_from=wall)
        assert written.status_code == 302
        created = await reader.next_of("letter.created")
        assert created["room"] == room and created["data"]["title"] == "谢谢修水管"
        assert [p["username"] for p in created["data"]["recipients"]] == ["wl_helper"]
        bell = await helper.next_of("notifications.changed")
        assert bell["room"].startswith("user:") and bell["data"]["unread"] == 1

        letter = written.headers["location"]
        liked = await http_post_form(writer, f"{letter}/like", {"value": "1"}, token_from=letter)
        assert liked.status_code == 302
        assert (await reader.next_of("letter.liked"))["data"]["like_count"] == 1
        assert outsider.events.empty()
    finally:
        await writer.aclose()
        for client in (reader, helper, outsider):
            await client.client.disconnect()
