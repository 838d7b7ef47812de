"""The database going away, made for real against a real server process: every way answers 503 with Retry-After
(a page, the JSON API, a socket's subscribe), logs one line when the outage begins and one when it ends, saves
nothing it says it did not, and serves normally within a second of the database coming back.

PostgreSQL cases run on a database of the test's own, reached as a role of the module's own (a superuser is not
held to connection limits): refused (`ALLOW_CONNECTIONS false`), too many connections (`CONNECTION LIMIT 0`), a
connection dropped in the middle of a request, a pool with no connection free, PostgreSQL unreachable (a TCP proxy
the test kills), and PostgreSQL shutting down, stopped and starting up (a private cluster the test runs). SQLite's
way of being away, its file locked by another process beyond the busy timeout, has its own test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import socketio
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlmodel import col

from forum.db import EVENT_LOCK_KEY, Database
from forum.migrate import upgrade
from forum.models import Post
from tests.factories import PASSWORD, make_community, make_member, make_thread, make_user
from tests.servers import Server, cookie_header, http_login, run_server
from tests.services import IN_CI, PG_ADMIN_URL, port_open, require_service, reserved_port

pytestmark = pytest.mark.server

RECOVERY_SECONDS = 1.0  # the process serves normally within this long of the database coming back
UNAVAILABLE_LINE = re.compile(r"database unavailable \(")
RECOVERED_LINE = re.compile(r"database available again after [0-9.]+ s")


def _admin_dsn(database: str = "postgres") -> str:
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql", database=database)
    return url.render_as_string(hide_password=False)


async def _admin(*statements: str, database: str = "postgres") -> None:
    connection = await asyncpg.connect(_admin_dsn(database))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


# --- A database and a role of the module's own -------------------------------------------------------------


@dataclass
class FaultDatabase:
    url: str  # the app's URL: this role, this database
    name: str
    role: str


@pytest.fixture(scope="module")
def fault_role() -> Iterator[tuple[str, str]]:
    """A login role (not a superuser: connection limits hold for it) and a migrated template database it owns."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    tag = secrets.token_hex(4)
    role, template = f"linli_fault_{tag}", f"linli_fault_tpl_{tag}"
    asyncio.run(_admin(f'CREATE ROLE "{role}" LOGIN'))
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{template}" OWNER "{role}"'))
        upgrade(_app_url(role, template))
        yield role, template
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)', f'DROP ROLE IF EXISTS "{role}"'))


def _app_url(role: str, database: str, port: int = 5432) -> str:
    return f"postgresql+asyncpg://{role}@127.0.0.1:{port}/{database}"


@pytest.fixture
def fault_db(fault_role: tuple[str, str]) -> Iterator[FaultDatabase]:
    """This test's own database, copied from the migrated template; connections restored and dropped after."""
    role, template = fault_role
    name = f"linli_fault_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}" OWNER "{role}"'))
    try:
        yield FaultDatabase(url=_app_url(role, name), name=name, role=role)
    finally:
        asyncio.run(
            _admin(
                f'ALTER ROLE "{role}" CONNECTION LIMIT -1',
                f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true',
                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            )
        )


async def _terminate_backends(role: str, database: str) -> None:
    connection = await asyncpg.connect(_admin_dsn())
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND datname = $2", role, database
        )
    finally:
        await connection.close()


# --- What a resident has open when the database goes ---------------------------------------------------------


@dataclass
class Resident:
    thread_id: int
    http: httpx.AsyncClient  # signed in through the login form
    token: str  # the CSRF token of the thread page
    api: httpx.AsyncClient  # with an API token
    socket: socketio.AsyncClient  # connected, to subscribe while the database is away


