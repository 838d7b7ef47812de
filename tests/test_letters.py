"""Thank-you letters (感谢信): written on the thanks wall to one neighbour or a named group, with photos; liked,
featured by a secretary, hidden by a recipient from their profile; the same through the API. Both databases."""

from __future__ import annotations

import json
import re
from pathlib import Path

from quart import Quart
from sqlalchemy import func, select
from sqlmodel import col

from forum.db import Database
from forum.models import (
    AuditEntry,
    Event,
    Letter,
    LetterImage,
    LetterRecipient,
    Notification,
    Role,
    User,
)
from tests.factories import PASSWORD, make_community, make_member, make_pending, make_user
from tests.helpers import login, member_client, multipart, post_form, post_multipart, text
from tests.test_images import photo_with_gps, png, stored_files


async def _counts(db: Database) -> tuple[int, ...]:
    async with db.read_only() as session:
        return tuple(
            [
                int((await session.execute(select(func.count()).select_from(model))).scalar_one())
                for model in (Letter, LetterRecipient, LetterImage)
            ]
        )


def _letter_id(location: str) -> int:
    match = re.fullmatch(r"/letters/(\d+)", location)
    assert match, location
    return int(match.group(1))


async def test_a_resident_thanks_a_neighbour_with_a_photo_who_is_told_and_shows_it_on_her_profile(
    app: Quart, db: Database, tmp_path: Path
) -> None:
    community = await make_community(db)
    writer = await member_client(app, db, community, "lt_writer")
    helper = await member_client(app, db, community, "lt_helper", party=True)
    reader = await member_client(app, db, community, "lt_reader")
    wall = f"/c/{community.slug}/thanks"

    written = await post_multipart(
        writer,
        wall,
        {"usernames": "@lt_helper", "title": "感谢帮我搬家", "body": "谢谢 **老李** 周末帮忙"},
        [("images", "IMG_1.JPG", photo_with_gps())],
        token_from=wall,
    )
    assert written.status_code == 302, await text(written)
    letter_id = _letter_id(written.headers["Location"])
    async with db.read_only() as session:
        image = (await session.execute(select(LetterImage))).scalar_one()
        event = (await session.execute(select(Event).where(col(Event.type) == "letter.created"))).scalar_one()
        told = (await session.execute(select(Notification))).scalars().all()
    payload = json.loads(event.payload)
    assert event.room == f"letters:{community.id}"
    assert payload["recipients"][0]["username"] == "lt_helper" and payload["recipients"][0]["is_party_member"]
    assert payload["images"][0]["thumb_url"] == f"/letters/images/{image.id}/thumb"
    assert [(n.kind, n.url) for n in told] == [("letter", f"/letters/{letter_id}")]
    assert not any(b"PhoneMaker" in path.read_bytes() for path in stored_files(tmp_path))

    page = await text(await reader.get(wall))
    assert "感谢帮我搬家" in page and "<strong>老李</strong>" in page
    assert f'src="/letters/images/{image.id}/thumb"' in page
    assert (await reader.get(f"/letters/images/{image.id}/full")).status_code == 200
    profile = await text(await reader.get("/u/lt_helper"))
    assert "1 封感谢信" in profile and "感谢帮我搬家" in profile
    assert "<title>Lt_Helper · " in profile and profile.count(f'id="letter-{letter_id}"') == 1
    assert "从我的主页隐藏" not in profile  # only the recipient may hide it
    assert "您的感谢信已上墙" in await text(await writer.get(f"/letters/{letter_id}"))
    assert "从我的主页隐藏" in await text(await helper.get("/u/lt_helper"))

    # Likes: once per person, live to the wall's room, and the count on the page.
    for _ in range(2):
        liked = await post_form(reader, f"/letters/{letter_id}/like", {"value": "1"}, token_from=wall)
        assert liked.status_code == 302
    async with db.read_only() as session:
        stored = await session.get(Letter, letter_id)
        likes = (await session.execute(select(Event).where(col(Event.type) == "letter.liked"))).scalars().all()
    assert stored is not None and stored.like_count == 1
    assert [json.loads(e.payload)["like_count"] for e in likes] == [1]
    assert "取消点赞" in await text(await reader.get(f"/letters/{letter_id}"))


