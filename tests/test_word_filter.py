"""The word filter: a blocked word refuses a thread, reply, letter, listing or sale by name and stores nothing;
a review word holds a reply, hidden, in the review queue (nobody else sees it, not even live) until a secretary
decides; only secretaries keep the list. Both databases."""

from __future__ import annotations

from quart import Quart
from sqlalchemy import func, select
from sqlmodel import col

from forum.db import Database
from forum.models import Event, Flag, Notification, Post, Role, WordFilter
from tests.factories import make_community, make_district, make_district_admin, make_member, make_thread, make_user
from tests.helpers import bearer, post_form, post_multipart, signed_in, text


async def test_blocked_words_are_refused_by_name_and_review_words_hold_a_reply(app: Quart, db: Database) -> None:
    community = await make_community(db)
    for name, role in (("wf_sec", Role.SECRETARY), ("wf_res", Role.RESIDENT), ("wf_other", Role.RESIDENT)):
        await make_member(db, user=await make_user(db, username=name), community=community, role=role)
    author = await make_user(db, username="wf_author")
    await make_member(db, user=author, community=community)
    thread = await make_thread(db, author=author, community=community)
    secretary, resident, other = [await signed_in(app, name) for name in ("wf_sec", "wf_res", "wf_other")]
    words = f"/c/{community.slug}/word-filter"
    assert (await post_form(resident, words, {"word": "代开发票", "mode": "block"}, token_from="/")).status_code == 403
    for word, mode in (("代开发票", "block"), ("小广告", "review")):
        assert (await post_form(secretary, words, {"word": word, "mode": mode}, token_from=words)).status_code == 302
    assert (await post_form(secretary, words, {"word": "x", "mode": "block"}, token_from=words)).status_code == 303
    listed = await text(await secretary.get(words))
    assert "代开发票" in listed and "小广告" in listed

    page = f"/t/{thread.id}"
    async with db.read_only() as session:
        before = (await session.execute(select(func.count()).select_from(Post))).scalar_one()
    blocked = await post_multipart(resident, f"{page}/replies", {"body": "专业代开发票，联系我"}, [], token_from=page)
    assert blocked.status_code == 422 and "“代开发票”" in await text(blocked)
    new_thread = await post_multipart(
        resident, f"/c/{community.slug}/b/talk/threads", {"title": "代开发票", "body": "便宜"}, [], token_from=page
    )
    assert new_thread.status_code == 422
    letter = await post_multipart(
        resident,
        f"/c/{community.slug}/thanks",
        {"usernames": "wf_other", "title": "谢谢", "body": "顺便代开发票"},
        [],
        token_from=page,
    )
    assert letter.status_code == 422
    listing = await post_multipart(
        resident,
        f"/c/{community.slug}/market",
        {"kind": "free", "title": "代开发票服务", "category": "other", "condition": "new", "pickup_area": "楼下"},
        [],
        token_from=page,
    )
    assert listing.status_code == 422
    async with db.read_only() as session:
        assert (await session.execute(select(func.count()).select_from(Post))).scalar_one() == before

    held = await post_multipart(resident, f"{page}/replies", {"body": "看看我的小广告"}, [], token_from=page)
    assert held.status_code == 302
    assert "看看我的小广告" not in await text(await other.get(page))
    own = await text(await resident.get(page))
    assert "看看我的小广告" in own and "等待书记审核" in own
    queue = await text(await secretary.get(f"/c/{community.slug}/review"))
    assert "看看我的小广告" in queue and "小广告" in queue
    async with db.read_only() as session:
        held_post = (await session.execute(select(Post).where(col(Post.body) == "看看我的小广告"))).scalar_one()
        assert held_post.hidden_at is not None
        flag = (await session.execute(select(Flag).where(col(Flag.post_id) == held_post.id))).scalar_one()
        assert flag.reporter_id is None and flag.note == "小广告"
        created = (
            await session.execute(
                select(func.count()).where(col(Event.room) == f"thread:{thread.id}", col(Event.type) == "post.created")
            )
        ).scalar_one()
        assert created == 0  # not sent to the thread's readers
        told = select(func.count()).where(col(Notification.user_id) == author.id, col(Notification.kind) == "reply")
        assert (await session.execute(told)).scalar_one() == 0  # nor to the thread's author
    kept = await post_form(secretary, f"/posts/{held_post.id}/review", {"decision": "disagree"}, token_from=page)
    assert kept.status_code == 302
    assert "看看我的小广告" in await text(await other.get(page))  # released by the review
    async with db.read_only() as session:
        assert (await session.execute(told)).scalar_one() == 1  # and now its author is told, as for any reply
    removed = await post_form(secretary, words, {"remove": "代开发票"}, token_from=words)
    assert removed.status_code == 302
    allowed = await post_multipart(resident, f"{page}/replies", {"body": "代开发票的骗局要小心"}, [], token_from=page)
    assert allowed.status_code == 302