@contextlib.asynccontextmanager
async def _resident(db_url: str, server: Server) -> AsyncIterator[Resident]:
    db = Database(db_url)
    try:
        community = await make_community(db)
        user = await make_user(db, username=f"resident_{secrets.token_hex(3)}")
        await make_member(db, user=user, community=community)
        thread = await make_thread(db, author=user, community=community)
    finally:
        await db.dispose()
    assert thread.id is not None and user.username is not None
    http = await http_login(server.url, user.username)
    page = (await http.get(f"/t/{thread.id}")).text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page[:300]
    api = httpx.AsyncClient(base_url=server.url)  # no cookies: a bearer token, as API clients use
    answer = await api.post("/api/v1/auth/tokens", json={"username": user.username, "password": PASSWORD})
    assert answer.status_code in {200, 201}, answer.text
    api.headers["Authorization"] = f"Bearer {answer.json()['token']}"
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(server.url, headers={"Cookie": cookie_header(http)}, transports=["websocket"], wait_timeout=10)
    try:
        yield Resident(thread.id, http, match.group(1), api, client)
    finally:
        if client.connected:
            await client.disconnect()
        await http.aclose()
        await api.aclose()


async def _reply_form(resident: Resident, body: str) -> httpx.Response:
    # A generous timeout: SQLite answers a write it cannot lock only after its busy timeout (5 s).
    return await resident.http.post(
        f"/t/{resident.thread_id}/replies", data={"body": body, "csrf_token": resident.token}, timeout=60
    )


async def _reply_api(resident: Resident, body: str) -> httpx.Response:
    return await resident.api.post(f"/api/v1/threads/{resident.thread_id}/replies", json={"body": body})


def _assert_503(response: httpx.Response, *, saved: bool | None = None, json_body: bool = False) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:500])
    assert int(response.headers["Retry-After"]) > 0
    if json_body:
        body = response.json()
        assert body["error"] == "unavailable", body
        assert body["message"], body
        if saved is not None:
            assert body["saved"] is saved, body
    else:
        assert "暂时无法访问" in response.text, response.text[:800]


async def _all_answer_503(server: Server, resident: Resident, body: str) -> None:
    """Every kind of request while the database is away: page reads (signed in and not), a form post, an API
    write, the health check and a socket's subscribe; the socket stays connected."""
    _assert_503(await resident.http.get(f"/t/{resident.thread_id}"))
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        assert (await anonymous.get("/")).status_code == 200  # pages that need no database still answer
        health = await anonymous.get("/healthz")
        assert health.status_code == 503 and health.headers["Retry-After"], health.text
    form = await _reply_form(resident, body + "（表单）")
    _assert_503(form)
    assert "没有保存" in form.text, form.text[:800]
    _assert_503(await _reply_api(resident, body + "（接口）"), saved=False, json_body=True)
    answer = await resident.socket.call("subscribe", {"room": f"thread:{resident.thread_id}", "after": 0}, timeout=15)
    assert answer == {"ok": False, "error": "unavailable"}, answer
    assert resident.socket.connected


async def _serves_again(server: Server, resident: Resident, back_at: float) -> float:
    """Wait for the first normal answer after the database came back at `back_at` (monotonic); return how long
    it took. Then every kind of request works again, the socket's subscribe included."""
    deadline = back_at + 30
    while True:
        try:
            response = await resident.http.get(f"/t/{resident.thread_id}", timeout=10)
        except httpx.HTTPError:
            response = None
        if response is not None and response.status_code == 200:
            took = time.monotonic() - back_at
            break
        assert time.monotonic() < deadline, (response and response.status_code, server.output())
        await asyncio.sleep(0.05)
    assert (await _reply_form(resident, "回来以后的回复")).status_code == 302
    answer = await resident.socket.call("subscribe", {"room": f"thread:{resident.thread_id}", "after": 0}, timeout=15)
    assert answer == {"ok": True}, answer
    return took


async def _replies(db_url: str, thread_id: int) -> list[str]:
    db = Database(db_url)
    try:
        async with db.read_only() as session:
            rows = await session.execute(
                select(col(Post.body)).where(col(Post.thread_id) == thread_id).order_by(col(Post.number))
            )
            return [str(body) for body in rows.scalars()]
    finally:
        await db.dispose()


