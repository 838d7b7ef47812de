"""What surrounds problem reports (我身边的事): a community's settings for them (categories, places, the answer
hours, the site plan) and who may change them; the district's response guide and the residents' FAQ; the
accountability figures on the community page and the district admins' page; flagging, hiding, showing and
reviewing reports and their comments through the one flag path; and the notification sentences of every
report kind. Both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import func, select
from sqlmodel import col

from forum.access import standing_in
from forum.actions import notifications, report_clock, reports
from forum.db import Database
from forum.errors import InvalidInput
from forum.models import (
    AuditEntry,
    Community,
    GuideEntry,
    Notification,
    NotificationKind,
    Report,
    ReportCategory,
    ReportComment,
    ReportPlace,
    Role,
    SitePlan,
    User,
    id_of,
)
from forum.queries.report_figures import community_figures
from forum.queries.reports import categories_of, figures
from forum.timeutil import utcnow
from tests.factories import (
    make_community,
    make_district,
    make_district_admin,
    make_member,
    make_report,
    make_user,
)
from tests.helpers import login, member_client, post_form, post_multipart, text
from tests.test_images import png

EN = {"Accept-Language": "en"}


async def _user(db: Database, username: str) -> User:
    async with db.read_only() as session:
        return (await session.execute(select(User).where(col(User.username) == username))).scalar_one()


async def _count(db: Database, table: type, *where: object) -> int:
    async with db.read_only() as session:
        return int((await session.execute(select(func.count()).select_from(table).where(*where))).scalar_one())


async def _english(client: Client, path: str) -> tuple[int, str]:
    response = await client.get(path, headers=EN)
    return response.status_code, await text(response)


async def _post(client: Client, path: str, form: dict[str, str] | None = None, *, token_from: str = "/") -> object:
    """POST a form as a browser does, asking for the answer in English."""
    from tests.helpers import csrf_token

    token = await csrf_token(client, token_from)
    return await client.post(path, form={**(form or {}), "csrf_token": token}, headers=EN)


# --- settings ----------------------------------------------------------------------------------------------------


async def test_a_resident_and_a_secretary_of_another_community_cannot_open_or_change_the_report_settings(
    app: Quart, db: Database
) -> None:
    community = await make_community(db)
    other = await make_community(db)
    resident = await member_client(app, db, community, "rs_resident")
    stranger = await member_client(app, db, other, "rs_other_sec", role=Role.SECRETARY)
    settings = f"/c/{community.slug}/reports/settings"
    for client in (resident, stranger):
        assert (await client.get(settings)).status_code == 403
        added = await post_form(client, f"{settings}/categories", {"name": "偷电动车"})
        assert added.status_code == 403
        hours = await post_form(client, f"{settings}/hours", {"hours": "24"})
        assert hours.status_code == 403
    assert await _count(db, ReportCategory, col(ReportCategory.name) == "偷电动车") == 0
    async with db.read_only() as session:
        assert (await session.get(Community, community.id)).report_answer_hours == 48  # type: ignore[union-attr]


async def test_a_secretary_adds_renames_archives_and_restores_categories_and_places(app: Quart, db: Database) -> None:
    community = await make_community(db)
    secretary = await member_client(app, db, community, "rs_sec", role=Role.SECRETARY)
    settings = f"/c/{community.slug}/reports/settings"
    page = await text(await secretary.get(settings))
    assert "环境卫生" in page and "高空抛物" in page

    added = await post_form(secretary, f"{settings}/categories", {"name": "电梯"}, token_from=settings)
    assert added.status_code == 302
    async with db.read_only() as session:
        lift = (await session.execute(select(ReportCategory).where(col(ReportCategory.name) == "电梯"))).scalar_one()
    renamed = await post_form(
        secretary, f"{settings}/categories/{lift.id}/rename", {"name": "电梯故障"}, token_from=settings
    )
    assert renamed.status_code == 302
    archived = await post_form(
        secretary, f"{settings}/categories/{lift.id}/archive", {"archived": "1"}, token_from=settings
    )
    assert archived.status_code == 302
    async with db.read_only() as session:
        offered = [category.name for category in await categories_of(session, id_of(community))]
    assert "电梯故障" not in offered and "电梯" not in offered and "环境卫生" in offered
    # An archived category is refused to a report as well as left out of the list.
    resident = await make_user(db, username="rs_reporter")
    await make_member(db, user=resident, community=community)
    with pytest.raises(InvalidInput) as refused:
        await make_report(db, reporter=resident, community=community, category_id=lift.id)
    assert set(refused.value.fields) == {"category_id"}
    restored = await post_form(
        secretary, f"{settings}/categories/{lift.id}/archive", {"archived": "0"}, token_from=settings
    )
    assert restored.status_code == 302
    async with db.read_only() as session:
        assert "电梯故障" in [category.name for category in await categories_of(session, id_of(community))]

    for name in ("1号楼", "东门"):
        place = await post_form(secretary, f"{settings}/places", {"name": name}, token_from=settings)
        assert place.status_code == 302
    async with db.read_only() as session:
        gate = (await session.execute(select(ReportPlace).where(col(ReportPlace.name) == "东门"))).scalar_one()
    gone = await post_form(secretary, f"{settings}/places/{gate.id}/archive", {"archived": "1"}, token_from=settings)
    assert gone.status_code == 302
    async with db.read_only() as session:
        assert (await session.get(ReportPlace, gate.id)).is_archived  # type: ignore[union-attr]
    hours = await post_form(secretary, f"{settings}/hours", {"hours": "24"}, token_from=settings)
    assert hours.status_code == 302
    async with db.read_only() as session:
        assert (await session.get(Community, community.id)).report_answer_hours == 24  # type: ignore[union-attr]
        actions = set((await session.execute(select(AuditEntry.action))).scalars())
    assert {"report_category.added", "report_category.renamed", "report_category.archived"} <= actions
    assert {"report_place.added", "report_place.archived", "report.answer_hours"} <= actions
    # A category of another community is not found from this one.
    other = await make_community(db)
    async with db.read_only() as session:
        foreign = (await categories_of(session, id_of(other)))[0]
    assert (await post_form(secretary, f"{settings}/categories/{foreign.id}/rename", {"name": "x"})).status_code == 404


async def test_bad_settings_are_refused_with_a_message_and_nothing_is_stored(app: Quart, db: Database) -> None:
    community = await make_community(db)
    secretary = await member_client(app, db, community, "rb_sec", role=Role.SECRETARY)
    settings = f"/c/{community.slug}/reports/settings"
    before = await _count(db, ReportCategory)

    empty = await _post(secretary, f"{settings}/categories", {"name": "  "}, token_from=settings)
    assert empty.status_code == 422
    taken = await _post(secretary, f"{settings}/categories", {"name": "停车"}, token_from=settings)
    assert taken.status_code == 409
    assert "This community has a category of that name already." in await text(taken)
    too_long = await _post(secretary, f"{settings}/places", {"name": "楼" * 31}, token_from=settings)
    assert too_long.status_code == 422
    for bad in ("0", "169", "abc", "-3", "1.5"):
        hours = await _post(secretary, f"{settings}/hours", {"hours": bad}, token_from=settings)
        assert hours.status_code == 422, bad
        assert "Between 1 and 168 hours." in await text(hours)
    no_picture = await post_multipart(secretary, f"{settings}/site-plan", {}, [], token_from=settings, headers=EN)
    assert no_picture.status_code == 422
    assert "Choose a picture of the site plan." in await text(no_picture)
    broken = await post_multipart(
        secretary, f"{settings}/site-plan", {}, [("images", "plan.png", b"not a picture")], token_from=settings
    )
    assert broken.status_code == 400
    two = await post_multipart(
        secretary,
        f"{settings}/site-plan",
        {},
        [("images", "a.png", png()), ("images", "b.png", png())],
        token_from=settings,
        headers=EN,
    )
    assert two.status_code == 400
    assert "Choose one picture for the site plan; you chose 2." in await text(two)

    assert await _count(db, ReportCategory) == before
    assert await _count(db, ReportPlace) == 0
    assert await _count(db, SitePlan) == 0
    async with db.read_only() as session:
        assert (await session.get(Community, community.id)).report_answer_hours == 48  # type: ignore[union-attr]


async def test_a_secretary_uploads_and_removes_the_site_plan_which_only_the_community_reads(
    app: Quart, db: Database
) -> None:
    community = await make_community(db)
    secretary = await member_client(app, db, community, "rp_sec", role=Role.SECRETARY)
    resident = await member_client(app, db, community, "rp_resident")
    outsider = await member_client(app, db, await make_community(db), "rp_outsider")
    settings = f"/c/{community.slug}/reports/settings"
    plan_path = f"/c/{community.slug}/site-plan"
    assert (await resident.get(plan_path)).status_code == 404  # none yet

    uploaded = await post_multipart(
        secretary, f"{settings}/site-plan", {}, [("images", "plan.png", png((600, 400)))], token_from=settings
    )
    assert uploaded.status_code == 302
    async with db.read_only() as session:
        plan = (await session.execute(select(SitePlan))).scalar_one()
    assert plan.community_id == community.id and plan.width == 600
    shown = await resident.get(plan_path)
    assert shown.status_code == 200 and shown.mimetype == plan.content_type
    assert "no-cache" in shown.headers["Cache-Control"]
    assert len(await shown.get_data()) > 0
    assert (await resident.get(plan_path, headers={"If-None-Match": shown.headers["ETag"]})).status_code == 304
    assert (await resident.get(f"{plan_path}?size=thumb")).status_code == 200
    assert (await outsider.get(plan_path)).status_code == 404
    assert 'src="' + plan_path + '?size=thumb"' in await text(await secretary.get(settings))

    removed = await post_form(secretary, f"{settings}/site-plan/remove", token_from=settings)
    assert removed.status_code == 302
    assert await _count(db, SitePlan) == 0
    assert (await resident.get(plan_path)).status_code == 404


# --- the response guide and the FAQ ------------------------------------------------------------------------------


async def _guide_setup(app: Quart, db: Database) -> tuple[Community, dict[str, Client], str]:
    district = await make_district(db, slug="guide-district")
    community = await make_community(db, district=district)
    admin = await make_user(db, username="gd_admin")
    await make_district_admin(db, user=admin, district_id=district.id or 0)
    other_district = await make_district(db, slug="other-district")
    other_admin = await make_user(db, username="gd_other_admin")
    await make_district_admin(db, user=other_admin, district_id=other_district.id or 0)
    clients = {
        "admin": await _signed_in(app, "gd_admin"),
        "other_admin": await _signed_in(app, "gd_other_admin"),
        "secretary": await member_client(app, db, community, "gd_sec", role=Role.SECRETARY),
        "resident": await member_client(app, db, community, "gd_resident"),
    }
    return community, clients, f"/d/{district.slug}/guide"


async def _signed_in(app: Quart, username: str) -> Client:
    client = app.test_client()
    await login(client, username)
    return client


def _entry(question: str, *, public: bool, category: str = "停车") -> dict[str, str]:
    form = {
        "category": category,
        "question": question,
        "answer": "消防通道禁止停车，物业会先电话联系车主挪车。",
        "department": "物业公司、派出所",
        "rule": "《消防法》第二十八条",
    }
    if public:
        form["public"] = "1"
    return form


async def test_only_the_districts_admins_keep_the_guide_and_its_secretaries_read_all_of_it(
    app: Quart, db: Database
) -> None:
    _community, people, guide_path = await _guide_setup(app, db)
    admin, secretary = people["admin"], people["secretary"]
    for question, public in (("消防通道被占用怎么办？", True), ("车主拒不挪车如何处理？", False)):
        added = await post_form(admin, guide_path, _entry(question, public=public), token_from=guide_path)
        assert added.status_code == 302
    status, page = await _english(secretary, guide_path)
    assert status == 200
    assert "消防通道被占用怎么办？" in page and "车主拒不挪车如何处理？" in page and "For secretaries only" in page
    assert "《消防法》第二十八条" in page and "Edit" not in page  # secretaries read, they do not edit
    assert (await people["resident"].get(guide_path)).status_code == 404
    assert (await people["other_admin"].get(guide_path)).status_code == 404
    async with db.read_only() as session:
        private = (await session.execute(select(GuideEntry).where(col(GuideEntry.is_public).is_(False)))).scalar_one()

    refused = await post_form(secretary, guide_path, _entry("秘书能加吗？", public=True), token_from=guide_path)
    assert refused.status_code == 403
    edit = f"{guide_path}/{private.id}/edit"
    assert (await secretary.get(edit)).status_code == 403
    assert (await post_form(secretary, edit, _entry("改掉", public=True))).status_code == 403
    assert (await post_form(secretary, f"{guide_path}/{private.id}/delete")).status_code == 403
    assert (await post_form(people["other_admin"], edit, _entry("改掉", public=True))).status_code == 404
    assert await _count(db, GuideEntry) == 2

    bad = await _post(admin, guide_path, {"category": "", "question": "?", "answer": ""}, token_from=guide_path)
    assert bad.status_code == 422
    assert await _count(db, GuideEntry) == 2
    assert (await admin.get(edit)).status_code == 200
    saved = await post_form(admin, edit, _entry("车主拒不挪车，可以贴条吗？", public=True), token_from=edit)
    assert saved.status_code == 302
    async with db.read_only() as session:
        changed = await session.get(GuideEntry, private.id)
        assert changed is not None and changed.question == "车主拒不挪车，可以贴条吗？" and changed.is_public
    deleted = await post_form(admin, f"{guide_path}/{private.id}/delete", token_from=guide_path)
    assert deleted.status_code == 302
    assert await _count(db, GuideEntry) == 1


async def test_the_faq_shows_residents_only_the_public_entries_by_category(app: Quart, db: Database) -> None:
    community, people, guide_path = await _guide_setup(app, db)
    admin = people["admin"]
    for form in (
        _entry("消防通道被占用怎么办？", public=True),
        _entry("车主拒不挪车如何处理？", public=False),
        _entry("楼道堆物谁来清理？", public=True, category="环境卫生"),
    ):
        assert (await post_form(admin, guide_path, form, token_from=guide_path)).status_code == 302
    faq = f"/c/{community.slug}/reports/faq"
    status, page = await _english(people["resident"], faq)
    assert status == 200 and "Questions and answers" in page
    assert "消防通道被占用怎么办？" in page and "楼道堆物谁来清理？" in page
    assert "车主拒不挪车如何处理？" not in page
    assert "Responsible: 物业公司、派出所" in page
    only_parking = await text(await people["resident"].get(faq, query_string={"category": "停车"}))
    assert "消防通道被占用怎么办？" in only_parking and "楼道堆物谁来清理？" not in only_parking
    outsider = await member_client(app, db, await make_community(db), "faq_outsider")
    assert (await outsider.get(faq)).status_code == 404


# --- accountability ------------------------------------------------------------------------------------------------


async def _answer(db: Database, report: Report, secretary: User, *, at: object, status: str | None = None) -> None:
    async with db.unit_of_work() as session:
        fresh = await session.get(Report, report.id)
        assert fresh is not None
        community = await session.get(Community, fresh.community_id)
        assert community is not None
        await reports.respond(
            session,
            actor=secretary,
            report=fresh,
            standing=await standing_in(session, secretary, community),
            body="收到，马上安排物业处理。",
            status=status,
            now=at,  # type: ignore[arg-type]  # a datetime
        )


async def _confirm(db: Database, report: Report, reporter: User, *, rating: int, at: object) -> None:
    async with db.unit_of_work() as session:
        fresh = await session.get(Report, report.id)
        assert fresh is not None
        community = await session.get(Community, fresh.community_id)
        assert community is not None
        await reports.confirm(
            session,
            actor=reporter,
            report=fresh,
            standing=await standing_in(session, reporter, community),
            rating=rating,
            now=at,  # type: ignore[arg-type]  # a datetime
        )


async def test_the_figures_on_the_community_page_are_right_on_known_reports(app: Quart, db: Database) -> None:
    community = await make_community(db)
    client = await member_client(app, db, community, "fg_sec", role=Role.SECRETARY)
    secretary = await _user(db, "fg_sec")
    reporter = await make_user(db, username="fg_reporter")
    await make_member(db, user=reporter, community=community)
    now = utcnow()
    # Made 10 days ago, answered in 20 minutes, resolved and confirmed with a 4.
    quick = await make_report(db, reporter=reporter, community=community, now=now - timedelta(days=10))
    await _answer(db, quick, secretary, at=now - timedelta(days=10) + timedelta(minutes=20))
    await _answer(db, quick, secretary, at=now - timedelta(days=9), status="resolved")
    await _confirm(db, quick, reporter, rating=4, at=now - timedelta(days=8))
    # Made 5 days ago, answered after 50 hours: past its 48-hour due time.
    late = await make_report(db, reporter=reporter, community=community, now=now - timedelta(days=5))
    await _answer(db, late, secretary, at=now - timedelta(days=5) + timedelta(hours=50))
    # Made an hour ago, not answered yet.
    await make_report(db, reporter=reporter, community=community, now=now - timedelta(hours=1))
    # Made 60 days ago, answered in 40 minutes: only in the 90-day window.
    old = await make_report(db, reporter=reporter, community=community, now=now - timedelta(days=60))
    await _answer(db, old, secretary, at=now - timedelta(days=60) + timedelta(minutes=40))

    async with db.read_only() as session:
        month, quarter = await community_figures(session, community_id=id_of(community), now=now)
        assert month == await figures(session, community_id=id_of(community), now=now, days=30)
        assert quarter == await figures(session, community_id=id_of(community), now=now, days=90)
    assert month.reports == 3 and quarter.reports == 4
    assert month.median_answer_minutes == (20 + 50 * 60 + 1) // 2  # two answered: the mean of the middle two
    assert quarter.median_answer_minutes == 40  # 20, 40, 3000
    # Of the reports answered or past due (the hour-old one is still on its clock): 1 of 2, 2 of 3.
    assert month.answered_in_time == 1 / 2 and quarter.answered_in_time == 2 / 3
    assert month.resolved == 1 / 3 and quarter.resolved == 1 / 4
    assert month.average_rating == 4 and month.ratings == 1

    status, page = await _english(client, f"/c/{community.slug}")
    assert status == 200
    assert "Problems around me" in page and f'href="/c/{community.slug}/reports/new"' in page
    assert f'href="/c/{community.slug}/reports"' in page
    assert "3 problems reported in the last 30 days." in page
    assert "4 problems reported in the last 90 days." in page
    assert "Half were answered within 40 minutes" in page
    assert "Half were answered within 25 hours 10 minutes" in page
    assert "Of the reports answered or past their due time, 50% were answered in time." in page
    assert "33% are resolved." in page
    assert "Residents rated the handling 4.0 out of 5 on average (1 rating)." in page


async def test_district_admins_see_each_community_and_secretary_with_the_overdue_reports(
    app: Quart, db: Database
) -> None:
    district = await make_district(db, slug="figures-district")
    community = await make_community(db, district=district, name="月浦新村")
    admin = await make_user(db, username="df_admin")
    await make_district_admin(db, user=admin, district_id=district.id or 0)
    secretary_client = await member_client(app, db, community, "df_sec", role=Role.SECRETARY, display_name="王书记")
    secretary = await _user(db, "df_sec")
    reporter = await make_user(db, username="df_reporter")
    await make_member(db, user=reporter, community=community)
    now = utcnow()
    answered = await make_report(db, reporter=reporter, community=community, now=now - timedelta(days=3))
    await _answer(db, answered, secretary, at=now - timedelta(days=3) + timedelta(minutes=30))
    await make_report(db, reporter=reporter, community=community, now=now - timedelta(days=3))  # never answered
    await report_clock.run_due(db, now=now)  # past its due time: escalated
    assert await _count(db, Report, col(Report.escalated_at).is_not(None)) == 1

    page_path = f"/d/{district.slug}/reports"
    status, page = await _english(await _signed_in(app, "df_admin"), page_path)
    assert status == 200
    assert "月浦新村" in page and "1 report is overdue: escalated and still unanswered." in page
    assert f'href="/c/{community.slug}/reports/queue"' in page
    assert "王书记" in page and "1 report made in the last 30 days was answered first by them." in page
    assert "2 problems reported in the last 30 days." in page
    assert (await secretary_client.get(page_path)).status_code == 403
    resident = await member_client(app, db, community, "df_resident")
    assert (await resident.get(page_path)).status_code == 404


# --- moderation through the one flag path --------------------------------------------------------------------------


async def _flag_setup(app: Quart, db: Database) -> tuple[Community, dict[str, Client], Report]:
    community = await make_community(db)
    names = ("mf_reporter", "mf_a", "mf_b", "mf_c", "mf_d", "mf_sec")
    people = {
        name: await member_client(
            app, db, community, name, role=Role.SECRETARY if name.endswith("sec") else Role.RESIDENT
        )
        for name in names
    }
    report = await make_report(
        db, reporter=await _user(db, "mf_reporter"), community=community, title="3号楼楼道灯坏了"
    )
    return community, people, report


async def _notified(db: Database, username: str) -> list[str]:
    async with db.read_only() as session:
        return sorted(
            (
                await session.execute(
                    select(Notification.kind)
                    .join(User, col(User.id) == col(Notification.user_id))
                    .where(col(User.username) == username)
                )
            ).scalars()
        )


async def test_a_report_is_flagged_reviewed_hidden_with_a_reason_and_shown_again(app: Quart, db: Database) -> None:
    community, people, report = await _flag_setup(app, db)
    flag = f"/reports/{report.id}/flag"
    assert "3号楼楼道灯坏了" in await text(await people["mf_a"].get(flag))
    own = await post_form(people["mf_reporter"], flag, {"reason": "spam"}, token_from=flag)
    assert own.status_code == 403
    done = await post_form(people["mf_a"], flag, {"reason": "spam"}, token_from=flag)
    assert done.status_code == 302

    status, queue = await _english(people["mf_sec"], f"/c/{community.slug}/review")
    assert status == 200 and "Problem report" in queue and "3号楼楼道灯坏了" in queue
    assert f'action="/reports/{report.id}/review"' in queue
    assert (await people["mf_a"].get(f"/c/{community.slug}/review")).status_code == 403

    kept = await post_form(people["mf_sec"], f"/reports/{report.id}/review", {"decision": "disagree"})
    assert kept.status_code == 302
    assert await _notified(db, "mf_a") == ["flag_kept"]

    assert (await people["mf_a"].get(f"/reports/{report.id}/hide")).status_code == 403
    refused = await post_form(people["mf_a"], f"/reports/{report.id}/hide", {"reason": "广告"})
    assert refused.status_code == 403
    hide_form = f"/reports/{report.id}/hide"
    assert (await people["mf_sec"].get(hide_form)).status_code == 200
    no_reason = await _post(people["mf_sec"], hide_form, {"reason": ""}, token_from=hide_form)
    assert no_reason.status_code == 422
    hidden = await post_form(people["mf_sec"], hide_form, {"reason": "与小区无关的广告"}, token_from=hide_form)
    assert hidden.status_code == 302
    async with db.read_only() as session:
        stored = await session.get(Report, report.id)
        assert stored is not None and stored.hidden_at is not None and stored.hidden_reason == "与小区无关的广告"
    # Gone for neighbours; its reporter and the secretaries still reach it.
    assert (await people["mf_b"].get(flag)).status_code == 404
    assert (await people["mf_reporter"].get(flag)).status_code == 200
    assert "report_hidden" in await _notified(db, "mf_reporter")

    shown = await post_form(people["mf_sec"], f"/reports/{report.id}/show")
    assert shown.status_code == 302
    assert (await people["mf_b"].get(flag)).status_code == 200
    again = await _post(people["mf_sec"], f"/reports/{report.id}/show")
    assert again.status_code == 303  # not hidden: refused, said on the page it came from

    for name in ("mf_b", "mf_c", "mf_d"):  # mf_a's flag was reviewed already: one member counts once
        assert (await post_form(people[name], flag, {"reason": "spam"})).status_code == 302
    assert (await people["mf_a"].get(flag)).status_code == 404  # three flags hide it until reviewed
    agreed = await post_form(
        people["mf_sec"], f"/reports/{report.id}/review", {"decision": "agree", "reason": "重复的广告"}
    )
    assert agreed.status_code == 302
    assert (await people["mf_b"].get(flag)).status_code == 404
    async with db.read_only() as session:
        actions = set((await session.execute(select(AuditEntry.action))).scalars())
    assert {"report.hidden", "report.shown"} <= actions


async def test_a_comment_on_a_report_is_flagged_hidden_shown_and_reviewed(app: Quart, db: Database) -> None:
    community, people, report = await _flag_setup(app, db)
    author = await _user(db, "mf_a")
    async with db.unit_of_work() as session:
        fresh = await session.get(Report, report.id)
        assert fresh is not None
        row = await reports.comment(
            session,
            actor=author,
            report=fresh,
            standing=await standing_in(session, author, community),
            body="我家门口的灯也坏了",
        )
    comment_id = row.id
    flag = f"/reports/comments/{comment_id}/flag"
    assert (await people["mf_b"].get(flag)).status_code == 200
    assert (await post_form(people["mf_a"], flag, {"reason": "spam"})).status_code == 403  # own
    assert (await post_form(people["mf_b"], flag, {"reason": "spam"})).status_code == 302
    status, queue = await _english(people["mf_sec"], f"/c/{community.slug}/review")
    assert status == 200 and "Comment on a report" in queue and "我家门口的灯也坏了" in queue
    assert f'action="/reports/comments/{comment_id}/review"' in queue

    hide = f"/reports/comments/{comment_id}/hide"
    assert (await people["mf_b"].get(hide)).status_code == 403
    assert (await people["mf_sec"].get(hide)).status_code == 200
    hidden = await post_form(people["mf_sec"], hide, {"reason": "人身攻击"}, token_from=hide)
    assert hidden.status_code == 302
    assert (await people["mf_b"].get(flag)).status_code == 404  # gone for neighbours
    assert (await people["mf_a"].get(flag)).status_code == 200  # its author still reaches it
    assert "comment_hidden" in await _notified(db, "mf_a")
    shown = await post_form(people["mf_sec"], f"/reports/comments/{comment_id}/show")
    assert shown.status_code == 302
    assert (await people["mf_b"].get(flag)).status_code == 200
    agreed = await post_form(
        people["mf_sec"], f"/reports/comments/{comment_id}/review", {"decision": "agree", "reason": "人身攻击"}
    )
    assert agreed.status_code == 302
    async with db.read_only() as session:
        stored = await session.get(ReportComment, comment_id)
        assert stored is not None and stored.hidden_at is not None
    assert (await people["mf_c"].get(flag)).status_code == 404
    assert await _notified(db, "mf_b") == ["flag_agreed"]


# --- notifications -------------------------------------------------------------------------------------------------

WHO = '<span class="person">Wang_Sec</span>'  # the badge macro's name, without a link in a notification
REPORT_KINDS = {
    NotificationKind.REPORT_NEW: WHO + " reported a problem: “楼道灯坏了”",
    NotificationKind.REPORT_UPDATE: WHO + " answered your report “楼道灯坏了”",
    NotificationKind.REPORT_REMINDER: "The formal answer to the report “楼道灯坏了” is due soon",
    NotificationKind.REPORT_ESCALATED: (
        "“楼道灯坏了” went unanswered past its due time and was escalated to the district"
    ),
    NotificationKind.REPORT_REOPENED: "The resident who reported “楼道灯坏了” says it is not solved and reopened it",
    NotificationKind.REPORT_COMMENT: WHO + " commented on your report “楼道灯坏了”",
    NotificationKind.REPORT_HIDDEN: "A secretary hid your report “楼道灯坏了”; the report says why",
    NotificationKind.COMMENT_HIDDEN: "A secretary hid your comment on the report “楼道灯坏了”; the comment says why",
}


CLOCK_KINDS = (NotificationKind.REPORT_REMINDER, NotificationKind.REPORT_ESCALATED)  # no actor: the clock


async def test_every_report_notification_reads_as_a_sentence_and_has_a_settings_label(app: Quart, db: Database) -> None:
    community = await make_community(db)
    reader = await member_client(app, db, community, "nt_reader")
    await member_client(app, db, community, "wang_sec", role=Role.SECRETARY)
    reader_id, actor_id = (await _user(db, "nt_reader")).id, (await _user(db, "wang_sec")).id
    async with db.unit_of_work() as session:
        for number, kind in enumerate(REPORT_KINDS):
            await notifications.notify(
                session,
                recipients=[reader_id or 0],
                kind=kind,
                community_id=id_of(community),
                subject=f"report-test:{number}",
                actor_id=None
                if kind in (NotificationKind.REPORT_REMINDER, NotificationKind.REPORT_ESCALATED)
                else actor_id,
                title="楼道灯坏了",
                url="/reports/1",
            )
    status, page = await _english(reader, "/notifications")
    assert status == 200
    for kind, sentence in REPORT_KINDS.items():
        assert sentence in page, kind
    settings = await text(await reader.get("/settings", headers=EN))
    for label in (
        "A resident reports a problem (secretaries)",
        "A secretary answers my report or changes its status",
        "A report's formal answer is due soon (secretaries)",
        "A report goes unanswered past its due time (district admins)",
        "A resident reopens a report (secretaries)",
        "A neighbour comments on my report",
        "A secretary hides my report",
        "A secretary hides my comment on a report",
    ):
        assert label in settings, label
