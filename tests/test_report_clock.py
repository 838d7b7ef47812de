"""The problem reports' clock, driven by `now` (no sleeping): reminders at 24 and 4 hours left, the escalation at
the due time and the closing 7 days after "resolved" each happen exactly once, also with two processes running
it at once and with a process killed between two steps; the job finds due reports through its index."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, text, update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import col

from forum.access import access_report
from forum.actions import reports
from forum.actions.report_clock import advance, due_ids, run_due
from forum.db import Database, is_sqlite
from forum.models import (
    AuditEntry,
    ClockStep,
    Community,
    Notification,
    NotificationKind,
    Report,
    ReportEntry,
    ReportEntryKind,
    ReportStatus,
    Role,
    User,
    id_of,
)
from tests.barriers import until_blocked
from tests.factories import make_community, make_district, make_district_admin, make_member, make_report, make_user

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


async def _cast(db: Database, prefix: str) -> tuple[Community, dict[str, User]]:
    district = await make_district(db)
    community = await make_community(db, district=district)
    people = {}
    for name, role in (("reporter", Role.RESIDENT), ("sec1", Role.SECRETARY), ("sec2", Role.SECRETARY)):
        people[name] = await make_user(db, username=f"{prefix}_{name}")
        await make_member(db, user=people[name], community=community, role=role)
    people["admin"] = await make_user(db, username=f"{prefix}_admin")
    await make_district_admin(db, user=people["admin"], district_id=id_of(district))
    return community, people


async def _act(db: Database, user: User, report_id: int, action: Any, **fields: Any) -> Any:
    async with db.unit_of_work() as session:
        report, _community, standing = await access_report(session, user, report_id)
        return await action(session, actor=user, report=report, standing=standing, **fields)


async def _entries(db: Database, report_id: int | None = None) -> Counter[tuple[str, str]]:
    """The clock's timeline entries, as (kind, body), of one report or all."""
    statement = select(col(ReportEntry.kind), col(ReportEntry.body)).where(col(ReportEntry.actor_id).is_(None))
    if report_id is not None:
        statement = statement.where(col(ReportEntry.report_id) == report_id)
    async with db.read_only() as session:
        return Counter((str(kind), str(body)) for kind, body in (await session.execute(statement)).all())


async def _notified(db: Database) -> Counter[tuple[str, int]]:
    """Notifications of the clock's kinds, as (kind, recipient)."""
    kinds = [NotificationKind.REPORT_REMINDER, NotificationKind.REPORT_ESCALATED]
    async with db.read_only() as session:
        rows = await session.execute(
            select(col(Notification.kind), col(Notification.user_id)).where(col(Notification.kind).in_(kinds))
        )
        return Counter((str(kind), int(user_id)) for kind, user_id in rows.all())


async def _audited(db: Database) -> list[str]:
    async with db.read_only() as session:
        rows = await session.execute(
            select(col(AuditEntry.detail))
            .where(col(AuditEntry.action) == "report.escalated")
            .order_by(col(AuditEntry.id))
        )
        return [str(detail) for detail in rows.scalars()]


async def _report(db: Database, report_id: int) -> Report:
    async with db.read_only() as session:
        report = await session.get(Report, report_id)
        assert report is not None
        return report


