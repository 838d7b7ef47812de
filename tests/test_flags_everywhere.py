"""Flags beyond replies, and hiding letters: three neighbours flagging a thread's opening post hide the
whole thread until reviewed; three flagging a thank-you letter or a listing hide it; all wait in the same
review queue as replies, where agreeing hides (a listing is removed) with a reason and disagreeing shows
again what the flags hid. A
secretary hides a letter directly with a reason its writer sees; it leaves the wall, the community page,
profiles and replays; its photo answers 404. Who may, over the pages and the API. Both databases."""

from __future__ import annotations

import json
import re

from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import select
from sqlmodel import col

from forum.access import standing_in
from forum.db import Database
from forum.models import (
    AuditEntry,
    Community,
    Event,
    Letter,
    LetterImage,
    Listing,
    Notification,
    Post,
    Role,
    Thread,
    User,
    id_of,
)
from forum.queries import replay as replays
from forum.queries.replay import Reader
from tests.factories import make_community, make_district_admin, make_listing, make_member, make_thread, make_user
from tests.helpers import bearer, login, member_client, post_form, post_multipart, text
from tests.test_images import png


async def _members(app: Quart, db: Database, community: Community, *names: str) -> dict[str, Client]:
    """Signed-in members by username; those whose name ends in "sec" are secretaries."""
    return {
        name: await member_client(
            app, db, community, name, role=Role.SECRETARY if name.endswith("sec") else Role.RESIDENT, display_name=name
        )
        for name in names
    }


async def _audit(db: Database) -> list[str]:
    async with db.read_only() as session:
        return list((await session.execute(select(AuditEntry.action).order_by(col(AuditEntry.id)))).scalars())


async def _kinds(db: Database, username: str) -> list[str]:
    """The kinds of notification `username` has had, sorted."""
    async with db.read_only() as session:
        return sorted(
            (
                await session.execute(
                    select(Notification.kind)
                    .join(User, col(User.id) == col(Notification.user_id))
                    .where(col(User.username) == username)
                )
            ).scalars()
        )


async def test_three_neighbours_flagging_a_thread_hide_it_until_a_secretary_keeps_it(app: Quart, db: Database) -> None:
    community = await make_community(db)
    people = await _members(app, db, community, "ft_author", "ft_a", "ft_b", "ft_c", "ft_sec")
    async with db.read_only() as session:
        author = (await session.execute(select(User).where(col(User.username) == "ft_author"))).scalar_one()
    thread = await make_thread(db, author=author, community=community, title="出售假药")
    page = f"/t/{thread.id}"
    async with db.read_only() as session:
        first_post = (
            await session.execute(select(Post).where(col(Post.thread_id) == thread.id, col(Post.number) == 1))
        ).scalar_one()
    flag_path = f"/posts/{first_post.id}/flag"
    assert 'href="' + flag_path + '"' in await text(await people["ft_a"].get(page))
    for index, name in enumerate(("ft_a", "ft_a", "ft_b", "ft_c")):
        done = await post_form(people[name], flag_path, {"reason": "spam"}, token_from=flag_path)
        assert done.status_code == 302, (name, index)
        if index < 3:
            assert (await people["ft_b"].get(page)).status_code == 200, index  # not yet: one member counts once
    # The third neighbour hid the whole thread: gone for neighbours, there for its author with why.
    assert (await people["ft_b"].get(page)).status_code == 404
    assert "邻居举报了这个帖子" in await text(await people["ft_author"].get(page))
    assert "thread.auto_hidden" in await _audit(db)
    async with db.read_only() as session:
        events = (await session.execute(select(Event.type).where(col(Event.room) == f"thread:{thread.id}"))).scalars()
        assert "thread.hidden" in set(events)

    queue = await text(await people["ft_sec"].get(f"/c/{community.slug}/review"))
    assert f"flagged-post-{first_post.id}" in queue and "同意：隐藏此帖" in queue and "3 次举报" in queue
    home = await text(await people["ft_sec"].get(f"/c/{community.slug}"))
    assert "审核队列" in home and "1 项待处理" in home
    kept = await post_form(
        people["ft_sec"], f"/posts/{first_post.id}/review", {"decision": "disagree"}, token_from=page
    )
    assert kept.status_code == 302
    assert (await people["ft_b"].get(page)).status_code == 200  # the flags had hidden it: shown again
    again = await post_form(people["ft_sec"], f"/posts/{first_post.id}/review", {"decision": "agree"}, token_from=page)
    assert again.status_code == 303  # no open flags left: refused, and it stays shown
    assert (await people["ft_b"].get(page)).status_code == 200
    assert await _kinds(db, "ft_a") == ["flag_kept"]


