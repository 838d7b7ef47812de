"""Problem reports (我身边的事) at the domain level, on both databases: the state machine with every refused
transition, who may do what, bad input, "me too", comments under the word filter, and the privacy matrix over
access checks, read queries, stored events and the replay of every report room."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select, update
from sqlmodel import col

from forum import rooms
from forum.access import access_report, access_report_comment, access_report_image, standing_in
from forum.actions import hiding, reports, word_filters
from forum.actions.reports import FINAL_STATUSES, STATUS_NAMES, TRANSITIONS
from forum.db import Database
from forum.errors import DomainError, Forbidden, InvalidInput, NotFound
from forum.flaggables import ReportCommentItem, ReportItem
from forum.images import prepare_image
from forum.models import (
    Community,
    Event,
    Flag,
    Notification,
    NotificationKind,
    Report,
    ReportCategory,
    ReportComment,
    ReportEntry,
    ReportImage,
    ReportMeToo,
    ReportPlace,
    ReportStatus,
    Role,
    User,
    id_of,
)
from forum.permissions import can_moderate
from forum.queries import reports as report_queries
from forum.queries.events import events_after
from forum.queries.replay import Reader
from forum.queries.threads import latest_event_id
from tests.factories import make_community, make_district, make_district_admin, make_member, make_report, make_user

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@dataclass
class Cast:
    community: Community
    elsewhere: Community
    reporter: User
    neighbour: User
    secretary: User
    other_secretary: User  # a secretary of another community in the same district
    admin: User  # a district admin
    outsider: User

    def readers(self) -> dict[str, User]:
        return {
            "reporter": self.reporter,
            "neighbour": self.neighbour,
            "secretary": self.secretary,
            "other_secretary": self.other_secretary,
            "admin": self.admin,
            "outsider": self.outsider,
        }


async def _cast(db: Database, prefix: str) -> Cast:
    district = await make_district(db)
    community = await make_community(db, district=district)
    elsewhere = await make_community(db, district=district)
    people = {}
    for name in ("reporter", "neighbour", "secretary", "other_secretary", "admin", "outsider"):
        people[name] = await make_user(db, username=f"{prefix}_{name}")
    await make_member(db, user=people["reporter"], community=community)
    await make_member(db, user=people["neighbour"], community=community)
    await make_member(db, user=people["secretary"], community=community, role=Role.SECRETARY)
    await make_member(db, user=people["other_secretary"], community=elsewhere, role=Role.SECRETARY)
    await make_district_admin(db, user=people["admin"], district_id=id_of(district))
    return Cast(community=community, elsewhere=elsewhere, **people)


async def _act(db: Database, user: User, report_id: int, action: Callable[..., Awaitable[Any]], **fields: Any) -> Any:
    """`action` by `user` on the report, fetched through its access check, in one unit of work."""
    async with db.unit_of_work() as session:
        report, _community, standing = await access_report(session, user, report_id)
        return await action(session, actor=user, report=report, standing=standing, **fields)


async def _snapshot(db: Database, report_id: int) -> tuple[Any, ...]:
    """Everything an action on the report could have changed."""
    async with db.read_only() as session:
        report = await session.get(Report, report_id)
        assert report is not None
        counts = []
        for column in (ReportEntry.report_id, ReportComment.report_id, ReportMeToo.report_id):
            counts.append((await session.execute(select(func.count()).where(col(column) == report_id))).scalar_one())
        counts.append((await session.execute(select(func.count()).select_from(Event))).scalar_one())
        counts.append((await session.execute(select(func.count()).select_from(Notification))).scalar_one())
        return (report.model_dump(), *counts)


async def _report(db: Database, report_id: int) -> Report:
    async with db.read_only() as session:
        report = await session.get(Report, report_id)
        assert report is not None
        return report


async def _to(db: Database, cast: Cast, status: str, *, now: datetime = T0) -> int:
    """A new report of `cast.reporter`, taken to `status` by the real actions."""
    report_id = id_of(await make_report(db, reporter=cast.reporter, community=cast.community, now=now))
    later = now + timedelta(minutes=30)
    steps: dict[str, list[dict[str, Any]]] = {
        ReportStatus.SUBMITTED: [],
        ReportStatus.ANSWERED: [{}],
        ReportStatus.IN_PROGRESS: [{"status": ReportStatus.IN_PROGRESS}],
        ReportStatus.REFERRED: [{"status": ReportStatus.REFERRED, "referred_to": "物业公司"}],
        ReportStatus.RESOLVED: [{"status": ReportStatus.RESOLVED}],
        ReportStatus.CLOSED: [{"status": ReportStatus.RESOLVED}],
        ReportStatus.DECLINED: [{"status": ReportStatus.DECLINED, "referred_to": "派出所"}],
    }
    for fields in steps[status]:
        await _act(db, cast.secretary, report_id, reports.respond, body="已收到，马上处理", now=later, **fields)
    if status == ReportStatus.CLOSED:
        await _act(db, cast.reporter, report_id, reports.confirm, now=later + timedelta(hours=1))
    assert (await _report(db, report_id)).status == status
    return report_id


# --- The state machine --------------------------------------------------------------------------------------------


async def test_every_transition_a_secretary_may_not_make_is_refused_naming_both_statuses_and_changes_nothing(
    db: Database,
) -> None:
    cast = await _cast(db, "sm")
    refused = 0
    for source in ReportStatus:
        report_id = await _to(db, cast, source)
        for target in ReportStatus:
            if target == source or target in TRANSITIONS[source]:
                continue
            before = await _snapshot(db, report_id)
            with pytest.raises(InvalidInput) as caught:
                await _act(
                    db, cast.secretary, report_id, reports.respond, body="改一下状态", status=target, referred_to="某处"
                )
            assert caught.value.status == 409, (source, target)
            _message, params = caught.value.fields["status"]
            assert params == {"current": STATUS_NAMES[source], "target": STATUS_NAMES[target]}, (source, target)
            assert await _snapshot(db, report_id) == before, (source, target)
            refused += 1
    assert refused == sum(len(ReportStatus) - 1 - len(TRANSITIONS[source]) for source in ReportStatus) == 26


async def test_every_transition_a_secretary_may_make_moves_it_once_with_an_entry_and_the_reporter_told(
    db: Database,
) -> None:
    cast = await _cast(db, "sa")
    for source, targets in TRANSITIONS.items():
        for target in targets:
            report_id = await _to(db, cast, source)
            entries_before = (await _snapshot(db, report_id))[1]
            entry = await _act(
                db, cast.secretary, report_id, reports.respond, body="处理中", status=target, referred_to="城管"
            )
            report = await _report(db, report_id)
            assert report.status == target and report.answered_at is not None, (source, target)
            assert (await _snapshot(db, report_id))[1] == entries_before + 1
            assert entry.status == target
            if target == ReportStatus.RESOLVED:
                assert report.clock_step == "close" and report.resolved_at is not None
            if target == ReportStatus.DECLINED:
                assert report.closed_at is not None and report.queue_rank == 9


async def test_a_plain_answer_to_a_new_report_answers_it_even_naming_its_current_status(db: Database) -> None:
    cast = await _cast(db, "pa")
    for status in (None, ReportStatus.SUBMITTED):
        report_id = await _to(db, cast, ReportStatus.SUBMITTED)
        await _act(db, cast.secretary, report_id, reports.respond, body="收到", status=status)
        report = await _report(db, report_id)
        assert report.status == ReportStatus.ANSWERED and report.queue_rank == 1 and report.clock_at is None


async def test_a_closed_or_declined_report_takes_no_answer_and_cannot_be_resolved_again(db: Database) -> None:
    cast = await _cast(db, "cl")
    for final in FINAL_STATUSES:
        report_id = await _to(db, cast, final)
        before = await _snapshot(db, report_id)
        with pytest.raises(InvalidInput) as plain:
            await _act(db, cast.secretary, report_id, reports.respond, body="再补充一句")
        assert plain.value.status == 409
        with pytest.raises(InvalidInput) as resolved:
            await _act(db, cast.secretary, report_id, reports.respond, body="已解决", status=ReportStatus.RESOLVED)
        assert resolved.value.status == 409
        assert resolved.value.fields["status"][1]["target"] == STATUS_NAMES[ReportStatus.RESOLVED]
        assert await _snapshot(db, report_id) == before


async def test_two_secretaries_declining_at_once_decline_it_once_and_the_other_is_told(db: Database) -> None:
    cast = await _cast(db, "rc")
    second = await make_user(db, username="rc_second")
    await make_member(db, user=second, community=cast.community, role=Role.SECRETARY)
    report_id = await _to(db, cast, ReportStatus.SUBMITTED)

    async def decline(secretary: User) -> bool:
        try:
            await _act(
                db, secretary, report_id, reports.respond, body="不归社区管", status="declined", referred_to="派出所"
            )
        except InvalidInput as error:
            assert error.status == 409
            return False
        return True

    outcomes = await asyncio.gather(decline(cast.secretary), decline(second))
    assert sorted(outcomes) == [False, True]
    async with db.read_only() as session:
        kinds = (
            await session.execute(select(col(ReportEntry.kind)).where(col(ReportEntry.report_id) == report_id))
        ).scalars()
        assert sorted(kinds) == ["status", "submitted"]
        told = (
            await session.execute(select(func.count()).where(col(Notification.kind) == NotificationKind.REPORT_UPDATE))
        ).scalar_one()
        assert told == 1
    assert (await _report(db, report_id)).status == ReportStatus.DECLINED


async def test_a_resident_cannot_answer_and_a_secretary_of_another_community_cannot_reach_it(db: Database) -> None:
    cast = await _cast(db, "ra")
    report_id = await _to(db, cast, ReportStatus.SUBMITTED)
    before = await _snapshot(db, report_id)
    for resident in (cast.reporter, cast.neighbour):
        with pytest.raises(Forbidden):
            await _act(db, resident, report_id, reports.respond, body="我来回答", status=ReportStatus.RESOLVED)
    for stranger in (cast.other_secretary, cast.outsider):
        with pytest.raises(NotFound):
            await _act(db, stranger, report_id, reports.respond, body="我来回答")
    assert await _snapshot(db, report_id) == before
    # A district admin may answer (and stops the clock like a secretary).
    await _act(db, cast.admin, report_id, reports.respond, body="区里来处理")
    assert (await _report(db, report_id)).answered_at is not None


async def test_bad_answers_name_their_field_and_store_nothing(db: Database) -> None:
    cast = await _cast(db, "ba")
    report_id = await _to(db, cast, ReportStatus.SUBMITTED)
    before = await _snapshot(db, report_id)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"body": ""}, "body"),
        ({"body": "好的", "status": "fixed"}, "status"),
        ({"body": "转给别人", "status": ReportStatus.REFERRED}, "referred_to"),
        ({"body": "不归我们管", "status": ReportStatus.DECLINED}, "referred_to"),
    ]
    for fields, field in cases:
        with pytest.raises(InvalidInput) as caught:
            await _act(db, cast.secretary, report_id, reports.respond, **fields)
        assert field in caught.value.fields and caught.value.status == 422, fields
    assert await _snapshot(db, report_id) == before


async def test_only_the_reporter_confirms_or_reopens_and_only_a_resolved_report(db: Database) -> None:
    cast = await _cast(db, "cr")
    for status in ReportStatus:
        if status == ReportStatus.RESOLVED:
            continue
        report_id = await _to(db, cast, status)
        before = await _snapshot(db, report_id)
        with pytest.raises(InvalidInput) as confirmed:
            await _act(db, cast.reporter, report_id, reports.confirm, now=T0 + timedelta(days=1))
        with pytest.raises(InvalidInput) as reopened:
            await _act(db, cast.reporter, report_id, reports.reopen, reason="还是坏的", now=T0 + timedelta(days=1))
        assert confirmed.value.status == reopened.value.status == 409, status
        assert await _snapshot(db, report_id) == before
    report_id = await _to(db, cast, ReportStatus.RESOLVED)
    before = await _snapshot(db, report_id)
    for other in (cast.neighbour, cast.secretary, cast.admin):
        with pytest.raises(Forbidden):
            await _act(db, other, report_id, reports.confirm)
        with pytest.raises(Forbidden):
            await _act(db, other, report_id, reports.reopen, reason="还是坏的")
    assert await _snapshot(db, report_id) == before
    await _act(db, cast.reporter, report_id, reports.confirm, rating=5, comment="很快", now=T0 + timedelta(days=1))
    report = await _report(db, report_id)
    assert report.status == ReportStatus.CLOSED and report.rating == 5 and report.clock_at is None


async def test_a_resolved_report_can_be_reopened_within_seven_days_and_not_after(db: Database) -> None:
    cast = await _cast(db, "ro")
    late = await _to(db, cast, ReportStatus.RESOLVED)
    resolved_at = (await _report(db, late)).resolved_at
    assert resolved_at is not None
    before = await _snapshot(db, late)
    with pytest.raises(InvalidInput) as caught:
        await _act(db, cast.reporter, late, reports.reopen, reason="灯又灭了", now=resolved_at + timedelta(days=7))
    assert caught.value.status == 409 and caught.value.fields["status"][1] == {"days": 7}
    assert await _snapshot(db, late) == before

    in_time = await _to(db, cast, ReportStatus.RESOLVED)
    resolved_at = (await _report(db, in_time)).resolved_at
    assert resolved_at is not None
    just = resolved_at + timedelta(days=7) - timedelta(minutes=1)
    await _act(db, cast.reporter, in_time, reports.reopen, reason="灯又灭了", now=just)
    report = await _report(db, in_time)
    assert report.status == ReportStatus.IN_PROGRESS and report.resolved_at is None and report.clock_at is None
    async with db.read_only() as session:
        told = (
            await session.execute(
                select(col(Notification.user_id)).where(col(Notification.kind) == NotificationKind.REPORT_REOPENED)
            )
        ).scalars()
        assert list(told) == [cast.secretary.id]


async def test_a_rating_is_one_to_five_once_by_the_reporter_of_a_closed_report(db: Database) -> None:
    cast = await _cast(db, "rt")
    open_id = await _to(db, cast, ReportStatus.RESOLVED)
    with pytest.raises(InvalidInput) as early:
        await _act(db, cast.reporter, open_id, reports.rate, rating=4)
    assert early.value.status == 409
    report_id = await _to(db, cast, ReportStatus.CLOSED)
    before = await _snapshot(db, report_id)
    for wrong in (0, 6, -1, "3.5", 3.5, "", None, True, "五"):
        with pytest.raises(InvalidInput) as caught:
            await _act(db, cast.reporter, report_id, reports.rate, rating=wrong)
        assert caught.value.status == 422 and "rating" in caught.value.fields, wrong
    with pytest.raises(Forbidden):
        await _act(db, cast.neighbour, report_id, reports.rate, rating=5)
    assert await _snapshot(db, report_id) == before
    await _act(db, cast.reporter, report_id, reports.rate, rating="4", comment="还行")
    assert (await _report(db, report_id)).rating == 4
    after = await _snapshot(db, report_id)
    with pytest.raises(InvalidInput) as again:
        await _act(db, cast.reporter, report_id, reports.rate, rating=1)
    assert again.value.status == 409
    assert await _snapshot(db, report_id) == after
    # A confirmation with a rating counts as the one rating.
    rated_id = await _to(db, cast, ReportStatus.RESOLVED)
    await _act(db, cast.reporter, rated_id, reports.confirm, rating=3)
    with pytest.raises(InvalidInput):
        await _act(db, cast.reporter, rated_id, reports.rate, rating=5)
    assert (await _report(db, rated_id)).rating == 3


# --- Me too and comments ------------------------------------------------------------------------------------------


async def test_me_too_is_for_neighbours_not_the_reporter_idempotent_and_counted(db: Database) -> None:
    cast = await _cast(db, "mt")
    second = await make_user(db, username="mt_second")
    await make_member(db, user=second, community=cast.community)
    report_id = await _to(db, cast, ReportStatus.SUBMITTED)
    with pytest.raises(InvalidInput) as own:
        await _act(db, cast.reporter, report_id, reports.set_me_too, on=True)
    assert own.value.status == 409
    assert await _act(db, cast.neighbour, report_id, reports.set_me_too, on=True) == 1
    assert await _act(db, cast.neighbour, report_id, reports.set_me_too, on=True) == 1
    assert await _act(db, second, report_id, reports.set_me_too, on=True) == 2
    assert await _act(db, second, report_id, reports.set_me_too, on=False) == 1
    assert await _act(db, second, report_id, reports.set_me_too, on=False) == 1
    with pytest.raises(NotFound):
        await _act(db, cast.other_secretary, report_id, reports.set_me_too, on=True)
    async with db.read_only() as session:
        rows = (await session.execute(select(ReportMeToo).where(col(ReportMeToo.report_id) == report_id))).scalars()
        assert [row.user_id for row in rows] == [cast.neighbour.id]
    assert (await _report(db, report_id)).me_too_count == 1
    closed_id = await _to(db, cast, ReportStatus.CLOSED)
    with pytest.raises(InvalidInput) as closed:
        await _act(db, cast.neighbour, closed_id, reports.set_me_too, on=True)
    assert closed.value.status == 409


async def _add_words(db: Database, cast: Cast) -> None:
    async with db.unit_of_work() as session:
        standing = await standing_in(session, cast.secretary, cast.community)
        for word, mode in (("坏蛋词", "block"), ("可疑词", "review")):
            await word_filters.add_word(
                session, actor=cast.secretary, community=cast.community, standing=standing, word=word, mode=mode
            )


async def test_a_comment_with_a_blocked_word_is_refused_and_one_with_a_held_word_waits_hidden_for_review(
    db: Database,
) -> None:
    cast = await _cast(db, "wf")
    await _add_words(db, cast)
    report_id = await _to(db, cast, ReportStatus.SUBMITTED)
    before = await _snapshot(db, report_id)
    with pytest.raises(InvalidInput) as blocked:
        await _act(db, cast.neighbour, report_id, reports.comment, body="你这个坏蛋词")
    assert "body" in blocked.value.fields
    with pytest.raises(InvalidInput) as empty:
        await _act(db, cast.neighbour, report_id, reports.comment, body="   ")
    assert "body" in empty.value.fields
    assert await _snapshot(db, report_id) == before

    held = await _act(db, cast.neighbour, report_id, reports.comment, body="有点可疑词")
    shown = await _act(db, cast.neighbour, report_id, reports.comment, body="我家楼道也黑")
    async with db.read_only() as session:
        stored = await session.get(ReportComment, held.id)
        assert stored is not None and stored.hidden_at is not None
        flagged = (await session.execute(select(Flag).where(col(Flag.report_comment_id) == held.id))).scalars().all()
        assert len(flagged) == 1
        created = (await session.execute(select(Event).where(col(Event.type) == "report.comment_created"))).scalars()
        assert [json.loads(event.payload)["comment_id"] for event in created] == [
            shown.id
        ]  # the held one was never announced
    # Hidden: its author and the secretaries still reach it, a neighbour not.
    other = await make_user(db, username="wf_other")
    await make_member(db, user=other, community=cast.community)
    async with db.read_only() as session:
        for user in (cast.neighbour, cast.secretary):
            assert (await access_report_comment(session, user, id_of(held)))[0].id == held.id
        for user in (other, cast.reporter):
            with pytest.raises(NotFound):
                await access_report_comment(session, user, id_of(held))

    # A report with a blocked word is refused; with a held one, stored hidden and queued for review.
    async with db.read_only() as session:
        count = (await session.execute(select(func.count()).select_from(Report))).scalar_one()
    with pytest.raises(InvalidInput) as report_blocked:
        await make_report(db, reporter=cast.reporter, community=cast.community, description="门口有坏蛋词")
    assert "description" in report_blocked.value.fields
    held_report = await make_report(db, reporter=cast.reporter, community=cast.community, description="可疑词在门口")
    async with db.read_only() as session:
        assert (await session.execute(select(func.count()).select_from(Report))).scalar_one() == count + 1
        stored_report = await session.get(Report, held_report.id)
        assert stored_report is not None and stored_report.hidden_at is not None
        created_reports = (await session.execute(select(Event).where(col(Event.type) == "report.created"))).scalars()
        assert held_report.id not in [json.loads(event.payload)["report_id"] for event in created_reports]


# --- Bad input ----------------------------------------------------------------------------------------------------


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


async def test_bad_reports_name_their_field_and_store_nothing(db: Database) -> None:
    cast = await _cast(db, "bi")
    async with db.unit_of_work() as session:
        ours = await report_queries.categories_of(session, id_of(cast.community))
        theirs = await report_queries.categories_of(session, id_of(cast.elsewhere))
        archived = ours[1]
        await session.execute(
            update(ReportCategory).where(col(ReportCategory.id) == archived.id).values(is_archived=True)
        )
        their_place = ReportPlace(community_id=id_of(cast.elsewhere), name="9号楼")
        session.add(their_place)
        await session.flush()
        their_place_id = id_of(their_place)
    picture = prepare_image(_png())
    cases: list[tuple[dict[str, Any], str]] = [
        ({"category_id": 999_999}, "category_id"),
        ({"category_id": "abc"}, "category_id"),
        ({"category_id": archived.id}, "category_id"),
        ({"category_id": theirs[0].id}, "category_id"),
        ({"place_id": their_place_id}, "place_id"),
        ({"place_id": None, "location": ""}, "location"),
        ({"description": ""}, "description"),
        ({"description": "   "}, "description"),
        ({"plan_x": 1001, "plan_y": 5}, "plan_x"),
        ({"plan_x": 5, "plan_y": -1}, "plan_y"),
        ({"plan_x": "500.5", "plan_y": 5}, "plan_x"),
        ({"plan_x": 500.5, "plan_y": 5}, "plan_x"),
        ({"plan_x": 500}, "plan_x"),  # a point needs both
        ({"images": [picture] * 10}, "images"),
    ]
    for fields, field in cases:
        with pytest.raises(InvalidInput) as caught:
            await make_report(db, reporter=cast.reporter, community=cast.community, **fields)
        assert field in caught.value.fields and caught.value.status == 422, fields
    with pytest.raises(Forbidden):  # someone of another community
        await make_report(db, reporter=cast.other_secretary, community=cast.community, category_id=ours[0].id)
    async with db.read_only() as session:
        for model in (Report, ReportEntry, ReportImage, Notification):
            assert (await session.execute(select(func.count()).select_from(model))).scalar_one() == 0, model
        assert (await session.execute(select(func.count()).select_from(Event))).scalar_one() == 0
    # The same with fixed fields goes through: a point on the plan, a landmark instead of a building.
    made = await make_report(
        db, reporter=cast.reporter, community=cast.community, place_id=None, location="东门", plan_x="0", plan_y=1000
    )
    assert (made.plan_x, made.plan_y, made.location) == (0, 1000, "东门")


# --- Privacy: access, queries, events, replays --------------------------------------------------------------------


@dataclass
class Reports:
    public: Report
    anonymous: Report
    private: Report
    hidden: Report
    comment: ReportComment  # by a neighbour under the public report
    hidden_comment: ReportComment  # by a neighbour under the public report, hidden by a secretary
    anonymous_comment: ReportComment  # by the reporter under the anonymous report
    private_comment: ReportComment  # by the reporter under the private report


async def _reports(db: Database, cast: Cast, tmp_path: Path) -> Reports:
    files = Database(db.url, upload_dir=tmp_path / "uploads")
    try:
        picture = prepare_image(_png())
        made = {}
        for name, fields in (
            ("public", {}),
            ("anonymous", {"anonymous": True}),
            ("private", {"private": True}),
            ("hidden", {}),
        ):
            made[name] = await make_report(
                files, reporter=cast.reporter, community=cast.community, images=[picture], **fields
            )
    finally:
        await files.dispose()
    comment = await _act(db, cast.neighbour, id_of(made["public"]), reports.comment, body="我也看到了")
    hidden_comment = await _act(db, cast.neighbour, id_of(made["public"]), reports.comment, body="说了不该说的")
    anonymous_comment = await _act(db, cast.reporter, id_of(made["anonymous"]), reports.comment, body="补充一下")
    private_comment = await _act(db, cast.reporter, id_of(made["private"]), reports.comment, body="私下说")
    # A change recorded in the list room before the report is hidden (a replay must leave it out too).
    await _act(db, cast.neighbour, id_of(made["hidden"]), reports.set_me_too, on=True)
    async with db.unit_of_work() as session:
        standing = await standing_in(session, cast.secretary, cast.community)
        hidden = await session.get(Report, made["hidden"].id)
        loaded = await session.get(ReportComment, hidden_comment.id)
        public = await session.get(Report, made["public"].id)
        assert hidden is not None and loaded is not None and public is not None
        await hiding.set_hidden(
            session, actor=cast.secretary, item=ReportItem(hidden), standing=standing, hidden=True, reason="重复"
        )
        await hiding.set_hidden(
            session,
            actor=cast.secretary,
            item=ReportCommentItem(loaded, public),
            standing=standing,
            hidden=True,
            reason="人身攻击",
        )
    return Reports(
        public=made["public"],
        anonymous=made["anonymous"],
        private=made["private"],
        hidden=made["hidden"],
        comment=comment,
        hidden_comment=hidden_comment,
        anonymous_comment=anonymous_comment,
        private_comment=private_comment,
    )


MAY_SEE = {
    # who reaches each report (its page, photos, comments, room)
    "public": {"reporter", "neighbour", "secretary", "admin"},
    "anonymous": {"reporter", "neighbour", "secretary", "admin"},
    "private": {"reporter", "secretary", "admin"},
    "hidden": {"reporter", "secretary", "admin"},
}
SEES_NAMES = {"reporter", "secretary", "admin"}  # who sees an anonymous reporter's name


async def _reach(action: Callable[[], Awaitable[Any]]) -> bool:
    try:
        await action()
    except (NotFound, Forbidden):
        return False
    return True


async def test_each_report_its_photos_and_comments_reach_exactly_those_who_may_see_them(
    db: Database, tmp_path: Path
) -> None:
    cast = await _cast(db, "pm")
    made = await _reports(db, cast, tmp_path)
    async with db.read_only() as session:
        pictures = {image.report_id: id_of(image) for image in (await session.execute(select(ReportImage))).scalars()}
        for name, readers in MAY_SEE.items():
            report = getattr(made, name)
            for reader, user in cast.readers().items():

                async def see_report(user: User = user, report: Report = report) -> Any:
                    return await access_report(session, user, id_of(report))

                async def see_picture(user: User = user, report: Report = report) -> Any:
                    return await access_report_image(session, user, pictures[id_of(report)])

                assert await _reach(see_report) == (reader in readers), (name, reader)
                assert await _reach(see_picture) == (reader in readers), (name, reader)
        comment_readers = {
            "comment": MAY_SEE["public"],
            "hidden_comment": {"neighbour", "secretary", "admin"},  # its author and those who moderate
            "anonymous_comment": MAY_SEE["anonymous"],
            "private_comment": MAY_SEE["private"],
        }
        for name, readers in comment_readers.items():
            comment = getattr(made, name)
            for reader, user in cast.readers().items():

                async def see_comment(user: User = user, comment: ReportComment = comment) -> Any:
                    return await access_report_comment(session, user, id_of(comment))

                assert await _reach(see_comment) == (reader in readers), (name, reader)


async def _standing_of(db: Database, user: User, community: Community) -> bool:
    async with db.read_only() as session:
        return can_moderate(await standing_in(session, user, community))


async def test_lists_similar_reports_and_a_reports_page_show_each_reader_what_they_may_see(
    db: Database, tmp_path: Path
) -> None:
    cast = await _cast(db, "pq")
    made = await _reports(db, cast, tmp_path)
    members = {name: user for name, user in cast.readers().items() if name in ("reporter", "neighbour", "secretary")}
    members["admin"] = cast.admin
    names = {id_of(getattr(made, name)): name for name in MAY_SEE}
    for reader, user in members.items():
        moderates = await _standing_of(db, user, cast.community)
        async with db.read_only() as session:
            page = await report_queries.community_reports(
                session, community_id=id_of(cast.community), viewer_id=id_of(user), moderates=moderates, show="all"
            )
            listed = {names[id_of(row.report)] for row in page.rows}
            assert listed == {name for name, readers in MAY_SEE.items() if reader in readers}, reader
            for row in page.rows:
                name = names[id_of(row.report)]
                named = name != "anonymous" or reader in SEES_NAMES
                assert (row.reporter is not None) == named, (reader, name)
                if row.reporter is not None:
                    assert row.reporter.username == cast.reporter.username
            similar = await report_queries.similar_open(
                session,
                community_id=id_of(cast.community),
                viewer_id=id_of(user),
                moderates=moderates,
                category_id=made.public.category_id,
                place_id=made.public.place_id,
                now=made.public.created_at,
            )
            assert {names[id_of(row.report)] for row in similar} == listed, reader
            for row in similar:
                assert (row.reporter is not None) == (names[id_of(row.report)] != "anonymous" or reader in SEES_NAMES)

            anonymous = await session.get(Report, made.anonymous.id)
            assert anonymous is not None
            detail = await report_queries.report_detail(
                session, report=anonymous, viewer_id=id_of(user), moderates=moderates
            )
            shown = reader in SEES_NAMES
            assert (detail.row.reporter is not None) == shown, reader
            by_reporter = [entry for entry in detail.entries if entry.by_reporter]
            assert by_reporter and all((entry.actor is not None) == shown for entry in by_reporter), reader
            (comment,) = detail.comments
            assert comment.by_reporter and (comment.author is not None) == shown, reader

            public = await session.get(Report, made.public.id)
            assert public is not None
            detail = await report_queries.report_detail(
                session, report=public, viewer_id=id_of(user), moderates=moderates
            )
            comment_ids = [id_of(item.comment) for item in detail.comments]
            expected = [id_of(made.comment)]
            if reader in ("neighbour", "secretary", "admin"):
                expected.append(id_of(made.hidden_comment))
            assert comment_ids == expected, reader


@dataclass
class Stored:
    type: str
    room: str
    payload: dict[str, Any]


async def _stored(db: Database) -> list[Stored]:
    async with db.read_only() as session:
        rows = (await session.execute(select(Event).order_by(col(Event.id)))).scalars().all()
    return [Stored(row.type, row.room, json.loads(row.payload)) for row in rows]


async def test_stored_events_keep_private_reports_out_of_the_list_and_anonymous_reporters_nameless(
    db: Database, tmp_path: Path
) -> None:
    cast = await _cast(db, "pe")
    made = await _reports(db, cast, tmp_path)
    list_room = rooms.REPORTS(id_of(cast.community))
    events = await _stored(db)
    in_list = [event for event in events if event.room == list_room]
    assert not [event for event in in_list if event.payload.get("report_id") == made.private.id]
    created = {event.payload["report_id"]: event.payload for event in in_list if event.type == "report.created"}
    assert set(created) == {made.public.id, made.anonymous.id, made.hidden.id}
    assert created[made.anonymous.id]["reporter"] is None
    assert created[made.public.id]["reporter"]["username"] == cast.reporter.username
    queued = {event.payload["report_id"]: event.payload for event in events if event.type == "report.queued"}
    assert all(payload["reporter"]["username"] == cast.reporter.username for payload in queued.values())
    assert queued[made.private.id]["is_private"] and queued[made.anonymous.id]["is_anonymous"]
    comments = {
        event.payload["comment_id"]: event.payload for event in events if event.type == "report.comment_created"
    }
    assert comments[made.anonymous_comment.id]["author"] is None
    assert comments[made.anonymous_comment.id]["by_reporter"]
    assert comments[made.private_comment.id]["author"]["username"] == cast.reporter.username
    assert comments[made.comment.id]["author"]["username"] == cast.neighbour.username
    # Nothing of a private or hidden report reaches the list room after it is made so; an anonymous
    # reporter's name is in no payload of the rooms neighbours may join.
    seen = len(events)
    await _act(db, cast.neighbour, id_of(made.public), reports.set_me_too, on=True)
    await _act(db, cast.secretary, id_of(made.private), reports.respond, body="收到")
    await _act(db, cast.secretary, id_of(made.hidden), reports.respond, body="收到")
    await _act(db, cast.secretary, id_of(made.anonymous), reports.respond, body="收到")
    later = (await _stored(db))[seen:]
    changed = [event.payload["report_id"] for event in later if event.type == "report.changed"]
    assert sorted(changed) == sorted(
        [id_of(made.public)] * 3 + [id_of(made.private), id_of(made.hidden)] * 2 + [id_of(made.anonymous)] * 3
    )
    assert [event.payload["report_id"] for event in later if event.room == list_room] == [
        made.public.id,
        made.anonymous.id,
    ]
    for event in await _stored(db):
        about_anonymous = event.room == list_room and event.payload.get("report_id") == made.anonymous.id
        if about_anonymous or event.room == rooms.REPORT(id_of(made.anonymous)):
            assert cast.reporter.username not in str(event.payload), (event.type, event.payload)


async def _replay(db: Database, user: User, room: str) -> list[dict[str, Any]] | None:
    """What `user` is replayed in `room` from the start of the log, as the socket server does it; None when the
    room refuses them."""
    async with db.read_only() as session:
        try:
            kind, standing = await rooms.check_access(session, user, room)
        except DomainError:
            return None
        newest = await latest_event_id(session)
        backlog = await events_after(session, room=room, after=0, upto=newest, limit=1000)
        assert backlog is not None
        if kind.replay is None:
            return backlog
        reader = Reader(user_id=id_of(user), standing=standing, room_id=rooms.parse(room)[1])
        return await kind.replay(session, backlog, reader)


async def test_the_replay_of_each_report_room_gives_each_reader_only_what_they_may_see_now(
    db: Database, tmp_path: Path
) -> None:
    cast = await _cast(db, "pr")
    made = await _reports(db, cast, tmp_path)
    community_id = id_of(cast.community)
    for reader, user in cast.readers().items():
        # The community's list: the hidden report only for its reporter and those who moderate.
        listed = await _replay(db, user, rooms.REPORTS(community_id))
        if reader in ("other_secretary", "outsider"):
            assert listed is None, reader
        else:
            assert listed is not None
            created = [envelope["data"]["report_id"] for envelope in listed if envelope["type"] == "report.created"]
            expected = [made.public.id, made.anonymous.id]
            if reader in ("reporter", "secretary", "admin"):
                expected.append(made.hidden.id)
            assert created == expected, reader
            if reader not in ("reporter", "secretary", "admin"):  # only the news that it left the list
                about_hidden = [envelope for envelope in listed if envelope["data"].get("report_id") == made.hidden.id]
                assert [envelope["type"] for envelope in about_hidden] == ["report.hidden"], reader
            else:
                changed = [envelope["data"]["report_id"] for envelope in listed if envelope["type"] == "report.changed"]
                assert made.hidden.id in changed, reader
            assert all(envelope["data"].get("report_id") != made.private.id for envelope in listed), reader
        # The queue: the secretaries' and district admins' alone, with every report.
        queued = await _replay(db, user, rooms.REPORT_QUEUE(community_id))
        if reader in ("secretary", "admin"):
            assert queued is not None
            ids = [envelope["data"]["report_id"] for envelope in queued if envelope["type"] == "report.queued"]
            assert ids == [made.public.id, made.anonymous.id, made.private.id, made.hidden.id]
        else:
            assert queued is None, reader
        # Each report's room: whoever may see the report; a hidden comment only for its author and moderators.
        for name, readers in MAY_SEE.items():
            report = getattr(made, name)
            replayed = await _replay(db, user, rooms.REPORT(id_of(report)))
            assert (replayed is not None) == (reader in readers), (name, reader)
            if replayed is None:
                continue
            comments = [envelope["data"] for envelope in replayed if envelope["type"] == "report.comment_created"]
            if name == "public":
                expected_ids = [made.comment.id]
                if reader in ("neighbour", "secretary", "admin"):
                    expected_ids.append(made.hidden_comment.id)
                assert [comment["comment_id"] for comment in comments] == expected_ids, reader
            if name == "anonymous":
                assert [comment["author"] for comment in comments] == [None]


async def test_the_queue_pages_through_every_open_report_once_waiting_ones_first_soonest_due_first(
    db: Database,
) -> None:
    cast = await _cast(db, "qp")
    start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    made = []
    for hours in (5, 0, 3, 3, 1, 4, 2, 6):  # two made at the same time: the id decides between them
        made.append(
            id_of(
                await make_report(
                    db, reporter=cast.reporter, community=cast.community, now=start + timedelta(hours=hours)
                )
            )
        )
    for report_id in made[:3]:  # answered: after every report still waiting, whatever their due times
        await _act(db, cast.secretary, report_id, reports.respond, body="收到，已安排", now=start + timedelta(hours=7))
    seen: list[int] = []
    after = None
    async with db.read_only() as session:
        for _page in range(10):
            page = await report_queries.queue(
                session, community_id=id_of(cast.community), viewer_id=id_of(cast.secretary), after=after, per_page=3
            )
            seen += [row.report.id for row in page.rows]
            if page.later is None:
                break
            after = report_queries.parse_queue_cursor(page.later)
    async with db.read_only() as session:
        stored = (await session.execute(select(Report).where(col(Report.id).in_(made)))).scalars().all()
    expected = sorted(stored, key=lambda report: (report.queue_rank, report.due_at, report.id))
    assert seen == [report.id for report in expected]
    assert len(set(seen)) == len(made) and [report.queue_rank for report in expected] == [0] * 5 + [1] * 3


async def test_the_comment_count_is_what_neighbours_see_held_and_hidden_comments_leave_it(db: Database) -> None:
    cast = await _cast(db, "cc")
    await _add_words(db, cast)
    report_id = await _to(db, cast, ReportStatus.SUBMITTED)
    await _act(db, cast.neighbour, report_id, reports.comment, body="有点可疑词")  # held: hidden for review
    shown = await _act(db, cast.neighbour, report_id, reports.comment, body="我家楼道也黑")
    assert (await _report(db, report_id)).comment_count == 1
    async with db.unit_of_work() as session:
        comment, report, _community, standing = await access_report_comment(session, cast.secretary, id_of(shown))
        await hiding.set_hidden(
            session,
            actor=cast.secretary,
            item=ReportCommentItem(comment, report),
            standing=standing,
            hidden=True,
            reason="与反映无关",
        )
    assert (await _report(db, report_id)).comment_count == 0
    changed = [event.payload for event in await _stored(db) if event.type == "report.changed"]
    assert changed[-1]["comment_count"] == 0


async def test_a_private_reports_hiding_is_not_told_to_the_neighbours_list(db: Database) -> None:
    cast = await _cast(db, "ph")
    private = await make_report(db, reporter=cast.reporter, community=cast.community, private=True)
    public = await make_report(db, reporter=cast.reporter, community=cast.community)
    for made in (private, public):
        async with db.unit_of_work() as session:
            report, _community, standing = await access_report(session, cast.secretary, id_of(made))
            await hiding.set_hidden(
                session, actor=cast.secretary, item=ReportItem(report), standing=standing, hidden=True, reason="重复"
            )
    hidden = [(event.room, event.payload["report_id"]) for event in await _stored(db) if event.type == "report.hidden"]
    list_room, queue_room = rooms.REPORTS(id_of(cast.community)), rooms.REPORT_QUEUE(id_of(cast.community))
    assert sorted(hidden) == sorted(
        [(queue_room, id_of(private)), (queue_room, id_of(public)), (list_room, id_of(public))]
    )


async def test_a_secretary_who_reported_without_their_name_answers_it_without_it(db: Database) -> None:
    cast = await _cast(db, "sa")
    made = await make_report(db, reporter=cast.secretary, community=cast.community, anonymous=True)
    await _act(db, cast.secretary, id_of(made), reports.respond, body="我来处理", status="in_progress")
    added = [event.payload for event in await _stored(db) if event.type == "report.entry_added"]
    assert added[-1]["actor"] is None and added[-1]["by_reporter"] is True
    async with db.read_only() as session:
        detail = await report_queries.report_detail(
            session, report=await _report(db, id_of(made)), viewer_id=id_of(cast.neighbour), moderates=False
        )
    assert all(entry.actor is None for entry in detail.entries) and detail.row.reporter is None


async def test_the_reporters_words_on_the_timeline_pass_the_word_filter(db: Database) -> None:
    cast = await _cast(db, "rw")
    await _add_words(db, cast)
    resolved = await _to(db, cast, ReportStatus.RESOLVED)
    before = await _snapshot(db, resolved)
    with pytest.raises(InvalidInput) as reopened:
        await _act(db, cast.reporter, resolved, reports.reopen, reason="还是坏蛋词")
    assert "reason" in reopened.value.fields
    with pytest.raises(InvalidInput) as confirmed:
        await _act(db, cast.reporter, resolved, reports.confirm, rating=5, comment="坏蛋词")
    assert "comment" in confirmed.value.fields
    with pytest.raises(InvalidInput) as unrated:  # a comment goes with a rating, or it would be lost
        await _act(db, cast.reporter, resolved, reports.confirm, comment="修好了")
    assert "rating" in unrated.value.fields
    assert await _snapshot(db, resolved) == before


async def test_a_report_still_on_its_clock_counts_neither_as_answered_in_time_nor_as_late(db: Database) -> None:
    cast = await _cast(db, "fg")
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    early = await make_report(db, reporter=cast.reporter, community=cast.community, now=now - timedelta(hours=3))
    await make_report(db, reporter=cast.reporter, community=cast.community, now=now - timedelta(hours=1))  # waiting
    await make_report(db, reporter=cast.reporter, community=cast.community, now=now - timedelta(hours=60))  # late
    await _act(db, cast.secretary, id_of(early), reports.respond, body="收到", now=now - timedelta(hours=2))
    async with db.read_only() as session:
        found = await report_queries.figures(session, community_id=id_of(cast.community), now=now, days=30)
    assert found.reports == 3 and found.answered_in_time == 0.5 and found.median_answer_minutes == 60
