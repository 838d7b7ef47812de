"""Fixtures. Every test that touches the database runs twice: on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from forum.app import create_app
from forum.db import Database
from forum.migrate import upgrade
from forum.models import Event, metadata
from tests import event_schemas
from tests.browsers import CHROMIUM, HAVE_CHROMIUM, LAUNCH_ARGS
from tests.servers import Server, run_server
from tests.services import IN_CI, PG_ADMIN_URL, require_service

BACKENDS = ["sqlite", "postgresql"]


async def _admin_execute(statement: str) -> None:
    engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def create_pg_database() -> str:
    """A fresh, empty PostgreSQL database for this test session; the caller drops it."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"linli_test_{secrets.token_hex(4)}"
    asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    return str(make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False))


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses the database runs on each backend; one marked `only_postgresql` (it needs what only
    PostgreSQL has) on PostgreSQL alone, one marked `only_sqlite` (a fault of SQLite's own; PostgreSQL's have tests of
    their own) on SQLite alone. One database per backend for the whole session either way."""
    if "database_url" in metafunc.fixturenames:
        backends = BACKENDS
        if metafunc.definition.get_closest_marker("only_postgresql"):
            backends = ["postgresql"]
        elif metafunc.definition.get_closest_marker("only_sqlite"):
            backends = ["sqlite"]
        metafunc.parametrize("database_url", backends, indirect=True, scope="session")


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database per backend, shared by the session; tests empty it after themselves."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'linli.db'}"
        upgrade(url)
        yield url
        return
    url = create_pg_database()
    try:
        upgrade(url)
        yield url
    finally:
        drop_pg_database(url)


async def _empty_tables(url: str) -> list[tuple[str, str, str]]:
    """Empty every table; returns the events that were stored, as (type, room, payload)."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            rows = await connection.execute(select(Event.type, Event.room, Event.payload))
            stored = [(str(kind), str(room), str(payload)) for kind, room, payload in rows]
            tables = list(reversed(metadata.sorted_tables))
            if url.startswith("postgresql"):
                names = ", ".join(f'"{table.name}"' for table in tables)
                await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    await connection.execute(table.delete())
                await connection.execute(text("DELETE FROM post_fts"))  # the search index has no foreign key
    finally:
        await engine.dispose()
    return stored


@pytest.fixture
async def db_url(database_url: str) -> AsyncIterator[str]:
    """The session's database for one test, emptied after it; every event the test stored must match the
    registry (tests/event_schemas.py)."""
    yield database_url
    event_schemas.check_stored(await _empty_tables(database_url))


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """The test's own handle on the database, for factories and for checking what was stored."""
    database = Database(db_url)
    yield database
    await database.dispose()


def app_config(db_url: str, var_dir: Path, **overrides: object) -> dict[str, object]:
    return {
        "DATABASE_URL": db_url,
        "VAR_DIR": str(var_dir),
        "SECRET_KEY": "test-secret-key-not-for-production",
        "REDIS_URL": "",
        # No background reads of the event log in the middle of a test (some count the statements of a request);
        # the app still reads it after each of its own commits. Nor the sales clock, which would run a minute
        # into a test on a busy machine: the tests of it set their own interval.
        "EVENT_POLL_SECONDS": 3600.0,
        "SALE_LAPSE_SECONDS": 3600.0,
        **overrides,
    }


@pytest.fixture
async def app(db_url: str, tmp_path: Path) -> AsyncIterator[Quart]:
    application = create_app(app_config(db_url, tmp_path))
    async with application.test_app():
        yield application


@pytest.fixture
def client(app: Quart) -> Client:
    return app.test_client()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        if IN_CI:
            pytest.fail("Debian's chromium is not installed; .ci/run installs it.")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    """A real `forum serve` process on a free port, on the test's database."""
    with run_server(db_url=db_url, var_dir=tmp_path) as running:
        yield running


# --- Which registered event types the run produced ---------------------------------------------------------------
# Each process notes the types it checked (tests/event_schemas.py); pytest-xdist's workers hand theirs to the
# controller, which reports the union. A whole run (every test, none skipped, all passed) that produced no event of
# some registered type fails: each event type has a test that runs its action and checks what it stored or sent.

_worker_types: set[str] = set()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller reports
        workeroutput["event_types"] = sorted(event_schemas.seen)
        return
    missing = _unseen_event_types()
    if missing and exitstatus == pytest.ExitCode.OK and _whole_run(session):
        session.config.stash[_UNSEEN] = missing
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    _worker_types.update(getattr(node, "workeroutput", {}).get("event_types", []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if getattr(config, "workeroutput", None) is not None or not (event_schemas.seen | _worker_types):
        return
    missing = _unseen_event_types()
    terminalreporter.section("event types", red=bool(config.stash.get(_UNSEEN, None)))
    produced = len(event_schemas.registry()) - len(missing)
    terminalreporter.line(f"{produced} of the registry's {len(event_schemas.registry())} types came from these tests.")
    if missing:
        whole_run_failed = config.stash.get(_UNSEEN, None)
        verdict = "FAILED: a whole run produced no event of" if whole_run_failed else "not produced here:"
        terminalreporter.line(f"{verdict} {', '.join(missing)}")


_UNSEEN = pytest.StashKey[list[str]]()


def _unseen_event_types() -> list[str]:
    return sorted(set(event_schemas.registry()) - event_schemas.seen - _worker_types)


def _whole_run(session: pytest.Session) -> bool:
    """Every test of the suite ran and none was skipped or deselected."""
    options = session.config.option
    chosen = options.keyword or options.markexpr or options.deselect or getattr(options, "lf", False)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = bool(reporter and (reporter.stats.get("skipped") or reporter.stats.get("deselected")))
    return session.config.args_source == pytest.Config.ArgsSource.TESTPATHS and not chosen and not skipped