async def _letter(client: Client, community_slug: str, to: str, *, photo: bool = False) -> int:
    wall = f"/c/{community_slug}/thanks"
    written = await post_multipart(
        client,
        wall,
        {"usernames": to, "title": "谢谢邻居", "body": "帮我修好了水管"},
        [("images", "pipe.png", png())] if photo else [],
        token_from=wall,
    )
    assert written.status_code == 302, await text(written)
    match = re.fullmatch(r"/letters/(\d+)", written.headers["Location"])
    assert match
    return int(match.group(1))


async def test_three_neighbours_flagging_a_letter_hide_it_and_a_secretary_agrees_with_a_reason(
    app: Quart, db: Database
) -> None:
    community = await make_community(db)
    people = await _members(app, db, community, "fl_writer", "fl_to", "fl_a", "fl_b", "fl_c", "fl_sec")
    letter_id = await _letter(people["fl_writer"], community.slug, "fl_to")
    wall = f"/c/{community.slug}/thanks"
    flag_path = f"/letters/{letter_id}/flag"
    assert 'href="' + flag_path + '"' in await text(await people["fl_a"].get(wall))
    assert 'href="' + flag_path + '"' not in await text(await people["fl_writer"].get(wall))  # not one's own
    own = await post_form(people["fl_writer"], flag_path, {"reason": "spam"}, token_from=wall)
    assert own.status_code == 403
    no_note = await post_form(people["fl_a"], flag_path, {"reason": "other"}, token_from=wall)
    assert no_note.status_code == 422
    for name in ("fl_a", "fl_a", "fl_b"):
        assert (await post_form(people[name], flag_path, {"reason": "privacy"}, token_from=wall)).status_code == 302
    assert (await people["fl_to"].get(f"/letters/{letter_id}")).status_code == 200
    assert (await post_form(people["fl_c"], flag_path, {"reason": "abuse"}, token_from=wall)).status_code == 302
    # Hidden by the flags: gone for neighbours (even its recipient), off the wall and the profile.
    assert (await people["fl_to"].get(f"/letters/{letter_id}")).status_code == 404
    assert f'id="letter-{letter_id}"' not in await text(await people["fl_to"].get(wall))
    assert f'id="letter-{letter_id}"' not in await text(await people["fl_a"].get("/u/fl_to"))
    assert "邻居举报了这封感谢信" in await text(await people["fl_writer"].get(f"/letters/{letter_id}"))
    assert "letter.auto_hidden" in await _audit(db)

    queue = await text(await people["fl_sec"].get(f"/c/{community.slug}/review"))
    assert f"flagged-letter-{letter_id}" in queue and "感谢信" in queue
    no_reason = await post_form(
        people["fl_sec"], f"/letters/{letter_id}/review", {"decision": "agree"}, token_from=wall
    )
    assert no_reason.status_code == 303
    agreed = await post_form(
        people["fl_sec"],
        f"/letters/{letter_id}/review",
        {"decision": "agree", "reason": "泄露了邻居的门牌号", "mute_hours": "24"},
        token_from=wall,
    )
    assert agreed.status_code == 302
    # Agreeing also muted the writer, with the same reason.
    muted = await post_form(
        people["fl_writer"], f"/c/{community.slug}/thanks", {"usernames": "fl_to", "title": "再谢", "body": "再次感谢"}
    )
    assert muted.status_code == 403 and "泄露了邻居的门牌号" in await text(muted)
    assert "泄露了邻居的门牌号" in await text(await people["fl_writer"].get(f"/letters/{letter_id}"))
    assert (await people["fl_to"].get(f"/letters/{letter_id}")).status_code == 404
    async with db.read_only() as session:
        from forum.models import User

        ids = dict((await session.execute(select(col(User.username), col(User.id)))).all())
        told = (await session.execute(select(Notification.user_id, Notification.kind))).all()
    assert (
        sorted(kind for user_id, kind in told if user_id in {ids["fl_a"], ids["fl_b"], ids["fl_c"]})
        == ["flag_agreed"] * 3
    )
    assert "flags.agreed" in await _audit(db) and "member.muted" in await _audit(db)


