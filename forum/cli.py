"""The `forum` command: serve, db upgrade, seed-demo, seed-bulk, create-admin."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from forum.config import ConfigError, load_config

T = TypeVar("T")

# How `forum serve` runs uvicorn. The fan-out floor (bench/fanout_floor.py) uses the same, so the two compare.
UVICORN_OPTIONS: dict[str, Any] = {"ws": "websockets-sansio", "proxy_headers": True, "lifespan": "on"}


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    config = load_config()
    host = args.host or config["HOST"]
    port = args.port or config["PORT"]
    workers = args.workers or config["WORKERS"]
    uvicorn.run(
        "forum.asgi:app",
        host=host,
        port=port,
        workers=workers,
        forwarded_allow_ips=config["FORWARDED_ALLOW_IPS"],
        log_level=args.log_level,
        access_log=args.access_log,
        **UVICORN_OPTIONS,
    )
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from forum.migrate import upgrade

    url = load_config()["DATABASE_URL"]
    upgrade(url, args.revision)
    print(f"Database at revision {args.revision}.")
    return 0


def _print_demo_accounts() -> None:
    from forum.seed import DEMO_ACCOUNTS, DEMO_PASSWORD, DEMO_PENDING

    print(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
    for account in DEMO_ACCOUNTS + DEMO_PENDING:
        note = account.role
        if account.is_party_member:
            note += ", party member"
        if account in DEMO_PENDING:
            note += ", pending verification"
        print(f"  {account.username:<15} {account.display_name:<10} {account.community or 'district'} ({note})")


async def _with_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    from forum.db import Database

    config = load_config()
    # With the upload directory: the demo's site plan is a picture, written when the unit of work commits.
    db = Database(config["DATABASE_URL"], upload_dir=config["UPLOAD_DIR"])
    try:
        async with db.unit_of_work() as session:
            return await work(session)
    finally:
        await db.dispose()


def _seed_demo(args: argparse.Namespace) -> int:
    from forum.seed import seed_demo

    seeded = asyncio.run(_with_session(seed_demo))
    print("Seeded the demo district." if seeded else "The database already has users; demo data not added.")
    _print_demo_accounts()
    return 0


def _seed_bulk(args: argparse.Namespace) -> int:
    from forum.bulk import BulkResult, ReportBulkResult, seed_bulk, seed_reports
    from forum.search import initialize

    for name in ("threads", "replies", "users", "reports"):
        if getattr(args, name) < 0:
            print(f"--{name} cannot be negative.", file=sys.stderr)
            return 2
    if args.likes is not None and args.likes < 0:
        print("--likes cannot be negative.", file=sys.stderr)
        return 2
    initialize()

    async def work(session: AsyncSession) -> tuple[BulkResult, ReportBulkResult | None]:
        result = await seed_bulk(
            session,
            community_slug=args.community,
            threads=args.threads,
            replies=args.replies,
            likes=args.likes,
            users=args.users,
            seed=args.seed,
            show_progress=not args.quiet,
        )
        if not args.reports:
            return result, None
        reports = await seed_reports(
            session, community_slug=args.community, reports=args.reports, seed=args.seed, show_progress=not args.quiet
        )
        return result, reports

    try:
        result, reports = asyncio.run(_with_session(work))
    except ValueError as error:
        print(f"seed-bulk: {error}", file=sys.stderr)
        return 2
    print(
        f"Added {result.threads} threads, {result.replies} replies, {result.likes} likes and {result.users} members "
        f"to community {result.community_slug} in {result.seconds:.0f} s."
    )
    if reports is not None:
        statuses = ", ".join(f"{count} {status}" for status, count in reports.by_status.items())
        print(f"Added {reports.reports} problem reports ({statuses}) in {reports.seconds:.0f} s.")
    return 0


def _create_admin(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from forum.actions import accounts, communities
    from forum.errors import InvalidInput
    from forum.models import District

    password = os.environ.get("LINLI_ADMIN_PASSWORD") or getpass.getpass("Password: ")

    async def work(session: AsyncSession) -> None:
        district = (await session.execute(select(District).where(District.slug == args.district))).scalar_one_or_none()
        if district is None:
            name = args.district_name or args.district
            district = await communities.create_district(session, name=name, slug=args.district)
        user = await accounts.find_user_by_username(session, args.username)
        if user is None:
            user = await accounts.register_user(
                session, username=args.username, password=password, display_name=args.display_name or args.username
            )
        await communities.grant_district_admin(session, user=user, district=district)

    try:
        asyncio.run(_with_session(work))
    except InvalidInput as error:
        for field, message in error.translated_fields().items():
            print(f"{field}: {message}", file=sys.stderr)
        return 2
    print(f"{args.username} administers district {args.district}.")
    return 0


def _report_clock(args: argparse.Namespace) -> int:
    """One round of the reports' clock at `--now` (default: now). Servers run it every minute by themselves;
    this runs it from cron, or at a chosen time for a test or a drill. Safe beside running servers."""
    from datetime import UTC, datetime

    from forum.actions.report_clock import run_due
    from forum.db import Database
    from forum.timeutil import utcnow

    now = utcnow()
    if args.now:
        try:
            now = datetime.fromisoformat(args.now)
        except ValueError:
            print(f"--now: not an ISO 8601 time: {args.now!r}", file=sys.stderr)
            return 2
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
    config = load_config()

    async def run() -> int:
        database = Database(config["DATABASE_URL"], upload_dir=config["UPLOAD_DIR"])
        try:
            return await run_due(database, now=now, most=args.most)
        finally:
            await database.dispose()

    taken = asyncio.run(run())
    print(f"The report clock took {taken} step(s) due by {now.isoformat()}.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="forum", description="Linli (邻里), a real-time neighbourhood forum.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve HTTP and Socket.IO on one port")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--no-access-log", dest="access_log", action="store_false")
    serve.set_defaults(func=_serve)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="migrate to the newest schema")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(func=_db_upgrade)

    seed = commands.add_parser("seed-demo", help="add the demo district if the database has no users")
    seed.set_defaults(func=_seed_demo)

    bulk = commands.add_parser(
        "seed-bulk", help="fill a community with many generated threads, replies and likes (for measuring)"
    )
    bulk.add_argument("--community", default="bulk", help="community slug (created in district 'bulk' if missing)")
    bulk.add_argument("--threads", type=int, default=1000)
    bulk.add_argument("--replies", type=int, default=10000, help="replies in all, shared unevenly among threads")
    bulk.add_argument("--likes", type=int, help="about this many likes in all (default: half the replies)")
    bulk.add_argument("--users", type=int, default=200, help="new verified members who write (demo password)")
    bulk.add_argument(
        "--reports", type=int, default=0, help="problem reports over the last year, mostly closed (default: none)"
    )
    bulk.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same texts")
    bulk.add_argument("--quiet", action="store_true", help="no progress bar")
    bulk.set_defaults(func=_seed_bulk)

    clock = commands.add_parser("report-clock", help="take the problem reports' clock steps that are due")
    clock.add_argument("--now", help="the time to run it at (ISO 8601; default: now)")
    clock.add_argument("--most", type=int, default=1000, help="at most this many steps in this round")
    clock.set_defaults(func=_report_clock)

    admin = commands.add_parser("create-admin", help="create (or promote) a district admin")
    admin.add_argument("username")
    admin.add_argument("--display-name")
    admin.add_argument("--district", default="default", help="district slug (created if missing)")
    admin.add_argument("--district-name")
    admin.set_defaults(func=_create_admin)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
