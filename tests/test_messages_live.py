"""Private messages over Socket.IO, against a real server process: delivery to the participants, their unread
counts in their personal rooms, and no way in for anyone else."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from forum.db import Database
from forum.models import Role
from forum.queries.threads import latest_event_id
from tests.barriers import newest_in
from tests.event_schemas import check_signal
from tests.factories import make_community, make_member, make_user
from tests.servers import Server, http_login, http_post_form
from tests.test_live import Reader

pytestmark = pytest.mark.server


class Participant(Reader):
    async def next_of(self, kind: str) -> dict[str, Any]:
        """The next envelope of this type, passing over others (the personal room's counts, read marks)."""
        while True:
            envelope = await self.next()
            if envelope["type"] == kind:
                return envelope


async def test_a_message_reaches_the_other_participant_live_and_nobody_else_can_listen(
    server: Server, db: Database
) -> None:
    community = await make_community(db)
    for username, role in [
        ("zhangwei", Role.RESIDENT),
        ("wangfang", Role.RESIDENT),
        ("lina", Role.RESIDENT),
        ("secretary_li", Role.SECRETARY),
    ]:
        await make_member(db, user=await make_user(db, username=username), community=community, role=role)
    sender = await http_login(server.url, "zhangwei")
    started = await http_post_form(
        sender, f"/c/{community.slug}/messages/with/wangfang", token_from=f"/c/{community.slug}/messages"
    )
    conversation = started.headers["location"]
    conversation_id = int(conversation.rsplit("/", 1)[1])
    async with db.read_only() as session:
        seen = await latest_event_id(session)

    wang, outsiders = Participant(), [Participant(), Participant()]
    await wang.connect(server, "wangfang")
    await outsiders[0].connect(server, "lina")
    await outsiders[1].connect(server, "secretary_li")
    try:
        room = f"conversation:{conversation_id}"
        assert await wang.subscribe(room, seen) == {"ok": True}
        for outsider in outsiders:
            assert await outsider.subscribe(room, 0) == {"ok": False, "error": "not_found"}

        page = (await sender.get(conversation)).text
        client_id = re.search(r'name="client_id" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        sent = await http_post_form(
            sender, conversation, {"body": "明早一起去菜场？", "client_id": client_id}, token_from=conversation
        )
        assert sent.status_code == 302

        created = await wang.next_of("message.created")
        assert created["room"] == room and "明早一起去菜场？" in created["data"]["body_html"]
        assert created["data"]["client_id"] == client_id and created["data"]["sender"]["username"] == "zhangwei"
        unread = await wang.next_of("unread.changed")  # in wang's personal room, joined on connect
        assert unread["room"].startswith("user:") and unread["data"]["unread"] == 1

        # Reading the conversation (its page says so, as static/js/live-messages.js does on opening it): the
        # sender's side hears "read", wang's other tabs the new count.
        reader = await http_login(server.url, "wangfang")
        up_to = str(created["data"]["message_id"])
        marked = await http_post_form(reader, f"{conversation}/read", {"up_to": up_to}, token_from=conversation)
        assert marked.status_code == 302
        await reader.aclose()
        read = await wang.next_of("message.read")
        assert read["data"]["last_read_message_id"] == created["data"]["message_id"]
        assert (await wang.next_of("unread.changed"))["data"]["unread"] == 0

        # A notice reaches every member online, after everything stored before it: the outsiders had nothing else.
        secretary = await http_login(server.url, "secretary_li")
        notice = await http_post_form(
            secretary, f"/c/{community.slug}/b/notices/threads", {"title": "停电通知", "body": "周五上午检修线路。"}
        )
        assert notice.status_code == 302
        await secretary.aclose()
        barrier = await newest_in(db, f"community:{community.id}")
        for outsider in outsiders:
            before = await outsider.until(barrier)
            assert all(envelope["room"] != room and "明早" not in str(envelope) for envelope in before), before
    finally:
        await sender.aclose()
        for participant in (wang, *outsiders):
            await participant.client.disconnect()


async def test_typing_reaches_the_other_participant_and_only_from_a_subscribed_conversation(
    server: Server, db: Database
) -> None:
    community = await make_community(db)
    users = {username: await make_user(db, username=username) for username in ("zhangwei", "wangfang", "lina")}
    for user in users.values():
        await make_member(db, user=user, community=community)
    sender = await http_login(server.url, "zhangwei")
    started = await http_post_form(
        sender, f"/c/{community.slug}/messages/with/wangfang", token_from=f"/c/{community.slug}/messages"
    )
    conversation_id = int(started.headers["location"].rsplit("/", 1)[1])
    await sender.aclose()
    zhang, wang, li = Participant(), Participant(), Participant()
    signals: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    wang.client.on("typing", signals.put)
    for participant, username in ((zhang, "zhangwei"), (wang, "wangfang"), (li, "lina")):
        await participant.connect(server, username)
    try:
        room = f"conversation:{conversation_id}"
        assert await zhang.subscribe(room, 0) == {"ok": True}
        assert await wang.subscribe(room, 0) == {"ok": True}
        # Lina is not in the room: her signal is dropped. It is handled before her next event is answered, so
        # the first signal wang gets after that is zhang's.
        await li.client.emit("typing", {"conversation_id": conversation_id})
        await li.round_trip()
        await zhang.client.emit("typing", {"conversation_id": conversation_id})
        signal = await asyncio.wait_for(signals.get(), 5)
        check_signal("typing", signal)
        assert signal["conversation_id"] == conversation_id and signal["thread_id"] is None
        assert signal["user_id"] == users["zhangwei"].id and signal["display_name"]
    finally:
        for participant in (zhang, wang, li):
            await participant.client.disconnect()