async def test_a_secretary_hides_a_letter_with_a_reason_and_shows_it_again(app: Quart, db: Database) -> None:
    community, elsewhere = await make_community(db), await make_community(db)
    people = await _members(app, db, community, "hl_writer", "hl_to", "hl_sec")
    far = await make_user(db, username="hl_far_sec")
    await make_member(db, user=far, community=elsewhere, role=Role.SECRETARY)
    admin = await make_user(db, username="hl_admin")
    await make_district_admin(db, user=admin, district_id=community.district_id)
    letter_id = await _letter(people["hl_writer"], community.slug, "hl_to", photo=True)
    async with db.unit_of_work() as session:
        stored = await session.get(Letter, letter_id)
        assert stored is not None
        stored.featured_at = stored.created_at  # on the community page too
        image = (await session.execute(select(LetterImage))).scalar_one()
    page, wall = f"/letters/{letter_id}", f"/c/{community.slug}/thanks"
    moderate = f"{page}/moderate"
    far_client, admin_client = app.test_client(), app.test_client()
    await login(far_client, "hl_far_sec")
    await login(admin_client, "hl_admin")
    form = {"hidden": "1", "reason": "含有广告"}
    for client, status in ((people["hl_to"], 403), (people["hl_writer"], 403), (far_client, 404)):
        assert (await post_form(client, moderate, form, token_from="/")).status_code == status
    assert (await people["hl_to"].get(moderate)).status_code == 403
    assert (await people["hl_sec"].get(moderate)).status_code == 200
    refused = await post_form(people["hl_sec"], moderate, {"hidden": "1"}, token_from=page)
    assert refused.status_code == 422 and "理由" in await text(refused)
    hidden = await post_form(people["hl_sec"], moderate, form, token_from=page)
    assert hidden.status_code == 302

    assert (await people["hl_to"].get(page)).status_code == 404
    assert (await people["hl_to"].get(f"/letters/images/{image.id}/full")).status_code == 404
    for path in (wall, f"/c/{community.slug}", "/u/hl_to"):
        assert f'id="letter-{letter_id}"' not in await text(await people["hl_to"].get(path)), path
    writer_view = await text(await people["hl_writer"].get(page))
    assert "书记隐藏了这封感谢信：含有广告" in writer_view
    assert f'id="letter-{letter_id}"' in await text(await people["hl_writer"].get(wall))  # their own, marked
    assert "重新显示" in await text(await people["hl_sec"].get(wall))
    headers = await bearer(app.test_client(), "hl_to")
    listed = await (
        await app.test_client().get(f"/api/v1/communities/{community.slug}/letters", headers=headers)
    ).get_json()
    assert [each["id"] for each in listed["letters"]] == []
    async with db.read_only() as session:
        events = (await session.execute(select(Event).where(col(Event.type).like("letter.%")))).scalars().all()
        envelopes = [{"type": e.type, "id": e.id, "room": e.room, "data": json.loads(e.payload)} for e in events]
        assert [e["type"] for e in envelopes] == ["letter.created", "letter.hidden"]
        to_id = (await session.execute(select(Notification.user_id).where(col(Notification.kind) == "letter"))).scalar()
        reader = await session.get(User, to_id)
        assert reader is not None
        standing = await standing_in(session, reader, community)
        replay = await replays.LETTERS(
            session,
            [dict(e) for e in envelopes],
            Reader(user_id=id_of(reader), standing=standing, room_id=id_of(community)),
        )
        assert [e["type"] for e in replay] == ["letter.hidden"]  # a resuming wall does not get it back
        kinds = (await session.execute(select(Notification.kind))).scalars().all()
    assert "letter_hidden" in kinds
    twice = await post_form(people["hl_sec"], moderate, form, token_from=page)
    assert twice.status_code == 409

    # The API: the same rules; the district admin shows it again.
    api = app.test_client()
    path = f"/api/v1/letters/{letter_id}/moderate"
    assert (await api.post(path, json={"hidden": False}, headers=await bearer(api, "hl_to"))).status_code == 404
    assert (await api.post(path, json={"hidden": False}, headers=await bearer(api, "hl_writer"))).status_code == 403
    shown = await api.post(path, json={"hidden": False}, headers=await bearer(api, "hl_admin"))
    assert shown.status_code == 200 and (await shown.get_json()) == {
        "letter_id": letter_id,
        "hidden": False,
        "reason": "",
    }
    assert (await people["hl_to"].get(page)).status_code == 200
    actions = await _audit(db)
    assert [a for a in actions if a.startswith("letter.") and a != "letter.featured"] == [
        "letter.hidden",
        "letter.shown",
    ]