def _busy_logged(server: Server, cause: str) -> None:
    """A database that is there but busy is no outage: a "busy" line (at most one every ten seconds)."""
    text = server.log.read_text(errors="replace")
    assert re.search(rf"database busy \(.*{re.escape(cause)}", text), text[-4000:]
    assert not UNAVAILABLE_LINE.search(text), text[-4000:]
    assert "Traceback" not in text, text[-4000:]


def _one_outage_logged(server: Server) -> None:
    text = server.log.read_text(errors="replace")
    assert len(UNAVAILABLE_LINE.findall(text)) == 1, text[-4000:]
    assert len(RECOVERED_LINE.findall(text)) == 1, text[-4000:]
    assert "Traceback" not in text, text[-4000:]


# --- The cases ---------------------------------------------------------------------------------------------


# Two ways the server itself refuses new connections: (what breaks it, what restores it), for this test's
# database and role.
REFUSALS = {
    "not accepting connections": (
        'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false',
        'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true',
    ),
    "too many connections": ('ALTER ROLE "{role}" CONNECTION LIMIT 0', 'ALTER ROLE "{role}" CONNECTION LIMIT -1'),
}


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
async def test_a_database_refusing_connections_answers_503_everywhere_and_serves_within_a_second_of_coming_back(
    fault_db: FaultDatabase, tmp_path: Path, refusal: str
) -> None:
    refuse, restore = (statement.format(name=fault_db.name, role=fault_db.role) for statement in REFUSALS[refusal])
    with run_server(db_url=fault_db.url, var_dir=tmp_path) as server:
        async with _resident(fault_db.url, server) as resident:
            await _admin(refuse)
            await _terminate_backends(fault_db.role, fault_db.name)
            await _all_answer_503(server, resident, "拒绝连接时的回复")
            # A socket connecting now is refused with a reason it can retry on.
            late = socketio.AsyncClient(reconnection=False)
            said: list[Any] = []
            late.on("connect_error", said.append)
            with pytest.raises(socketio.exceptions.ConnectionError):
                await late.connect(
                    server.url, headers={"Cookie": cookie_header(resident.http)}, transports=["websocket"]
                )
            assert said == [{"message": "unavailable"}], said
            await _admin(restore)
            took = await _serves_again(server, resident, time.monotonic())
        assert took < RECOVERY_SECONDS, took
        _one_outage_logged(server)
    bodies = await _replies(fault_db.url, resident.thread_id)
    assert not [body for body in bodies if "拒绝连接时" in body], bodies  # what was refused was not saved
    assert "回来以后的回复" in bodies


async def _waiting_for_lock(database: str, locktype: str = "advisory") -> int:
    """The backend of `database` waiting for a lock of this type (the reply's commit, its read after it), once
    there is one."""
    connection = await asyncpg.connect(_admin_dsn())
    deadline = time.monotonic() + 60
    try:
        while True:
            pid = await connection.fetchval(
                "SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = $2 AND NOT l.granted AND a.datname = $1",
                database,
                locktype,
            )
            if pid is not None:
                return int(pid)
            assert time.monotonic() < deadline, f"no request of {database} waited for a {locktype} lock"
            await asyncio.sleep(0.02)
    finally:
        await connection.close()


async def _drop_waiting(database: str, locktype: str = "advisory") -> None:
    await _admin(f"SELECT pg_terminate_backend({await _waiting_for_lock(database, locktype)})")


@contextlib.asynccontextmanager
async def _lock_held(database: str, key: int) -> AsyncIterator[None]:
    """Hold an advisory lock: a transaction that asks for it waits."""
    connection = await asyncpg.connect(_admin_dsn(database))
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", key)
        yield
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def _table_locked(database: str, table: str) -> AsyncIterator[None]:
    """Hold a table's strongest lock: any statement reading it waits."""
    connection = await asyncpg.connect(_admin_dsn(database))
    try:
        async with connection.transaction():
            await connection.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')
            yield
    finally:
        await connection.close()


