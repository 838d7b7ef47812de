"""Pictures in private messages: the same checks and re-encoding as in posts, stored with the message or not at
all, shown and sent live to the participants, and served to nobody else; a refused send explained as JSON to
the page's script, and sending rate-limited. Both databases."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

from PIL import Image
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import func, select
from sqlmodel import col

from forum.db import Database
from forum.models import Community, Event, Message, MessageImage, Role
from tests.factories import PASSWORD, make_community, make_district_admin, make_user
from tests.helpers import csrf_token, login, member_client, multipart, post_form, post_multipart, text
from tests.test_images import photo_with_gps, png, stored_files

_CLIENT_ID = re.compile(r'name="client_id" value="([^"]+)"')


async def _conversation(client: Client, community: Community, other: str) -> str:
    messages = f"/c/{community.slug}/messages"
    started = await post_form(client, f"{messages}/with/{other}", {}, token_from=messages)
    assert started.status_code == 302, await text(started)
    return str(started.headers["Location"])


async def _send(client: Client, conversation: str, body: str, files: list[tuple[str, str, bytes]]) -> object:
    match = _CLIENT_ID.search(await text(await client.get(conversation)))
    assert match
    return await post_multipart(
        client, conversation, {"body": body, "client_id": match.group(1)}, files, token_from=conversation
    )


async def _counts(db: Database) -> tuple[int, int]:
    async with db.read_only() as session:
        return (
            int((await session.execute(select(func.count()).select_from(Message))).scalar_one()),
            int((await session.execute(select(func.count()).select_from(MessageImage))).scalar_one()),
        )


async def test_a_photo_sent_to_the_secretary_loses_its_gps_and_reaches_her_alone(
    app: Quart, db: Database, tmp_path: Path
) -> None:
    community = await make_community(db)
    resident = await member_client(app, db, community, "pic_resident")
    secretary = await member_client(app, db, community, "pic_secretary", role=Role.SECRETARY)
    neighbour = await member_client(app, db, community, "pic_neighbour")
    other_secretary = await member_client(app, db, community, "pic_other_secretary", role=Role.SECRETARY)
    await make_district_admin(db, user=await make_user(db, username="pic_admin"), district_id=community.district_id)
    admin = app.test_client()
    await login(admin, "pic_admin")
    conversation = await _conversation(resident, community, "pic_secretary")

    # A picture alone is a message: a broken street lamp needs no words.
    sent = await _send(resident, conversation, "", [("images", "IMG_0042.JPG", photo_with_gps())])
    assert sent.status_code == 302, await text(sent)
    async with db.read_only() as session:
        image = (await session.execute(select(MessageImage))).scalar_one()
        events = (await session.execute(select(Event).where(col(Event.type) == "message.created"))).scalars().all()
    assert (image.width, image.height, image.content_type) == (300, 600, "image/jpeg")
    payload = json.loads(events[-1].payload)
    assert payload["body_html"] == ""
    assert payload["images"] == [
        {
            "url": f"/messages/images/{image.id}/full",
            "thumb_url": f"/messages/images/{image.id}/thumb",
            "width": 300,
            "height": 600,
            "thumb_width": 200,
            "thumb_height": 400,
        }
    ]

    page = await text(await secretary.get(conversation))
    assert f'<a href="/messages/images/{image.id}/full"><img src="/messages/images/{image.id}/thumb"' in page
    for participant in (resident, secretary):
        full = await participant.get(f"/messages/images/{image.id}/full")
        assert full.status_code == 200
        assert full.headers["Cache-Control"] == "private, max-age=31536000, immutable"
        assert dict(Image.open(io.BytesIO(await full.get_data())).getexif()) == {}
    assert not any(b"PhoneMaker" in path.read_bytes() for path in stored_files(tmp_path))

    # Nobody else, however senior, gets the picture, nor learns that it exists.
    for outsider in (neighbour, other_secretary, admin):
        for variant in ("full", "thumb"):
            assert (await outsider.get(f"/messages/images/{image.id}/{variant}")).status_code == 404
    # Nor does a post's picture route hand it out under the same number.
    assert (await neighbour.get(f"/images/{image.id}/full")).status_code == 404
    assert (await resident.get(f"/messages/images/{image.id}/original")).status_code == 404


async def test_a_refused_picture_is_named_and_nothing_of_the_message_is_stored(
    app: Quart, db: Database, tmp_path: Path
) -> None:
    community = await make_community(db)
    sender = await member_client(app, db, community, "pic_sender")
    await member_client(app, db, community, "pic_receiver")
    conversation = await _conversation(sender, community, "pic_receiver")

    refused = await _send(sender, conversation, "看看这个", [("images", "notes.jpg", b"plain text, not a photo")])
    assert refused.status_code == 400
    page = await text(refused)
    assert "notes.jpg" in page and "看看这个" in page  # the text typed is kept in the form
    too_many = await _send(sender, conversation, "十张", [("images", f"{n}.png", png()) for n in range(10)])
    assert too_many.status_code == 400
    assert "每条私信最多 9 张图片，您选了 10 张。" in await text(too_many)
    empty = await _send(sender, conversation, "  ", [])
    assert empty.status_code == 422
    assert "请写下消息或选择图片。" in await text(empty)
    assert await _counts(db) == (0, 0)
    assert stored_files(tmp_path) == []

    # Text with two pictures, in the order chosen; a retry with the same id stores nothing more.
    match = _CLIENT_ID.search(await text(await sender.get(conversation)))
    assert match
    fields = {"body": "两张", "client_id": match.group(1)}
    files = [("images", "a.png", png((120, 80))), ("images", "b.png", png((80, 120)))]
    for _attempt in range(2):
        sent = await post_multipart(sender, conversation, fields, files, token_from=conversation)
        assert sent.status_code == 302, await text(sent)
    assert await _counts(db) == (1, 2)
    async with db.read_only() as session:
        sizes = (
            await session.execute(select(MessageImage.width, MessageImage.height).order_by(col(MessageImage.position)))
        ).all()
    assert [tuple(size) for size in sizes] == [(120, 80), (80, 120)]
    assert len(stored_files(tmp_path)) == 4


async def test_the_api_sends_pictures_as_multipart_and_lists_them(app: Quart, db: Database) -> None:
    community = await make_community(db)
    await member_client(app, db, community, "pic_api")
    outsider = await member_client(app, db, community, "pic_api_outsider")
    recipient = await member_client(app, db, community, "pic_api_recipient")
    client = app.test_client()
    token = (
        await (await client.post("/api/v1/auth/tokens", json={"username": "pic_api", "password": PASSWORD})).get_json()
    )["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    started = await client.post(
        f"/api/v1/communities/{community.slug}/conversations", json={"username": "pic_api_recipient"}, headers=bearer
    )
    conversation_id = (await started.get_json())["id"]
    path = f"/api/v1/conversations/{conversation_id}/messages"

    body, headers = multipart({"client_id": "api-picture-0001"}, [("images", "a.jpg", photo_with_gps())])
    sent = await client.post(path, data=body, headers={**headers, **bearer})
    assert sent.status_code == 201, await text(sent)
    message = await sent.get_json()
    assert message["body_html"] == "" and [(i["width"], i["height"]) for i in message["images"]] == [(300, 600)]
    plain = await client.post(path, json={"body": "文字", "client_id": "api-picture-0002"}, headers=bearer)
    assert plain.status_code == 201 and (await plain.get_json())["images"] == []

    listed = await (await client.get(path, headers=bearer)).get_json()
    assert [m["images"] for m in listed["messages"]] == [message["images"], []]
    assert (await recipient.get(message["images"][0]["thumb_url"])).status_code == 200
    assert (await outsider.get(message["images"][0]["thumb_url"])).status_code == 404

    body, headers = multipart({"client_id": "api-picture-0003"}, [("images", "notes.jpg", b"plain text")])
    refused = await client.post(path, data=body, headers={**headers, **bearer})
    assert refused.status_code == 400
    assert "notes.jpg" in (await refused.get_json())["fields"]["images"]
    nothing = await client.post(path, json={"body": " ", "client_id": "api-picture-0004"}, headers=bearer)
    assert nothing.status_code == 422 and "body" in (await nothing.get_json())["fields"]
    assert await _counts(db) == (2, 1)


async def test_a_refusal_asked_for_as_json_names_the_reason_for_the_page_script(app: Quart, db: Database) -> None:
    community = await make_community(db)
    sender = await member_client(app, db, community, "js_sender")
    await member_client(app, db, community, "js_receiver")
    conversation = await _conversation(sender, community, "js_receiver")
    match = _CLIENT_ID.search(await text(await sender.get(conversation)))
    assert match
    fields = {"body": "", "client_id": match.group(1), "csrf_token": await csrf_token(sender, conversation)}
    body, headers = multipart(fields, [("images", "notes.jpg", b"plain text")])
    refused = await sender.post(conversation, data=body, headers={**headers, "Accept": "application/json"})
    assert refused.status_code == 400 and refused.headers["Content-Type"].startswith("application/json")
    answer = await refused.get_json()
    assert answer["error"] == "invalid_input" and "notes.jpg" in answer["fields"]["images"]
    assert await _counts(db) == (0, 0)


async def test_sending_is_rate_limited_per_person_across_the_page_and_the_api(app: Quart, db: Database) -> None:
    community = await make_community(db)
    sender = await member_client(app, db, community, "rl_sender")
    await member_client(app, db, community, "rl_receiver")
    api = app.test_client()
    token = (
        await (await api.post("/api/v1/auth/tokens", json={"username": "rl_sender", "password": PASSWORD})).get_json()
    )["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    started = await api.post(
        f"/api/v1/communities/{community.slug}/conversations", json={"username": "rl_receiver"}, headers=bearer
    )
    path = f"/api/v1/conversations/{(await started.get_json())['id']}/messages"
    # Sixty per five minutes, given back one every five seconds (GCRA): a slow run gets a few more through.
    # Spend it through the API until a refusal that is seconds away from the next one given back.
    statuses = []
    for n in range(100):
        sent = await api.post(path, json={"body": f"第{n}条", "client_id": f"rate-limit-{n:04d}"}, headers=bearer)
        statuses.append(sent.status_code)
        if sent.status_code == 429 and int(sent.headers["Retry-After"]) >= 3:
            break
    refused_at = time.monotonic()
    assert statuses[:59] == [201] * 59  # starting the conversation was the first of sixty
    assert statuses[-1] == 429 and set(statuses) == {201, 429}
    page = f"/messages/{(await started.get_json())['id']}"
    refused = await _send(sender, page, "再来一条", [])
    assert refused.status_code == 429 or time.monotonic() - refused_at >= 2, "the page has a budget of its own"
    assert await _counts(db) == (statuses.count(201), 0)


async def test_a_reported_picture_is_shown_to_the_secretaries_until_the_report_is_reviewed(
    app: Quart, db: Database
) -> None:
    community = await make_community(db)
    sender = await member_client(app, db, community, "rp_sender")
    receiver = await member_client(app, db, community, "rp_receiver")
    secretary = await member_client(app, db, community, "rp_secretary", role=Role.SECRETARY)
    neighbour = await member_client(app, db, community, "rp_neighbour")
    elsewhere = await make_community(db)
    other_secretary = await member_client(app, db, elsewhere, "rp_other_secretary", role=Role.SECRETARY)
    conversation = await _conversation(sender, community, "rp_receiver")
    sent = await _send(sender, conversation, "", [("images", "rude.png", png())])
    assert sent.status_code == 302
    async with db.read_only() as session:
        image = (await session.execute(select(MessageImage))).scalar_one()
        message_id = image.message_id
    picture = f"/messages/images/{image.id}/thumb"
    assert (await secretary.get(picture)).status_code == 404  # nothing reported: not theirs to see

    reported = await post_form(
        receiver, f"{conversation}/flag", {"message_id": str(message_id), "reason": "abuse"}, token_from=conversation
    )
    assert reported.status_code == 302
    queue = f"/c/{community.slug}/review"
    page = await text(await secretary.get(queue))
    assert f'src="{picture}"' in page
    assert (await secretary.get(picture)).status_code == 200
    for outsider in (neighbour, other_secretary):
        assert (await outsider.get(picture)).status_code == 404

    kept = await post_form(secretary, f"/message/{message_id}/review", {"decision": "disagree"}, token_from=queue)
    assert kept.status_code == 302
    assert (await secretary.get(picture)).status_code == 404  # the flag is closed: not theirs to see any more
    assert (await receiver.get(picture)).status_code == 200