async def test_the_api_flags_letters_and_lists_every_kind_in_the_queue(app: Quart, db: Database) -> None:
    community = await make_community(db)
    people = await _members(app, db, community, "fa_writer", "fa_to", "fa_sec")
    letter_id = await _letter(people["fa_writer"], community.slug, "fa_to")
    api = app.test_client()
    path = f"/api/v1/letters/{letter_id}/flags"
    first = await api.post(path, json={"reason": "spam"}, headers=await bearer(api, "fa_to"))
    assert first.status_code == 200 and (await first.get_json()) == {"letter_id": letter_id, "added": True}
    again = await api.post(path, json={"reason": "abuse"}, headers=await bearer(api, "fa_to"))
    assert (await again.get_json())["added"] is False
    bad = await api.post(path, json={"reason": "boring"}, headers=await bearer(api, "fa_to"))
    assert bad.status_code == 422
    queue = await api.get(f"/api/v1/communities/{community.slug}/review", headers=await bearer(api, "fa_sec"))
    items = (await queue.get_json())["items"]
    assert [(i["kind"], i["letter_id"], i["title"], [f["reason"] for f in i["flags"]]) for i in items] == [
        ("letter", letter_id, "谢谢邻居", ["spam"])
    ]
    assert (
        await api.get(f"/api/v1/communities/{community.slug}/review", headers=await bearer(api, "fa_to"))
    ).status_code == 403
    decided = await api.post(
        f"/api/v1/letters/{letter_id}/review", json={"agree": False}, headers=await bearer(api, "fa_sec")
    )
    assert decided.status_code == 200 and (await decided.get_json())["hidden"] is False
    async with db.read_only() as session:
        stored = await session.get(Letter, letter_id)
    assert stored is not None and stored.hidden_at is None


