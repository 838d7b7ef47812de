"""Moderation in real browsers: a secretary hides a reply on her phone and a resident's open thread loses it
without reloading; she locks the thread and the resident's reply box is disabled with the reason shown."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from forum.db import Database
from forum.models import Role
from tests.factories import make_community, make_member, make_reply, make_thread, make_user
from tests.servers import Server
from tests.test_live_browser import LIVE, Phone

pytestmark = [pytest.mark.browser, pytest.mark.server]


async def test_a_hidden_reply_leaves_an_open_page_and_a_lock_disables_its_reply_box(
    browser: Browser, server: Server, db: Database
) -> None:
    community = await make_community(db)
    secretary = await make_user(db, username="bmod_sec", display_name="李书记")
    resident = await make_user(db, username="bmod_res", display_name="小王")
    rude = await make_user(db, username="bmod_rude", display_name="某人")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    await make_member(db, user=resident, community=community)
    await make_member(db, user=rude, community=community)
    thread = await make_thread(db, author=resident, community=community, title="停车位怎么分")
    reply = await make_reply(db, author=rude, thread=thread, body="你们都是笨蛋")
    page = f"/t/{thread.id}"

    a = await Phone.signed_in(browser, server, "bmod_sec")
    b = await Phone.signed_in(browser, server, "bmod_res")
    try:
        await b.page.goto(page)
        await expect(b.page.locator("html[data-live=on]")).to_have_count(1)
        await expect(b.page.locator("#post-2 .post-body")).to_have_text("你们都是笨蛋")
        await b.page.evaluate("window.__sameDocument = true")

        await a.page.goto(page)
        await a.page.locator("#post-2 a.moderate").click()
        await a.page.wait_for_url(f"**/posts/{reply.id}/hide")
        await a.page.fill("#f-reason", "人身攻击")
        await a.page.get_by_role("button", name="隐藏这条回复").click()
        await a.page.wait_for_url(f"**{page}*")

        await expect(b.page.locator("#post-2 .hidden-note")).to_have_text("这条回复已被书记隐藏。", timeout=LIVE)
        await expect(b.page.locator("#posts")).not_to_contain_text("你们都是笨蛋")

        await a.page.goto(page)
        await a.page.locator(".moderate-thread summary").click()
        await a.page.fill("#f-lock-reason", "讨论已结束，请私信书记")
        await a.page.get_by_role("button", name="锁定此帖").click()
        await a.page.wait_for_url(f"**{page}")

        await expect(b.page.locator("#lock-note")).to_be_visible(timeout=LIVE)
        await expect(b.page.locator("#lock-note .lock-reason")).to_have_text("讨论已结束，请私信书记")
        await expect(b.page.locator("form.reply-form textarea")).to_be_disabled()
        await expect(b.page.locator("form.reply-form button[type=submit]")).to_be_disabled()
        assert await b.page.evaluate("window.__sameDocument === true"), "the thread was reloaded"
        for phone in (a, b):
            assert phone.problems == []
    finally:
        for phone in (a, b):
            await phone.close()
