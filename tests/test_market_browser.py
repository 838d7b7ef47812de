"""The market in real browsers: a give-away listed on one phone appears on another's open market page; the
neighbour asks for it there, and when the owner accepts, the neighbour's open listing page shows it reserved
without reloading."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from forum.db import Database
from tests.factories import make_community, make_member, make_user
from tests.servers import Server
from tests.test_live_browser import LIVE, Phone

pytestmark = [pytest.mark.browser, pytest.mark.server]


async def test_a_give_away_appears_live_and_its_reservation_shows_on_the_askers_open_page(
    browser: Browser, server: Server, db: Database
) -> None:
    community = await make_community(db)
    owner = await make_user(db, username="bm_owner", display_name="赵阿姨")
    asker = await make_user(db, username="bm_asker", display_name="小陈")
    await make_member(db, user=owner, community=community, is_party_member=True)
    await make_member(db, user=asker, community=community)
    market = f"/c/{community.slug}/market"

    a = await Phone.signed_in(browser, server, "bm_owner")
    b = await Phone.signed_in(browser, server, "bm_asker")
    try:
        await b.page.goto(market)
        await expect(b.page.locator("html[data-live=on]")).to_have_count(1)
        await b.page.evaluate("window.__sameDocument = true")

        await a.page.goto(f"{market}/new?kind=free")
        await a.page.fill("#f-title", "八成新电饭煲")
        await a.page.fill("#f-pickup_area", "5号楼门卫室")
        await a.page.select_option("#f-category", "kitchen")
        await a.page.select_option("#f-condition", "good")
        await a.page.get_by_role("button", name="发布").click()
        await a.page.wait_for_url("**/market/*")

        await expect(a.page.locator("html[data-live=on]")).to_have_count(1)  # the owner stays on the listing
        row = b.page.locator("#listings li.listing-row").first
        await expect(row.locator("h2 a")).to_have_text("八成新电饭煲", timeout=LIVE)
        await expect(row.locator(".listing-kind")).to_have_text("免费赠送")
        await expect(row.locator(".author .badge-party")).to_have_count(1)
        assert await b.page.evaluate("window.__sameDocument === true"), "the market page was reloaded"

        await row.locator("h2 a").click()
        await b.page.wait_for_url("**/market/*")
        await b.page.fill("#f-message", "家里的坏了，想要这个")
        await b.page.get_by_role("button", name="申请领取").click()
        await b.page.wait_for_url("**/market/*")
        await expect(b.page.locator(".offer-count")).to_have_text("1 个申请")
        await expect(b.page.locator("html[data-live=on]")).to_have_count(1)
        await b.page.evaluate("window.__sameDocument = true")

        # The owner's open page counts the request live and offers to show it.
        await expect(a.page.locator("#listing .offer-count")).to_have_text("1 个申请", timeout=LIVE)
        await a.page.locator("#offers .offers-changed button").click()
        await expect(a.page.locator("#offers")).to_contain_text("家里的坏了，想要这个")
        await a.page.locator("#offers").get_by_role("button", name="接受").click()
        await a.page.wait_for_url("**/market/*")
        await expect(a.page.locator(".deal")).to_contain_text("小陈")

        await expect(b.page.locator("#listing .listing-status")).to_have_text("已预订", timeout=LIVE)
        await expect(b.page.locator("#listing .offer-count")).to_have_text("0 个申请")
        assert await b.page.evaluate("window.__sameDocument === true"), "the listing page was reloaded"
        for phone in (a, b):
            assert phone.problems == []
    finally:
        for phone in (a, b):
            await phone.close()
