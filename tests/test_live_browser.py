"""Live updates in a real browser: static/js/live.js with the vendored socket.io-client, on 360 px phones."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from forum.actions.events import prune_events
from forum.db import Database
from forum.models import Role
from forum.timeutil import utcnow
from tests.browsers import ARTIFACTS, PHONE
from tests.factories import PASSWORD, make_community, make_member, make_reply, make_thread, make_user
from tests.servers import Server, run_server

pytestmark = [pytest.mark.browser, pytest.mark.server]


LIVE = 1000  # ms: how soon another reader must see what was posted


class Phone:
    """One person's phone: a browser context signed in as them, that records script errors and CSP reports."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.context = context
        self.page = page
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"pageerror: {error}"))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(message.text)

    @classmethod
    async def signed_in(cls, browser: Browser, server: Server, username: str, timezone_id: str | None = None) -> Phone:
        context = await browser.new_context(
            viewport=PHONE, base_url=server.url, locale="zh-CN", is_mobile=True, has_touch=True, timezone_id=timezone_id
        )
        phone = cls(context, await context.new_page())
        await phone.page.goto("/login")
        await phone.page.fill("#f-username", username)
        await phone.page.fill("#f-password", PASSWORD)
        await phone.page.locator("main button[type=submit]").click()
        await phone.page.wait_for_url(f"{server.url}/")
        return phone

    async def close(self) -> None:
        await self.context.close()


async def _mark_loaded(page: Page) -> None:
    """A marker that a reload or navigation would wipe: the update must arrive in this same document."""
    await page.evaluate("window.__sameDocument = true")


async def _still_same_document(page: Page) -> None:
    assert await page.evaluate("window.__sameDocument === true"), "the page was reloaded"


async def test_a_reply_appears_for_another_reader_without_reloading(
    browser: Browser, server: Server, db: Database
) -> None:
    community = await make_community(db)
    writer = await make_user(db, username="live_writer", display_name="王阿姨")
    reader = await make_user(db, username="live_reader", display_name="李叔叔")
    await make_member(db, user=writer, community=community, is_party_member=True)
    await make_member(db, user=reader, community=community)
    thread = await make_thread(db, author=reader, community=community, title="电梯又停了")

    a = await Phone.signed_in(browser, server, "live_writer")
    b = await Phone.signed_in(browser, server, "live_reader")
    try:
        await b.page.goto(f"/t/{thread.id}")
        await expect(b.page.locator("#post-1")).to_be_visible()
        await _mark_loaded(b.page)

        await a.page.goto(f"/t/{thread.id}")
        await a.page.fill("#f-body", "物业说下午三点前修好，大家先走楼梯。")
        await a.page.locator("form[action$='/replies'] button[type=submit]").click()
        await a.page.wait_for_url(f"**/t/{thread.id}**")
        await expect(a.page.locator("#post-2")).to_be_visible()

        post = b.page.locator("#post-2")
        await expect(post).to_be_visible(timeout=LIVE)
        await _still_same_document(b.page)
        await expect(post.locator(".post-header .person a")).to_have_text("王阿姨")
        post_id = await a.page.locator("#post-2").get_attribute("data-post-id")
        assert post_id
        await expect(post).to_have_attribute("data-post-id", post_id)
        assert await post.locator(".post-header .person a").get_attribute("href") == "/u/live_writer"
        # The party badge, from base.html's template, translated like the rest of the page.
        assert await post.locator(".badge-party").get_attribute("aria-label") == "党员"
        await expect(post.locator(".post-body")).to_contain_text("物业说下午三点前修好")
        await expect(post.locator(".post-header")).to_contain_text("#1")
        await expect(b.page.locator("#live-announcer")).to_have_text("王阿姨: 物业说下午三点前修好，大家先走楼梯。")
        # Exactly once, in order, and nothing went wrong in either page (CSP included).
        assert await b.page.locator("#posts > article.post").evaluate_all("ps => ps.map(p => p.id)") == [
            "post-1",
            "post-2",
        ]
        assert await b.page.locator(".new-replies-bar:not([hidden])").count() == 0
        assert b.problems == [] and a.problems == []
    finally:
        await a.close()
        await b.close()