async def test_three_neighbours_flagging_a_listing_hide_it_and_a_secretary_keeps_or_removes_it(
    app: Quart, db: Database
) -> None:
    community = await make_community(db)
    people = await _members(app, db, community, "fm_owner", "fm_a", "fm_b", "fm_c", "fm_d", "fm_sec")
    async with db.read_only() as session:
        owner = (await session.execute(select(User).where(col(User.username) == "fm_owner"))).scalar_one()
    pram = await make_listing(db, owner=owner, community=community, title="全新手机低价出")
    page, market = f"/market/{pram.id}", f"/c/{community.slug}/market"
    flag_path = f"{page}/flag"
    assert (await post_form(people["fm_owner"], flag_path, {"reason": "spam"}, token_from=page)).status_code == 403
    for name in ("fm_a", "fm_b", "fm_c"):
        assert (await post_form(people[name], flag_path, {"reason": "spam"}, token_from=page)).status_code == 302
    # Hidden until reviewed: gone for neighbours and from the market, there for its owner with why; so is its
    # discussion thread, which repeats it.
    assert (await people["fm_a"].get(page)).status_code == 404
    assert pram.thread_id is not None
    discussion = f"/t/{pram.thread_id}"
    assert (await people["fm_a"].get(discussion)).status_code == 404
    assert "全新手机低价出" not in await text(await people["fm_a"].get(market))
    assert "邻居举报了此物品" in await text(await people["fm_owner"].get(page))
    async with db.read_only() as session:
        changes = (await session.execute(select(Event).where(col(Event.type) == "listing.changed"))).scalars().all()
    assert [json.loads(e.payload)["status"] for e in changes][-1] == "removed"  # open market pages drop it
    assert "listing.auto_hidden" in await _audit(db)
    queue = await text(await people["fm_sec"].get(f"/c/{community.slug}/review"))
    assert f"flagged-listing-{pram.id}" in queue and "物品" in queue

    # Kept: shown again everywhere.
    kept = await post_form(people["fm_sec"], f"{page}/review", {"decision": "disagree"}, token_from=page)
    assert kept.status_code == 302
    assert (await people["fm_a"].get(page)).status_code == 200
    assert (await people["fm_a"].get(discussion)).status_code == 200
    assert "全新手机低价出" in await text(await people["fm_a"].get(market))
    assert await _kinds(db, "fm_b") == ["flag_kept"]

    # A flag that was decided on is not raised again by the same neighbour; another one flags it through the
    # API, and it is removed there, with the reason its owner sees.
    api = app.test_client()
    again = await api.post(f"/api/v1{page}/flags", json={"reason": "spam"}, headers=await bearer(api, "fm_a"))
    assert again.status_code == 200 and (await again.get_json())["added"] is False
    flagged = await api.post(f"/api/v1{page}/flags", json={"reason": "spam"}, headers=await bearer(api, "fm_d"))
    assert flagged.status_code == 200 and (await flagged.get_json())["added"] is True
    queue_api = f"/api/v1/communities/{community.slug}/review"
    items = (await (await api.get(queue_api, headers=await bearer(api, "fm_sec"))).get_json())["items"]
    assert [(i["kind"], i["listing_id"], i["title"]) for i in items] == [("listing", pram.id, "全新手机低价出")]
    no_reason = await api.post(f"/api/v1{page}/review", json={"agree": True}, headers=await bearer(api, "fm_sec"))
    assert no_reason.status_code == 422
    removed = await api.post(
        f"/api/v1{page}/review", json={"agree": True, "reason": "邻里市场不做买卖"}, headers=await bearer(api, "fm_sec")
    )
    assert removed.status_code == 200
    assert await removed.get_json() == {"listing_id": pram.id, "status": "removed", "hidden": False}
    assert "邻里市场不做买卖" in await text(await people["fm_owner"].get(page))
    assert (await people["fm_b"].get(page)).status_code == 404


