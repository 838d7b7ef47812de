"""The market as pages: listing a swap with a photo and a give-away, browsing by kind, category and status,
searching in Chinese, offering one's own listing in exchange, accepting, the hand-over confirmed by both sides,
renewing, flagging and a secretary's removal with the reason the owner sees; bad input and other people's
listings refused by name. Both databases."""

from __future__ import annotations

import re

from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import func, select
from sqlmodel import col

from forum.db import Database
from forum.models import Community, Listing, ListingImage, ListingStatus, Offer, Role
from tests.factories import make_community
from tests.helpers import member_client, post_form, post_multipart, text
from tests.test_images import photo_with_gps

PRAM = {
    "kind": "swap",
    "title": "九成新婴儿推车",
    "description": "可折叠，带雨罩",
    "wanted": "儿童自行车",
    "category": "children",
    "condition": "like_new",
    "pickup_area": "3号楼门口",
    "claim_hours": "0",
}


async def _list(
    client: Client, community: Community, files: list[tuple[str, str, bytes]] | None = None, **fields: str
) -> int:
    path = f"/c/{community.slug}/market"
    response = await post_multipart(client, path, {**PRAM, **fields}, files or [], token_from=f"{path}/new")
    assert response.status_code == 302, await text(response)
    match = re.fullmatch(r"/market/(\d+)", response.headers["location"])  # type: ignore[attr-defined]
    assert match
    return int(match.group(1))


async def test_a_swap_goes_from_listing_to_a_confirmed_hand_over_through_the_pages(app: Quart, db: Database) -> None:
    community = await make_community(db)
    owner = await member_client(app, db, community, "mw_owner")
    maker = await member_client(app, db, community, "mw_maker")
    rival = await member_client(app, db, community, "mw_rival")
    pram = await _list(owner, community, [("images", "pram.jpg", photo_with_gps())])
    bike = await _list(maker, community, title="儿童自行车", wanted="绘本", category="sports")
    async with db.read_only() as session:
        picture = (await session.execute(select(ListingImage))).scalar_one()
    page = f"/market/{pram}"
    shown = await text(await maker.get(page))
    assert "九成新婴儿推车" in shown and "儿童自行车" in shown and f"/market/images/{picture.id}/full" in shown
    photo = await maker.get(f"/market/images/{picture.id}/full")
    assert photo.status_code == 200 and b"GPS" not in await photo.get_data()

    market = f"/c/{community.slug}/market"
    assert "九成新婴儿推车" in await text(await rival.get(f"{market}?kind=swap&category=children"))
    assert "九成新婴儿推车" not in await text(await rival.get(f"{market}?category=books"))
    assert "九成新婴儿推车" not in await text(await rival.get(f"{market}?kind=free"))
    found = await text(await rival.get(market, query_string={"q": "推车"}))
    assert "九成新婴儿推车" in found and f"/market/{bike}" not in found  # 推车 is in the pram's text only
    assert "九成新婴儿推车" in await text(
        await rival.get(market, query_string={"q": "雨罩"})
    )  # found by its description
    assert (await rival.get(f"{market}?kind=cars&status=nonsense&category=%3Cscript%3E")).status_code == 200

    offered = await post_form(
        maker, f"{page}/offers", {"message": "换我的自行车", "offered_listing_id": str(bike)}, token_from=page
    )
    assert offered.status_code == 302, await text(offered)
    other = await post_form(rival, f"{page}/offers", {"message": "我出两本绘本"}, token_from=page)
    assert other.status_code == 302
    owner_view = await text(await owner.get(page))
    assert "换我的自行车" in owner_view and "我出两本绘本" in owner_view
    assert "换我的自行车" not in await text(await rival.get(page))  # an offer is between its maker and the owner
    async with db.read_only() as session:
        offer_id = (
            await session.execute(select(col(Offer.id)).where(col(Offer.offered_listing_id) == bike))
        ).scalar_one()
    accepted = await post_form(owner, f"/market/offers/{offer_id}/accept", token_from=page)
    assert accepted.status_code == 302
    again = await post_form(owner, f"/market/offers/{offer_id}/accept", token_from=page)
    assert again.status_code == 409 and "不再接受报价" in await text(again)
    assert "已预订" in await text(await rival.get(market + "?status=all"))
    bike_page = await text(await maker.get(f"/market/{bike}"))
    assert "已用于交换" in bike_page and f'href="/market/{pram}"' in bike_page  # where its hand-over is confirmed

    for client in (owner, maker):
        done = await post_form(client, f"/market/offers/{offer_id}/confirm", token_from=page)
        assert done.status_code == 302
    async with db.read_only() as session:
        statuses = (await session.execute(select(col(Listing.status)).order_by(col(Listing.id)))).scalars().all()
    assert statuses == [ListingStatus.DONE, ListingStatus.DONE]
    mine = await text(await maker.get(f"{market}/mine"))
    assert "儿童自行车" in mine and "九成新婴儿推车" in mine