async def test_a_letter_links_the_members_it_mentions_and_tells_them_once(app: Quart, db: Database) -> None:
    community = await make_community(db)
    writer = await member_client(app, db, community, "lm_writer")
    await member_client(app, db, community, "lm_helper")
    await member_client(app, db, community, "lm_also")
    await member_client(app, db, community, "lm_quoted")
    stranger = await make_user(db, username="lm_stranger")
    await make_member(db, user=stranger, community=await make_community(db, name="别的小区"))
    wall = f"/c/{community.slug}/thanks"

    body = "谢谢 @lm_helper 和 @lm_also 帮忙，@lm_helper 还修了门。@lm_stranger 也在\n\n> @lm_quoted 说过：小事"
    written = await post_form(
        writer, wall, {"usernames": "lm_helper", "title": "谢谢热心邻居", "body": body}, token_from=wall
    )
    assert written.status_code == 302, await text(written)
    letter_id = _letter_id(written.headers["Location"])
    async with db.read_only() as session:
        letter = await session.get(Letter, letter_id)
        told = (
            await session.execute(
                select(User.username, Notification.kind, Notification.url)
                .join(User, col(User.id) == col(Notification.user_id))
                .order_by(col(User.username))
            )
        ).all()

    assert letter is not None
    # Members are linked wherever they are named, quotes included; someone from elsewhere is not.
    links = re.findall(r'<a href="/u/(\w+)" class="mention"[^>]*>@(\w+)</a>', letter.body_html)
    assert [name for name, shown in links if name == shown] == ["lm_helper", "lm_also", "lm_helper", "lm_quoted"]
    assert "/u/lm_stranger" not in letter.body_html
    # The recipient is told of the letter only; a member mentioned outside a quote, of the mention.
    assert [tuple(row) for row in told] == [
        ("lm_also", "mention", f"/letters/{letter_id}"),
        ("lm_helper", "letter", f"/letters/{letter_id}"),
    ]


async def test_a_group_letter_needs_a_name_and_mistakes_are_named_and_store_nothing(
    app: Quart, db: Database, tmp_path: Path
) -> None:
    community = await make_community(db)
    writer = await member_client(app, db, community, "gp_writer")
    for name in ("gp_one", "gp_two", "gp_three"):
        await member_client(app, db, community, name, party=True)
    stranger = await make_user(db, username="gp_stranger")
    del stranger
    wall = f"/c/{community.slug}/thanks"
    good = {"usernames": "gp_one gp_two, gp_three", "title": "谢谢志愿者", "body": "疫情期间每天送菜"}

    for fields, files, status, message in [
        (good, [], 422, "写给多人时需要一个集体名称"),
        ({**good, "usernames": "gp_writer"}, [], 422, "感谢信是写给别人的"),
        ({**good, "usernames": "gp_stranger"}, [], 422, "No verified member here is called gp_stranger"),
        ({**good, "group_name": "12号楼党员志愿者", "title": ""}, [], 422, "此项必填"),
        (
            {**good, "group_name": "12号楼党员志愿者"},
            [("images", f"{n}.png", png()) for n in range(4)],
            400,
            "每封感谢信最多 3 张图片，您选了 4 张。",
        ),
        ({**good, "group_name": "12号楼党员志愿者"}, [("images", "x.jpg", b"not a photo")], 400, "x.jpg"),
    ]:
        refused = await post_multipart(writer, wall, fields, files, token_from=wall)
        page = await text(refused)
        assert refused.status_code == status, (fields, page[-2000:])
        if "verified member" in message:
            assert "gp_stranger" in page
        else:
            assert message in page, message
        assert "疫情期间每天送菜" in page or not fields.get("body")  # what was typed is kept
    assert await _counts(db) == (0, 0, 0)
    assert stored_files(tmp_path) == []

    written = await post_form(writer, wall, {**good, "group_name": "12号楼党员志愿者"}, token_from=wall)
    assert written.status_code == 302
    page = await text(await writer.get(written.headers["Location"]))
    assert "<strong>12号楼党员志愿者</strong>" in page and page.count('class="badge-party"') >= 3
    async with db.read_only() as session:
        told = (await session.execute(select(func.count()).select_from(Notification))).scalar_one()
    assert await _counts(db) == (1, 3, 0) and told == 3


