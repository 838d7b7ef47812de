"""A charity sale in real browsers: one neighbour reserves the last scarf on her phone, and another neighbour's
open sale page shows it reserved, then sold with the total raised grown, without reloading."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from forum.db import Database
from forum.models import SaleReservation
from tests.factories import make_community, make_member, make_sale, make_sale_item, make_user
from tests.servers import Server, http_login, http_post_form
from tests.test_live_browser import LIVE, Phone

pytestmark = [pytest.mark.browser, pytest.mark.server]


async def test_a_reservation_on_one_phone_shows_on_anothers_open_sale_page_with_the_total(
    browser: Browser, server: Server, db: Database
) -> None:
    community = await make_community(db)
    organiser = await make_user(db, username="bs_organiser", display_name="李书记")
    buyer = await make_user(db, username="bs_buyer", display_name="王阿姨")
    watcher = await make_user(db, username="bs_watcher", display_name="小张")
    for user in (organiser, buyer, watcher):
        await make_member(db, user=user, community=community)
    sale = await make_sale(db, organiser=organiser, community=community, target="100")
    scarf = await make_sale_item(db, donor=organiser, sale=sale, title="手织围巾", price="25", quantity=1)
    page = f"/sales/{sale.id}"

    a = await Phone.signed_in(browser, server, "bs_buyer")
    b = await Phone.signed_in(browser, server, "bs_watcher")
    desk = await http_login(server.url, "bs_organiser")
    try:
        await b.page.goto(page)
        await expect(b.page.locator("html[data-live=on]")).to_have_count(1)
        card = b.page.locator(f"#item-{scarf.id}")
        await expect(card.locator(".available")).to_have_text("1")
        await expect(card.get_by_role("button", name="预订")).to_be_enabled()
        await expect(b.page.locator("#raised")).to_have_text("0.00")
        await b.page.evaluate("window.__sameDocument = true")

        await a.page.goto(page)
        await a.page.locator(f"#item-{scarf.id}").get_by_role("button", name="预订").click()
        await a.page.wait_for_url(f"**{page}#item-{scarf.id}")
        await expect(a.page.locator("#mine")).to_contain_text("1 × 手织围巾")

        await expect(card.locator(".available")).to_have_text("0", timeout=LIVE)
        await expect(card.locator(".reserved")).to_have_text("1")
        await expect(card.get_by_role("button", name="预订")).to_be_disabled()
        await expect(card.locator(".sold-out")).to_be_visible()

        async with db.read_only() as session:
            reservation = (await session.execute(select(SaleReservation))).scalar_one()
        paid = await http_post_form(desk, f"/sales/reservations/{reservation.id}/paid", token_from=page)
        assert paid.status_code == 302, paid.text
        await expect(b.page.locator("#raised")).to_have_text("25.00", timeout=LIVE)
        await expect(card.locator(".sold")).to_have_text("1")
        await expect(card.locator(".reserved")).to_have_text("0")
        assert await b.page.locator("#sale-progress").evaluate("p => p.value") == 2500

        donated = await http_post_form(
            desk, f"{page}/items", {"title": "竹编篮子", "price": "8", "quantity": "2"}, token_from=page
        )
        assert donated.status_code == 302, donated.text
        basket = b.page.locator("#sale-items li.sale-item").last
        await expect(basket.locator("h3")).to_have_text("竹编篮子", timeout=LIVE)
        await expect(basket.locator(".available")).to_have_text("2")
        await expect(basket.locator(".author .person a")).to_have_text("李书记")
        assert await b.page.evaluate("window.__sameDocument === true"), "the sale page was reloaded"
        # The basket that arrived live can be reserved from that same page.
        await basket.get_by_role("button", name="预订").click()
        await b.page.wait_for_url(f"**{page}#item-*")
        await expect(b.page.locator("#mine")).to_contain_text("1 × 竹编篮子")
        for phone in (a, b):
            assert phone.problems == []
    finally:
        await desk.aclose()
        for phone in (a, b):
            await phone.close()
