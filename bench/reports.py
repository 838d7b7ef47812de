"""Problem reports at scale: the neighbours' list, the secretaries' queue and the clock job with many reports in a
community, each against a baseline measured in the same run.

    .venv/bin/python -m bench.reports [--reports 100000] [--small 1000] [--due 20] [--seconds 10]
        [--concurrency 8] [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres] [--json]

Two fresh databases (SQLite files in a temp dir, or throwaway databases on the PostgreSQL server given), each
with the demo district, 200 more verified neighbours and `--small` or `--reports` reports in yuepu-xincun written
by `forum.bulk.seed_reports` (a year of them: mostly closed, the recent ones open, a few overdue), then `--due`
reports made through `forum.actions.reports.submit_report` 49 hours ago, whose clock step is due now.

- statements: the SQL statements each page runs (counted on the engine as tests/test_statements.py does), for the
  list's first page, its last page of open reports (the deepest an "earlier" link leads: every older report is
  closed), a page deep in all reports, and the queue's first and last pages; with `--small` and with `--reports`
  reports. The issue wants them equal and at most 8.
- clock: `due_ids` (the clock job's search, median of many) and `run_due` (taking the `--due` steps, each in
  its unit of work; reset between rounds) with `--small` and with `--reports` reports: the ratio stays about 1
  if the index is used. Beside it the same search with the index off (`NOT INDEXED` on SQLite; index and bitmap
  scans disabled on PostgreSQL): what a scan would cost. The plan of the search is printed.
- throughput: with `--reports` reports, the forum and the floor (bench/floor_app.py: bare Quart, one Core select
  of a thread's 50 posts, Jinja2) under uvicorn, one worker each, loaded from one aiohttp client for `--seconds`
  each; requests/s and the ratio to the floor. The issue wants at least 0.5. The list is read by a resident, the
  queue by the secretary.
- plans: EXPLAIN (QUERY PLAN) of each page's report statement with `--reports` reports.

Not a timed test: tests/test_reports_bench.py runs it tiny to keep it working.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from quart import Quart
from sqlalchemy import event, func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import col

from bench.fanout import database
from bench.pages import FLOOR, _load, _start, _thread_with_likes, _wait
from forum.access import standing_in
from forum.actions import reports as report_actions
from forum.actions.report_clock import due_ids, run_due
from forum.app import create_app
from forum.bulk import seed_bulk, seed_reports
from forum.db import Database
from forum.models import ClockStep, Community, Report, ReportCategory, ReportStatus, User
from forum.queries import reports as report_queries
from forum.seed import DEMO_PASSWORD, seed_demo
from forum.timeutil import utcnow

SLUG = "yuepu-xincun"
RESIDENT = "zhang_wei"
SECRETARY = "secretary_li"
LIST_PAGES = ("list, first page (open)", "list, last page of open", "list, deep page of all")
QUEUE_PAGES = ("queue, first page", "queue, last page")
HEALTH = "health check (1 statement, no template)"
THREAD = "thread page (50 posts with likes)"
PORTS = (8971, 8972)  # the forum, the floor
LOADS = 7  # each page's loads in-process
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Sized:
    """What one database size measured."""

    reports: int
    by_status: dict[str, int] = field(default_factory=dict)
    queue_length: int = 0
    statements: dict[str, int] = field(default_factory=dict)
    page_ms: dict[str, float] = field(default_factory=dict)  # in-process, one request at a time
    clock_ms: dict[str, float] = field(default_factory=dict)
    clock_plan: list[str] = field(default_factory=list)
    page_plans: dict[str, list[str]] = field(default_factory=dict)
    throughput: dict[str, dict[str, float]] = field(default_factory=dict)


# --- data ------------------------------------------------------------------------------------------------------


async def _fill(db: Database, reports: int, due: int, now: datetime) -> tuple[Sized, list[int]]:
    """The demo district, 200 more neighbours and `reports` reports; then `due` reports made 49 hours ago
    through the domain action, their clock due now. Returns the due reports' ids."""
    async with db.unit_of_work() as session:
        await seed_demo(session)
    async with db.unit_of_work() as session:
        await seed_bulk(session, community_slug=SLUG, threads=0, replies=0, users=200)
        seeded = await seed_reports(session, community_slug=SLUG, reports=reports, now=now)
    sized = Sized(reports=reports, by_status=seeded.by_status)
    made = now - timedelta(hours=49)
    ids = []
    async with db.unit_of_work() as session:
        community = (await session.execute(select(Community).where(col(Community.slug) == SLUG))).scalar_one()
        category = (
            (await session.execute(select(ReportCategory).where(col(ReportCategory.community_id) == community.id)))
            .scalars()
            .first()
        )
        assert category is not None
        people = list(
            (await session.execute(select(User).where(col(User.username).like("bulk_%")).limit(due))).scalars()
        )
        for n in range(due):
            person = people[n % len(people)]
            standing = await standing_in(session, person, community)
            report = await report_actions.submit_report(
                session,
                actor=person,
                community=community,
                standing=standing,
                category_id=category.id,
                description=f"楼道灯不亮，第{n}处",
                location="3号楼2单元",
                now=made + timedelta(seconds=n),
            )
            ids.append(report.id or 0)
    return sized, ids