async def test_the_reminders_and_the_escalation_each_happen_once_at_their_time(db: Database) -> None:
    community, people = await _cast(db, "ck")
    report_id = id_of(await make_report(db, reporter=people["reporter"], community=community, now=T0))
    report = await _report(db, report_id)
    assert report.due_at == T0 + timedelta(hours=48)
    assert (report.clock_step, report.clock_at) == (ClockStep.REMIND_24, T0 + timedelta(hours=24))
    secretaries = [id_of(people["sec1"]), id_of(people["sec2"])]
    rounds = [
        (timedelta(hours=23, minutes=59), 0),
        (timedelta(hours=24), 1),
        (timedelta(hours=24), 0),  # again at the same time: nothing
        (timedelta(hours=30), 0),
        (timedelta(hours=44), 1),
        (timedelta(hours=47, minutes=59), 0),
        (timedelta(hours=48), 1),
        (timedelta(hours=48), 0),
        (timedelta(days=30), 0),
    ]
    for offset, taken in rounds:
        assert await run_due(db, now=T0 + offset) == taken, offset
    assert await _entries(db, report_id) == Counter({("reminded", "24"): 1, ("reminded", "4"): 1, ("escalated", ""): 1})
    assert await _notified(db) == Counter(
        {
            **{(NotificationKind.REPORT_REMINDER.value, user_id): 2 for user_id in secretaries},
            (NotificationKind.REPORT_ESCALATED.value, id_of(people["admin"])): 1,
        }
    )
    assert len(await _audited(db)) == 1 and f"report {report_id}" in (await _audited(db))[0]
    report = await _report(db, report_id)
    assert report.escalated_at == T0 + timedelta(hours=48) and report.clock_at is None and report.clock_step == ""
    assert report.status == ReportStatus.SUBMITTED  # still waiting for its answer, now overdue
    # Advancing it by hand once more finds nothing to do.
    async with db.unit_of_work() as session:
        assert not await advance(session, report_id, now=T0 + timedelta(days=40))


async def test_a_late_first_round_escalates_without_the_reminders_that_no_longer_make_sense(db: Database) -> None:
    community, people = await _cast(db, "lt")
    late = id_of(await make_report(db, reporter=people["reporter"], community=community, now=T0))
    between = id_of(await make_report(db, reporter=people["reporter"], community=community, now=T0))
    # The server was down: the first round for `between` is after the 4-hour reminder, before the due time.
    assert await run_due(db, now=T0 + timedelta(hours=45)) == 2
    assert await _entries(db, between) == Counter({("reminded", "4"): 1})
    assert await run_due(db, now=T0 + timedelta(hours=72)) == 2
    assert await _entries(db, late) == Counter({("reminded", "4"): 1, ("escalated", ""): 1})
    fresh = id_of(await make_report(db, reporter=people["reporter"], community=community, now=T0))
    assert await run_due(db, now=T0 + timedelta(days=3)) == 1
    assert await _entries(db, fresh) == Counter({("escalated", ""): 1})
    assert len(await _audited(db)) == 3


async def test_an_answer_stops_the_clock_and_the_clock_never_overrides_it(db: Database) -> None:
    community, people = await _cast(db, "an")
    answered = id_of(await make_report(db, reporter=people["reporter"], community=community, now=T0))
    reminded = id_of(await make_report(db, reporter=people["reporter"], community=community, now=T0))
    await _act(db, people["sec1"], answered, reports.respond, body="马上派人来修", now=T0 + timedelta(minutes=25))
    report = await _report(db, answered)
    assert report.answer_minutes == 25 and report.clock_at is None
    assert await run_due(db, now=T0 + timedelta(hours=30)) == 1  # only the other one's reminder
    await _act(db, people["sec2"], reminded, reports.respond, body="已联系物业", now=T0 + timedelta(hours=31))
    assert await run_due(db, now=T0 + timedelta(days=10)) == 0
    assert await _entries(db, answered) == Counter()
    assert await _entries(db, reminded) == Counter({("reminded", "24"): 1})
    assert await _audited(db) == []
    # The clock read a step, then the answer came before it took it: the step is not taken.
    late = id_of(await make_report(db, reporter=people["reporter"], community=community, now=T0))
    async with db.unit_of_work() as session:
        assert await due_ids(session, now=T0 + timedelta(hours=50)) == [late]
    await _act(db, people["sec1"], late, reports.respond, body="抱歉来晚了", now=T0 + timedelta(hours=49))
    async with db.unit_of_work() as session:
        assert not await advance(session, late, now=T0 + timedelta(hours=50))
    assert (await _report(db, late)).escalated_at is None