async def test_a_reader_scrolled_up_gets_a_new_replies_bar(
    browser: Browser, server: Server, db: Database, request: pytest.FixtureRequest
) -> None:
    community = await make_community(db)
    writer = await make_user(db, username="bar_writer", display_name="赵师傅")
    reader = await make_user(db, username="bar_reader")
    for user in (writer, reader):
        await make_member(db, user=user, community=community)
    thread = await make_thread(db, author=reader, community=community, body="长帖。\n\n" + "很长的一段话。" * 80)
    for _ in range(4):
        await make_reply(db, author=reader, thread=thread, body="回复。\n\n" + "又是很长的一段话。" * 60)

    a = await Phone.signed_in(browser, server, "bar_writer")
    b = await Phone.signed_in(browser, server, "bar_reader")
    try:
        await b.page.goto(f"/t/{thread.id}")
        await expect(b.page.locator("#post-5")).to_be_attached()
        await _mark_loaded(b.page)
        top = await b.page.evaluate("window.scrollY")

        await a.page.goto(f"/t/{thread.id}")
        await a.page.fill("#f-body", "修好了")
        await a.page.locator("form[action$='/replies'] button[type=submit]").click()
        await a.page.wait_for_url(f"**/t/{thread.id}**")

        bar = b.page.locator(".new-replies-bar button")
        await expect(bar).to_be_visible(timeout=LIVE)
        await expect(bar).to_have_text("有 1 条新回复")
        assert await b.page.evaluate("window.scrollY") == top, "the reader was scrolled away from what they read"
        box = await bar.bounding_box()
        assert box is not None and box["height"] >= 44 and box["y"] + box["height"] <= PHONE["height"]
        ARTIFACTS.mkdir(exist_ok=True)
        await b.page.screenshot(path=str(ARTIFACTS / f"live-new-replies-{request.node.callspec.id}.png"))
        await bar.click()
        await expect(b.page.locator(".new-replies-bar")).to_be_hidden()
        await expect(b.page.locator("#post-6")).to_be_in_viewport()
        await _still_same_document(b.page)
        assert b.problems == []
    finally:
        await a.close()
        await b.close()


async def test_a_new_thread_appears_on_an_open_board(browser: Browser, server: Server, db: Database) -> None:
    community = await make_community(db)
    starter = await make_user(db, username="board_starter", display_name="陈老师")
    reader = await make_user(db, username="board_reader")
    for user in (starter, reader):
        await make_member(db, user=user, community=community)
    board_path = f"/c/{community.slug}/b/talk"

    a = await Phone.signed_in(browser, server, "board_starter")
    b = await Phone.signed_in(browser, server, "board_reader")
    try:
        await b.page.goto(board_path)
        await expect(b.page.locator("#threads li.empty")).to_be_visible()
        await _mark_loaded(b.page)

        await a.page.goto(board_path)
        await a.page.fill("#f-title", "周六上午义诊")
        await a.page.fill("#f-body", "社区卫生站的医生来量血压。")
        await a.page.locator("form[action$='/threads'] button[type=submit]").click()
        await a.page.wait_for_url("**/t/*")
        thread_url = a.page.url.removeprefix(server.url)

        row = b.page.locator("#threads > li.thread-row").first
        await expect(row).to_be_visible(timeout=LIVE)
        await _still_same_document(b.page)
        await expect(row.locator("h2 a")).to_have_text("周六上午义诊")
        assert await row.locator("h2 a").get_attribute("href") == thread_url
        await expect(row.locator(".meta .person")).to_have_text("陈老师")
        await expect(b.page.locator("#threads li.empty")).to_have_count(0)
        await expect(b.page.locator("#threads > li")).to_have_count(1)
        assert b.problems == [] and a.problems == []
    finally:
        await a.close()
        await b.close()


async def test_after_the_connection_drops_missed_replies_arrive_once(
    browser: Browser, server: Server, db: Database, request: pytest.FixtureRequest
) -> None:
    community = await make_community(db)
    writer = await make_user(db, username="drop_writer", display_name="孙阿姨")
    reader = await make_user(db, username="drop_reader")
    for user in (writer, reader):
        await make_member(db, user=user, community=community)
    thread = await make_thread(db, author=reader, community=community)

    b = await Phone.signed_in(browser, server, "drop_reader")
    try:
        await b.page.goto(f"/t/{thread.id}")
        await _mark_loaded(b.page)
        await expect(b.page.locator("html[data-live=on]")).to_be_attached()
        await b.context.set_offline(True)
        await expect(b.page.locator("html[data-live=off]")).to_be_attached()
        # Said only after 3 s, so that a brief drop goes unremarked.
        status = b.page.locator(".live-status")
        await expect(status).to_have_count(0)
        await expect(status).to_be_visible(timeout=5000)
        await expect(status).to_have_text("连接已断开，正在重新连接…")
        ARTIFACTS.mkdir(exist_ok=True)
        await b.page.screenshot(path=str(ARTIFACTS / f"live-reconnecting-{request.node.callspec.id}.png"))
        await make_reply(db, author=writer, thread=thread, body="第一条")
        await make_reply(db, author=writer, thread=thread, body="第二条")
        await b.context.set_offline(False)
        await expect(b.page.locator("#post-3")).to_be_visible(timeout=10000)
        await expect(status).to_have_count(0)
        await _still_same_document(b.page)
        assert await b.page.locator("#posts > article.post").evaluate_all("ps => ps.map(p => p.id)") == [
            "post-1",
            "post-2",
            "post-3",
        ]
    finally:
        await b.close()


