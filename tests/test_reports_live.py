"""Problem reports over Socket.IO, against a real server process and a real client: every live update of a
report reaches the rooms it must (the community's list, the secretaries' queue, the report's own room) and no
one else; a private report's room refuses neighbours; a resumed subscription replays only what the reader may
still see. The actions run in this test's process on the same database (as another server process would), and
the server relays them from the event log; the clock runs with `run_due`."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from forum import rooms
from forum.access import access_report, access_report_comment, standing_in
from forum.actions import hiding, reports
from forum.actions.report_clock import run_due
from forum.db import Database
from forum.flaggables import ReportCommentItem, ReportItem
from forum.models import Community, Report, ReportComment, Role, User, id_of
from forum.queries.threads import latest_event_id
from forum.timeutil import utcnow
from tests.factories import make_community, make_district, make_district_admin, make_member, make_report, make_user
from tests.servers import Server
from tests.test_messages_live import Participant

pytestmark = pytest.mark.server

WAIT = 20  # seconds: the server relays what another process stored at its next read of the log (2 s at most)


class Watcher(Participant):
    """A client that keeps every envelope it passed over, to check what came before the one it waited for."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, Any]] = []

    async def next_in(self, kind: str, room: str | None = None) -> dict[str, Any]:
        """The next envelope of this type (in this room), passing over others."""

        async def find() -> dict[str, Any]:
            while True:
                envelope = await self.events.get()
                self.seen.append(envelope)
                if envelope["type"] == kind and (room is None or envelope["room"] == room):
                    return envelope

        return await asyncio.wait_for(find(), WAIT)


async def _cast(db: Database, prefix: str) -> tuple[Community, dict[str, User]]:
    district = await make_district(db)
    community = await make_community(db, district=district)
    people = {}
    for name, role in (("reporter", Role.RESIDENT), ("neighbour", Role.RESIDENT), ("secretary", Role.SECRETARY)):
        people[name] = await make_user(db, username=f"{prefix}_{name}")
        await make_member(db, user=people[name], community=community, role=role)
    people["admin"] = await make_user(db, username=f"{prefix}_admin")
    await make_district_admin(db, user=people["admin"], district_id=id_of(district))
    return community, people


async def _act(db: Database, user: User, report_id: int, action: Any, **fields: Any) -> Any:
    async with db.unit_of_work() as session:
        report, _community, standing = await access_report(session, user, report_id)
        return await action(session, actor=user, report=report, standing=standing, **fields)


async def _hide_report(db: Database, secretary: User, community: Community, report_id: int) -> None:
    async with db.unit_of_work() as session:
        standing = await standing_in(session, secretary, community)
        report = await session.get(Report, report_id)
        assert report is not None
        await hiding.set_hidden(
            session, actor=secretary, item=ReportItem(report), standing=standing, hidden=True, reason="重复的报告"
        )


async def _hide_comment(db: Database, secretary: User, comment_id: int) -> None:
    async with db.unit_of_work() as session:
        comment, report, _community, standing = await access_report_comment(session, secretary, comment_id)
        await hiding.set_hidden(
            session,
            actor=secretary,
            item=ReportCommentItem(comment, report),
            standing=standing,
            hidden=True,
            reason="人身攻击",
        )


async def test_new_reports_reach_the_list_and_the_queue_live_and_private_ones_only_the_queue(
    server: Server, db: Database
) -> None:
    community, people = await _cast(db, "rl")
    async with db.read_only() as session:
        seen = await latest_event_id(session)
    list_room, queue_room = rooms.REPORTS(id_of(community)), rooms.REPORT_QUEUE(id_of(community))
    neighbour, secretary, admin = Watcher(), Watcher(), Watcher()
    await neighbour.connect(server, "rl_neighbour")
    await secretary.connect(server, "rl_secretary")
    await admin.connect(server, "rl_admin")
    try:
        assert await neighbour.subscribe(list_room, seen) == {"ok": True}
        assert await neighbour.subscribe(queue_room, seen) == {"ok": False, "error": "forbidden"}
        assert await secretary.subscribe(queue_room, seen) == {"ok": True}
        assert await admin.subscribe(queue_room, seen) == {"ok": True}

        private = await make_report(db, reporter=people["reporter"], community=community, private=True)
        anonymous = await make_report(db, reporter=people["reporter"], community=community, anonymous=True)
        named = await make_report(db, reporter=people["reporter"], community=community)

        first = await neighbour.next_in("report.created", list_room)
        # The private report was made first: had it reached the list, it would have come before this one.
        assert first["data"]["report_id"] == anonymous.id and first["data"]["reporter"] is None
        assert all(envelope["data"].get("report_id") != private.id for envelope in neighbour.seen)
        second = await neighbour.next_in("report.created", list_room)
        assert second["data"]["report_id"] == named.id
        assert second["data"]["reporter"]["username"] == "rl_reporter"
        assert "rl_reporter" not in str(first)

        for watcher in (secretary, admin):
            queued = [await watcher.next_in("report.queued", queue_room) for _ in range(3)]
            assert [envelope["data"]["report_id"] for envelope in queued] == [private.id, anonymous.id, named.id]
            assert all(envelope["data"]["reporter"]["username"] == "rl_reporter" for envelope in queued)
            assert [envelope["data"]["is_private"] for envelope in queued] == [True, False, False]
            assert [envelope["data"]["is_anonymous"] for envelope in queued] == [False, True, False]
    finally:
        for participant in (neighbour, secretary, admin):
            await participant.close()


