"""Moderation over Socket.IO, against a real server process: a thread's readers get `post.hidden`, `post.shown`
(with the text back) and `thread.locked` as a secretary acts."""

from __future__ import annotations

import pytest

from forum.db import Database
from forum.models import Role
from forum.queries.threads import latest_event_id
from tests.factories import make_community, make_member, make_reply, make_thread, make_user
from tests.servers import Server, http_login, http_post_form
from tests.test_messages_live import Participant

pytestmark = pytest.mark.server


async def test_hiding_showing_and_locking_reach_the_threads_readers(server: Server, db: Database) -> None:
    community = await make_community(db)
    secretary = await make_user(db, username="lmod_sec")
    reader_user = await make_user(db, username="lmod_reader")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    await make_member(db, user=reader_user, community=community)
    thread = await make_thread(db, author=reader_user, community=community)
    reply = await make_reply(db, author=reader_user, thread=thread, body="**吵架**的话")
    async with db.read_only() as session:
        seen = await latest_event_id(session)
    reader = Participant()
    await reader.connect(server, "lmod_reader")
    client = await http_login(server.url, "lmod_sec")
    page = f"/t/{thread.id}"
    try:
        assert await reader.subscribe(f"thread:{thread.id}", seen) == {"ok": True}
        hidden = await http_post_form(client, f"/posts/{reply.id}/hide", {"reason": "不友善"}, token_from=page)
        assert hidden.status_code == 302, hidden.text
        event = await reader.next_of("post.hidden")
        assert event["data"] == {"type": "post.hidden", "post_id": reply.id, "thread_id": thread.id, "number": 2}
        shown = await http_post_form(client, f"/posts/{reply.id}/show", token_from=page)
        assert shown.status_code == 302
        back = (await reader.next_of("post.shown"))["data"]
        assert back["number"] == 2 and "<strong>吵架</strong>" in back["body_html"]
        locked = await http_post_form(client, f"{page}/lock", {"locked": "1", "reason": "冷静一下"}, token_from=page)
        assert locked.status_code == 302
        lock = (await reader.next_of("thread.locked"))["data"]
        assert (lock["locked"], lock["reason"]) == (True, "冷静一下")
    finally:
        await client.aclose()
        await reader.client.disconnect()
