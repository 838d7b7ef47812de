"""The bell over Socket.IO, against real server processes: the count on connect, the full count after each
change, and no message notification for someone who has the conversation open, even on another process."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col

from forum.db import Database
from forum.models import Notification, User
from forum.queries.threads import latest_event_id
from tests.factories import make_community, make_member, make_thread, make_user
from tests.servers import http_login, http_post_form, run_server
from tests.services import REDIS_URL, require_service, unique_channel
from tests.test_messages_live import Participant

pytestmark = pytest.mark.server


class Bell(Participant):
    def __init__(self) -> None:
        super().__init__()
        self.ready: asyncio.Queue[dict[str, object]] = asyncio.Queue()

        @self.client.on("ready")
        async def on_ready(hello: dict[str, object]) -> None:
            await self.ready.put(hello)

    async def count(self) -> object:
        return (await self.next_of("notifications.changed"))["data"]["unread"]


async def _notifications_of(db: Database, username: str) -> list[tuple[str, int, bool]]:
    async with db.read_only() as session:
        rows = await session.execute(
            select(Notification.kind, Notification.count, Notification.read_at)
            .join(User, col(User.id) == col(Notification.user_id))
            .where(col(User.username) == username)
            .order_by(col(Notification.id))
        )
        return [(kind, count, read_at is None) for kind, count, read_at in rows.all()]


async def test_the_bell_counts_live_and_stays_quiet_for_a_conversation_open_on_another_process(
    db_url: str, tmp_path: Path, db: Database
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    channel = unique_channel()
    community = await make_community(db)
    for username in ("bell_zhang", "bell_wang"):
        await make_member(db, user=await make_user(db, username=username), community=community)
    wang_user_thread = await make_thread(db, author=await _user(db, "bell_wang"), community=community, title="小区停车")
    with (
        run_server(db_url=db_url, var_dir=tmp_path, redis_url=REDIS_URL, channel=channel, name="a") as first,
        run_server(db_url=db_url, var_dir=tmp_path, redis_url=REDIS_URL, channel=channel, name="b") as second,
    ):
        sender = await http_login(first.url, "bell_zhang")
        started = await http_post_form(
            sender, f"/c/{community.slug}/messages/with/bell_wang", token_from=f"/c/{community.slug}/messages"
        )
        conversation = started.headers["location"]
        room = f"conversation:{int(conversation.rsplit('/', 1)[1])}"
        wang = Bell()
        await wang.connect(second, "bell_wang")  # on the other process than the sender's requests
        try:
            assert (await asyncio.wait_for(wang.ready.get(), 5))["notifications"] == 0

            # A reply in wang's thread, written through the first process: wang's bell on the second rings.
            thread_page = f"/t/{wang_user_thread.id}"
            replied = await http_post_form(
                sender, f"{thread_page}/replies", {"body": "我也想知道"}, token_from=thread_page
            )
            assert replied.status_code == 302
            assert await wang.count() == 1

            # A message while wang is not reading the conversation: the bell says 2.
            await _send(sender, conversation, "晚上好")
            assert await wang.count() == 2

            # Wang opens the conversation (subscribes, as its page does): the next messages ring no bell.
            async with db.read_only() as session:
                seen = await latest_event_id(session)
            assert await wang.subscribe(room, seen) == {"ok": True}
            await _send(sender, conversation, "车位的事")
            await wang.next_of("message.created")
            await _send(sender, conversation, "明天再说")
            await wang.next_of("message.created")
            assert await _notifications_of(db, "bell_wang") == [("reply", 1, True), ("message", 1, True)]

            # Closed again: the unread message notification gathers the next one.
            await wang.client.call("unsubscribe", {"room": room}, timeout=5)
            await _send(sender, conversation, "在吗")
            assert await wang.count() == 2
            assert await _notifications_of(db, "bell_wang") == [("reply", 1, True), ("message", 2, True)]

            # Reading the conversation (its page's "Mark as read" without JavaScript) clears its notification; the
            # bell says so in every tab.
            reader = await http_login(first.url, "bell_wang")
            newest = re.search(r'name="up_to" value="(\d+)"', (await reader.get(conversation)).text)
            assert newest is not None
            marked = await http_post_form(
                reader, f"{conversation}/read", {"up_to": newest.group(1)}, token_from=conversation
            )
            assert marked.status_code == 302
            assert await wang.count() == 1
            marked = await http_post_form(reader, "/notifications/read", token_from="/notifications")
            assert marked.status_code == 302
            assert await wang.count() == 0
            await reader.aclose()
        finally:
            await sender.aclose()
            await wang.client.disconnect()


async def _user(db: Database, username: str) -> User:
    async with db.read_only() as session:
        return (await session.execute(select(User).where(col(User.username) == username))).scalar_one()


async def _send(client: object, conversation: str, body: str) -> None:
    page = (await client.get(conversation)).text  # type: ignore[attr-defined]
    client_id = re.search(r'name="client_id" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    sent = await http_post_form(client, conversation, {"body": body, "client_id": client_id}, token_from=conversation)  # type: ignore[arg-type]
    assert sent.status_code == 302