async def test_outsiders_and_waiting_members_cannot_read_or_write_letters(app: Quart, db: Database) -> None:
    community = await make_community(db)
    writer = await member_client(app, db, community, "out_writer")
    await member_client(app, db, community, "out_helper")
    wall = f"/c/{community.slug}/thanks"
    written = await post_multipart(
        writer,
        wall,
        {"usernames": "out_helper", "title": "谢谢", "body": "修好了门"},
        [("images", "a.png", png())],
        token_from=wall,
    )
    letter_id = _letter_id(written.headers["Location"])
    async with db.read_only() as session:
        image = (await session.execute(select(LetterImage))).scalar_one()

    await make_user(db, username="out_stranger")
    stranger = app.test_client()
    await login(stranger, "out_stranger")
    waiting_user = await make_user(db, username="out_waiting")
    await make_pending(db, user=waiting_user, community=community)
    waiting = app.test_client()
    await login(waiting, "out_waiting")
    for client, status in ((stranger, 404), (waiting, 403)):
        for path in (wall, f"/letters/{letter_id}", f"/letters/images/{image.id}/thumb"):
            response = await client.get(path)
            assert response.status_code == status, path
            assert "修好了门" not in await text(response)
        assert "修好了门" not in await text(await client.get("/u/out_helper"))
        liked = await post_form(client, f"/letters/{letter_id}/like", {"value": "1"})
        assert liked.status_code == status
    tried = await post_form(
        waiting,
        wall,
        {"usernames": "out_helper", "title": "我也谢谢", "body": "谢谢"},
        token_from=f"/c/{community.slug}",
    )
    assert tried.status_code == 403
    # Someone with no place here learns nothing about who lives here: a member's name and a made-up one get
    # the same answer.
    answers = []
    for name in ("out_helper", "nobody_here"):
        fields = {"usernames": name, "title": "谢谢", "body": "谢谢"}
        answer = await post_form(stranger, wall, fields, token_from="/")
        answers.append((answer.status_code, name in await text(answer)))
    assert answers == [(403, False), (403, False)]
    assert await _counts(db) == (1, 1, 1)


async def test_a_secretary_features_a_letter_and_a_recipient_hides_it_from_her_profile(
    app: Quart, db: Database
) -> None:
    community = await make_community(db)
    writer = await member_client(app, db, community, "ft_writer")
    helper = await member_client(app, db, community, "ft_helper")
    secretary = await member_client(app, db, community, "ft_secretary", role=Role.SECRETARY)
    wall = f"/c/{community.slug}/thanks"
    written = await post_form(
        writer, wall, {"usernames": "ft_helper", "title": "送还钱包", "body": "拾金不昧"}, token_from=wall
    )
    letter_id = _letter_id(written.headers["Location"])

    assert (await post_form(writer, f"/letters/{letter_id}/feature", {"value": "1"})).status_code == 403
    assert "拾金不昧" not in await text(await writer.get(f"/c/{community.slug}"))
    featured = await post_form(secretary, f"/letters/{letter_id}/feature", {"value": "1"}, token_from=wall)
    assert featured.status_code == 302
    assert "拾金不昧" in await text(await writer.get(f"/c/{community.slug}"))
    async with db.read_only() as session:
        actions = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert "letter.featured" in actions

    # The writer cannot hide it from the helper's profile; the helper can, and put it back.
    assert (await post_form(writer, f"/letters/{letter_id}/hide", {"value": "1"})).status_code == 403
    hidden = await post_form(helper, f"/letters/{letter_id}/hide", {"value": "1"}, token_from="/u/ft_helper")
    assert hidden.status_code == 302
    others_view = await text(await writer.get("/u/ft_helper"))
    assert "0 封感谢信" in others_view and "拾金不昧" not in others_view
    own_view = await text(await helper.get("/u/ft_helper"))
    assert "0 封感谢信" in own_view and "拾金不昧" in own_view and "在我的主页显示" in own_view
    assert "拾金不昧" in await text(await writer.get(wall))  # still on the wall
    shown = await post_form(helper, f"/letters/{letter_id}/hide", {"value": "0"}, token_from="/u/ft_helper")
    assert shown.status_code == 302
    assert "1 封感谢信" in await text(await writer.get("/u/ft_helper"))