async def test_three_members_of_a_group_flagging_a_message_hide_it_from_the_others_until_reviewed(
    app: Quart, db: Database
) -> None:
    community = await make_community(db)
    names = ("gm_rude", "gm_a", "gm_b", "gm_c", "gm_sec")
    await _members(app, db, community, *names)
    api = app.test_client()
    tokens = {name: await bearer(api, name) for name in names}
    group = await api.post(
        f"/api/v1/communities/{community.slug}/groups",
        json={"title": "3号楼", "usernames": ["gm_a", "gm_b", "gm_c"]},
        headers=tokens["gm_rude"],
    )
    assert group.status_code == 201
    conversation = (await group.get_json())["id"]
    sent = await api.post(
        f"/api/v1/conversations/{conversation}/messages",
        json={"body": "你们都是骗子", "client_id": "rude-000001"},
        headers=tokens["gm_rude"],
    )
    message_id = (await sent.get_json())["id"]
    flags_path = f"/api/v1/conversations/{conversation}/messages/{message_id}/flags"
    own = await api.post(flags_path, json={"reason": "abuse"}, headers=tokens["gm_rude"])
    assert own.status_code == 422
    outsider = await api.post(flags_path, json={"reason": "abuse"}, headers=tokens["gm_sec"])
    assert outsider.status_code == 404  # not a participant: the conversation does not exist for them
    for name in ("gm_a", "gm_b", "gm_c"):
        flagged = await api.post(flags_path, json={"reason": "abuse"}, headers=tokens[name])
        assert flagged.status_code == 200 and (await flagged.get_json())["added"] is True

    listed = f"/api/v1/conversations/{conversation}/messages"
    theirs = (await (await api.get(listed, headers=tokens["gm_a"])).get_json())["messages"][0]
    assert (theirs["hidden"], theirs["body_html"], theirs["hidden_reason"]) == (True, "", "")
    own_view = (await (await api.get(listed, headers=tokens["gm_rude"])).get_json())["messages"][0]
    assert own_view["hidden"] and "骗子" in own_view["body_html"]
    assert "message.auto_hidden" in await _audit(db)
    async with db.read_only() as session:
        hidden_events = (await session.execute(select(Event).where(col(Event.type) == "message.hidden"))).scalars()
        assert [json.loads(e.payload)["message_id"] for e in hidden_events] == [message_id]
        created = (await session.execute(select(Event).where(col(Event.type) == "message.created"))).scalar_one()
        replay = [{"type": created.type, "id": created.id, "room": created.room, "data": json.loads(created.payload)}]
        reader = (await session.execute(select(User).where(col(User.username) == "gm_a"))).scalar_one()
        standing = await standing_in(session, reader, community)
        replay = await replays.CONVERSATION(
            session, replay, Reader(user_id=id_of(reader), standing=standing, room_id=0)
        )
    assert replay[0]["data"]["body_html"] == ""  # a resuming page does not get the text back

    queue = (
        await (await api.get(f"/api/v1/communities/{community.slug}/review", headers=tokens["gm_sec"])).get_json()
    )["items"]
    assert [(i["kind"], i["message_id"], i["title"]) for i in queue] == [("message", message_id, "你们都是骗子")]
    assert (
        await api.post(f"/api/v1/messages/{message_id}/review", json={"agree": False}, headers=tokens["gm_a"])
    ).status_code == 404
    kept = await api.post(f"/api/v1/messages/{message_id}/review", json={"agree": False}, headers=tokens["gm_sec"])
    assert kept.status_code == 200 and await kept.get_json() == {"message_id": message_id, "hidden": False}
    theirs = (await (await api.get(listed, headers=tokens["gm_b"])).get_json())["messages"][0]
    assert not theirs["hidden"] and "骗子" in theirs["body_html"]
    assert "flag_kept" in await _kinds(db, "gm_c")