async def test_the_api_keeps_the_word_list_for_secretaries_only(app: Quart, db: Database) -> None:
    from tests.factories import PASSWORD

    community = await make_community(db)
    for name, role in (("wa_sec", Role.SECRETARY), ("wa_res", Role.RESIDENT)):
        await make_member(db, user=await make_user(db, username=name), community=community, role=role)
    client = app.test_client()

    async def bearer(username: str) -> dict[str, str]:
        answer = await client.post("/api/v1/auth/tokens", json={"username": username, "password": PASSWORD})
        return {"Authorization": f"Bearer {(await answer.get_json())['token']}"}

    path = f"/api/v1/communities/{community.slug}/word-filter"
    resident, secretary = await bearer("wa_res"), await bearer("wa_sec")
    assert (await client.get(path, headers=resident)).status_code == 403
    bad = await client.post(path, json={"word": "广告", "mode": "hide"}, headers=secretary)
    assert bad.status_code == 422 and "mode" in (await bad.get_json())["fields"]
    added = await client.post(path, json={"word": "广告", "mode": "review"}, headers=secretary)
    assert (await added.get_json())["words"] == [{"word": "广告", "mode": "review", "district": False}]
    removed = await client.post(path, json={"word": "广告", "remove": True}, headers=secretary)
    assert (await removed.get_json())["words"] == []


async def test_a_district_admins_word_applies_to_every_community_of_the_district(app: Quart, db: Database) -> None:
    district = await make_district(db)
    east, west = await make_community(db, district=district), await make_community(db, district=district)
    elsewhere = await make_community(db)  # another district
    admin = await make_user(db, username="wd_admin")
    await make_district_admin(db, user=admin, district_id=east.district_id)
    threads = {}
    for community, name in ((east, "wd_east"), (west, "wd_west"), (elsewhere, "wd_far")):
        user = await make_user(db, username=name)
        await make_member(db, user=user, community=community)
        threads[name] = await make_thread(db, author=user, community=community)
    secretary = await make_user(db, username="wd_sec")
    await make_member(db, user=secretary, community=west, role=Role.SECRETARY)
    admin_client, secretary_client = await signed_in(app, "wd_admin"), await signed_in(app, "wd_sec")
    words = f"/c/{east.slug}/word-filter"
    # Only a district admin keeps the district's list.
    refused = await post_form(
        secretary_client,
        f"/c/{west.slug}/word-filter",
        {"word": "高利贷", "mode": "block", "district": "1"},
        token_from="/",
    )
    assert refused.status_code == 403
    added = await post_form(admin_client, words, {"word": "高利贷", "mode": "block", "district": "1"}, token_from=words)
    assert added.status_code == 302

    for name in ("wd_east", "wd_west"):
        client = await signed_in(app, name)
        page = f"/t/{threads[name].id}"
        blocked = await post_form(client, f"{page}/replies", {"body": "低息高利贷请联系"}, token_from=page)
        assert blocked.status_code == 422 and "高利贷" in await text(blocked), name
    far = await signed_in(app, "wd_far")
    page = f"/t/{threads['wd_far'].id}"
    assert (await post_form(far, f"{page}/replies", {"body": "高利贷害人"}, token_from=page)).status_code == 302

    # The west secretary sees it, marked as the district's, and cannot remove it; the admin can.
    listed = await text(await secretary_client.get(f"/c/{west.slug}/word-filter"))
    assert "高利贷" in listed and "全区" in listed and 'value="高利贷"' not in listed
    removed = await post_form(
        secretary_client,
        f"/c/{west.slug}/word-filter",
        {"remove": "高利贷", "district": "1"},
        token_from="/",
    )
    assert removed.status_code == 403
    headers = await bearer(app.test_client(), "wd_admin")
    api = await app.test_client().post(
        f"/api/v1/communities/{west.slug}/word-filter",
        json={"word": "高利贷", "remove": True, "district": True},
        headers=headers,
    )
    assert api.status_code == 200 and (await api.get_json())["words"] == []
    async with db.read_only() as session:
        assert (await session.execute(select(func.count()).select_from(WordFilter))).scalar_one() == 0