# --- statements ------------------------------------------------------------------------------------------------


@contextmanager
def _counting(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements run on `engine` meanwhile, with their parameters, except the relay's reads of the event
    log (as tests/test_statements.py counts them)."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: object, _cursor: object, statement: str, parameters: Any, *_args: object) -> None:
        if "WHERE event.id >" not in statement:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _paths(db: Database, now: datetime) -> dict[str, str]:
    """Each measured page's path: the deep ones found with the same queries the pages run."""
    async with db.read_only() as session:
        community = (await session.execute(select(Community).where(col(Community.slug) == SLUG))).scalar_one()
        resident = (await session.execute(select(User).where(col(User.username) == RESIDENT))).scalar_one()
        secretary = (await session.execute(select(User).where(col(User.username) == SECRETARY))).scalar_one()
        community_id = community.id or 0
        visible = report_queries.visible_to(resident.id, False)
        assert visible is not None
        opened = (
            await session.execute(
                select(col(Report.id))
                .where(col(Report.community_id) == community_id, col(Report.status).in_(report_queries.OPEN), visible)
                .order_by(col(Report.id))
                .limit(report_queries.PER_PAGE // 2)
            )
        ).scalars()
        last_open = max((ident or 0 for ident in opened), default=0)
        total = (
            await session.execute(select(func.count()).where(col(Report.community_id) == community_id))
        ).scalar_one()
        deep = (
            await session.execute(
                select(col(Report.id))
                .where(col(Report.community_id) == community_id)
                .order_by(col(Report.id))
                .offset(total // 10)
                .limit(1)
            )
        ).scalar_one()
        waiting = (
            await session.execute(
                select(func.count()).where(col(Report.community_id) == community_id, col(Report.queue_rank) <= 2)
            )
        ).scalar_one()
        depth = max(1, waiting - report_queries.QUEUE_PER_PAGE // 2)
        last = await report_queries.queue(
            session, community_id=community_id, viewer_id=secretary.id or 0, per_page=depth
        )
    base = f"/c/{SLUG}/reports"
    return {
        LIST_PAGES[0]: base,
        LIST_PAGES[1]: f"{base}?before={last_open + 1}",
        LIST_PAGES[2]: f"{base}?show=all&before={deep}",
        QUEUE_PAGES[0]: f"{base}/queue",
        QUEUE_PAGES[1]: f"{base}/queue?after={last.later}" if last.later else f"{base}/queue",
        "_waiting": str(waiting),
    }


async def _sign_in(app: Quart, username: str) -> Any:
    client = app.test_client()
    page = await (await client.get("/login")).get_data(as_text=True)
    token = _TOKEN.search(page)
    assert token is not None
    response = await client.post(
        "/login", form={"username": username, "password": DEMO_PASSWORD, "csrf_token": token.group(1)}
    )
    assert response.status_code == 302, response.status_code
    await client.get("/")  # the once-a-minute last-seen write happens here, not in a page measured
    return client


async def _statements(
    db_url: str, var: str, paths: dict[str, str]
) -> tuple[dict[str, int], dict[str, float], dict[str, Any]]:
    """Statements per page (the same on every load, or it fails), the median time of a load in-process (the
    test client, one at a time), and each page's report statement."""
    config = {"DATABASE_URL": db_url, "VAR_DIR": var, "SECRET_KEY": "bench", "EVENT_POLL_SECONDS": 3600.0}
    app = create_app({**config, "RATE_LIMITS_ENABLED": False})
    counts: dict[str, int] = {}
    times: dict[str, float] = {}
    main: dict[str, Any] = {}
    async with app.test_app():
        engine = app.extensions["linli.db"].engine.sync_engine
        clients = {RESIDENT: await _sign_in(app, RESIDENT), SECRETARY: await _sign_in(app, SECRETARY)}
        for name in (*LIST_PAGES, *QUEUE_PAGES):
            client = clients[SECRETARY if name.startswith("queue") else RESIDENT]
            seen, took = [], []
            for _ in range(LOADS):
                with _counting(engine) as statements:
                    started = time.perf_counter()
                    response = await client.get(paths[name])
                    body = await response.get_data(as_text=True)
                    took.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, (paths[name], response.status_code, body[:500])
                seen.append(len(statements))
            assert len(set(seen)) == 1, (name, seen)
            counts[name] = seen[0]
            times[name] = statistics.median(took)
            main[name] = next(
                (pair for pair in statements if "FROM report " in pair[0] and "LIMIT" in pair[0]), statements[0]
            )
    return counts, times, main


async def _explain(db: Database, statement: str, parameters: Any) -> list[str]:
    async with db.read_only() as session:
        connection = await session.connection()
        if connection.dialect.name == "postgresql":
            rows = await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            return [row[0] for row in rows]
        rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return [str(row[-1]) for row in rows]


# --- the clock -------------------------------------------------------------------------------------------------


async def _clock(db: Database, sized: Sized, due: list[int], now: datetime, repeats: int, rounds: int) -> None:
    engine = db.engine.sync_engine
    async with db.read_only() as session:
        with _counting(engine) as statements:
            found = await due_ids(session, now=now)
        assert sorted(found) == sorted(due), (len(found), len(due))
        statement, parameters = statements[0]
    sized.clock_plan = await _explain(db, statement, parameters)
    postgres = engine.dialect.name == "postgresql"
    # On PostgreSQL a different text too: asyncpg would reuse the prepared statement, with its plan.
    scan = f"{statement} /* a scan */" if postgres else statement.replace("FROM report", "FROM report NOT INDEXED", 1)
    times: dict[str, list[float]] = {"due_ids": [], "due_ids, index off (a scan)": []}
    async with db.read_only() as session:
        connection = await session.connection()
        for _ in range(repeats):
            started = time.perf_counter()
            await due_ids(session, now=now)
            times["due_ids"].append(time.perf_counter() - started)
        if postgres:
            await connection.exec_driver_sql("SET LOCAL enable_indexscan = off")
            await connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
            await connection.exec_driver_sql("SET LOCAL enable_indexonlyscan = off")
        for _ in range(max(3, repeats // 10)):
            started = time.perf_counter()
            rows = (await connection.exec_driver_sql(scan, parameters)).all()
            times["due_ids, index off (a scan)"].append(time.perf_counter() - started)
        assert len(rows) == len(due), len(rows)
    taken = []
    for _ in range(rounds + 1):  # the first round warms up (the first size runs in a cold process) and is dropped
        async with db.unit_of_work() as session:  # back to due: the 24-hour reminder, 25 hours late
            for report_id in due:
                report = await session.get(Report, report_id)
                assert report is not None
                step, at = report_actions.first_step(report.due_at, report.created_at)
                await session.execute(
                    update(Report)
                    .where(col(Report.id) == report_id)
                    .values(clock_step=step, clock_at=at, escalated_at=None, status=ReportStatus.SUBMITTED)
                )
        started = time.perf_counter()
        steps = await run_due(db, now=now)
        taken.append(time.perf_counter() - started)
        assert steps == len(due), (steps, len(due))
        assert step == ClockStep.REMIND_24
    sized.clock_ms = {name: statistics.median(values) * 1000 for name, values in times.items()}
    sized.clock_ms[f"run_due ({len(due)} due)"] = statistics.median(taken[1:]) * 1000


# --- throughput ------------------------------------------------------------------------------------------------


async def _signed_in_session(username: str, concurrency: int) -> aiohttp.ClientSession:
    jar = aiohttp.CookieJar(unsafe=True)  # aiohttp otherwise refuses cookies set by an IP-address host
    session = aiohttp.ClientSession(
        base_url=f"http://127.0.0.1:{PORTS[0]}",
        cookie_jar=jar,
        connector=aiohttp.TCPConnector(limit=concurrency),
    )
    page = await (await session.get("/login")).text()
    token = _TOKEN.search(page)
    assert token is not None
    form = {"username": username, "password": DEMO_PASSWORD, "csrf_token": token.group(1)}
    async with session.post("/login", data=form, allow_redirects=False) as response:
        assert response.status == 302, response.status
    return session


async def _throughput(db_url: str, var: str, paths: dict[str, str], options: argparse.Namespace) -> dict[str, Any]:
    import sys

    thread_id = await _thread_with_likes(db_url)
    env = {"VAR_DIR": var, "DATABASE_URL": db_url, "RATE_LIMITS_ENABLED": "false"}
    uvicorn = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--no-access-log", "--port"]
    app = _start([*uvicorn, str(PORTS[0]), "forum.asgi:app"], env)
    floor = _start([*uvicorn, str(PORTS[1]), "bench.floor_app:app"], env)
    results: dict[str, dict[str, float]] = {}
    try:
        await _wait(f"http://127.0.0.1:{PORTS[0]}/healthz")
        floor_url = f"http://127.0.0.1:{PORTS[1]}/floor/thread/{thread_id}"
        await _wait(floor_url)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=options.concurrency)) as session:
            results[FLOOR] = await _load(session, floor_url, options.seconds, options.concurrency, floor.pid)
        references = {HEALTH: "/healthz", THREAD: f"/t/{thread_id}"}
        for username, names in ((RESIDENT, (*references, *LIST_PAGES)), (SECRETARY, QUEUE_PAGES)):
            session = await _signed_in_session(username, options.concurrency)
            try:
                for name in names:
                    path = references.get(name) or paths[name]
                    async with session.get(path) as response:
                        assert response.status == 200, (path, response.status)
                    url = f"http://127.0.0.1:{PORTS[0]}{path}"
                    results[name] = await _load(session, url, options.seconds, options.concurrency, app.pid)
            finally:
                await session.close()
    finally:
        for process in (app, floor):
            process.terminate()
            process.wait()
    return results


# --- the run ---------------------------------------------------------------------------------------------------


async def _one_size(
    options: argparse.Namespace, reports: int, var: Path, *, full: bool
) -> tuple[Sized, dict[str, str]]:
    await asyncio.to_thread(var.mkdir)
    now = utcnow()
    async with database(options.database_url or None, var) as db_url:
        db = Database(db_url, upload_dir=var / "uploads")  # where the app keeps them: the demo has pictures
        try:
            sized, due = await _fill(db, reports, options.due, now)
            await _clock(db, sized, due, now, options.repeats, options.rounds)
            paths = await _paths(db, now)
            sized.queue_length = int(paths.pop("_waiting"))
            counts, sized.page_ms, main = await _statements(db_url, str(var), paths)
            sized.statements = counts
            if full:
                for name, (statement, parameters) in main.items():
                    sized.page_plans[name] = await _explain(db, statement, parameters)
        finally:
            await db.dispose()
        if full and not options.no_throughput:
            sized.throughput = await _throughput(db_url, str(var), paths, options)
    return sized, paths


async def run(options: argparse.Namespace) -> dict[str, Any]:
    from forum import search

    await asyncio.to_thread(search.initialize)
    with tempfile.TemporaryDirectory() as var:
        small, _ = await _one_size(options, options.small, Path(var) / "small", full=False)
        large, paths = await _one_size(options, options.reports, Path(var) / "large", full=True)
    report: dict[str, Any] = {
        "database": "postgresql" if options.database_url else "sqlite",
        "sizes": [vars(small), vars(large)],
        "paths": paths,
        "statements_constant": small.statements == large.statements,
        "statements_max": max(large.statements.values()),
        "clock_ratio": {name: large.clock_ms[name] / small.clock_ms[name] for name in large.clock_ms},
    }
    if large.throughput:
        floor = large.throughput[FLOOR]["rps"]
        floor_cpu = large.throughput[FLOOR]["cpu_ms"]
        report["throughput_ratio"] = {name: row["rps"] / floor for name, row in large.throughput.items()}
        report["cpu_ratio"] = {name: floor_cpu / row["cpu_ms"] for name, row in large.throughput.items()}
    return report


def show(report: dict[str, Any]) -> None:
    small, large = report["sizes"]
    print(f"database {report['database']}; {small['reports']} and {large['reports']} reports in {SLUG}")
    print(f"with {large['reports']}: {large['by_status']}; {large['queue_length']} in the queue")
    print(
        f"\n{'statements per page':<32} {small['reports']:>8} {large['reports']:>8}"
        f" {'ms ' + str(small['reports']):>9} {'ms ' + str(large['reports']):>9} {'ratio':>6}   path"
    )
    for name, count in large["statements"].items():
        before, after = small["page_ms"][name], large["page_ms"][name]
        print(
            f"{name:<32} {small['statements'][name]:>8} {count:>8} {before:>9.2f} {after:>9.2f} "
            f"{after / before:>6.2f}   {report['paths'][name]}"
        )
    verdict = "constant" if report["statements_constant"] else "NOT constant"
    print(f"{verdict}, at most {report['statements_max']}")
    print(f"\n{'clock, median ms':<32} {small['reports']:>8} {large['reports']:>8} {'ratio':>7}")
    for name, value in large["clock_ms"].items():
        print(f"{name:<32} {small['clock_ms'][name]:>8.2f} {value:>8.2f} {report['clock_ratio'][name]:>7.2f}")
    print("plan of due_ids: " + " | ".join(large["clock_plan"]))
    if large["throughput"]:
        print(
            f"\n{'throughput':<52} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x floor':>8} "
            f"{'CPU ms':>7} {'floor CPU/CPU':>13} {'errors':>6}"
        )
        for name, row in large["throughput"].items():
            print(
                f"{name:<52} {row['rps']:>8.0f} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} "
                f"{report['throughput_ratio'][name]:>8.2f} {row['cpu_ms']:>7.2f} {report['cpu_ratio'][name]:>13.2f} "
                f"{row['errors']:>6.0f}"
            )
    print(f"\nplans with {large['reports']} reports:")
    for name, plan in large["page_plans"].items():
        print(f"  {name}: " + " | ".join(line.strip() for line in plan))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000, help="the baseline size for statements and the clock")
    parser.add_argument("--due", type=int, default=20, help="reports whose clock step is due")
    parser.add_argument("--repeats", type=int, default=200, help="times due_ids is timed")
    parser.add_argument("--rounds", type=int, default=3, help="times run_due is timed")
    parser.add_argument("--seconds", type=float, default=10, help="load time per page")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--no-throughput", action="store_true", help="statements, clock and plans only")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres: throwaway "
        "databases are created on it and dropped afterwards (default: SQLite in a temp dir)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON after the table")
    options = parser.parse_args(argv)
    report = asyncio.run(run(options))
    show(report)
    if options.json:
        print(json.dumps(report, default=str))


if __name__ == "__main__":
    main()
