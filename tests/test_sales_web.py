"""Charity sales as pages: a resident opens a sale, neighbours donate with photos and reserve, the organiser
settles reservations and closes the sale, publishes its summary and exports it as CSV; bad input is named
per field with the right status and stores nothing; outsiders and other buyers see nothing they should not.
Both databases."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import func, select
from sqlmodel import col

from forum.db import Database
from forum.models import (
    CharitySale,
    Community,
    Notification,
    NotificationKind,
    Post,
    ReservationStatus,
    Role,
    SaleItem,
    SaleItemImage,
    SaleReservation,
    Thread,
)
from forum.timeutil import utcnow
from tests.factories import make_community, make_pending, make_user
from tests.helpers import login, member_client, post_form, post_multipart, text
from tests.test_images import photo_with_gps, stored_files


def _local(delta: timedelta) -> str:
    """A datetime-local value as the form sends it, in Shanghai time."""
    from zoneinfo import ZoneInfo

    return (utcnow() + delta).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")


SALE_FORM = {
    "title": "楼道爱心义卖",
    "cause": "为独居老人买冬衣",
    "pickup": "居委会门口，周六上午九点到十一点",
    "target": "300",
    "hold_hours": "24",
}


async def _open_sale(client: Client, community: Community, **fields: str) -> int:
    form = {**SALE_FORM, "starts_at": _local(-timedelta(minutes=5)), "ends_at": _local(timedelta(days=3)), **fields}
    path = f"/c/{community.slug}/sales"
    response = await post_form(client, path, form, token_from=f"{path}/new")
    assert response.status_code == 302, await text(response)  # type: ignore[attr-defined]
    match = re.fullmatch(r"/sales/(\d+)", response.headers["location"])  # type: ignore[attr-defined]
    assert match
    return int(match.group(1))


async def _item_ids(db: Database, sale_id: int) -> list[int]:
    async with db.read_only() as session:
        ids = await session.execute(select(col(SaleItem.id)).where(col(SaleItem.sale_id) == sale_id).order_by("id"))
        return [int(value) for value in ids.scalars()]


async def test_a_sale_runs_from_opening_to_a_published_summary_through_its_pages(
    app: Quart, db: Database, tmp_path: Path
) -> None:
    community = await make_community(db)
    organiser = await member_client(app, db, community, "wo_organiser")
    donor = await member_client(app, db, community, "wo_donor")
    buyer = await member_client(app, db, community, "wo_buyer")
    sale_id = await _open_sale(organiser, community)
    sale_page = f"/sales/{sale_id}"

    listing = await text(await organiser.get(f"/c/{community.slug}/sales"))
    assert "楼道爱心义卖" in listing and "为独居老人买冬衣" in listing

    # A donation with a photo: the photo is re-encoded without its GPS position.
    donated = await post_multipart(
        donor,
        f"{sale_page}/items",
        {"title": "手织围巾", "description": "全新\n羊毛", "price": "25", "quantity": "2"},
        [("images", "scarf.jpg", photo_with_gps())],
        token_from=sale_page,
    )
    assert donated.status_code == 302, await text(donated)  # type: ignore[attr-defined]
    (item_id,) = await _item_ids(db, sale_id)
    async with db.read_only() as session:
        picture = (await session.execute(select(SaleItemImage))).scalar_one()
    page = await text(await buyer.get(sale_page))
    assert "手织围巾" in page and f"/sales/images/{picture.id}/thumb" in page
    photo = await buyer.get(f"/sales/images/{picture.id}/full")
    assert photo.status_code == 200
    assert b"GPS" not in await photo.get_data() and stored_files(tmp_path)

    # The buyer reserves both; the organiser is notified and sees them on the desk.
    reserved = await post_form(buyer, f"/sales/items/{item_id}/reserve", {"quantity": "2"}, token_from=sale_page)
    assert reserved.status_code == 302
    buyer_page = await text(await buyer.get(sale_page))
    assert "我的预订" in buyer_page and "2 × 手织围巾" in buyer_page
    async with db.read_only() as session:
        reservation = (await session.execute(select(SaleReservation))).scalar_one()
        kinds = (await session.execute(select(col(Notification.kind)))).scalars().all()
    assert NotificationKind.RESERVATION in kinds
    desk = await text(await organiser.get(sale_page))
    assert f'id="reservation-{reservation.id}"' in desk
    assert f'id="reservation-{reservation.id}"' not in buyer_page  # the desk is the organiser's

    # Nothing is left: the next reservation is refused with 409 and the page says why.
    third = await member_client(app, db, community, "wo_third")
    refused = await post_form(third, f"/sales/items/{item_id}/reserve", {"quantity": "1"}, token_from=sale_page)
    assert refused.status_code == 409
    assert "已被预订" in await text(refused)

    # The organiser records the payment and the hand-over; the total grows.
    for step in ("paid", "handed-over"):
        done = await post_form(organiser, f"/sales/reservations/{reservation.id}/{step}", token_from=sale_page)
        assert done.status_code == 302, await text(done)  # type: ignore[attr-defined]
    assert "50.00" in await text(await buyer.get(sale_page))
    again = await post_form(organiser, f"/sales/reservations/{reservation.id}/paid", token_from=sale_page)
    assert again.status_code == 409

    # Closing, then the summary, published once, and its spreadsheet.
    closed = await post_form(organiser, f"{sale_page}/close", token_from=sale_page)
    assert closed.status_code == 302
    late = await post_multipart(
        donor,
        f"{sale_page}/items",
        {"title": "台灯", "price": "5", "quantity": "1"},
        [],
        token_from=f"/sales/{sale_id}",
    )
    assert late.status_code == 409
    summary = f"{sale_page}/summary"
    published = await post_form(
        organiser, summary, {"summary": "全部用于购买冬衣，收据贴在公告栏。"}, token_from=summary
    )
    assert published.status_code == 302
    twice = await post_form(organiser, summary, {"summary": "再来一次"}, token_from=summary)
    assert twice.status_code == 409
    shown = await text(await buyer.get(summary))
    assert "全部用于购买冬衣" in shown and "50.00" in shown
    async with db.read_only() as session:
        sale = await session.get(CharitySale, sale_id)
        assert sale is not None and sale.thread_id is not None
        thread = await session.get(Thread, sale.thread_id)
        posts = (await session.execute(select(Post).where(col(Post.thread_id) == sale.thread_id))).scalars().all()
    assert thread is not None and thread.title == "楼道爱心义卖"
    assert f"/sales/{sale_id}" in posts[0].body_html and "全部用于购买冬衣" in posts[-1].body
    exported = await buyer.get(f"{summary}.csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO((await exported.get_data()).decode("utf-8-sig"))))
    assert rows[1][:2] == ["手织围巾", "Wo_Donor"] and rows[1][4:] == ["2", "50.00"]
    assert rows[-1][0] == "合计" and rows[-1][-1] == "50.00"


async def test_bad_sale_and_item_input_is_named_per_field_and_stores_nothing(app: Quart, db: Database) -> None:
    community = await make_community(db)
    organiser = await member_client(app, db, community, "wb_organiser")
    path = f"/c/{community.slug}/sales"
    bad = {
        **SALE_FORM,
        "target": "-5",
        "hold_hours": "0",
        "starts_at": "明天",
        "ends_at": _local(-timedelta(days=1)),
    }
    refused = await post_form(organiser, path, bad, token_from=f"{path}/new")
    assert refused.status_code == 422
    page = await text(refused)
    for message in ("金额不能为负数", "至少为 1", "请填写日期和时间"):
        assert message in page, message
    assert 'value="楼道爱心义卖"' in page  # what was typed stays
    async with db.read_only() as session:
        assert (await session.execute(select(func.count()).select_from(CharitySale))).scalar_one() == 0

    sale_id = await _open_sale(organiser, community)
    sale_page = f"/sales/{sale_id}"
    for fields, message in (
        ({"title": "碗", "price": "-1", "quantity": "1"}, "金额不能为负数"),
        ({"title": "碗", "price": "3", "quantity": "0"}, "至少为 1"),
        ({"title": "碗", "price": "12.345", "quantity": "1"}, "请填写以元为单位的金额"),
        ({"title": "", "price": "3", "quantity": "1"}, "此项必填"),
    ):
        response = await post_multipart(organiser, f"{sale_page}/items", fields, [], token_from=sale_page)
        assert response.status_code == 422, fields
        assert message in await text(response), fields
    too_big = await post_multipart(
        organiser,
        f"{sale_page}/items",
        {"title": "碗", "price": "3", "quantity": "1"},
        [("images", "big.png", b"x" * (app.config["IMAGE_MAX_BYTES"] + 1))],
        token_from=sale_page,
    )
    assert too_big.status_code == 400
    assert "“big.png”超过" in await text(too_big)
    assert await _item_ids(db, sale_id) == []


async def test_outsiders_pending_members_and_other_buyers_cannot_reach_what_is_not_theirs(
    app: Quart, db: Database
) -> None:
    community, elsewhere = await make_community(db), await make_community(db)
    organiser = await member_client(app, db, community, "wa_organiser")
    buyer = await member_client(app, db, community, "wa_buyer")
    neighbour = await member_client(app, db, community, "wa_neighbour")
    outsider = await member_client(app, db, elsewhere, "wa_outsider")
    pending_user = await make_user(db, username="wa_pending")
    await make_pending(db, user=pending_user, community=community)
    pending = app.test_client()
    await login(pending, "wa_pending")
    sale_id = await _open_sale(organiser, community)
    sale_page = f"/sales/{sale_id}"
    await post_multipart(
        organiser, f"{sale_page}/items", {"title": "花盆", "price": "8", "quantity": "3"}, [], token_from=sale_page
    )
    (item_id,) = await _item_ids(db, sale_id)
    await post_form(buyer, f"/sales/items/{item_id}/reserve", {"quantity": "1"}, token_from=sale_page)
    async with db.read_only() as session:
        reservation_id = (await session.execute(select(col(SaleReservation.id)))).scalar_one()

    assert (await outsider.get(sale_page)).status_code == 404
    assert (await outsider.get(f"/c/{community.slug}/sales")).status_code == 404
    assert (await pending.get(sale_page)).status_code == 403
    own = await text(await outsider.get("/"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', own)
    assert token
    for client, path in (
        (outsider, f"/sales/items/{item_id}/reserve"),
        (outsider, f"/sales/reservations/{reservation_id}/cancel"),
        (outsider, f"{sale_page}/close"),
    ):
        response = await client.post(path, form={"csrf_token": token.group(1), "quantity": "1"})
        assert response.status_code == 404, path
    # Another neighbour neither sees nor cancels someone else's reservation, nor records payments.
    assert "wa_buyer" not in await text(await neighbour.get(sale_page))
    for step in ("cancel", "paid"):
        response = await post_form(neighbour, f"/sales/reservations/{reservation_id}/{step}", token_from=sale_page)
        assert response.status_code == 404, step
    assert (await post_form(neighbour, f"{sale_page}/close", token_from=sale_page)).status_code == 403
    # A secretary stands in for the organiser.
    secretary = await member_client(app, db, community, "wa_secretary", role=Role.SECRETARY)
    paid = await post_form(secretary, f"/sales/reservations/{reservation_id}/paid", token_from=sale_page)
    assert paid.status_code == 302
    # Without the CSRF token nothing changes.
    forged = await buyer.post(f"/sales/items/{item_id}/reserve", form={"quantity": "1"})
    assert forged.status_code in (400, 403)
    async with db.read_only() as session:
        statuses = (await session.execute(select(col(SaleReservation.status)))).scalars().all()
    assert statuses == [ReservationStatus.PAID]


async def test_reservations_open_when_the_sale_starts(app: Quart, db: Database) -> None:
    community = await make_community(db)
    organiser = await member_client(app, db, community, "wt_organiser")
    sale_id = await _open_sale(organiser, community, starts_at=_local(timedelta(days=1)))
    sale_page = f"/sales/{sale_id}"
    await post_multipart(
        organiser, f"{sale_page}/items", {"title": "旧书", "price": "2", "quantity": "5"}, [], token_from=sale_page
    )
    (item_id,) = await _item_ids(db, sale_id)
    early = await post_form(organiser, f"/sales/items/{item_id}/reserve", {"quantity": "1"}, token_from=sale_page)
    assert early.status_code == 409
    assert "义卖尚未开始" in await text(early)
