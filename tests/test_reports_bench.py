"""The problem reports benchmark (bench/reports.py), run tiny so that its harness cannot rot unnoticed: every page
measured answers 200 on both sizes, each page's statements are counted the same way on three loads, the clock
finds exactly the reports that are due and takes their steps, and the report has every figure. Also what
`forum.bulk.seed_reports` writes agrees with the rules of `forum.actions.reports` and its clock. SQLite only: this
checks the harness and the data, not the database."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import col

from forum.actions.reports import CONFIRM_DAYS, QUEUE_RANK, clock_steps
from forum.bulk import seed_bulk, seed_reports
from forum.db import Database
from forum.models import ClockStep, Report, ReportEntry, ReportEntryKind, ReportMeToo, ReportStatus
from forum.timeutil import utcnow
from tests.factories import make_community

ROOT = Path(__file__).resolve().parent.parent


def test_the_reports_bench_runs_and_reports_every_figure() -> None:
    command = [
        sys.executable, "-m", "bench.reports", "--reports", "400", "--small", "60", "--due", "2",
        "--repeats", "5", "--rounds", "1", "--seconds", "0.3", "--concurrency", "2", "--json",
    ]  # fmt: skip
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    report = json.loads(finished.stdout.strip().splitlines()[-1])
    small, large = report["sizes"]
    assert (small["reports"], large["reports"]) == (60, 400)
    pages = {
        "list, first page (open)",
        "list, last page of open",
        "list, deep page of all",
        "queue, first page",
        "queue, last page",
    }
    assert set(small["statements"]) == set(large["statements"]) == pages
    assert all(count > 0 for count in large["statements"].values())
    assert set(report["clock_ratio"]) == {"due_ids", "due_ids, index off (a scan)", "run_due (2 due)"}
    assert any("ix_report_clock" in line for line in large["clock_plan"]), large["clock_plan"]
    assert set(report["throughput_ratio"]) >= pages
    assert all(row["errors"] == 0 and row["requests"] > 0 for row in large["throughput"].values())


async def test_seeded_reports_are_what_the_actions_and_the_clock_would_have_written(db: Database) -> None:
    community = await make_community(db)
    now = utcnow()
    async with db.unit_of_work() as session:
        await seed_bulk(session, community_slug=community.slug, threads=0, replies=0, users=12)
        result = await seed_reports(session, community_slug=community.slug, reports=1500, now=now)
    async with db.read_only() as session:
        reports = list((await session.execute(select(Report).order_by(col(Report.id)))).scalars())
        entries = dict(
            (
                await session.execute(
                    select(col(ReportEntry.report_id), func.count()).group_by(col(ReportEntry.report_id))
                )
            ).all()
        )
        kinds = set((await session.execute(select(col(ReportEntry.kind)).distinct())).scalars())
        me_too = dict(
            (
                await session.execute(
                    select(col(ReportMeToo.report_id), func.count()).group_by(col(ReportMeToo.report_id))
                )
            ).all()
        )

    assert len(reports) == result.reports == 1500 and sum(result.by_status.values()) == 1500
    assert result.by_status[ReportStatus.CLOSED] > 1000  # mostly closed; some of everything else
    assert {ReportStatus.SUBMITTED, ReportStatus.RESOLVED, ReportStatus.DECLINED} <= set(result.by_status)
    assert kinds >= {ReportEntryKind.SUBMITTED, ReportEntryKind.ANSWER, ReportEntryKind.AUTO_CLOSED}
    assert sum(entries.values()) == result.entries
    assert [report.created_at for report in reports] == sorted(report.created_at for report in reports)
    for report in reports:
        assert report.queue_rank == QUEUE_RANK[ReportStatus(report.status)]
        assert report.me_too_count == me_too.get(report.id or 0, 0) and entries[report.id or 0] >= 1
        assert report.created_at <= now and report.last_activity_at <= now
        if report.clock_at is not None:
            assert report.clock_at > now  # nothing is left due: the clock has kept up
        if report.status == ReportStatus.SUBMITTED and report.escalated_at is None:
            pending = [(step, at) for step, at in clock_steps(report.due_at) if at > now]
            assert (report.clock_step, report.clock_at) == pending[0]
        elif report.status == ReportStatus.RESOLVED:
            assert report.clock_step == ClockStep.CLOSE and report.resolved_at is not None
            assert report.clock_at == report.resolved_at + timedelta(days=CONFIRM_DAYS)
        else:
            assert report.clock_at is None and report.clock_step == ""
        if report.escalated_at is not None:
            assert report.escalated_at == report.due_at <= now
            assert report.answered_at is None or report.answered_at > report.due_at
        if report.answered_at is not None:
            assert report.answered_by_id is not None and report.answer_minutes is not None
        assert (report.closed_at is not None) == (report.status in (ReportStatus.CLOSED, ReportStatus.DECLINED))