async def test_every_change_of_a_report_reaches_its_room_its_queue_and_its_list_live(
    server: Server, db: Database
) -> None:
    community, people = await _cast(db, "rc")
    report = await make_report(db, reporter=people["reporter"], community=community)
    report_id = id_of(report)
    overdue = await make_report(
        db, reporter=people["reporter"], community=community, now=utcnow() - timedelta(hours=49)
    )
    async with db.read_only() as session:
        seen = await latest_event_id(session)
    room = rooms.REPORT(report_id)
    list_room, queue_room = rooms.REPORTS(id_of(community)), rooms.REPORT_QUEUE(id_of(community))
    neighbour, secretary = Watcher(), Watcher()
    await neighbour.connect(server, "rc_neighbour")
    await secretary.connect(server, "rc_secretary")
    try:
        for subscribed in (room, list_room, rooms.REPORT(id_of(overdue))):
            assert await neighbour.subscribe(subscribed, seen) == {"ok": True}
        assert await secretary.subscribe(queue_room, seen) == {"ok": True}

        # An answer: the clock stops, the timeline grows.
        await _act(db, people["secretary"], report_id, reports.respond, body="收到，明天上午来修")
        entry = await neighbour.next_in("report.entry_added", room)
        assert entry["data"]["kind"] == "answer" and entry["data"]["actor"]["username"] == "rc_secretary"
        answered = await neighbour.next_in("report.changed", room)
        assert answered["data"]["status"] == "answered" and answered["data"]["answered_at"] is not None
        assert answered["data"]["answer_minutes"] is not None and not answered["data"]["overdue"]
        listed = await neighbour.next_in("report.changed", list_room)
        assert listed["data"] == answered["data"]  # the same event, recorded in each of its rooms
        assert (await secretary.next_in("report.changed", queue_room))["data"]["status"] == "answered"

        # A change of status.
        await _act(
            db, people["secretary"], report_id, reports.respond, body="转交物业", status="referred", referred_to="物业"
        )
        status_entry = await neighbour.next_in("report.entry_added", room)
        assert status_entry["data"]["kind"] == "status" and status_entry["data"]["status"] == "referred"
        referred = await neighbour.next_in("report.changed", room)
        assert referred["data"]["status"] == "referred" and referred["data"]["referred_to"] == "物业"

        # Me too, and a comment.
        await _act(db, people["neighbour"], report_id, reports.set_me_too, on=True)
        assert (await neighbour.next_in("report.changed", room))["data"]["me_too_count"] == 1
        comment = await _act(db, people["neighbour"], report_id, reports.comment, body="我家门口也是")
        created = await neighbour.next_in("report.comment_created", room)
        assert created["data"]["comment_id"] == comment.id and "我家门口也是" in created["data"]["body_html"]
        assert created["data"]["author"]["username"] == "rc_neighbour" and not created["data"]["by_reporter"]
        assert (await neighbour.next_in("report.changed", room))["data"]["comment_count"] == 1

        # The clock escalates the overdue one: marked overdue for everyone who watches it.
        await run_due(db, now=utcnow())
        clock_entry = await neighbour.next_in("report.entry_added", rooms.REPORT(id_of(overdue)))
        assert clock_entry["data"]["kind"] == "escalated" and clock_entry["data"]["actor"] is None
        escalated = await neighbour.next_in("report.changed", rooms.REPORT(id_of(overdue)))
        assert escalated["data"]["overdue"] and escalated["data"]["status"] == "submitted"
        overdue_in_queue = await secretary.next_in("report.changed", queue_room)
        while overdue_in_queue["data"]["report_id"] != overdue.id:
            overdue_in_queue = await secretary.next_in("report.changed", queue_room)
        assert overdue_in_queue["data"]["overdue"]

        # A secretary hides the comment, then the report: both rooms are told.
        await _hide_comment(db, people["secretary"], id_of(comment))
        hidden_comment = await neighbour.next_in("report.comment_hidden", room)
        assert hidden_comment["data"]["comment_id"] == comment.id and hidden_comment["data"]["hidden"]
        await _hide_report(db, people["secretary"], community, report_id)
        hidden = await neighbour.next_in("report.hidden", list_room)
        assert hidden["data"]["report_id"] == report_id and hidden["data"]["hidden"]
        assert (await secretary.next_in("report.hidden", queue_room))["data"]["report_id"] == report_id
    finally:
        for participant in (neighbour, secretary):
            await participant.close()