async def test_a_reader_away_too_long_is_asked_to_reload_and_keeps_what_they_typed(
    browser: Browser, server: Server, db: Database
) -> None:
    community = await make_community(db)
    writer = await make_user(db, username="away_writer")
    reader = await make_user(db, username="away_reader")
    for user in (writer, reader):
        await make_member(db, user=user, community=community)
    thread = await make_thread(db, author=reader, community=community)

    b = await Phone.signed_in(browser, server, "away_reader")
    try:
        await b.page.goto(f"/t/{thread.id}")
        await _mark_loaded(b.page)
        await expect(b.page.locator("html[data-live=on]")).to_be_attached()
        await b.page.fill("#f-body", "我正在写")
        await b.context.set_offline(True)
        await expect(b.page.locator("html[data-live=off]")).to_be_attached()
        await make_reply(db, author=writer, thread=thread, body="错过的回复")
        async with db.unit_of_work() as session:
            # The thread, the reply and the bell count of the thread's author (the reader): all pruned.
            assert await prune_events(session, before=utcnow() + timedelta(seconds=1)) == 3
        await b.context.set_offline(False)

        notice = b.page.locator(".live-notice")
        await expect(notice).to_be_visible(timeout=10000)
        await expect(notice.locator("a")).to_have_attribute("href", f"{server.url}/t/{thread.id}")
        await _still_same_document(b.page)
        await expect(b.page.locator("#f-body")).to_have_value("我正在写")
        await expect(b.page.locator("#post-2")).to_have_count(0)
    finally:
        await b.close()


async def test_likes_edits_deletions_and_typing_show_live_in_another_readers_page(
    browser: Browser, server: Server, db: Database
) -> None:
    community = await make_community(db)
    author = await make_user(db, username="live_author", display_name="赵老师")
    watcher = await make_user(db, username="live_watcher", display_name="钱阿姨")
    for user in (author, watcher):
        await make_member(db, user=user, community=community)
    thread = await make_thread(db, author=author, community=community, title="周六义诊", body="上午九点在活动室")

    a = await Phone.signed_in(browser, server, "live_author")
    b = await Phone.signed_in(browser, server, "live_watcher")
    try:
        await b.page.goto(f"/t/{thread.id}")
        await expect(b.page.locator("html[data-live=on]")).to_have_count(1)
        await _mark_loaded(b.page)
        await a.page.goto(f"/t/{thread.id}")
        await expect(a.page.locator("html[data-live=on]")).to_have_count(1)

        # Typing in the reply box tells the other reader.
        await a.page.locator("#f-body").press_sequentially("我")
        await expect(b.page.locator("#typing")).to_have_text("赵老师 正在回复…", timeout=LIVE)

        # A like from A updates B's count.
        await a.page.locator("#post-1 button.like").click()
        await expect(b.page.locator("#post-1 .like-number")).to_have_text("1", timeout=LIVE)

        # An edit replaces the text and marks it; a deletion removes it.
        post_id = await a.page.locator("#post-1").get_attribute("data-post-id")
        await a.page.goto(f"/posts/{post_id}/edit")
        await a.page.fill("#f-body", "改到**下午两点**")
        await a.page.locator("form[action$='/edit'] button[type=submit]").click()
        await expect(b.page.locator("#post-1 .post-body strong")).to_have_text("下午两点", timeout=LIVE)
        await expect(b.page.locator("#post-1 .edited")).to_have_text("已编辑")
        await a.page.goto(f"/posts/{post_id}/edit")
        await a.page.check("#f-confirm-delete")
        await a.page.locator("form[action$='/delete'] button[type=submit]").click()
        await expect(b.page.locator("#post-1 .post-body")).to_have_text("这条帖子已被作者删除。", timeout=LIVE)
        await expect(b.page.locator("#post-1 .post-footer")).to_have_count(0)
        await _still_same_document(b.page)
        assert b.problems == [] and a.problems == []
    finally:
        await a.close()
        await b.close()


