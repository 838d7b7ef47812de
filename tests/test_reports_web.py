"""Problem reports (我身边的事) over the pages: a resident reports with a photo, neighbours see the list and the
report, the secretaries answer from their queue; bad input and refused moves get a clear message and the
right status; a private report and a hidden name stay from neighbours. Both databases."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path
from urllib.parse import quote

from PIL import Image
from quart import Quart
from sqlalchemy import func, select
from sqlmodel import col

from forum.db import Database
from forum.models import (
    GuideEntry,
    Report,
    ReportCategory,
    ReportEntry,
    ReportImage,
    ReportPlace,
    ReportStatus,
    Role,
    User,
)
from forum.queries.reports import categories_of
from tests.factories import make_community, make_report
from tests.helpers import member_client, post_form, post_multipart, text
from tests.test_images import GPS_IFD, photo_with_gps, png, stored_files

EN = {"Accept-Language": "en"}


async def _counts(db: Database) -> tuple[int, int, int]:
    async with db.read_only() as session:
        return tuple(  # type: ignore[return-value]
            [
                int((await session.execute(select(func.count()).select_from(model))).scalar_one())
                for model in (Report, ReportImage, ReportEntry)
            ]
        )


async def _user(db: Database, username: str) -> User:
    async with db.read_only() as session:
        return (await session.execute(select(User).where(col(User.username) == username))).scalar_one()


async def _categories(db: Database, community_id: int) -> list[ReportCategory]:
    async with db.read_only() as session:
        return await categories_of(session, community_id)


async def _place(db: Database, community_id: int, name: str) -> ReportPlace:
    async with db.unit_of_work() as session:
        place = ReportPlace(community_id=community_id, name=name)
        session.add(place)
        await session.flush()
        return place


def _report_id(location: str) -> int:
    match = re.fullmatch(r"/reports/(\d+)", location)
    assert match, location
    return int(match.group(1))


async def test_a_resident_reports_a_problem_with_a_photo_without_its_exif_and_the_list_and_the_page_show_it(
    app: Quart, db: Database, tmp_path: Path
) -> None:
    community = await make_community(db)
    resident = await member_client(app, db, community, "rw_resident", display_name="王阿姨")
    neighbour = await member_client(app, db, community, "rw_neighbour")
    category = (await _categories(db, community.id or 0))[0]
    place = await _place(db, community.id or 0, "3号楼")
    form_path = f"/c/{community.slug}/reports/new"

    form_page = await resident.get(form_path, headers=EN)
    assert form_page.status_code == 200
    page = await text(form_page)
    assert f'value="{category.id}"' in page and "3号楼" in page and 'name="anonymous"' in page

    sent = await post_multipart(
        resident,
        form_path,
        {
            "category_id": str(category.id),
            "place_id": str(place.id),
            "location": "2单元门口",
            "description": "楼道灯坏了三天，晚上很黑",
        },
        [("images", "IMG_1.JPG", photo_with_gps())],
        token_from=form_path,
    )
    assert sent.status_code == 302, await text(sent)
    report_id = _report_id(sent.headers["Location"])
    async with db.read_only() as session:
        report = await session.get(Report, report_id)
        image = (await session.execute(select(ReportImage))).scalar_one()
    assert report is not None and report.status == ReportStatus.SUBMITTED
    assert report.title == "楼道灯坏了三天，晚上很黑" and report.location == "2单元门口"
    assert not any(b"PhoneMaker" in path.read_bytes() for path in stored_files(tmp_path))

    photo = await neighbour.get(f"/reports/images/{image.id}/full")
    assert photo.status_code == 200
    assert not Image.open(io.BytesIO(await photo.get_data())).getexif().get_ifd(GPS_IFD)

    listing = await text(await neighbour.get(f"/c/{community.slug}/reports", headers=EN))
    assert f'href="/reports/{report_id}"' in listing and "3号楼 2单元门口" in listing
    assert f'src="/reports/images/{image.id}/thumb"' in listing
    assert f'data-room="reports:{community.id}"' in listing
    assert "h 59 min left" in listing or "h 58 min left" in listing

    shown = await text(await neighbour.get(f"/reports/{report_id}", headers=EN))
    assert "楼道灯坏了三天" in shown and "王阿姨" in shown and category.name in shown
    assert f'data-room="report:{report_id}"' in shown and 'data-clock="countdown"' in shown
    assert "Answer due at" in shown and "reported it." in shown
    assert f'action="/reports/{report_id}/respond"' not in shown  # a neighbour does not answer

    done = await text(await neighbour.get(f"/c/{community.slug}/reports?show=done", headers=EN))
    assert f'href="/reports/{report_id}"' not in done


async def test_bad_input_on_the_form_is_refused_with_each_message_and_nothing_is_stored(
    app: Quart, db: Database, tmp_path: Path
) -> None:
    community = await make_community(db)
    other = await make_community(db)
    resident = await member_client(app, db, community, "rw_bad")
    categories = await _categories(db, community.id or 0)
    good, archived = categories[0], categories[1]
    async with db.unit_of_work() as session:
        row = await session.get(ReportCategory, archived.id)
        assert row is not None
        row.is_archived = True
    foreign_category = (await _categories(db, other.id or 0))[0]
    place = await _place(db, community.id or 0, "1号楼")
    foreign_place = await _place(db, other.id or 0, "外面的楼")
    form_path = f"/c/{community.slug}/reports/new"
    fine = {"category_id": str(good.id), "place_id": str(place.id), "description": "垃圾房满了没人清"}
    before = await _counts(db)

    cases = [
        ({"category_id": "999999"}, "category_id", "Choose one of this community's categories."),
        ({"category_id": str(archived.id)}, "category_id", "Choose one of this community's categories."),
        ({"category_id": str(foreign_category.id)}, "category_id", "Choose one of this community's categories."),
        ({"place_id": str(foreign_place.id)}, "place_id", "Choose one of this community's buildings or places."),
        ({"description": "   "}, "description", ""),
        ({"plan_x": "1001", "plan_y": "5"}, "plan_x", "A point on the site plan is a whole number from 0 to 1000."),
    ]
    for change, field, message in cases:
        response = await post_multipart(resident, form_path, {**fine, **change}, [], token_from=form_path, headers=EN)
        page = html.unescape(await text(response))
        assert response.status_code == 422, (change, page)
        assert f'id="e-{field}"' in page or f"#f-{field}" in page, (change, page)
        assert message in page, (change, message)
        assert "垃圾房满了没人清" in page or field == "description"  # what was typed is kept
    # Pictures the upload refuses (too many, not a picture) are 400, as for posts and letters: the upload
    # itself is unusable, whatever the rest of the form says.
    ten = [("images", f"p{n}.png", png()) for n in range(10)]
    response = await post_multipart(resident, form_path, fine, ten, token_from=form_path, headers=EN)
    assert response.status_code == 400 and "At most 9 photos per report; you chose 10." in await text(response)
    broken = [("images", "broken.jpg", b"this is not a picture")]
    response = await post_multipart(resident, form_path, fine, broken, token_from=form_path, headers=EN)
    assert response.status_code == 400 and "broken.jpg" in await text(response)
    assert await _counts(db) == before
    assert stored_files(tmp_path) == []


async def test_a_resident_cannot_answer_and_a_closed_report_cannot_be_resolved_again(app: Quart, db: Database) -> None:
    community = await make_community(db)
    resident = await member_client(app, db, community, "rw_reporter")
    secretary = await member_client(app, db, community, "rw_secretary", role=Role.SECRETARY)
    report = await make_report(db, reporter=await _user(db, "rw_reporter"), community=community)
    path = f"/reports/{report.id}"

    refused_en = await resident.post(
        f"{path}/respond",
        form={"body": "我自己回答", "csrf_token": await _token(resident, path)},
        headers=EN,
    )
    assert refused_en.status_code == 403
    assert "Only the community's secretaries answer reports formally." in html.unescape(await text(refused_en))

    page = await text(await secretary.get(path, headers=EN))
    assert f'action="{path}/respond"' in page and 'value="resolved"' in page
    resolved = await post_form(
        secretary, f"{path}/respond", {"body": "已经换了新灯泡", "status": "resolved"}, token_from=path
    )
    assert resolved.status_code == 302  # type: ignore[attr-defined]

    empty = await resident.post(
        f"{path}/confirm", form={"rating": "9", "csrf_token": await _token(resident, path)}, headers=EN
    )
    assert empty.status_code == 422 and "Choose from 1 to 5 stars." in await text(empty)
    confirmed = await post_form(resident, f"{path}/confirm", {"rating": "5", "comment": "很快"}, token_from=path)
    assert confirmed.status_code == 302  # type: ignore[attr-defined]

    again = await secretary.post(
        f"{path}/respond",
        form={"body": "再处理一次", "status": "resolved", "csrf_token": await _token(secretary, path)},
        headers=EN,
    )
    page = await text(again)
    assert again.status_code == 409
    assert "A report that is closed cannot become resolved." in page
    shown = await text(await resident.get(path, headers=EN))
    assert "confirmed it is solved: closed." in shown and "Rated 5 of 5 by its reporter." in shown
    assert f'action="/reports/{report.id}/rate"' not in shown  # rated already

    twice = await resident.post(
        f"{path}/rate", form={"rating": "4", "csrf_token": await _token(resident, path)}, headers=EN
    )
    assert twice.status_code == 409 and "You rated this report already." in await text(twice)


async def _token(client: object, path: str) -> str:
    from tests.helpers import csrf_token

    return await csrf_token(client, path)  # type: ignore[arg-type]


async def test_a_private_report_its_photos_and_timeline_are_only_for_its_reporter_and_the_secretaries(
    app: Quart, db: Database
) -> None:
    community = await make_community(db)
    reporter = await member_client(app, db, community, "rw_private")
    neighbour = await member_client(app, db, community, "rw_nosy")
    secretary = await member_client(app, db, community, "rw_sec2", role=Role.SECRETARY)
    category = (await _categories(db, community.id or 0))[0]
    form_path = f"/c/{community.slug}/reports/new"
    sent = await post_multipart(
        reporter,
        form_path,
        {"category_id": str(category.id), "location": "楼下", "description": "邻居装修太吵", "private": "1"},
        [("images", "noise.png", png())],
        token_from=form_path,
    )
    assert sent.status_code == 302, await text(sent)
    report_id = _report_id(sent.headers["Location"])
    async with db.read_only() as session:
        image = (await session.execute(select(ReportImage))).scalar_one()
    paths = [f"/reports/{report_id}", f"/reports/{report_id}/timeline", f"/reports/images/{image.id}/thumb"]

    for path in paths:
        assert (await neighbour.get(path)).status_code == 404, path
        assert (await reporter.get(path)).status_code == 200, path
        assert (await secretary.get(path)).status_code == 200, path
    listing = await text(await neighbour.get(f"/c/{community.slug}/reports?show=all"))
    assert "邻居装修太吵" not in listing
    assert "邻居装修太吵" in await text(await reporter.get(f"/c/{community.slug}/reports"))
    queue = await text(await secretary.get(f"/c/{community.slug}/reports/queue"))
    assert "邻居装修太吵" in queue and f'data-room="report_queue:{community.id}"' in queue
    me_too = await neighbour.post(f"/reports/{report_id}/me-too", form={"csrf_token": await _token(neighbour, "/")})
    assert me_too.status_code == 404


async def test_an_anonymous_reporters_name_never_reaches_a_neighbour_but_the_secretary_sees_it(
    app: Quart, db: Database
) -> None:
    community = await make_community(db)
    reporter = await member_client(app, db, community, "rw_anon", display_name="隐名张三")
    neighbour = await member_client(app, db, community, "rw_reader2")
    secretary = await member_client(app, db, community, "rw_sec3", role=Role.SECRETARY)
    report = await make_report(db, reporter=await _user(db, "rw_anon"), community=community, anonymous=True)
    path = f"/reports/{report.id}"
    said = await post_form(reporter, f"{path}/comments", {"body": "今天还是没修"}, token_from=path)
    assert said.status_code == 302  # type: ignore[attr-defined]
    answered = await post_form(secretary, f"{path}/respond", {"body": "明天上午修"}, token_from=path)
    assert answered.status_code == 302  # type: ignore[attr-defined]

    for what in (
        path,
        f"{path}/timeline",
        f"/c/{community.slug}/reports",
        f"/c/{community.slug}/reports/similar?category_id={report.category_id}&place_id={report.place_id}",
    ):
        page = await text(await neighbour.get(what, headers=EN))
        assert "隐名张三" not in page and "rw_anon" not in page, what
    shown = await text(await neighbour.get(path, headers=EN))
    assert "A neighbour" in shown and "今天还是没修" in shown and "明天上午修" in shown
    assert "隐名张三" in await text(await secretary.get(path, headers=EN))
    assert "隐名张三" in await text(await secretary.get(f"/c/{community.slug}/reports/queue", headers=EN))
    assert "隐名张三" in await text(await reporter.get(path, headers=EN))


async def test_the_queue_is_for_the_secretaries_and_the_guide_answers_them_by_category(
    app: Quart, db: Database
) -> None:
    community = await make_community(db)
    resident = await member_client(app, db, community, "rw_res4")
    secretary = await member_client(app, db, community, "rw_sec4", role=Role.SECRETARY)
    category = (await _categories(db, community.id or 0))[0]
    async with db.unit_of_work() as session:
        session.add(
            GuideEntry(
                district_id=community.district_id,
                category=category.name,
                question="楼道灯坏了找谁？",
                answer="物业公司负责，24小时内更换。",
                department="物业公司",
                is_public=True,
            )
        )
        session.add(
            GuideEntry(
                district_id=community.district_id,
                category=category.name,
                question="内部口径",
                answer="先联系物业经理。",
                is_public=False,
            )
        )
    report = await make_report(db, reporter=await _user(db, "rw_res4"), community=community)

    assert (await resident.get(f"/c/{community.slug}/reports/queue")).status_code == 403
    assert (await resident.get(f"/reports/{report.id}/guide?q={quote('灯')}")).status_code == 403
    queue = await text(await secretary.get(f"/c/{community.slug}/reports/queue", headers=EN))
    assert f'id="report-{report.id}"' in queue and 'data-clock="countdown"' in queue

    guide = await text(await secretary.get(f"/reports/{report.id}/guide?q={quote('灯')}"))
    assert "楼道灯坏了找谁？" in guide and 'data-answer="物业公司负责，24小时内更换。"' in guide
    assert "内部口径" not in guide  # does not match the word
    everything = await text(await secretary.get(f"/reports/{report.id}/guide?q="))
    assert "内部口径" in everything
    without_js = await text(await secretary.get(f"/reports/{report.id}?guide={quote('物业')}"))
    assert "楼道灯坏了找谁？" in without_js

    faq = await text(await resident.get(f"/c/{community.slug}/reports/faq-fragment?category_id={category.id}"))
    assert "楼道灯坏了找谁？" in faq and "内部口径" not in faq
    similar = await text(
        await resident.get(f"/c/{community.slug}/reports/similar?category_id={category.id}&place_id={report.place_id}")
    )
    assert f'href="/reports/{report.id}"' in similar and "me-too-button" not in similar  # their own

    neighbour = await member_client(app, db, community, "rw_res5")
    similar = await text(
        await neighbour.get(f"/c/{community.slug}/reports/similar?category_id={category.id}&place_id={report.place_id}")
    )
    assert f'action="/reports/{report.id}/me-too"' in similar
    me_too = await post_form(neighbour, f"/reports/{report.id}/me-too", {"value": "1"}, token_from="/")
    assert me_too.status_code == 302  # type: ignore[attr-defined]
    async with db.read_only() as session:
        stored = await session.get(Report, report.id)
    assert stored is not None and stored.me_too_count == 1

    answered = await post_form(
        secretary, f"/reports/{report.id}/respond", {"body": "物业公司负责，今天更换。"}, token_from="/"
    )
    assert answered.status_code == 302  # type: ignore[attr-defined]
    fragment = await text(await resident.get(f"/reports/{report.id}/timeline", headers=EN))
    assert "Answered in 1 minute" in fragment or "Answered in 0 minutes" in fragment
    assert "answered formally." in fragment and "物业公司负责，今天更换。" in fragment