async def test_the_api_writes_lists_likes_features_and_hides_letters(app: Quart, db: Database) -> None:
    community = await make_community(db)
    await member_client(app, db, community, "api_writer")
    await member_client(app, db, community, "api_helper")
    await member_client(app, db, community, "api_secretary", role=Role.SECRETARY)
    await make_user(db, username="api_outsider")

    async def bearer(username: str) -> dict[str, str]:
        client = app.test_client()
        answer = await client.post("/api/v1/auth/tokens", json={"username": username, "password": PASSWORD})
        return {"Authorization": f"Bearer {(await answer.get_json())['token']}"}

    client = app.test_client()
    writer, helper, secretary, outsider = [
        await bearer(name) for name in ("api_writer", "api_helper", "api_secretary", "api_outsider")
    ]
    letters = f"/api/v1/communities/{community.slug}/letters"
    body, headers = multipart(
        {"usernames": "api_helper", "title": "谢谢修车", "body": "自行车修好了"}, [("images", "a.png", png())]
    )
    created = await client.post(letters, data=body, headers={**headers, **writer})
    assert created.status_code == 201, await text(created)
    letter = await created.get_json()
    assert [p["username"] for p in letter["recipients"]] == ["api_helper"] and len(letter["images"]) == 1
    plain = await client.post(
        letters, json={"usernames": "api_helper api_secretary", "title": "谢谢", "body": "好"}, headers=writer
    )
    assert plain.status_code == 422 and "group_name" in (await plain.get_json())["fields"]

    listed = await (await client.get(letters, headers=helper)).get_json()
    assert [each["id"] for each in listed["letters"]] == [letter["id"]]
    assert listed["room"] == f"letters:{community.id}" and listed["earlier"] is None
    liked = await client.post(f"/api/v1/letters/{letter['id']}/like", json={"liked": True}, headers=helper)
    assert (await liked.get_json())["like_count"] == 1 and (await liked.get_json())["liked"] is True
    refused = await client.post(f"/api/v1/letters/{letter['id']}/feature", json={"featured": True}, headers=helper)
    assert refused.status_code == 403
    featured = await client.post(f"/api/v1/letters/{letter['id']}/feature", json={"featured": True}, headers=secretary)
    assert (await featured.get_json())["featured"] is True
    hidden = await client.post(f"/api/v1/letters/{letter['id']}/hide", json={"hidden": True}, headers=helper)
    assert (await hidden.get_json())["hidden_by_you"] is True
    for path in (letters, f"/api/v1/letters/{letter['id']}"):
        assert (await client.get(path, headers=outsider)).status_code in (403, 404)
    assert (await client.get("/api/v1/letters/99999999", headers=helper)).status_code == 404


async def test_letters_are_rate_limited_per_person_across_the_page_and_the_api(app: Quart, db: Database) -> None:
    community = await make_community(db)
    writer = await member_client(app, db, community, "rl_writer")
    await member_client(app, db, community, "rl_helper")
    wall = f"/c/{community.slug}/thanks"
    statuses = []
    for n in range(11):
        response = await post_form(
            writer, wall, {"usernames": "rl_helper", "title": f"第{n}封", "body": "谢谢"}, token_from=wall
        )
        statuses.append(response.status_code)
    assert statuses == [302] * 10 + [429]
    assert (await _counts(db))[0] == 10
