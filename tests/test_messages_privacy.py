"""Private messages, end to end against a real server process: a conversation stays closed to everyone outside it
(a neighbour, the community's secretary, the district's admin) on every way in, pages, API and Socket.IO, and a
participant who was offline gets every message they missed, in order, once. Both databases."""

from __future__ import annotations

import re
import secrets
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from forum.db import Database
from forum.models import Community, ConversationMember, Flag, Message, MessageImage, Role, User
from forum.queries.threads import latest_event_id
from tests.barriers import mark_personal_room, newest_in
from tests.event_schemas import check_signal
from tests.factories import PASSWORD, make_community, make_district_admin, make_member, make_user
from tests.servers import Server, http_login, http_post_form
from tests.test_images import png
from tests.test_live import Reader

pytestmark = pytest.mark.server

# In every secret message and in the group's title: no answer to an outsider may contain it.
SECRET = "私密暗号Q7ZX"
# Participants' names: an outsider's refusals must not tell them who is talking.
PARTICIPANTS = {"zhangwei": "张伟ZHW", "wangfang": "王芳WGF", "zhaolei": "赵磊ZLE"}
OUTSIDERS = ["neighbour", "secretary", "district_admin"]


class Listener(Reader):
    """A Reader that also keeps every other Socket.IO event it receives (`ready`, `typing`, `revoked`, ...)."""

    def __init__(self) -> None:
        super().__init__()
        self.other: list[tuple[str, Any]] = []

        @self.client.on("*")
        async def on_any(event: str, *data: Any) -> None:
            self.other.append((event, data))

    async def next_in(self, room: str) -> dict[str, Any]:
        """The next envelope for this room, passing over those of the personal room (unread counts)."""
        while True:
            envelope = await self.next()
            if envelope["room"] == room:
                return envelope


@dataclass
class Conversations:
    community: Community
    direct: int  # zhangwei and wangfang
    group: int  # zhangwei, wangfang and zhaolei, titled with the secret
    message_ids: list[int]  # one secret message in each, sent by zhangwei
    image_ids: list[int]  # with one picture each


async def _send(http: httpx.AsyncClient, conversation_id: int, body: str, *, picture: bool = False) -> None:
    """Send as the page's form does, with a picture if asked."""
    path = f"/messages/{conversation_id}"
    if not picture:
        response = await http_post_form(http, path, {"body": body, "client_id": secrets.token_urlsafe(12)})
    else:
        token = (await http.get(path)).text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        fields = {"body": body, "client_id": secrets.token_urlsafe(12), "csrf_token": token}
        response = await http.post(path, data=fields, files=[("images", ("lamp.png", png(), "image/png"))])
    assert response.status_code == 302, response.text


async def _private_talk(server: Server, db: Database) -> Conversations:
    """Three residents and their two conversations, made through the server as their browsers would."""
    community = await make_community(db)
    for username, display_name in PARTICIPANTS.items():
        await make_member(
            db, user=await make_user(db, username=username, display_name=display_name), community=community
        )
    zhang = await http_login(server.url, "zhangwei")
    inbox = f"/c/{community.slug}/messages"
    try:
        direct = await http_post_form(zhang, f"{inbox}/with/wangfang", token_from=inbox)
        group = await http_post_form(
            zhang, f"{inbox}/groups", {"title": f"{SECRET}楼组", "usernames": "wangfang zhaolei"}, token_from=inbox
        )
        ids = [int(response.headers["location"].rsplit("/", 1)[1]) for response in (direct, group)]
        for conversation_id in ids:
            await _send(zhang, conversation_id, f"{SECRET}：钥匙在花盆底下", picture=True)
    finally:
        await zhang.aclose()
    async with db.read_only() as session:
        messages = (await session.execute(select(col(Message.id)).order_by(col(Message.id)))).scalars()
        message_ids = [int(i or 0) for i in messages]
        images = (await session.execute(select(col(MessageImage.id)).order_by(col(MessageImage.id)))).scalars()
        image_ids = [int(i or 0) for i in images]
    assert len(message_ids) == len(image_ids) == 2
    return Conversations(community, ids[0], ids[1], message_ids, image_ids)


async def _outsider(db: Database, kind: str, community: Community) -> str:
    username = f"outsider_{kind}"
    user = await make_user(db, username=username)
    if kind == "neighbour":
        await make_member(db, user=user, community=community)
    elif kind == "secretary":
        await make_member(db, user=user, community=community, role=Role.SECRETARY)
    else:
        await make_district_admin(db, user=user, district_id=community.district_id)
    return username


