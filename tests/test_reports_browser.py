"""Problem reports in a real browser at 360 px: a resident sends a report with a photo from her phone, the
secretary's open queue shows it live with its countdown, the secretary answers from the response guide with one
tap, and the resident's open report shows the answer and "answered in …" without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from forum.db import Database
from forum.models import GuideEntry, ReportPlace, Role
from forum.queries.reports import categories_of
from tests.factories import make_community, make_member, make_user
from tests.servers import Server
from tests.test_images import png
from tests.test_live_browser import LIVE, Phone

pytestmark = [pytest.mark.browser, pytest.mark.server]

ANSWER = "物业公司负责更换楼道灯，24小时内处理。"


async def test_a_report_reaches_the_open_queue_live_and_the_guided_answer_reaches_the_open_report(
    browser: Browser, server: Server, db: Database
) -> None:
    community = await make_community(db)
    resident = await make_user(db, username="rb_resident", display_name="王阿姨")
    secretary = await make_user(db, username="rb_secretary", display_name="李书记")
    await make_member(db, user=resident, community=community)
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY, is_party_member=True)
    async with db.unit_of_work() as session:
        category = (await categories_of(session, community.id or 0))[0]
        session.add(ReportPlace(community_id=community.id or 0, name="5号楼"))
        session.add(
            GuideEntry(
                district_id=community.district_id,
                category=category.name,
                question="楼道灯坏了找谁？",
                answer=ANSWER,
                department="物业公司",
                is_public=False,
            )
        )

    a = await Phone.signed_in(browser, server, "rb_resident")
    b = await Phone.signed_in(browser, server, "rb_secretary")
    try:
        await b.page.goto(f"/c/{community.slug}/reports/queue")
        await expect(b.page.locator("html[data-live=on]")).to_have_count(1)
        await b.page.evaluate("window.__sameDocument = true")

        await a.page.goto(f"/c/{community.slug}/reports/new")
        choice = a.page.locator(".big-choice").first
        box = await choice.bounding_box()
        assert box is not None and box["height"] >= 44
        await choice.click()
        await a.page.select_option("#f-place_id", label="5号楼")
        await a.page.fill("#f-location", "2单元")
        await a.page.fill("#f-description", "5号楼2单元楼道灯坏了")
        await a.page.set_input_files(
            "#f-images", files=[{"name": "lamp.png", "mimeType": "image/png", "buffer": png((320, 240))}]
        )
        assert await a.page.evaluate("document.documentElement.scrollWidth <= 360")
        await a.page.locator("#report-form button[type=submit]").click()
        await a.page.wait_for_url("**/reports/*")
        await expect(a.page.locator("h1.report-title")).to_have_text("5号楼2单元楼道灯坏了")
        await expect(a.page.locator(".post-gallery img")).to_have_count(1)
        await expect(a.page.locator("html[data-live=on]")).to_have_count(1)
        await a.page.evaluate("window.__sameDocument = true")

        arrived = b.page.locator("#report-queue li.report-row").first
        await expect(arrived.locator(".report-title a")).to_have_text("5号楼2单元楼道灯坏了", timeout=LIVE)
        await expect(arrived.locator(".report-clock[data-clock=countdown]")).to_have_text(
            re.compile(r"\b4[78]\b")  # 48 h minus the seconds since it was sent, rounded either way
        )
        await expect(arrived.locator(".report-reporter")).to_contain_text("王阿姨")
        assert await b.page.evaluate("window.__sameDocument === true"), "the queue was reloaded"
        assert await b.page.evaluate("document.documentElement.scrollWidth <= 360")

        await arrived.locator(".report-title a").click()
        await b.page.wait_for_url("**/reports/*")
        assert await b.page.evaluate("document.documentElement.scrollWidth <= 360")
        await b.page.fill("#f-guide", "灯")
        await b.page.locator(".guide-search button[type=submit]").click()
        insert = b.page.locator(".guide-entry .guide-insert").first
        await expect(insert).to_be_visible()
        tap = await insert.bounding_box()
        assert tap is not None and tap["height"] >= 44
        await insert.click()
        await expect(b.page.locator("#f-body")).to_have_value(ANSWER)
        await b.page.locator("#respond-form button[type=submit]").click()
        await b.page.wait_for_url("**/reports/*")

        await expect(a.page.locator("#report-state .report-clock[data-clock=answered]")).to_be_visible(timeout=LIVE)
        await expect(a.page.locator("#report-timeline .report-entry[data-kind=answer]")).to_contain_text(ANSWER)
        await expect(a.page.locator("#report-timeline .report-entry[data-kind=answer]")).to_contain_text("李书记")
        assert await a.page.evaluate("window.__sameDocument === true"), "the report was reloaded"
        for phone in (a, b):
            assert phone.problems == []
    finally:
        for phone in (a, b):
            await phone.close()
