"""Thank-you letters in a real browser: a letter written on one phone appears on the open thanks wall of
another, live, and rings the recipient's bell; the bell's page opens the letter."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from forum.db import Database
from tests.factories import make_community, make_member, make_user
from tests.servers import Server
from tests.test_live_browser import LIVE, Phone

pytestmark = [pytest.mark.browser, pytest.mark.server]


async def test_a_letter_appears_on_the_open_wall_and_rings_the_recipients_bell(
    browser: Browser, server: Server, db: Database
) -> None:
    community = await make_community(db)
    writer = await make_user(db, username="br_writer", display_name="王阿姨")
    helper = await make_user(db, username="br_helper", display_name="小李")
    await make_member(db, user=writer, community=community)
    await make_member(db, user=helper, community=community, is_party_member=True)

    a = await Phone.signed_in(browser, server, "br_writer")
    b = await Phone.signed_in(browser, server, "br_helper")
    try:
        wall = f"/c/{community.slug}/thanks"
        await b.page.goto(wall)
        await expect(b.page.locator("html[data-live=on]")).to_have_count(1)
        await expect(b.page.locator("#notification-count")).to_be_hidden()
        await b.page.evaluate("window.__sameDocument = true")

        await a.page.goto(wall)
        await a.page.locator("#write-letter summary").click()
        await a.page.fill("#f-usernames", "@br_helper")
        await a.page.fill("#f-title", "谢谢小李帮我拎米")
        await a.page.fill("#f-body", "每周都**帮我**把米拎上六楼")
        await a.page.get_by_role("button", name="发表感谢信").click()
        await a.page.wait_for_url("**/letters/*")

        arrived = b.page.locator("#letters article.letter").first
        await expect(arrived.locator(".letter-title a")).to_have_text("谢谢小李帮我拎米", timeout=LIVE)
        await expect(arrived.locator(".post-body strong")).to_have_text("帮我")
        await expect(arrived.locator(".recipients .person a")).to_have_text("小李")
        await expect(arrived.locator(".recipients .badge-party")).to_have_count(1)
        await expect(b.page.locator("#notification-count")).to_have_text("1", timeout=LIVE)
        assert await b.page.evaluate("window.__sameDocument === true"), "the wall was reloaded"

        await b.page.locator("#notifications-link").click()
        await expect(b.page.locator("li.notification.unread")).to_contain_text("王阿姨 给您写了一封感谢信")
        await b.page.locator("li.notification button.link").first.click()
        await b.page.wait_for_url("**/letters/*")
        await expect(b.page.locator("h1.letter-title")).to_have_text("谢谢小李帮我拎米")
        await expect(b.page.locator("#notification-count")).to_be_hidden(timeout=LIVE)
        for phone in (a, b):
            assert phone.problems == []
    finally:
        for phone in (a, b):
            await phone.close()