COMMIT_LOCK_KEY = 4242  # taken by a deferred trigger, that is at COMMIT (see below)


async def test_a_connection_dropped_in_the_middle_of_a_request_answers_503_and_says_what_became_of_the_write(
    fault_db: FaultDatabase, tmp_path: Path
) -> None:
    # A reply's COMMIT waits for COMMIT_LOCK_KEY while the test holds it: a deferred constraint trigger, which runs
    # at COMMIT, asks for it.
    await _admin(
        "CREATE FUNCTION linli_test_wait_at_commit() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN PERFORM pg_advisory_xact_lock({COMMIT_LOCK_KEY}); RETURN NULL; END $$",
        "CREATE CONSTRAINT TRIGGER linli_test_wait_at_commit AFTER INSERT ON post DEFERRABLE INITIALLY DEFERRED "
        "FOR EACH ROW EXECUTE FUNCTION linli_test_wait_at_commit()",
        database=fault_db.name,
    )
    with run_server(db_url=fault_db.url, var_dir=tmp_path) as server:
        async with _resident(fault_db.url, server) as resident:
            # Before the COMMIT (waiting for the event lock): not saved, and it says so.
            async with _lock_held(fault_db.name, EVENT_LOCK_KEY):
                api_reply = asyncio.create_task(_reply_api(resident, "提交前断线（接口）"))
                await _drop_waiting(fault_db.name)
                _assert_503(await api_reply, saved=False, json_body=True)
                form_reply = asyncio.create_task(_reply_form(resident, "提交前断线（表单）"))
                await _drop_waiting(fault_db.name)
                response = await form_reply
                _assert_503(response)
                assert "没有保存" in response.text
            # During the COMMIT: the server cannot know whether it went through, and says so.
            async with _lock_held(fault_db.name, COMMIT_LOCK_KEY):
                api_reply = asyncio.create_task(_reply_api(resident, "提交时断线（接口）"))
                await _drop_waiting(fault_db.name)
                _assert_503(await api_reply, saved=None, json_body=True)
            # After the COMMIT (the API reads the reply's pictures back): saved, and it says so.
            async with _table_locked(fault_db.name, "post_image"):
                api_reply = asyncio.create_task(_reply_api(resident, "提交后断线（接口）"))
                await _drop_waiting(fault_db.name, "relation")
                _assert_503(await api_reply, saved=True, json_body=True)
            took = await _serves_again(server, resident, time.monotonic())
        assert took < RECOVERY_SECONDS, took
        assert "Traceback" not in server.log.read_text(errors="replace"), server.output()
    bodies = await _replies(fault_db.url, resident.thread_id)
    assert not [body for body in bodies if "提交前断线" in body or "提交时断线" in body], bodies
    assert "提交后断线（接口）" in bodies


async def test_no_connection_free_in_time_answers_503_and_the_waiting_write_still_completes(
    fault_db: FaultDatabase, tmp_path: Path
) -> None:
    settings = {"DB_POOL_SIZE": "1", "DB_POOL_OVERFLOW": "0", "DB_POOL_TIMEOUT": "1"}
    with run_server(db_url=fault_db.url, var_dir=tmp_path, settings=settings) as server:
        async with _resident(fault_db.url, server) as resident:
            async with _lock_held(fault_db.name, EVENT_LOCK_KEY):
                # The one connection is held by a reply waiting at its commit; a page read waits for it in vain.
                reply = asyncio.create_task(_reply_form(resident, "连接池满时的回复"))
                await _waiting_for_lock(fault_db.name)
                started = time.monotonic()
                _assert_503(await resident.http.get(f"/t/{resident.thread_id}"))
                assert time.monotonic() - started < 5
                _assert_503(await resident.api.get("/api/v1/me"), json_body=True)
            assert (await reply).status_code == 302  # the write that had the connection is saved, and says so
            took = await _serves_again(server, resident, time.monotonic())
        assert took < RECOVERY_SECONDS, took
        _busy_logged(server, "pool timeout")
    assert "连接池满时的回复" in await _replies(fault_db.url, resident.thread_id)


