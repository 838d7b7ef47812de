"""The pages in a real browser (Debian's chromium via Playwright) on a 360 px phone screen."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from forum.db import Database
from forum.models import Role
from tests.browsers import ARTIFACTS, PHONE
from tests.factories import make_community, make_member, make_user
from tests.servers import Server

pytestmark = [pytest.mark.browser, pytest.mark.server]


async def _phone(browser: Browser, server: Server) -> Page:
    context = await browser.new_context(
        viewport=PHONE, base_url=server.url, locale="zh-CN", is_mobile=True, has_touch=True
    )
    return await context.new_page()


async def _fits_the_screen(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} scrolls sideways: {width}px"


async def test_register_join_verify_and_see_the_badge_on_a_phone(
    browser: Browser, server: Server, db: Database, request: pytest.FixtureRequest
) -> None:
    community = await make_community(db, name="月浦新村居民区")
    await make_member(
        db,
        user=await make_user(db, username="phone_sec", display_name="李书记"),
        community=community,
        role=Role.SECRETARY,
    )

    # A resident scans the poster: the QR code opens the join page.
    resident = await _phone(browser, server)
    await resident.goto(f"/join/{community.join_code}")
    await expect(resident.locator("h1")).to_contain_text("月浦新村居民区")
    await _fits_the_screen(resident)
    await resident.keyboard.press("Tab")
    assert await resident.evaluate("document.activeElement.className") == "skip-link"
    await resident.locator("main a[href^='/register']").click()
    # The longest name allowed must still fit a phone screen wherever it is shown.
    await resident.fill("#f-display_name", "张阿姨" + "住在月浦新村三号楼的热心居民" * 2 + "阿姨")
    await resident.fill("#f-username", "zhang_ayi")
    await resident.fill("#f-password", "short")
    await resident.locator("main button[type=submit]").click()
    # A wrong field is explained in the form, the summary takes the focus, and what was typed stays.
    await expect(resident.locator("#e-password")).to_be_visible()
    assert await resident.evaluate("document.activeElement.id") == "form-errors"
    await expect(resident.locator("#f-username")).to_have_value("zhang_ayi")
    await resident.fill("#f-password", "a-long-password")
    await resident.locator("main button[type=submit]").click()
    await resident.wait_for_url(f"**/join/{community.join_code}")
    await resident.fill("#f-building", "3号楼")
    await resident.fill("#f-room", "402")
    await resident.locator("main button[type=submit]").click()
    await expect(resident.locator(".status-pending")).to_have_text("待审核")
    await _fits_the_screen(resident)

    # The secretary verifies and grants the party badge.
    office = await _phone(browser, server)
    await office.goto("/login")
    await office.fill("#f-username", "phone_sec")
    await office.fill("#f-password", "correct horse battery")
    await office.locator("main button[type=submit]").click()
    await office.wait_for_url(f"{server.url}/")
    await office.goto(f"/c/{community.slug}/members")
    await _fits_the_screen(office)
    applicant = office.locator(".member", has_text="张阿姨")
    await expect(applicant).to_contain_text("3号楼 402室")
    await applicant.locator("form[action$='/verify'] button").click()
    await expect(office.locator(".alert-ok")).to_contain_text("已通过审核")
    member = office.locator(".member", has_text="张阿姨")
    await member.locator("form[action$='/party'] button").click()
    await expect(office.locator(".member", has_text="张阿姨").locator(".badge-party")).to_be_visible()

    # The resident sees the result without doing anything special: verified, and the badge by their name.
    await resident.reload()
    await expect(resident.locator(".status-verified")).to_have_text("已认证居民")
    await _fits_the_screen(office)
    await resident.goto("/u/zhang_ayi")
    badge = resident.locator("h1 .badge-party")
    await expect(badge).to_be_visible()
    assert await badge.get_attribute("aria-label") == "党员"
    await _fits_the_screen(resident)
    ARTIFACTS.mkdir(exist_ok=True)
    await resident.screenshot(path=str(ARTIFACTS / f"profile-badge-{request.node.callspec.id}.png"), full_page=True)


async def test_english_on_request_in_the_browser(browser: Browser, server: Server) -> None:
    context = await browser.new_context(viewport=PHONE, base_url=server.url, locale="en-US")
    page = await context.new_page()
    await page.goto("/login")
    await expect(page.locator("h1")).to_have_text("Log in")
    await page.locator("footer button[value=zh_Hans]").click()
    await expect(page.locator("h1")).to_have_text("登录")
    await context.close()


async def test_a_secretary_manages_boards_on_a_phone(
    browser: Browser, server: Server, db: Database, request: pytest.FixtureRequest
) -> None:
    community = await make_community(db, name="月浦新村居民区")
    await make_member(
        db,
        user=await make_user(db, username="boards_sec", display_name="李书记"),
        community=community,
        role=Role.SECRETARY,
    )
    office = await _phone(browser, server)
    await office.goto("/login")
    await office.fill("#f-username", "boards_sec")
    await office.fill("#f-password", "correct horse battery")
    await office.locator("main button[type=submit]").click()
    await office.wait_for_url(f"{server.url}/")
    await office.goto(f"/c/{community.slug}")
    await office.get_by_role("link", name="管理版块").click()
    await expect(office.locator("h1")).to_have_text("月浦新村居民区的版块")
    await _fits_the_screen(office)

    # A name left empty is explained, and the summary takes the focus.
    await office.locator("#new-name").fill("")
    await office.get_by_role("button", name="添加", exact=True).click()
    await expect(office.locator("#new-e-name")).to_have_text("此项必填。")
    assert await office.evaluate("document.activeElement.id") == "form-errors"

    # The longest name allowed still fits the screen.
    long_name = "宠物交流" + "与领养互助" * 7 + "群"  # 40 characters, the most a name may have
    await office.locator("#new-name").fill(long_name)
    await office.locator("#new-description").fill("猫狗走失、领养、互相照看")
    await office.get_by_role("button", name="添加", exact=True).click()
    await expect(office.locator(".alert-ok")).to_contain_text("已添加版块")
    new_board = office.locator(".board-admin", has_text="猫狗走失")
    await expect(new_board).to_be_visible()
    await _fits_the_screen(office)

    # Move it up one place: it is now above 物物交换 (item swaps). The click submits a form and the page reloads, so
    # the order is awaited (reading it at once could read the page being replaced).
    board_names = office.locator(".board-admin h2 a")
    before = await board_names.all_text_contents()
    place = before.index(long_name)
    assert before[place - 1] == "物物交换"
    moved = [*before[: place - 1], long_name, "物物交换", *before[place + 1 :]]
    await new_board.get_by_role("button", name=re.compile(f"^↑ 上移 ?: {long_name}$")).click()
    await expect(board_names).to_have_text(moved)

    # Rename the guides board, then archive it: it moves to the end, marked archived.
    guides = office.locator(".board-admin", has_text="办事指南")
    await guides.locator("summary").click()
    await guides.get_by_label("名称").fill("居民办事指南")
    await guides.get_by_role("button", name=re.compile("^保存 ?: 办事指南$")).click()
    await expect(office.locator(".alert-ok")).to_contain_text("居民办事指南")
    renamed = office.locator(".board-admin", has_text="居民办事指南")
    await renamed.get_by_role("button", name=re.compile("^归档 ?: 居民办事指南$")).click()
    await expect(office.locator(".board-admin").last).to_contain_text("已归档")
    await expect(office.locator(".board-admin").last).to_contain_text("居民办事指南")
    await _fits_the_screen(office)
    ARTIFACTS.mkdir(exist_ok=True)
    await office.screenshot(path=str(ARTIFACTS / f"boards-{request.node.callspec.id}.png"), full_page=True)

    # The community page lists the open boards only; the archived one says so on its own page.
    await office.goto(f"/c/{community.slug}")
    board_links = await office.locator(".boards a").all_text_contents()
    assert "居民办事指南" not in board_links and long_name in board_links
    await _fits_the_screen(office)
    await office.goto(f"/c/{community.slug}/b/guides")
    await expect(office.locator(".archived-note")).to_be_visible()
    await expect(office.locator("#f-title")).to_have_count(0)
