"""The reports' clock: remind the secretaries 24 and 4 hours before a report's answer is due, escalate it to the
district's admins when the due time passes unanswered (marked overdue for everyone, logged), and close a report
resolved 7 days ago that its reporter neither confirmed nor reopened.

Each report carries the one step its clock takes next (`report.clock_step`, at `report.clock_at`; none once
answered, escalated or closed), so the job finds what is due through the `ix_report_clock` index and never
looks at the rest. Each step is taken in its own transaction by one conditional UPDATE from the step it must
be at: any number of processes may run the clock at once, or be killed between two steps, and each step still
happens exactly once. A step found late (the server was down) does what is due by then: a report past its due
time is escalated without first sending reminders that no longer make sense.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum import subjects
from forum.actions import audit, notifications
from forum.actions.reports import (
    CONFIRM_DAYS,
    QUEUE_RANK,
    _add_entry,
    clock_steps,
    district_admins_of,
    report_data,
    secretaries_of,
)
from forum.db import Database, record_event
from forum.models import ClockStep, Community, NotificationKind, Report, ReportEntryKind, ReportStatus, id_of
from forum.paths import report_path

log = logging.getLogger(__name__)


async def due_ids(session: AsyncSession, *, now: datetime, most: int = 200) -> list[int]:
    """Reports whose next step is due, soonest first (an index range: closed reports are not in it)."""
    rows = await session.execute(
        select(col(Report.id))
        .where(col(Report.clock_at).is_not(None), col(Report.clock_at) <= now)
        .order_by(col(Report.clock_at), col(Report.id))
        .limit(most)
    )
    return [ident for ident in rows.scalars() if ident is not None]


async def run_due(database: Database, *, now: datetime, most: int = 200) -> int:
    """Take every step that is due at `now`, each report in its own unit of work; returns how many this call
    took (others may have been taken by another process meanwhile). A report whose step fails is logged and
    tried again at the next round; the others still go."""
    async with database.unit_of_work() as session:
        ids = await due_ids(session, now=now, most=most)
    taken = 0
    for report_id in ids:
        try:
            async with database.unit_of_work() as session:
                taken += await advance(session, report_id, now=now)
        except Exception as error:
            if database.outage.note(error):
                raise  # the database is away: the whole round waits for the next one
            log.exception("the report clock failed on report %d; it is tried again at the next round", report_id)
    return taken


async def advance(session: AsyncSession, report_id: int, *, now: datetime) -> bool:
    """Take the report's due step, once: False if it is not due, or another process took it first."""
    report = (
        await session.execute(
            select(Report)
            .where(col(Report.id) == report_id, col(Report.clock_at) <= now)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if report is None or report.clock_at is None or not report.clock_step:
        return False
    if report.clock_step == ClockStep.CLOSE:
        return await _close(session, report, now=now)
    steps = clock_steps(report.due_at)
    # The latest step whose time has come; the ones before it are moot now.
    index = max(position for position, (_step, at) in enumerate(steps) if at <= now or position == 0)
    if steps[index][1] > now:
        return False
    step = steps[index][0]
    following = steps[index + 1] if index + 1 < len(steps) else None
    values: dict[str, object] = {
        "clock_step": following[0] if following else "",
        "clock_at": following[1] if following else None,
    }
    if step == ClockStep.ESCALATE:
        values["escalated_at"] = now
    if not await _take(session, report, while_status=None, values=values):
        return False
    community = await session.get(Community, report.community_id)
    assert community is not None  # noqa: S101 -- a report's community (foreign key)
    if step == ClockStep.ESCALATE:
        await _escalate(session, report, community, now=now)
    else:
        await _remind(session, report, hours=24 if step == ClockStep.REMIND_24 else 4, now=now)
    return True


async def _take(session: AsyncSession, report: Report, *, while_status: str | None, values: dict[str, object]) -> bool:
    """The conditional UPDATE that makes a step happen once: from exactly the step this process read, and only
    while the report still waits for it (unanswered, or resolved for the closing step)."""
    statement = update(Report).where(
        col(Report.id) == report.id,
        col(Report.clock_step) == report.clock_step,
        col(Report.clock_at) == report.clock_at,
    )
    if while_status is None:
        statement = statement.where(col(Report.answered_at).is_(None))
    else:
        statement = statement.where(col(Report.status) == while_status)
    if (await session.execute(statement.values(**values).returning(col(Report.id)))).first() is None:
        return False
    for name, value in values.items():
        setattr(report, name, value)
    return True


async def _remind(session: AsyncSession, report: Report, *, hours: int, now: datetime) -> None:
    await _add_entry(
        session, report, kind=ReportEntryKind.REMINDED, actor=None, actor_id=None, body=str(hours), now=now
    )
    await notifications.notify(
        session,
        recipients=await secretaries_of(session, report.community_id),
        kind=NotificationKind.REPORT_REMINDER,
        community_id=report.community_id,
        subject=subjects.report(id_of(report)),
        actor_id=None,
        title=report.title,
        url=report_path(id_of(report)),
    )


async def _escalate(session: AsyncSession, report: Report, community: Community, *, now: datetime) -> None:
    """Past due without a formal answer: overdue for everyone who can see it, the district's admins told, and
    the escalation logged."""
    await _add_entry(session, report, kind=ReportEntryKind.ESCALATED, actor=None, actor_id=None, now=now)
    record_event(session, report_data(report))
    await notifications.notify(
        session,
        recipients=await district_admins_of(session, community),
        kind=NotificationKind.REPORT_ESCALATED,
        community_id=report.community_id,
        subject=subjects.report(id_of(report)),
        actor_id=None,
        title=report.title,
        url=report_path(id_of(report)),
        members_only=False,  # district admins are not members of the community
    )
    await audit.record(
        session,
        actor=None,
        action="report.escalated",
        community_id=report.community_id,
        target_user_id=report.reporter_id,
        detail=f"report {id_of(report)}: {report.title}",
    )


async def _close(session: AsyncSession, report: Report, *, now: datetime) -> bool:
    """Resolved 7 days ago, and the reporter neither confirmed nor reopened it: closed."""
    values: dict[str, object] = {
        "status": ReportStatus.CLOSED,
        "queue_rank": QUEUE_RANK[ReportStatus.CLOSED],
        "closed_at": now,
        "clock_step": "",
        "clock_at": None,
    }
    if not await _take(session, report, while_status=ReportStatus.RESOLVED, values=values):
        return False
    await _add_entry(
        session,
        report,
        kind=ReportEntryKind.AUTO_CLOSED,
        actor=None,
        actor_id=None,
        status=ReportStatus.CLOSED,
        body=str(CONFIRM_DAYS),
        now=now,
    )
    record_event(session, report_data(report))
    await notifications.notify(
        session,
        recipients=[report.reporter_id] if report.reporter_id is not None else [],
        kind=NotificationKind.REPORT_CLOSED,
        community_id=report.community_id,
        subject=subjects.report(id_of(report)),
        actor_id=None,
        title=report.title,
        url=report_path(id_of(report)),
    )
    return True
