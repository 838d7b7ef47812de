"""Posting a picture through the real reply form, in Debian's chromium, on a 360 px phone."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from forum.db import Database
from tests.browsers import PHONE
from tests.factories import PASSWORD, make_community, make_member, make_thread, make_user
from tests.servers import Server
from tests.test_images import photo_with_gps

pytestmark = [pytest.mark.browser, pytest.mark.server]


async def _signed_in(browser: Browser, server: Server, username: str, *, javascript: bool) -> BrowserContext:
    context = await browser.new_context(
        viewport=PHONE,
        base_url=server.url,
        locale="zh-CN",
        is_mobile=True,
        has_touch=True,
        java_script_enabled=javascript,
    )
    page = await context.new_page()
    await page.goto("/login")
    await page.fill("#f-username", username)
    await page.fill("#f-password", PASSWORD)
    await page.locator("main button[type=submit]").click()
    await page.wait_for_url(f"{server.url}/")
    await page.close()
    return context


async def _loaded_width(page: Page, selector: str) -> int:
    """The decoded width of an <img>, once the browser has it: 0 if the request failed."""
    await page.wait_for_function(f"document.querySelector({selector!r})?.complete === true")
    return int(await page.evaluate(f"document.querySelector({selector!r}).naturalWidth"))


async def test_a_photo_posted_without_javascript_appears_for_a_neighbour_live_without_its_gps(
    browser: Browser, server: Server, db: Database
) -> None:
    community = await make_community(db)
    writer = await make_user(db, username="pic_writer", display_name="王阿姨")
    reader = await make_user(db, username="pic_reader", display_name="李叔叔")
    await make_member(db, user=writer, community=community)
    await make_member(db, user=reader, community=community)
    thread = await make_thread(db, author=reader, community=community, title="谁家的猫")

    # The neighbour has the thread open, following it live.
    reading = await _signed_in(browser, server, "pic_reader", javascript=True)
    problems: list[str] = []
    neighbour = await reading.new_page()
    neighbour.on("pageerror", lambda error: problems.append(str(error)))
    neighbour.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    await neighbour.goto(f"/t/{thread.id}")
    await expect(neighbour.locator("html[data-live=on]")).to_be_attached()

    # The writer's phone runs no script at all: the plain form must do.
    writing = await _signed_in(browser, server, "pic_writer", javascript=False)
    try:
        page = await writing.new_page()
        await page.goto(f"/t/{thread.id}")
        await page.fill("#f-body", "在我家门口")
        await page.set_input_files(
            "#f-images", files=[{"name": "IMG_0001.JPG", "mimeType": "image/jpeg", "buffer": photo_with_gps()}]
        )
        await page.locator("form.reply-form button[type=submit]").click()
        await page.wait_for_url(f"**/t/{thread.id}**")
        thumb = "#post-2 .post-gallery img"
        await expect(page.locator(thumb)).to_have_attribute("alt", "图片 1/1")
        assert await _loaded_width(page, thumb) == 200  # 300 × 600 upright, in a 400 px box

        full_url = await page.locator("#post-2 .post-gallery a").get_attribute("href")
        assert full_url is not None
        full = await writing.request.get(full_url)
        assert full.status == 200 and full.headers["content-type"] == "image/jpeg"
        assert b"PhoneMaker" not in await full.body()

        # The neighbour's page grew the same gallery, without reloading, and the thumbnail loaded.
        await expect(neighbour.locator(thumb)).to_have_attribute("alt", "图片 1/1", timeout=2000)
        assert await neighbour.locator(thumb).get_attribute("width") == "200"
        assert await _loaded_width(neighbour, thumb) == 200
        assert await neighbour.locator("#post-2 .post-gallery a").get_attribute("href") == full_url
        width = await neighbour.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the thread scrolls sideways: {width}px"
        assert problems == []
    finally:
        await writing.close()
        await reading.close()
