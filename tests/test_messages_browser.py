"""Private messages in a real browser: two phones exchange messages live, with the read receipt."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Request, expect
from sqlmodel import col, select

from forum.db import Database
from forum.models import ConversationMember, Role
from tests.factories import make_community, make_member, make_user
from tests.servers import Server
from tests.test_live_browser import LIVE, Phone

pytestmark = [pytest.mark.browser, pytest.mark.server]


async def test_two_neighbours_exchange_messages_live_and_see_them_read(
    browser: Browser, server: Server, db: Database
) -> None:
    community = await make_community(db)
    resident = await make_user(db, username="msg_resident", display_name="张阿姨")
    secretary = await make_user(db, username="msg_secretary", display_name="李书记")
    await make_member(db, user=resident, community=community)
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY, is_party_member=True)

    a = await Phone.signed_in(browser, server, "msg_resident")
    b = await Phone.signed_in(browser, server, "msg_secretary")
    try:
        await a.page.goto(f"/c/{community.slug}/messages")
        await a.page.get_by_role("button", name="发私信").click()
        await a.page.wait_for_url("**/messages/*")
        conversation = a.page.url
        await expect(a.page.locator("html[data-live=on]")).to_have_count(1)

        # The secretary is elsewhere on the site: the header counts the new message, live.
        await b.page.goto(f"/c/{community.slug}")
        await expect(b.page.locator("html[data-live=on]")).to_have_count(1)
        await expect(b.page.locator("#unread-count")).to_be_hidden()
        await a.page.evaluate("window.__sameDocument = true")

        # Sent without leaving the page: shown at once, then replaced by the stored message.
        await a.page.fill("#f-body", "楼下的快递柜**又满了**")
        await a.page.locator("form.message-form button[type=submit]").click()
        await expect(a.page.locator("#messages li.mine")).to_have_count(1)
        stored = a.page.locator("#messages li.mine[data-message-id]")
        await expect(stored).to_have_count(1, timeout=LIVE)
        await expect(a.page.locator("#f-body")).to_have_value("")
        await expect(b.page.locator("#unread-count")).to_have_text("1", timeout=LIVE)

        await b.page.locator("#messages-link").click()  # one community: straight to its conversations
        await b.page.locator("ul.conversations a").click()
        await b.page.wait_for_url(conversation)
        await expect(b.page.locator("#unread-count")).to_be_hidden(timeout=LIVE)
        await b.page.evaluate("window.__sameDocument = true")

        arrived = b.page.locator("#messages li.message:not(.mine)")
        await expect(arrived).to_have_count(1)
        await expect(arrived.locator("strong")).to_have_text("又满了")
        await expect(arrived.locator(".person a")).to_have_text("张阿姨")
        # Someone else's message that arrived live can be reported, as one on the page from the start.
        await expect(arrived.locator("form.report-form input[name=message_id]")).to_have_value(
            await stored.get_attribute("data-message-id") or "missing"
        )

        # The secretary's open page read it: the resident sees "已读" under her message, live.
        await expect(stored.locator(".read-receipt")).to_have_text("已读", timeout=LIVE * 2)

        # A message arriving on the open, visible page is read at once: it never shows as unread.
        await b.page.fill("#f-body", "收到，马上联系快递公司。")
        await b.page.locator("form.message-form button[type=submit]").click()
        answer = a.page.locator("#messages li.message:not(.mine)")
        await expect(answer).to_have_count(1, timeout=LIVE)
        await expect(answer).to_contain_text("收到，马上联系快递公司。")
        await expect(b.page.locator("#messages li.mine .read-receipt")).to_have_text("已读", timeout=LIVE * 2)
        await expect(a.page.locator("#unread-count")).to_be_hidden()

        for phone in (a, b):
            assert await phone.page.evaluate("window.__sameDocument === true"), "the page was reloaded"
            assert phone.problems == []
        # And after a reload, everything is where it was: stored once each, in order.
        await a.page.reload()
        await expect(a.page.locator("#messages li.message")).to_have_count(2)
    finally:
        await a.close()
        await b.close()


async def test_opening_a_conversation_marks_it_read_because_the_page_says_so(
    browser: Browser, server: Server, db: Database
) -> None:
    community = await make_community(db)
    sender = await make_user(db, username="open_sender", display_name="孙阿姨")
    reader = await make_user(db, username="open_reader", display_name="周师傅")
    for user in (sender, reader):
        await make_member(db, user=user, community=community)

    a = await Phone.signed_in(browser, server, "open_sender")
    b = await Phone.signed_in(browser, server, "open_reader")
    try:
        await a.page.goto(f"/c/{community.slug}/messages")
        token = await a.page.locator("input[name=csrf_token]").first.get_attribute("value")
        started = await a.page.request.post(
            f"/c/{community.slug}/messages/with/open_reader", form={"csrf_token": token or ""}, max_redirects=0
        )
        conversation = started.headers["location"]
        await a.page.goto(conversation)
        await a.page.fill("#f-body", "周师傅，明天几点来修水管？")
        await a.page.locator("form.message-form button[type=submit]").click()
        mine = a.page.locator("#messages li.mine[data-message-id]")
        await expect(mine).to_have_count(1, timeout=LIVE)
        message_id = int(await mine.get_attribute("data-message-id") or 0)

        await b.page.goto("/")
        await expect(b.page.locator("#unread-count")).to_have_text("1", timeout=LIVE)

        # The GET marks nothing; the page, open and visible, tells the server what it shows.
        def marks_read(request: Request) -> bool:
            return request.method == "POST" and request.url.endswith(f"{conversation}/read")

        async with b.page.expect_request(marks_read) as asked:
            await b.page.goto(conversation)
        answered = await (await asked.value).response()
        assert answered is not None and answered.status == 200  # its body: a keepalive fetch's, unread here
        await expect(b.page.locator("form.mark-read-form")).to_be_hidden()  # for pages without JavaScript

        # Told by the server: the sender sees "已读" live, and the reader's count goes (unread.changed).
        await expect(mine.locator(".read-receipt")).to_have_text("已读", timeout=LIVE)
        await expect(b.page.locator("html[data-live=on]")).to_have_count(1)
        await expect(b.page.locator("#unread-count")).to_be_hidden(timeout=LIVE)
        async with db.read_only() as session:
            mark = (
                await session.execute(
                    select(ConversationMember.last_read_message_id).where(col(ConversationMember.user_id) == reader.id)
                )
            ).scalar_one()
        assert mark == message_id
        for phone in (a, b):
            assert phone.problems == []
    finally:
        await a.close()
        await b.close()