async def test_readers_see_how_many_neighbours_are_reading_and_a_notice_reaches_any_open_page(
    browser: Browser, server: Server, db: Database
) -> None:
    community = await make_community(db)
    secretary = await make_user(db, username="live_secretary", display_name="李书记")
    neighbour = await make_user(db, username="live_neighbour", display_name="孙大爷")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    await make_member(db, user=neighbour, community=community)
    thread = await make_thread(db, author=neighbour, community=community, title="小区停车")

    a = await Phone.signed_in(browser, server, "live_secretary")
    b = await Phone.signed_in(browser, server, "live_neighbour")
    try:
        await b.page.goto(f"/t/{thread.id}")
        await expect(b.page.locator("html[data-live=on]")).to_have_count(1)
        await expect(b.page.locator("#readers")).to_be_hidden()  # alone: nothing to say
        await a.page.goto(f"/t/{thread.id}")
        await expect(b.page.locator("#readers")).to_have_text("2 位邻居正在看这个帖子", timeout=3 * LIVE)
        await a.page.goto("/")  # the secretary leaves the thread
        await expect(b.page.locator("#readers")).to_be_hidden(timeout=3 * LIVE)

        # B moves on to the home page, which follows no room of its own; a notice still reaches it.
        await b.page.goto("/")
        await expect(b.page.locator("html[data-live=on]")).to_have_count(1)
        await _mark_loaded(b.page)
        await a.page.goto(f"/c/{community.slug}/b/notices")
        await a.page.fill("#f-title", "周日上午消防演练")
        await a.page.fill("#f-body", "请大家九点在三号楼前集合。")
        await a.page.locator("form[action$='/threads'] button[type=submit]").click()
        notice = b.page.locator(".notice-published")
        await expect(notice).to_contain_text("李书记 发布了新公告：", timeout=LIVE)
        await expect(notice.locator("a")).to_have_text("周日上午消防演练")
        await _still_same_document(b.page)
        await notice.locator("a").click()
        await expect(b.page.locator("h1")).to_have_text("周日上午消防演练")
        assert b.problems == [] and a.problems == []
    finally:
        await a.close()
        await b.close()


async def test_quote_fills_the_reply_box_in_place_and_at_suggests_neighbours_to_mention(
    browser: Browser, server: Server, db: Database
) -> None:
    community = await make_community(db)
    writer = await make_user(db, username="compose_writer", display_name="周老师")
    neighbour = await make_user(db, username="wang_fang_b", display_name="王芳")
    for user in (writer, neighbour):
        await make_member(db, user=user, community=community)
    thread = await make_thread(db, author=neighbour, community=community, title="团购大米", body="每袋十斤，周五到货")

    a = await Phone.signed_in(browser, server, "compose_writer")
    try:
        await a.page.goto(f"/t/{thread.id}")
        await _mark_loaded(a.page)
        await a.page.locator("#post-1 a.quote").click()
        box = a.page.locator("#f-body")
        await expect(box).to_have_value(f"> @wang_fang_b [团购大米](/t/{thread.id}/p/1):\n> 每袋十斤，周五到货\n\n")
        await _still_same_document(a.page)

        await box.press("End")
        await box.press_sequentially("我要两袋，@王")
        options = a.page.locator("#f-body-mentions [role=option]")
        await expect(options).to_have_count(1)
        await expect(options.first).to_contain_text("王芳")
        await expect(box).to_have_attribute("aria-expanded", "true")
        await box.press("Enter")
        await expect(box).to_have_value(
            f"> @wang_fang_b [团购大米](/t/{thread.id}/p/1):\n> 每袋十斤，周五到货\n\n我要两袋，@wang_fang_b "
        )
        await expect(a.page.locator("#f-body-mentions")).to_be_hidden()
        await a.page.locator("form.reply-form button[type=submit]").click()
        body = a.page.locator("#post-2 .post-body")
        await expect(body.locator("blockquote a.mention")).to_have_text("@wang_fang_b")  # the quote's attribution
        mention = body.locator(":scope > p a.mention")  # and the mention typed after it
        await expect(mention).to_have_text("@wang_fang_b")
        await expect(mention).to_have_attribute("href", "/u/wang_fang_b")
        assert a.problems == []
    finally:
        await a.close()