class TcpProxy:
    """A TCP proxy in a process of its own (tests/tcp_proxy.py), between the server and PostgreSQL: killed, the
    path is cut for real (established connections reset, new ones refused); started again on the same port, it
    is back."""

    def __init__(self, port: int, target_port: int, log: Path) -> None:
        self.port, self.target_port, self.log = port, target_port, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.tcp_proxy", str(self.port), str(self.target_port)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while not port_open("127.0.0.1", self.port):
            assert self.process.poll() is None and time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.02)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


async def test_postgresql_unreachable_through_a_killed_proxy_answers_503_and_serves_within_a_second_of_the_path(
    fault_db: FaultDatabase, tmp_path: Path
) -> None:
    with reserved_port() as port:
        proxy = TcpProxy(port, 5432, tmp_path / "proxy.log")
        try:
            proxy.start()
            through_proxy = _app_url(fault_db.role, fault_db.name, port)
            with run_server(db_url=through_proxy, var_dir=tmp_path) as server:
                async with _resident(fault_db.url, server) as resident:
                    proxy.kill()
                    await _all_answer_503(server, resident, "断网时的回复")
                    proxy.start()
                    took = await _serves_again(server, resident, time.monotonic())
                assert took < RECOVERY_SECONDS, took
                _one_outage_logged(server)
        finally:
            proxy.kill()
    assert not [body for body in await _replies(fault_db.url, resident.thread_id) if "断网时" in body]


# --- PostgreSQL shutting down, stopped, starting up: a cluster of the test's own ------------------------------


class PrivateCluster:
    """A PostgreSQL cluster of the test's own on a free port, run as the postgres user (initdb refuses root)."""

    def __init__(self, port: int) -> None:
        binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not binaries:
            message = "PostgreSQL's server binaries are not installed (/usr/lib/postgresql/*/bin)"
            if IN_CI:
                pytest.fail(message)
            pytest.skip(message)
        self.bin = binaries[-1].parent
        self.port = port
        self.home = Path(tempfile.mkdtemp(prefix="linli-pg-"))
        self.data = self.home / "data"
        self.log = self.home / "postgres.log"
        if os.geteuid() == 0:
            shutil.chown(self.home, "postgres", "postgres")

    def create(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.home}'\n")
            conf.write("fsync = off\nhot_standby = off\n")

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, check=check, timeout=120)

    def start(self, *, wait: bool = True) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w" if wait else "-W", "start")

    def stop(self, mode: str = "fast", *, wait: bool = True) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w" if wait else "-W", "stop", check=wait)

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def wait_stopped(self) -> None:
        deadline = time.monotonic() + 60
        while self.running():
            assert time.monotonic() < deadline, self.log.read_text()[-2000:]
            time.sleep(0.05)

    def as_standby(self) -> None:
        """Next start is a standby with no primary and hot_standby off: PostgreSQL stays in recovery, refusing
        connections as "not accepting connections" (57P03), until promoted."""
        (self.data / "standby.signal").touch()
        if os.geteuid() == 0:
            shutil.chown(self.data / "standby.signal", "postgres", "postgres")

    def promote(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "promote")

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def remove(self) -> None:
        if self.data.exists() and self.running():
            self.stop("immediate")
        shutil.rmtree(self.home, ignore_errors=True)