async def test_short_answer_hours_skip_the_reminders_that_would_come_before_the_report(db: Database) -> None:
    community, people = await _cast(db, "sh")
    async with db.unit_of_work() as session:
        await session.execute(update(Community).where(col(Community.id) == community.id).values(report_answer_hours=3))
    community.report_answer_hours = 3
    three = id_of(await make_report(db, reporter=people["reporter"], community=community, now=T0))
    report = await _report(db, three)
    assert (report.clock_step, report.clock_at) == (ClockStep.ESCALATE, T0 + timedelta(hours=3))
    async with db.unit_of_work() as session:
        await session.execute(update(Community).where(col(Community.id) == community.id).values(report_answer_hours=5))
    community.report_answer_hours = 5
    five = id_of(await make_report(db, reporter=people["reporter"], community=community, now=T0))
    report = await _report(db, five)
    assert (report.clock_step, report.clock_at) == (ClockStep.REMIND_4, T0 + timedelta(hours=1))
    for hours in range(0, 8):
        await run_due(db, now=T0 + timedelta(hours=hours))
    assert await _entries(db, three) == Counter({("escalated", ""): 1})
    assert await _entries(db, five) == Counter({("reminded", "4"): 1, ("escalated", ""): 1})


async def test_a_resolved_report_closes_seven_days_later_unless_reopened_or_confirmed(db: Database) -> None:
    community, people = await _cast(db, "rc")
    made = [id_of(await make_report(db, reporter=people["reporter"], community=community, now=T0)) for _ in range(3)]
    resolved_at = T0 + timedelta(hours=2)
    for report_id in made:
        await _act(db, people["sec1"], report_id, reports.respond, body="修好了", status="resolved", now=resolved_at)
    waiting, reopened, confirmed = made
    await _act(db, people["reporter"], reopened, reports.reopen, reason="又坏了", now=resolved_at + timedelta(days=3))
    await _act(db, people["reporter"], confirmed, reports.confirm, now=resolved_at + timedelta(days=1))
    assert await run_due(db, now=resolved_at + timedelta(days=7) - timedelta(minutes=1)) == 0
    assert (await _report(db, waiting)).status == ReportStatus.RESOLVED
    assert await run_due(db, now=resolved_at + timedelta(days=7)) == 1
    assert await run_due(db, now=resolved_at + timedelta(days=30)) == 0
    report = await _report(db, waiting)
    assert report.status == ReportStatus.CLOSED and report.closed_at == resolved_at + timedelta(days=7)
    assert report.queue_rank == 9 and report.clock_at is None
    assert await _entries(db, waiting) == Counter({(ReportEntryKind.AUTO_CLOSED.value, "7"): 1})
    async with db.read_only() as session:  # the reporter is told once, by the clock (no actor)
        told = await session.execute(
            select(col(Notification.user_id), col(Notification.count)).where(
                col(Notification.kind) == NotificationKind.REPORT_CLOSED, col(Notification.actor_id).is_(None)
            )
        )
        assert told.all() == [(people["reporter"].id, 1)]
    assert (await _report(db, reopened)).status == ReportStatus.IN_PROGRESS
    assert await _entries(db, reopened) == Counter()
    assert (await _report(db, confirmed)).closed_at == resolved_at + timedelta(days=1)