async def test_a_private_reports_room_refuses_neighbours_and_an_anonymous_reporter_stays_nameless(
    server: Server, db: Database
) -> None:
    community, people = await _cast(db, "rp")
    await make_user(db, username="rp_outsider")
    private = await make_report(db, reporter=people["reporter"], community=community, private=True)
    anonymous = await make_report(db, reporter=people["reporter"], community=community, anonymous=True)
    async with db.read_only() as session:
        seen = await latest_event_id(session)
    neighbour, reporter, secretary, outsider = (Watcher() for _ in range(4))
    await neighbour.connect(server, "rp_neighbour")
    await reporter.connect(server, "rp_reporter")
    await secretary.connect(server, "rp_secretary")
    await outsider.connect(server, "rp_outsider")
    try:
        for stranger in (neighbour, outsider):
            assert await stranger.subscribe(rooms.REPORT(id_of(private)), 0) == {"ok": False, "error": "not_found"}
        assert await outsider.subscribe(rooms.REPORT(id_of(anonymous)), 0) == {"ok": False, "error": "not_found"}
        assert await reporter.subscribe(rooms.REPORT(id_of(private)), seen) == {"ok": True}
        assert await secretary.subscribe(rooms.REPORT(id_of(private)), seen) == {"ok": True}
        assert await neighbour.subscribe(rooms.REPORT(id_of(anonymous)), seen) == {"ok": True}

        await _act(db, people["reporter"], id_of(private), reports.comment, body="只给书记看")
        for watcher in (reporter, secretary):
            got = await watcher.next_in("report.comment_created", rooms.REPORT(id_of(private)))
            assert got["data"]["author"]["username"] == "rp_reporter"
        await _act(db, people["reporter"], id_of(anonymous), reports.comment, body="我是报告人")
        got = await neighbour.next_in("report.comment_created", rooms.REPORT(id_of(anonymous)))
        assert got["data"]["author"] is None and got["data"]["by_reporter"]
        assert "rp_reporter" not in str(neighbour.seen)
    finally:
        for participant in (neighbour, reporter, secretary, outsider):
            await participant.close()


async def _replayed(participant: Participant, room: str, after: int, barrier: Any) -> list[dict[str, Any]]:
    """What `participant` receives in `room` after subscribing from `after`, up to the event `barrier()` then
    makes there (it returns how to tell it; the relay sends in id order, so once it arrives the replay has too)."""
    assert await participant.subscribe(room, after) == {"ok": True}
    marker = await barrier()
    received = []
    while True:
        envelope = await asyncio.wait_for(participant.events.get(), WAIT)
        if envelope["room"] != room:
            continue
        received.append(envelope)
        if marker(envelope):
            return received


async def test_a_resumed_subscription_replays_nothing_the_reader_may_no_longer_see(
    server: Server, db: Database
) -> None:
    community, people = await _cast(db, "rr")
    async with db.read_only() as session:
        start = await latest_event_id(session)
    kept = await make_report(db, reporter=people["reporter"], community=community)
    gone = await make_report(db, reporter=people["reporter"], community=community)
    await _act(db, people["neighbour"], id_of(gone), reports.set_me_too, on=True)
    shown: ReportComment = await _act(db, people["neighbour"], id_of(kept), reports.comment, body="留着")
    removed: ReportComment = await _act(db, people["reporter"], id_of(kept), reports.comment, body="说错了话")
    # While the neighbour was away, a secretary hid a report and a comment.
    await _hide_report(db, people["secretary"], community, id_of(gone))
    await _hide_comment(db, people["secretary"], id_of(removed))

    list_room, room = rooms.REPORTS(id_of(community)), rooms.REPORT(id_of(kept))
    for username, sees_hidden in (("rr_neighbour", False), ("rr_secretary", True)):
        reader = Participant()
        await reader.connect(server, username)
        try:

            async def new_report() -> Any:
                made = await make_report(db, reporter=people["reporter"], community=community, description="新的问题")
                return lambda got: got["type"] == "report.created" and got["data"]["report_id"] == made.id

            replayed = await _replayed(reader, list_room, start, new_report)
            created = [envelope["data"]["report_id"] for envelope in replayed if envelope["type"] == "report.created"]
            about_gone = [envelope["type"] for envelope in replayed if envelope["data"]["report_id"] == gone.id]
            if sees_hidden:
                assert created[:2] == [kept.id, gone.id]
                assert about_gone == ["report.created", "report.changed", "report.hidden"]
            else:
                assert created[:1] == [kept.id] and gone.id not in created
                assert about_gone == ["report.hidden"]  # only the news that it left the list

            async def new_comment() -> Any:
                made = await _act(db, people["neighbour"], id_of(kept), reports.comment, body="后来的评论")
                return lambda got: got["data"].get("comment_id") == made.id

            replayed = await _replayed(reader, room, start, new_comment)
            comments = [
                envelope["data"]["comment_id"] for envelope in replayed if envelope["type"] == "report.comment_created"
            ]
            if sees_hidden:
                assert comments[:2] == [shown.id, removed.id]
            else:
                assert comments[:1] == [shown.id] and removed.id not in comments
            # A neighbour cannot follow the hidden report's own room at all.
            answer = await reader.subscribe(rooms.REPORT(id_of(gone)), start)
            assert answer == ({"ok": True} if sees_hidden else {"ok": False, "error": "not_found"})
        finally:
            await reader.close()