async def test_a_removed_reader_is_told_and_a_live_reply_shows_the_sites_clock_on_a_phone_abroad(
    browser: Browser, server: Server, db: Database
) -> None:
    community = await make_community(db)
    secretary = await make_user(db, username="clock_secretary", display_name="刘书记")
    traveller = await make_user(db, username="clock_traveller", display_name="出差的小陈")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    membership = await make_member(db, user=traveller, community=community)
    thread = await make_thread(db, author=secretary, community=community, title="楼道灯坏了")

    a = await Phone.signed_in(browser, server, "clock_secretary")
    b = await Phone.signed_in(browser, server, "clock_traveller", timezone_id="America/New_York")
    try:
        await b.page.goto(f"/t/{thread.id}")
        await expect(b.page.locator("html[data-live=on]")).to_have_count(1)

        await a.page.goto(f"/t/{thread.id}")
        await a.page.fill("#f-body", "明天上午修")
        await a.page.locator("form.reply-form button[type=submit]").click()
        live_time = b.page.locator("#post-2 time")
        await expect(live_time).to_be_visible(timeout=LIVE)
        shanghai = datetime.now(ZoneInfo("Asia/Shanghai"))
        shown = await live_time.text_content() or ""
        # The site's clock (Asia/Shanghai), not the phone's (New York, 13 hours behind).
        assert f"{shanghai.hour:02d}:" in shown or f"{(shanghai.hour - 1) % 24:02d}:" in shown, shown

        await b.page.locator("#f-body").fill("我回来再看")
        await a.page.goto(f"/c/{community.slug}/members")
        await a.page.locator(f"#member-{membership.id} form[action$='/remove'] button").click()
        await expect(b.page.locator(".live-notice.revoked")).to_contain_text("您已不能在这里阅读此内容", timeout=LIVE)
        await expect(b.page.locator("form.reply-form button[type=submit]")).to_be_disabled()
        await expect(b.page.locator("#f-body")).to_have_value("我回来再看")  # what they typed stays
        assert a.problems == [] and b.problems == []
    finally:
        await a.close()
        await b.close()


async def test_ones_own_reply_arriving_in_another_tab_can_be_edited_there(
    browser: Browser, server: Server, db: Database
) -> None:
    community = await make_community(db)
    writer = await make_user(db, username="two_tabs", display_name="两个标签页")
    await make_member(db, user=writer, community=community)
    thread = await make_thread(db, author=writer, community=community, title="周末集市")
    phone = await Phone.signed_in(browser, server, "two_tabs")
    try:
        other_tab = await phone.context.new_page()
        await other_tab.goto(f"/t/{thread.id}")
        await expect(other_tab.locator("html[data-live=on]")).to_have_count(1)
        await phone.page.goto(f"/t/{thread.id}")
        await phone.page.fill("#f-body", "我带两箱苹果")
        await phone.page.locator("form.reply-form button[type=submit]").click()
        edit = other_tab.locator("#post-2 .post-footer a[href$='/edit']")
        await expect(edit).to_have_text("编辑", timeout=LIVE)
        assert phone.problems == []
    finally:
        await phone.close()


async def test_a_tab_refused_for_too_many_connections_goes_live_once_another_closes(
    browser: Browser, db: Database, db_url: str, tmp_path: Path
) -> None:
    """A refusal that passes (this account's connections at their limit) is tried again a little later: the
    socket.io client gives up after any refusal, so the page itself reconnects, and goes live once a slot is
    free. (A tab signed out is refused for good and stays as rendered.)"""
    community = await make_community(db)
    user = await make_user(db, username="two_tabs")
    await make_member(db, user=user, community=community)
    with run_server(db_url=db_url, var_dir=tmp_path, settings={"SOCKETS_PER_ACCOUNT": "1"}) as server:
        phone = await Phone.signed_in(browser, server, "two_tabs")
        try:
            await phone.page.goto(f"/c/{community.slug}")
            await expect(phone.page.locator("html[data-live=on]")).to_have_count(1)
            second = await phone.context.new_page()
            await second.goto(f"/c/{community.slug}")
            await phone.page.close()  # the first tab's connection goes, and its slot with it
            await expect(second.locator("html[data-live=on]")).to_have_count(1, timeout=30_000)
        finally:
            await phone.close()