def _clock_process(db_url: str, var_dir: Path, now: datetime) -> subprocess.Popen[str]:
    """`forum report-clock --now` as its own OS process."""
    return subprocess.Popen(
        [sys.executable, "-m", "forum", "report-clock", "--now", now.isoformat()],
        env={**os.environ, "DATABASE_URL": db_url, "VAR_DIR": str(var_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _taken(process: subprocess.Popen[str]) -> int:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "failed" not in err, err
    return int(out.split("took ", 1)[1].split(" ", 1)[0])


async def test_two_processes_running_the_clock_at_once_take_every_step_once(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    community, people = await _cast(db, "tp")
    made = [id_of(await make_report(db, reporter=people["reporter"], community=community, now=T0)) for _ in range(30)]
    for offset in (timedelta(hours=25), timedelta(hours=45), timedelta(hours=50)):
        first = _clock_process(db_url, tmp_path, T0 + offset)
        second = _clock_process(db_url, tmp_path, T0 + offset)
        assert await asyncio.to_thread(_taken, first) + await asyncio.to_thread(_taken, second) == len(made)
    entries = await _entries(db)
    assert entries == Counter({("reminded", "24"): 30, ("reminded", "4"): 30, ("escalated", ""): 30})
    for report_id in made:
        assert await _entries(db, report_id) == Counter(
            {("reminded", "24"): 1, ("reminded", "4"): 1, ("escalated", ""): 1}
        )
    notified = await _notified(db)
    assert notified[(NotificationKind.REPORT_REMINDER.value, id_of(people["sec1"]))] == 60
    assert notified[(NotificationKind.REPORT_ESCALATED.value, id_of(people["admin"]))] == 30
    assert len(await _audited(db)) == 30


@pytest.mark.only_postgresql
async def test_a_clock_process_killed_between_two_steps_leaves_each_step_taken_once(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    community, people = await _cast(db, "kl")
    first = id_of(await make_report(db, reporter=people["reporter"], community=community, now=T0))
    second = id_of(await make_report(db, reporter=people["reporter"], community=community, now=T0))
    now = T0 + timedelta(hours=50)
    holder = create_async_engine(db_url)
    try:
        async with holder.connect() as connection:
            transaction = await connection.begin()
            await connection.execute(text("SELECT id FROM report WHERE id = :id FOR UPDATE"), {"id": second})
            process = _clock_process(db_url, tmp_path, now)
            try:
                # The process takes the reports in order, each in its own transaction: once it waits for the
                # second's row lock, the first's step is committed.
                await until_blocked(db)
                assert process.poll() is None, process.communicate()
                assert (await _report(db, first)).escalated_at is not None
                process.send_signal(signal.SIGKILL)
                process.communicate(timeout=30)
                assert process.returncode == -signal.SIGKILL
            finally:
                if process.poll() is None:
                    process.kill()
                    process.communicate()
            await transaction.rollback()
    finally:
        await holder.dispose()
    assert await _entries(db, first) == Counter({("escalated", ""): 1})
    assert await _entries(db, second) == Counter()
    assert await asyncio.to_thread(_taken, _clock_process(db_url, tmp_path, now)) == 1
    assert await asyncio.to_thread(_taken, _clock_process(db_url, tmp_path, now)) == 0
    for report_id in (first, second):
        assert await _entries(db, report_id) == Counter({("escalated", ""): 1})
    assert await _notified(db) == Counter({(NotificationKind.REPORT_ESCALATED.value, id_of(people["admin"])): 2})
    assert len(await _audited(db)) == 2


async def test_the_clock_finds_due_reports_through_its_index_not_a_scan(db: Database) -> None:
    community, people = await _cast(db, "ix")
    due = id_of(await make_report(db, reporter=people["reporter"], community=community, now=T0))
    for _ in range(5):  # closed ones, with no step pending
        closed = id_of(await make_report(db, reporter=people["reporter"], community=community, now=T0))
        await _act(
            db, people["sec1"], closed, reports.respond, body="不归我们管", status="declined", referred_to="派出所"
        )
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if "clock_at" in statement and statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with db.read_only() as session:
            assert await due_ids(session, now=T0 + timedelta(days=3)) == [due]
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", capture)
    ((statement, parameters),) = captured
    async with db.engine.connect() as connection:
        if is_sqlite(db.url):
            plan = " ".join(
                str(row[-1]) for row in await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            )
        else:
            # The table is tiny, so the planner would rather read it whole; with sequential scans off it shows
            # the index answers the query (the bench measures it with 100,000 reports).
            await connection.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(str(row[0]) for row in await connection.exec_driver_sql("EXPLAIN " + statement, parameters))
            await connection.rollback()
    assert "ix_report_clock" in plan, plan
    assert "SCAN report" not in plan.replace("USING INDEX", ""), plan
    assert "Seq Scan" not in plan, plan
