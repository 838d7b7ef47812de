"""The market over Socket.IO, against a real server process: new listings reach the market room, status and
offer counts reach the market and the listing's room, the expiry job's changes too, and nobody outside the
community (or, for a removed listing, other than its owner and the secretaries) can follow them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from forum.db import Database
from forum.models import Listing, Offer, Role
from forum.queries.threads import latest_event_id
from forum.timeutil import utcnow
from tests.factories import make_community, make_listing, make_member, make_user
from tests.servers import Server, http_login, http_post_form, run_server
from tests.test_messages_live import Participant

pytestmark = pytest.mark.server

PRAM = {
    "kind": "swap",
    "title": "婴儿推车",
    "wanted": "儿童自行车",
    "category": "children",
    "condition": "good",
    "pickup_area": "3号楼",
}


async def test_listings_and_their_status_reach_the_market_and_listing_rooms(server: Server, db: Database) -> None:
    community = await make_community(db)
    for username, role in (("ml_owner", Role.RESIDENT), ("ml_maker", Role.RESIDENT), ("ml_reader", Role.RESIDENT)):
        await make_member(db, user=await make_user(db, username=username), community=community, role=role)
    await make_member(db, user=await make_user(db, username="ml_sec"), community=community, role=Role.SECRETARY)
    await make_user(db, username="ml_outsider")
    async with db.read_only() as session:
        seen = await latest_event_id(session)
    market = f"market:{community.id}"
    reader, outsider = Participant(), Participant()
    await reader.connect(server, "ml_reader")
    await outsider.connect(server, "ml_outsider")
    owner = await http_login(server.url, "ml_owner")
    maker = await http_login(server.url, "ml_maker")
    secretary = await http_login(server.url, "ml_sec")
    try:
        assert await reader.subscribe(market, seen) == {"ok": True}
        assert await outsider.subscribe(market, 0) == {"ok": False, "error": "not_found"}
        new = f"/c/{community.slug}/market/new"
        listed = await http_post_form(owner, f"/c/{community.slug}/market", PRAM, token_from=new)
        assert listed.status_code == 302, listed.text
        created = await reader.next_of("listing.created")
        data = created["data"]
        assert created["room"] == market and (data["title"], data["kind"], data["category"]) == (
            "婴儿推车",
            "swap",
            "children",
        )
        listing_id = data["listing_id"]
        page = f"/market/{listing_id}"
        assert await reader.subscribe(f"listing:{listing_id}", 0) == {"ok": True}
        assert await outsider.subscribe(f"listing:{listing_id}", 0) == {"ok": False, "error": "not_found"}

        offered = await http_post_form(maker, f"{page}/offers", {"message": "想换"}, token_from=page)
        assert offered.status_code == 302, offered.text
        changes = [await reader.next_of("listing.changed") for _ in range(2)]  # the market's and the listing's
        assert {change["room"] for change in changes} == {market, f"listing:{listing_id}"}
        assert all((c["data"]["status"], c["data"]["offer_count"]) == ("open", 1) for c in changes)

        async with db.read_only() as session:
            offer_id = (await session.execute(select(col(Offer.id)))).scalar_one()
        accepted = await http_post_form(owner, f"/market/offers/{offer_id}/accept", token_from=page)
        assert accepted.status_code == 302
        changes = [await reader.next_of("listing.changed") for _ in range(2)]
        assert all((c["data"]["status"], c["data"]["offer_count"]) == ("reserved", 0) for c in changes)

        removed = await http_post_form(secretary, f"{page}/remove", {"reason": "测试下架"}, token_from=page)
        assert removed.status_code == 302
        assert (await reader.next_of("listing.changed"))["data"]["status"] == "removed"
        # Gone for the reader now: a new subscription is refused.
        assert await reader.subscribe(f"listing:{listing_id}", 0) == {"ok": False, "error": "not_found"}
        assert outsider.events.empty()
    finally:
        for client in (owner, maker, secretary):
            await client.aclose()
        for participant in (reader, outsider):
            await participant.client.disconnect()


async def test_a_listing_expiring_reaches_the_open_market(db: Database, db_url: str, tmp_path: Path) -> None:
    community = await make_community(db)
    owner, reader_user = [await make_user(db, username=name) for name in ("mx_owner", "mx_reader")]
    for user in (owner, reader_user):
        await make_member(db, user=user, community=community)
    listing = await make_listing(db, owner=owner, community=community)
    async with db.unit_of_work() as session:
        await session.execute(
            update(Listing).where(col(Listing.id) == listing.id).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        seen = await latest_event_id(session)
    reader = Participant()
    with run_server(db_url=db_url, var_dir=tmp_path, settings={"SALE_LAPSE_SECONDS": "0.5"}) as server:
        await reader.connect(server, "mx_reader")
        try:
            assert await reader.subscribe(f"market:{community.id}", seen) == {"ok": True}
            change = await reader.next_of("listing.changed")
            assert (change["data"]["listing_id"], change["data"]["status"]) == (listing.id, "expired")
        finally:
            await reader.client.disconnect()
