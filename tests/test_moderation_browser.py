"""Moderation in real browsers: a secretary hides a reply on her phone and a resident's open thread loses it
without reloading; she locks the thread and the resident's reply box is disabled with the reason shown."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select
from sqlmodel import col

from forum.db import Database
from forum.models import Community, Membership, Role, User
from tests.factories import make_community, make_member, make_reply, make_thread, make_user
from tests.servers import Server, http_login, http_post_form
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


async def test_the_reply_box_follows_the_servers_one_rule_a_muted_reader_stays_muted_through_a_lock_and_unlock(
    browser: Browser, server: Server, db: Database
) -> None:
    """The page used to work out the reply box itself: unlocking a thread turned it back on for a reader a
    secretary had muted meanwhile. It now asks the server's can_reply after each change."""
    community = await make_community(db)
    secretary = await make_user(db, username="bmute_sec", display_name="李书记")
    resident = await make_user(db, username="bmute_res", display_name="小王")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    await make_member(db, user=resident, community=community)
    thread = await make_thread(db, author=secretary, community=community, title="小区停电通知的讨论")
    page = f"/t/{thread.id}"
    b = await Phone.signed_in(browser, server, "bmute_res")
    secretary_http = await http_login(server.url, "bmute_sec")
    try:
        await b.page.goto(page)
        await expect(b.page.locator("html[data-live=on]")).to_have_count(1)
        box = b.page.locator("form.reply-form textarea")
        await expect(box).to_be_enabled()

        membership = await _membership_id(db, resident, community)
        muted = await http_post_form(
            secretary_http,
            f"/memberships/{membership}/mute",
            {"hours": "24", "reason": "刷屏"},
            token_from=f"/c/{community.slug}/members",
        )
        assert muted.status_code in (302, 303), muted.text
        await expect(box).to_be_disabled(timeout=LIVE)

        for locked, reason in (("1", "冷静一下"), ("0", "")):
            async with b.page.expect_response(lambda response: "/api/v1/threads/" in response.url) as answered:
                done = await http_post_form(
                    secretary_http, f"{page}/lock", {"locked": locked, "reason": reason}, token_from=page
                )
                assert done.status_code == 302
            assert (await (await answered.value).json())["can_reply"] is False
            await expect(box).to_be_disabled()
        assert b.problems == []
    finally:
        await secretary_http.aclose()
        await b.close()


async def _membership_id(db: Database, user: User, community: Community) -> int:
    async with db.read_only() as session:
        return int(
            (
                await session.execute(
                    select(col(Membership.id)).where(
                        col(Membership.user_id) == user.id, col(Membership.community_id) == community.id
                    )
                )
            ).scalar_one()
        )