async def _bearer(server: Server, username: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post("/api/v1/auth/tokens", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _leaks(text: str) -> list[str]:
    return [secret for secret in (SECRET, *PARTICIPANTS.values()) if secret in text]


async def _attempts(
    http: httpx.AsyncClient, api: dict[str, str], conversation_id: int, message_id: int, image_id: int
) -> dict[str, httpx.Response]:
    """Every way into one conversation, over the pages and the API."""
    page, endpoint = f"/messages/{conversation_id}", f"/api/v1/conversations/{conversation_id}"
    return {
        "page": await http.get(page),
        "older page": await http.get(f"{page}?before=1000000"),
        "send": await http_post_form(http, page, {"body": "我也看看", "client_id": "intruder-0001"}),
        "read": await http_post_form(http, f"{page}/read", {"up_to": str(message_id)}),
        "flag form": await http.get(f"{page}/flag", params={"message_id": str(message_id)}),
        "flag": await http_post_form(http, f"{page}/flag", {"message_id": str(message_id), "reason": "spam"}),
        "api messages": await http.get(f"{endpoint}/messages", headers=api),
        "api send": await http.post(
            f"{endpoint}/messages", json={"body": "我也看看", "client_id": "intruder-0002"}, headers=api
        ),
        "api read": await http.post(f"{endpoint}/read", json={"up_to": message_id}, headers=api),
        "api flag": await http.post(f"{endpoint}/messages/{message_id}/flags", json={"reason": "spam"}, headers=api),
        "review": await http_post_form(http, f"/message/{message_id}/review", {"decision": "agree", "reason": "看看"}),
        "picture": await http.get(f"/messages/images/{image_id}/full"),
        "thumbnail": await http.get(f"/messages/images/{image_id}/thumb"),
    }


def _as_for_any_address(response: httpx.Response) -> str:
    """A page without what differs from one request to the next: its CSRF token, its own address."""
    html = re.sub(r'name="csrf_token" value="[^"]*"', "", response.text)
    query = response.request.url.query.decode()
    if query:  # the page links back to itself (the language switch)
        html = html.replace(query, "QUERY")
    return html.replace(response.request.url.path, "ADDRESS")


async def _stored(db: Database, outsider: str) -> tuple[int, int, int]:
    """Messages, flags, and the outsider's conversation memberships (read marks live there)."""
    async with db.read_only() as session:
        messages = (await session.execute(select(func.count()).select_from(Message))).scalar_one()
        reports = (await session.execute(select(func.count()).select_from(Flag))).scalar_one()
        memberships = (
            await session.execute(
                select(func.count())
                .select_from(ConversationMember)
                .join(User, col(User.id) == col(ConversationMember.user_id))
                .where(col(User.username) == outsider)
            )
        ).scalar_one()
    return messages, reports, memberships


@pytest.mark.parametrize("kind", OUTSIDERS)
async def test_an_outsider_is_refused_a_conversation_on_every_way_in_and_learns_nothing(
    server: Server, db: Database, kind: str
) -> None:
    talk = await _private_talk(server, db)
    outsider = await _outsider(db, kind, talk.community)
    ghost = talk.group + 1000  # a conversation that does not exist: the refusals must look the same
    http, api = await http_login(server.url, outsider), await _bearer(server, outsider)
    try:
        nothing_there = await _attempts(http, api, ghost, talk.message_ids[-1] + 1000, talk.image_ids[-1] + 1000)
        ways_in = zip((talk.direct, talk.group), talk.message_ids, talk.image_ids, strict=True)
        for conversation_id, message_id, image_id in ways_in:
            tried = await _attempts(http, api, conversation_id, message_id, image_id)
            for way, response in tried.items():
                assert response.status_code == 404, (way, conversation_id, response.text)
                assert _leaks(response.text) == [], (way, conversation_id)
                if way.startswith("api"):
                    assert response.json() == nothing_there[way].json(), way
                else:
                    assert _as_for_any_address(response) == _as_for_any_address(nothing_there[way]), way
        assert await _stored(db, outsider) == (2, 0, 0)  # nothing sent, reported or marked read

        # The outsider's own lists and searches: neither conversation, nor anything said in it.
        slug = talk.community.slug
        member_here = kind != "district_admin"
        inbox = await http.get(f"/c/{slug}/messages")
        assert inbox.status_code == (200 if member_here else 403)
        listed = await http.get(f"/api/v1/communities/{slug}/conversations", headers=api)
        assert listed.status_code == (200 if member_here else 403)
        if member_here:
            assert listed.json() == {"conversations": [], "unread_total": 0}
        elsewhere = [
            inbox,
            listed,
            await http.get("/messages", follow_redirects=True),
            await http.get(f"/c/{slug}/message-reports"),
            await http.get(f"/c/{slug}/search", params={"q": "花盆"}),
            await http.get(f"/api/v1/communities/{slug}/search", params={"q": "花盆"}, headers=api),
            await http.get("/u/zhangwei"),
        ]
        for response in elsewhere:
            assert SECRET not in response.text, response.request.url
            for conversation_id in (talk.direct, talk.group):
                assert f"/messages/{conversation_id}" not in response.text, response.request.url
    finally:
        await http.aclose()

    # Socket.IO: the rooms stay shut, from the start of the log too, and nothing said there reaches the outsider
    # while wangfang, who is in it, hears a new message.
    async with db.read_only() as session:
        seen = await latest_event_id(session)
    listener, wang = Listener(), Listener()
    await listener.connect(server, outsider)
    await wang.connect(server, "wangfang")
    zhang = await http_login(server.url, "zhangwei")
    try:
        for conversation_id in (talk.direct, talk.group, ghost):
            for after in (0, seen):
                answer = await listener.subscribe(f"conversation:{conversation_id}", after)
                assert answer == {"ok": False, "error": "not_found"}, (conversation_id, after)
        room = f"conversation:{talk.group}"
        assert await wang.subscribe(room, seen) == {"ok": True}
        await _send(zhang, talk.group, f"{SECRET}：今晚八点")
        heard = await wang.next_in(room)
        assert heard["type"] == "message.created" and f"{SECRET}：今晚八点" in heard["data"]["body_html"]
        # An event for the outsider alone, stored after the message: by the time it arrives, so has all before it.
        async with db.read_only() as session:
            outsider_id = (await session.execute(select(col(User.id)).where(col(User.username) == outsider))).scalar()
        assert outsider_id is not None
        assert await listener.until(await mark_personal_room(db, outsider_id)) == []
        assert [event for event, _data in listener.other] == ["ready"], listener.other
        check_signal("ready", listener.other[0][1][0])
        assert listener.other[0][1][0]["unread"] == 0
        assert _leaks(repr(listener.other)) == []
    finally:
        await zhang.aclose()
        await listener.close()
        await wang.close()


async def test_a_participant_offline_while_messages_arrive_gets_them_all_in_order_once_on_resuming(
    server: Server, db: Database
) -> None:
    community = await make_community(db)
    for username in ("zhangwei", "wangfang"):
        await make_member(db, user=await make_user(db, username=username), community=community)
    async with aclosing(await http_login(server.url, "zhangwei")) as zhang:
        inbox = f"/c/{community.slug}/messages"
        started = await http_post_form(zhang, f"{inbox}/with/wangfang", token_from=inbox)
        conversation_id = int(started.headers["location"].rsplit("/", 1)[1])
        room = f"conversation:{conversation_id}"
        async with db.read_only() as session:
            seen = await latest_event_id(session)

        wang = Listener()
        await wang.connect(server, "wangfang")
        try:
            assert await wang.subscribe(room, seen) == {"ok": True}
            await _send(zhang, conversation_id, "在吗？")
            online = await wang.next_in(room)
            assert online["type"] == "message.created" and "在吗？" in online["data"]["body_html"]
            last_seen = online["id"]
        finally:
            await wang.close()  # the phone goes into a lift

        missed = [f"离线时的第{n}条" for n in range(1, 6)]
        for body in missed:
            await _send(zhang, conversation_id, body)
        async with db.read_only() as session:
            stored = list(
                (
                    await session.execute(
                        select(col(Message.id))
                        .where(col(Message.conversation_id) == conversation_id)
                        .order_by(col(Message.id))
                    )
                ).scalars()
            )

        back = Listener()
        await back.connect(server, "wangfang")
        try:
            assert await back.subscribe(room, last_seen) == {"ok": True}
            replayed = [await back.next_in(room) for _ in missed]
            assert [envelope["type"] for envelope in replayed] == ["message.created"] * len(missed)
            assert [envelope["data"]["message_id"] for envelope in replayed] == stored[1:]
            for envelope, body in zip(replayed, missed, strict=True):
                assert body in envelope["data"]["body_html"]
            ids = [envelope["id"] for envelope in replayed]
            assert ids == sorted(set(ids)) and ids[0] > last_seen

            # Live again: the next message comes straight after, and nothing is sent twice.
            await _send(zhang, conversation_id, "回来了就好")
            live = await back.next_in(room)
            assert "回来了就好" in live["data"]["body_html"] and live["id"] > ids[-1]
            await _send(zhang, conversation_id, "晚安")  # the barrier: the next thing in the room is this one
            barrier = await newest_in(db, room)
            assert [envelope for envelope in await back.until(barrier) if envelope["room"] == room] == []
        finally:
            await back.close()
