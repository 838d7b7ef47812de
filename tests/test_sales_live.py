"""Charity sales over Socket.IO, against a real server process: a sale's readers see items arrive, units
reserved and sold and the total grow; the market room hears of new sales; an outsider cannot follow either;
the lapse job's giving back reaches the page too."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from forum.db import Database
from forum.models import SaleReservation
from forum.queries.threads import latest_event_id
from forum.timeutil import utcnow
from tests.factories import make_community, make_member, make_reservation, make_sale, make_sale_item, make_user
from tests.servers import Server, http_login, http_post_form, run_server
from tests.test_messages_live import Participant

pytestmark = pytest.mark.server


async def _in_both_rooms(reader: Participant, kind: str, room: str, market: str) -> dict[str, object]:
    """The next event of `kind`, which arrives once in the sale's room and once in the market's, the same."""
    first, second = await reader.next_of(kind), await reader.next_of(kind)
    assert {first["room"], second["room"]} == {room, market} and first["data"] == second["data"]
    data: dict[str, object] = first["data"]
    return data


async def test_a_sales_readers_see_items_units_and_the_total_change_live(server: Server, db: Database) -> None:
    community = await make_community(db)
    people = {}
    for username in ("sl_organiser", "sl_buyer", "sl_reader"):
        people[username] = await make_user(db, username=username)
        await make_member(db, user=people[username], community=community)
    await make_user(db, username="sl_outsider")
    sale = await make_sale(db, organiser=people["sl_organiser"], community=community, target="100")
    async with db.read_only() as session:
        seen = await latest_event_id(session)
    room, market = f"sale:{sale.id}", f"market:{community.id}"
    reader, outsider = Participant(), Participant()
    await reader.connect(server, "sl_reader")
    await outsider.connect(server, "sl_outsider")
    buyer = await http_login(server.url, "sl_buyer")
    organiser = await http_login(server.url, "sl_organiser")
    try:
        assert await reader.subscribe(room, seen) == {"ok": True}
        assert await reader.subscribe(market, seen) == {"ok": True}
        assert await outsider.subscribe(room, 0) == {"ok": False, "error": "not_found"}
        assert await outsider.subscribe(market, 0) == {"ok": False, "error": "not_found"}

        page = f"/sales/{sale.id}"
        donated = await http_post_form(
            organiser, f"{page}/items", {"title": "竹编篮子", "price": "12.5", "quantity": "2"}, token_from=page
        )
        assert donated.status_code == 302, donated.text
        added = await reader.next_of("sale.item_added")
        assert added["room"] == room
        item = added["data"]
        assert (item["title"], item["price_cents"], item["quantity"]) == ("竹编篮子", 1250, 2)
        assert item["donor"]["username"] == "sl_organiser"

        reserved = await http_post_form(
            buyer, f"/sales/items/{item['item_id']}/reserve", {"quantity": "2"}, token_from=page
        )
        assert reserved.status_code == 302, reserved.text
        units = await _in_both_rooms(reader, "sale.item_changed", room, market)
        assert (units["available"], units["reserved"], units["sold"]) == (0, 2, 0)

        async with db.read_only() as session:
            reservation = (await session.execute(select(SaleReservation))).scalar_one()
        paid = await http_post_form(organiser, f"/sales/reservations/{reservation.id}/paid", token_from=page)
        assert paid.status_code == 302, paid.text
        units = await _in_both_rooms(reader, "sale.item_changed", room, market)
        assert (units["available"], units["reserved"], units["sold"]) == (0, 0, 2)
        total = await _in_both_rooms(reader, "sale.changed", room, market)
        assert (total["raised_cents"], total["target_cents"], total["status"]) == (2500, 10000, "open")

        closed = await http_post_form(organiser, f"{page}/close", token_from=page)
        assert closed.status_code == 302
        assert (await _in_both_rooms(reader, "sale.changed", room, market))["status"] == "closed"

        started = await http_post_form(
            organiser,
            f"/c/{community.slug}/sales",
            {
                "title": "旧书交换义卖",
                "cause": "图书角",
                "pickup": "图书角",
                "starts_at": "2030-01-01T09:00",
                "ends_at": "2030-01-02T09:00",
                "hold_hours": "24",
            },
            token_from=f"/c/{community.slug}/sales/new",
        )
        assert started.status_code == 302, started.text
        created = await reader.next_of("sale.created")
        assert created["room"] == market and created["data"]["title"] == "旧书交换义卖"
        assert created["data"]["starts_at"].startswith("2030-01-01T01:00")  # 09:00 in Shanghai
        assert outsider.events.empty()
    finally:
        await buyer.aclose()
        await organiser.aclose()
        for client in (reader, outsider):
            await client.client.disconnect()


async def test_units_given_back_by_the_lapse_job_reach_the_open_page(db: Database, db_url: str, tmp_path: Path) -> None:
    community = await make_community(db)
    organiser, buyer, reader_user = [await make_user(db, username=name) for name in ("lj_org", "lj_buyer", "lj_reader")]
    for user in (organiser, buyer, reader_user):
        await make_member(db, user=user, community=community)
    sale = await make_sale(db, organiser=organiser, community=community)
    item = await make_sale_item(db, donor=organiser, sale=sale, quantity=3)
    held = await make_reservation(db, buyer=buyer, item=item, quantity=2)
    async with db.unit_of_work() as session:  # its time ran out a minute ago
        await session.execute(
            update(SaleReservation)
            .where(col(SaleReservation.id) == held.id)
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    async with db.read_only() as session:
        seen = await latest_event_id(session)
    reader = Participant()
    with run_server(db_url=db_url, var_dir=tmp_path, settings={"SALE_LAPSE_SECONDS": "0.5"}) as server:
        await reader.connect(server, "lj_reader")
        try:
            assert await reader.subscribe(f"sale:{sale.id}", seen) == {"ok": True}
            units = (await reader.next_of("sale.item_changed"))["data"]
            assert (units["item_id"], units["available"], units["reserved"]) == (item.id, 3, 0)
        finally:
            await reader.client.disconnect()