async def test_a_secretary_never_sees_who_reported_their_own_message(app: Quart, db: Database) -> None:
    community = await make_community(db)
    await _members(app, db, community, "om_sec", "om_other_sec", "om_resident")
    api = app.test_client()
    tokens = {name: await bearer(api, name) for name in ("om_sec", "om_other_sec", "om_resident")}
    started = await api.post(
        f"/api/v1/communities/{community.slug}/conversations",
        json={"username": "om_resident"},
        headers=tokens["om_sec"],
    )
    conversation = (await started.get_json())["id"]
    sent = await api.post(
        f"/api/v1/conversations/{conversation}/messages",
        json={"body": "不交物业费就停你家的水", "client_id": "sec-000001"},
        headers=tokens["om_sec"],
    )
    message_id = (await sent.get_json())["id"]
    flagged = await api.post(
        f"/api/v1/conversations/{conversation}/messages/{message_id}/flags",
        json={"reason": "abuse"},
        headers=tokens["om_resident"],
    )
    assert flagged.status_code == 200
    queue = f"/api/v1/communities/{community.slug}/review"
    own = (await (await api.get(queue, headers=tokens["om_sec"])).get_json())["items"]
    other = (await (await api.get(queue, headers=tokens["om_other_sec"])).get_json())["items"]
    assert own == [] and [item["message_id"] for item in other] == [message_id]
    assert await _kinds(db, "om_sec") == [] and await _kinds(db, "om_other_sec") == ["flag"]
    refused = await api.post(f"/api/v1/messages/{message_id}/review", json={"agree": False}, headers=tokens["om_sec"])
    assert refused.status_code == 403
    hidden = await api.post(
        f"/api/v1/messages/{message_id}/review",
        json={"agree": True, "reason": "威胁邻居"},
        headers=tokens["om_other_sec"],
    )
    assert hidden.status_code == 200
    assert "message_hidden" in await _kinds(db, "om_sec")  # its sender is told why


def test_every_kind_is_named_by_a_flag_column_and_every_flag_column_has_a_kind_to_load_it() -> None:
    from forum.flaggables import KINDS, LOADERS
    from forum.models import FLAGGED_ITEMS

    assert set(LOADERS) == set(FLAGGED_ITEMS)
    assert {kind.flag_column for kind in KINDS.values()} == set(FLAGGED_ITEMS)
    assert all(name == kind.kind for name, kind in KINDS.items())


async def test_a_thread_whose_opening_post_was_deleted_cannot_be_flagged(db: Database) -> None:
    from forum.actions import flags, threads
    from forum.errors import InvalidInput
    from forum.flaggables import of_post

    community = await make_community(db)
    author, flagger = await make_user(db, username="dt_author"), await make_user(db, username="dt_flagger")
    for user in (author, flagger):
        await make_member(db, user=user, community=community)
    thread = await make_thread(db, author=author, community=community)
    async with db.unit_of_work() as session:
        opening = (await session.execute(select(Post).where(col(Post.thread_id) == thread.id))).scalar_one()
        await threads.delete_post(
            session, actor=author, post=opening, standing=await standing_in(session, author, community)
        )
    async with db.unit_of_work() as session:
        opening = (await session.execute(select(Post).where(col(Post.thread_id) == thread.id))).scalar_one()
        row = await session.get(Thread, thread.id)
        assert row is not None
        try:
            await flags.flag(
                session,
                actor=flagger,
                item=of_post(opening, row),
                standing=await standing_in(session, flagger, community),
                reason="spam",
            )
        except InvalidInput as error:
            assert error.status == 409
        else:
            raise AssertionError("a deleted opening post's thread was flagged")


async def test_a_listing_removed_with_a_reason_of_several_lines_keeps_them(db: Database) -> None:
    from forum.actions import hiding
    from forum.flaggables import ListingItem

    community = await make_community(db)
    owner, secretary = await make_user(db, username="ml_owner"), await make_user(db, username="ml_sec")
    await make_member(db, user=owner, community=community)
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    listing = await make_listing(db, owner=owner, community=community)
    async with db.unit_of_work() as session:
        loaded = await session.get(Listing, listing.id)
        assert loaded is not None
        await hiding.set_hidden(
            session,
            actor=secretary,
            item=ListingItem(loaded),
            standing=await standing_in(session, secretary, community),
            hidden=True,
            reason="第一行\n第二行",
        )
    async with db.read_only() as session:
        stored = await session.get(Listing, listing.id)
        assert stored is not None and stored.removed_reason == "第一行\n第二行"