async def test_bad_listings_and_offers_are_named_per_field_and_store_nothing(app: Quart, db: Database) -> None:
    community, elsewhere = await make_community(db), await make_community(db)
    owner = await member_client(app, db, community, "mb_owner")
    stranger = await member_client(app, db, elsewhere, "mb_stranger")
    path = f"/c/{community.slug}/market"
    refused = await post_multipart(
        owner,
        path,
        {**PRAM, "category": "cars", "condition": "", "wanted": "", "claim_hours": "-1"},
        [],
        token_from=f"{path}/new",
    )
    assert refused.status_code == 422
    page = await text(refused)
    for message in ("请选择类别", "请选择成色", "请说明您希望换到什么"):
        assert message in page, message
    assert 'value="九成新婴儿推车"' in page
    async with db.read_only() as session:
        assert (await session.execute(select(func.count()).select_from(Listing))).scalar_one() == 0

    pram = await _list(owner, community)
    foreign = await _list(stranger, elsewhere, title="外小区的书架")
    maker = await member_client(app, db, community, "mb_maker")
    response = await post_form(
        maker,
        f"/market/{pram}/offers",
        {"message": "换这个", "offered_listing_id": str(foreign)},
        token_from=f"/market/{pram}",
    )
    assert response.status_code == 422 and "请用您自己在本社区的在架物品交换" in await text(response)
    assert (await stranger.get(f"/market/{pram}")).status_code == 404
    own = await post_form(owner, f"/market/{pram}/offers", {"message": "自己"}, token_from=f"/market/{pram}")
    assert own.status_code == 403
    async with db.read_only() as session:
        assert (await session.execute(select(func.count()).select_from(Offer))).scalar_one() == 0


async def test_a_flag_reaches_the_secretary_who_removes_the_listing_with_a_reason_the_owner_sees(
    app: Quart, db: Database
) -> None:
    community = await make_community(db)
    owner = await member_client(app, db, community, "mr_owner")
    reporter = await member_client(app, db, community, "mr_reporter")
    secretary = await member_client(app, db, community, "mr_secretary", role=Role.SECRETARY)
    pram = await _list(owner, community, title="全新手机低价出")
    page = f"/market/{pram}"
    assert f'href="{page}/flag"' in await text(await reporter.get(page))
    reported = await post_form(
        reporter, f"{page}/flag", {"reason": "other", "note": "这是在卖东西"}, token_from=f"{page}/flag"
    )
    assert reported.status_code == 302
    after = await text(await reporter.get(page))
    assert "您已向书记举报此物品" in after and f"{page}/flag" not in after  # once is enough
    assert "这是在卖东西" in await text(await secretary.get(page))
    assert (await post_form(reporter, f"{page}/remove", {"reason": "x"}, token_from=page)).status_code == 403
    removed = await post_form(secretary, f"{page}/remove", {"reason": "邻里市场不做买卖"}, token_from=page)
    assert removed.status_code == 302
    assert "邻里市场不做买卖" in await text(await owner.get(page))
    assert (await reporter.get(page)).status_code == 404  # gone for everyone else
    assert "全新手机低价出" not in await text(await reporter.get(f"/c/{community.slug}/market?status=all"))
    # Removed by mistake: only a secretary puts it back, and it is there for everyone again.
    assert (await post_form(owner, f"{page}/restore", token_from=page)).status_code == 403
    assert "把物品放回去" in await text(await secretary.get(page))
    restored = await post_form(secretary, f"{page}/restore", token_from=page)
    assert restored.status_code == 302
    assert (await reporter.get(page)).status_code == 200
    assert "全新手机低价出" in await text(await reporter.get(f"/c/{community.slug}/market"))
    again = await post_form(secretary, f"{page}/restore", token_from=page)
    assert again.status_code == 409


async def test_a_give_away_by_lot_cannot_be_drawn_before_its_window_ends(app: Quart, db: Database) -> None:
    community = await make_community(db)
    owner = await member_client(app, db, community, "md_owner")
    gift = await _list(owner, community, kind="free", wanted="", title="旧书架", claim_hours="3")
    page = await text(await owner.get(f"/market/{gift}"))
    assert "后可以抽签" in page and f"/market/{gift}/draw" not in page
    early = await post_form(owner, f"/market/{gift}/draw", token_from=f"/market/{gift}")
    assert early.status_code == 409 and "申请时间结束后再抽签" in await text(early)