async def _refused_with(dsn: str, state: str) -> None:
    """Wait until a new connection is refused with this SQLSTATE."""
    deadline = time.monotonic() + 30
    while True:
        try:
            connection = await asyncpg.connect(dsn, timeout=5)
        except asyncpg.PostgresError as error:
            if error.sqlstate == state:
                return
        except OSError:
            pass
        else:
            await connection.close()
        assert time.monotonic() < deadline, f"never refused with {state}"
        await asyncio.sleep(0.05)


async def test_postgresql_shutting_down_stopped_and_starting_up_answers_503_and_serves_within_a_second_of_ready(
    tmp_path: Path,
) -> None:
    with reserved_port() as port:
        cluster = PrivateCluster(port)
        try:
            cluster.create()
            cluster.start()
            role = "linli"
            await _admin_on(cluster, f'CREATE ROLE "{role}" LOGIN', f'CREATE DATABASE linli OWNER "{role}"')
            url = _app_url(role, "linli", port)
            await asyncio.to_thread(upgrade, url)
            with run_server(db_url=url, var_dir=tmp_path) as server:
                async with _resident(url, server) as resident:
                    # Shutting down: a smart shutdown waits for the sessions open (this one), refusing new ones.
                    blocker = await asyncpg.connect(cluster.dsn())
                    try:
                        cluster.stop("smart", wait=False)
                        await _refused_with(cluster.dsn(), "57P03")
                        await blocker.execute(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role
                        )
                        await _all_answer_503(server, resident, "关机时的回复")
                    finally:
                        await blocker.close()
                    # Stopped: nothing listens on the port.
                    await asyncio.to_thread(cluster.wait_stopped)
                    await _all_answer_503(server, resident, "停机时的回复")
                    # Starting up: in recovery, refusing connections until promoted.
                    cluster.as_standby()
                    cluster.start(wait=False)
                    await _refused_with(cluster.dsn(), "57P03")
                    await _all_answer_503(server, resident, "启动时的回复")
                    cluster.promote()
                    took = await _serves_again(server, resident, time.monotonic())
                assert took < RECOVERY_SECONDS, took
                _one_outage_logged(server)
            bodies = await _replies(url, resident.thread_id)
            assert not [body for body in bodies if "机时" in body or "启动时" in body], bodies
        finally:
            cluster.remove()


async def _admin_on(cluster: PrivateCluster, *statements: str) -> None:
    connection = await asyncpg.connect(cluster.dsn())
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


# --- SQLite: its file locked by another process beyond the busy timeout ------------------------------------


@pytest.mark.only_sqlite
async def test_sqlite_locked_beyond_the_busy_timeout_answers_503_for_writes_while_pages_still_read(
    db_url: str, tmp_path: Path
) -> None:
    with run_server(db_url=db_url, var_dir=tmp_path) as server:
        async with _resident(db_url, server) as resident:
            path = make_url(db_url).database
            assert path
            holder = sqlite3.connect(path, timeout=30, isolation_level=None)
            try:
                holder.execute("BEGIN EXCLUSIVE")  # in WAL mode readers go on; writers wait, then give up
                assert (await resident.http.get(f"/t/{resident.thread_id}")).status_code == 200
                response = await _reply_form(resident, "锁住时的回复")
                _assert_503(response)
                assert "没有保存" in response.text
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            assert (await _reply_form(resident, "解锁以后的回复")).status_code == 302
        _busy_logged(server, "database is locked")
    bodies = await _replies(db_url, resident.thread_id)
    assert "锁住时的回复" not in bodies and "解锁以后的回复" in bodies


# --- What is not the database being away -------------------------------------------------------------------


def test_a_bug_raised_while_handling_a_socket_error_is_a_bug_not_an_outage() -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    from forum.outage import classify

    def bug_in_an_except_block() -> None:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError:
            {}["missing"]  # the bug

    with pytest.raises(KeyError) as bug:
        bug_in_an_except_block()
    assert classify(bug.value) is None
    try:  # Redis away is not the database away
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379") from ConnectionRefusedError(111, "x")
    except RedisConnectionError as error:
        assert classify(error) is None
