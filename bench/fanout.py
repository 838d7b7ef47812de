"""Fan-out: replies posted over HTTP reaching every reader of a thread, against a bare python-socketio floor
measured in the same run. Not a timed test.

    .venv/bin/python -m bench.fanout --clients 1000 --replies 100 [--rate 20] [--database-url URL] [--json]

Seeds a fresh database (SQLite under a temp dir; with --database-url pointing at a PostgreSQL server, a
throwaway database created on it and dropped afterwards) with one community, one thread, a poster and N readers
with login sessions. Starts a real `forum serve`, connects N cheap raw Socket.IO clients (bench/fanout_client.py,
spread over several processes so they are not the bottleneck) that authenticate with `auth={"token": ...}` and
subscribe to the thread, then posts replies through the reply form (signed in, CSRF token) at a fixed rate.
Latency is from the moment the HTTP response arrives at the poster to the moment each client receives the
matching `post.created`, both read from CLOCK_MONOTONIC (time.monotonic(), one clock for every process).

The floor (bench/fanout_floor.py) serves the same clients with bare python-socketio under the same uvicorn
settings: an HTTP endpoint emits an envelope of the same size to the room. Both runs report p50/p99/max,
deliveries (every client must get every reply exactly once), server CPU per delivered event (utime+stime from
/proc), the client processes' CPU and the load average, and the ratio Linli/floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import col, select

from bench import common
from forum import rooms
from forum.access import standing_in
from forum.actions import accounts, communities, memberships, threads
from forum.actions.sessions import hash_token
from forum.db import Database
from forum.events import PersonData, PostCreated
from forum.markup import render_markdown
from forum.migrate import upgrade_async
from forum.models import AuthSession, Board, Membership, MembershipStatus, SessionKind, User
from forum.paths import post_path
from forum.timeutil import utcnow

ROOT = Path(__file__).resolve().parent.parent
SECRET = "fanout-bench-secret-not-for-production"
POSTER = "fanout_poster"
POSTER_PASSWORD = "fanout poster password"
# A typical reply: a sentence or two of Chinese, some emphasis and a link (Markdown rendering and jieba run on it).
BODY = (
    "收到！明天上午九点在3号楼门口集合，一起清理小区花坛，记得带上手套和垃圾袋。**雨天顺延**，"
    "有问题在群里说一声，或者看居委会的通知：https://example.org/notice/2026-11"
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
RATIO_KEYS = ("p50_ms", "p99_ms", "max_ms", "send_p50_ms", "send_p99_ms", "send_max_ms", "server_cpu_us_per_event")


@dataclass
class Seeded:
    thread_id: int
    room: str
    tokens: list[str]
    envelope: dict[str, Any]  # a post.created of the same size as Linli's, for the floor


@dataclass
class Run:
    name: str
    clients: int
    replies: int
    posted: dict[int, float] = field(default_factory=dict)  # number -> monotonic time the HTTP response arrived
    sent: dict[int, float] = field(default_factory=dict)  # number -> monotonic time the HTTP request was sent
    http_ms: list[float] = field(default_factory=list)
    failed_posts: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # from the HTTP response to receipt
    end_to_end: list[float] = field(default_factory=list)  # from sending the HTTP request to receipt
    delivered: int = 0
    missing: int = 0
    duplicated: int = 0
    unexpected: int = 0
    lost_connections: int = 0
    server_cpu: float = 0.0
    client_cpu: list[float] = field(default_factory=list)
    window: float = 0.0
    loadavg: str = ""

    def summary(self) -> dict[str, Any]:
        ordered, whole = sorted(self.latencies), sorted(self.end_to_end)

        def pick(fraction: float, values: list[float] = ordered) -> float:
            return percentile_ms(values, fraction)

        return {
            "clients": self.clients,
            "replies": self.replies,
            "expected": self.clients * len(self.posted),
            "failed_posts": len(self.failed_posts),
            "delivered": self.delivered,
            "missing": self.missing,
            "duplicated": self.duplicated,
            "unexpected": self.unexpected,
            "lost_connections": self.lost_connections,
            "p50_ms": pick(0.5),
            "p99_ms": pick(0.99),
            "max_ms": ordered[-1] * 1000 if ordered else math.nan,
            "min_ms": ordered[0] * 1000 if ordered else math.nan,
            "send_p50_ms": pick(0.5, whole),
            "send_p99_ms": pick(0.99, whole),
            "send_max_ms": pick(1.0, whole),
            "http_p50_ms": sorted(self.http_ms)[len(self.http_ms) // 2] if self.http_ms else math.nan,
            "server_cpu_s": self.server_cpu,
            "server_cpu_us_per_event": self.server_cpu / self.delivered * 1e6 if self.delivered else math.nan,
            # Well under 100 % while deliveries lag: the machine, not the server, was the limit.
            "server_cpu_pct": self.server_cpu / self.window * 100 if self.window else 0.0,
            "client_cpu_max_pct": max(self.client_cpu, default=0.0) / self.window * 100 if self.window else 0.0,
            "window_s": self.window,
            "loadavg": self.loadavg,
        }


def percentile_ms(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of sorted durations in seconds, in milliseconds."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))] * 1000


# --- database --------------------------------------------------------------------------------------------------


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def database(server_url: str | None, var: Path) -> AsyncIterator[str]:
    """A fresh, migrated database: SQLite under `var`, or a throwaway one on the given PostgreSQL server."""
    if not server_url:
        url = f"sqlite+aiosqlite:///{var / 'fanout.db'}"
        await upgrade_async(url)
        yield url
        return
    name = f"linli_fanout_{secrets.token_hex(4)}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        await upgrade_async(url)
        yield url
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def seed(url: str, readers: int) -> Seeded:
    """A community with a thread started by the poster, and `readers` verified members with API sessions.
    The poster goes through the domain actions; readers are added in bulk (no password hashing for thousands)."""
    db = Database(url)
    try:
        async with db.unit_of_work() as session:
            district = await communities.create_district(session, name="宝山区", slug="fanout")
            community = await communities.create_community(
                session, district=district, name="月浦新村", slug="fanout-community"
            )
            poster = await accounts.register_user(
                session, username=POSTER, password=POSTER_PASSWORD, display_name="楼长老陈"
            )
            await memberships.add_verified_member(
                session, user=poster, community=community, is_party_member=True, building="3", room="101"
            )
            board = (
                await session.execute(
                    select(Board).where(col(Board.community_id) == community.id, col(Board.slug) == "talk")
                )
            ).scalar_one()
            standing = await standing_in(session, poster, community)
            thread = await threads.create_thread(
                session, actor=poster, board=board, standing=standing, title="周六清理花坛", body=BODY
            )
        assert thread.id is not None and poster.id is not None and community.id is not None
        tokens, _user_ids = await add_members(db, community.id, readers)
    finally:
        await db.dispose()
    now = utcnow()
    event = PostCreated(
        post_id=1_000_000,
        thread_id=thread.id,
        number=0,
        author=PersonData(id=poster.id, username=POSTER, display_name="楼长老陈", is_party_member=True),
        body_html=render_markdown(BODY),
        created_at=now.isoformat(),
        url=post_path(thread.id, 100),
        images=[],
    ).model_dump()
    room = rooms.THREAD(thread.id)
    envelope = {"type": event["type"], "id": 1_000_000, "room": room, "data": event}
    return Seeded(thread_id=thread.id, room=room, tokens=tokens, envelope=envelope)


async def add_members(db: Database, community_id: int, count: int) -> tuple[list[str], list[int]]:
    """`count` verified members `reader0`… with a day-long API session each: their tokens and user ids, in order.
    In bulk (no password hashing for thousands)."""
    tokens = [secrets.token_urlsafe(32) for _ in range(count)]
    all_ids: list[int] = []
    now = utcnow()
    for start in range(0, count, 1000):
        async with db.unit_of_work() as session:
            users = [
                User(username=f"reader{n}", display_name=f"邻居{n}", password_hash="!")
                for n in range(start, min(start + 1000, count))
            ]
            session.add_all(users)
            await session.flush()
            user_ids = [user.id for user in users if user.id is not None]
            all_ids.extend(user_ids)
            session.add_all(
                Membership(
                    user_id=user_id,
                    community_id=community_id,
                    status=MembershipStatus.VERIFIED,
                    building=str(n % 30 + 1),
                    room=str(n % 600 + 101),
                    decided_at=now,
                )
                for n, user_id in enumerate(user_ids, start)
            )
            session.add_all(
                AuthSession(
                    token_hash=hash_token(tokens[n]),
                    user_id=user_id,
                    kind=SessionKind.API,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + timedelta(days=1),
                )
                for n, user_id in enumerate(user_ids, start)
            )
    return tokens, all_ids


async def linli_payload_bytes(url: str, event_type: str = "post.created") -> int:
    """The size of one envelope of this type as Linli sent it, to show the floor's is the same size."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text("SELECT id, room, type, payload FROM event WHERE type = :type LIMIT 1"), {"type": event_type}
                )
            ).one()
    finally:
        await engine.dispose()
    envelope = {"type": row.type, "id": row.id, "room": row.room, "data": json.loads(row.payload)}
    return len(json.dumps(envelope).encode())


# --- processes -------------------------------------------------------------------------------------------------

LINLI_COMMAND = [sys.executable, "-m", "forum", "serve", "--no-access-log", "--log-level", "warning"]


def linli_env(url: str, var: Path) -> dict[str, str]:
    """`forum serve` on this database, one process, no Redis."""
    return {
        "DATABASE_URL": url,
        "VAR_DIR": str(var),
        "SECRET_KEY": SECRET,
        "REDIS_URL": "",
        # One poster at 20 replies/s is far over the per-user posting limit, which is not measured here (nor one
        # member's messages in the messages bench).
        "RATE_LIMITS_ENABLED": "false",
    }


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14 and 15 of stat)


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def serving(name: str, command: list[str], env: dict[str, str], var: Path) -> AsyncIterator[tuple[str, int]]:
    port = _free_port()
    log = var / f"{name}.log"
    environment = {**os.environ, **env, "PORT": str(port), "HOST": "127.0.0.1", "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: ASYNC220 -- start-up, before anything is measured
            [*command, "--port", str(port)], env=environment, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited:\n{log.read_text(errors='replace')[-3000:]}")
                try:
                    if (await client.get(f"{url}/healthz", timeout=1)).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"{name} did not come up:\n{log.read_text(errors='replace')[-3000:]}")
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        tail = log.read_text(errors="replace").strip()
        if tail:
            print(f"--- {name} log (tail) ---\n{tail[-2000:]}", file=sys.stderr)


class Workers:
    """Client processes, each holding a share of the connections (bench/fanout_client.py)."""

    def __init__(self, count: int, var: Path, name: str) -> None:
        self.count = count
        self.results = [var / f"{name}-clients-{n}.json" for n in range(count)]
        self.processes: list[asyncio.subprocess.Process] = []

    async def start(
        self,
        url: str,
        room: str | list[str],
        tokens: list[str],
        expect: int | list[int],
        deflate: bool,
        **match: Any,
    ) -> None:
        """Client n takes tokens[n] (and rooms[n], expect[n] when they are lists, one per token); `match` is
        passed on to the clients (`event`, `key`, `watch`: see bench/fanout_client.py)."""
        shares = [tokens[n :: self.count] for n in range(self.count)]
        for n, (share, result) in enumerate(zip(shares, self.results, strict=True)):
            job: dict[str, Any] = {"url": url, "tokens": share, "deflate": deflate, **match}
            job["room" if isinstance(room, str) else "rooms"] = room if isinstance(room, str) else room[n :: self.count]
            job["expect"] = expect if isinstance(expect, int) else expect[n :: self.count]
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.fanout_client",
                str(result),
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            assert process.stdin is not None
            process.stdin.write(json.dumps(job).encode() + b"\n")
            await process.stdin.drain()
            self.processes.append(process)
        failed = 0
        for process in self.processes:
            word, _connected, failures = (await self._line(process, wait=600)).split()
            assert word == "ready", word
            failed += int(failures)
        if failed:
            raise RuntimeError(f"{failed} of {len(tokens)} clients could not connect and subscribe")

    @staticmethod
    async def _line(process: asyncio.subprocess.Process, wait: float) -> str:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), wait)
        if not line:
            raise RuntimeError(f"client process {process.pid} exited with {await process.wait()}")
        return line.decode().strip()

    async def all_complete(self, wait: float) -> bool:
        try:
            await asyncio.wait_for(
                asyncio.gather(*(self._expect(process, "complete") for process in self.processes)), wait
            )
        except TimeoutError:
            return False
        return True

    async def _expect(self, process: asyncio.subprocess.Process, word: str) -> None:
        while (line := await self._line(process, wait=3600)) != word:
            print(f"client {process.pid}: {line}", file=sys.stderr)

    def token_order(self, results: list[dict[str, Any]], key: str) -> list[Any]:
        """A per-client list from every worker's results (`received`, `counted`), back in the order of the tokens
        given to `start` (every client connected, or `start` raised)."""
        shares = [result[key] for result in results]
        return [shares[n % self.count][n // self.count] for n in range(sum(map(len, shares)))]

    def cpu(self) -> list[float]:
        return [cpu_seconds(process.pid) for process in self.processes]

    async def stop(self) -> list[dict[str, Any]]:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(b"stop\n")
            await process.stdin.drain()
        results = []
        for process, path in zip(self.processes, self.results, strict=True):
            await self._wait_done(process)
            await process.wait()
            results.append(json.loads(path.read_text()))
        return results

    async def _wait_done(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            if line.strip() == b"done":
                return

    async def kill(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                process.kill()
                await process.wait()


# --- posting ---------------------------------------------------------------------------------------------------

Post = Callable[[int], Awaitable[int]]  # sequence number -> the post number the server reports


def _csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, username: str, password: str, thread_id: int) -> str:
    """Sign in through the form; the CSRF token of the thread page (loading it is the warm-up)."""
    login = {"username": username, "password": password, "csrf_token": _csrf_token((await client.get("/login")).text)}
    response = await client.post("/login", data=login)
    assert response.status_code == 302, f"sign-in failed: {response.status_code}"
    return _csrf_token((await client.get(f"/t/{thread_id}")).text)


async def linli_poster(client: httpx.AsyncClient, thread_id: int) -> Post:
    """Sign in through the form and return a function that posts one reply through the reply form."""
    csrf = await sign_in(client, POSTER, POSTER_PASSWORD, thread_id)

    async def post(_sequence: int) -> int:
        response = await client.post(f"/t/{thread_id}/replies", data={"body": BODY, "csrf_token": csrf})
        if response.status_code != 302:
            raise RuntimeError(f"reply answered {response.status_code}")
        return int(response.headers["location"].rsplit("/", 1)[1])

    return post


def floor_poster(client: httpx.AsyncClient) -> Post:
    async def post(sequence: int) -> int:
        number = sequence + 2  # like Linli: the opening post is number 1
        response = await client.post(f"/emit?number={number}")
        response.raise_for_status()
        return number

    return post


async def post_at_rate(post: Post, replies: int, rate: float, run: Run) -> None:
    """Open loop: reply n starts at n/rate seconds whatever the previous ones are doing."""
    started = time.monotonic()

    async def one(sequence: int) -> None:
        await asyncio.sleep(max(0.0, started + sequence / rate - time.monotonic()))
        sent = time.monotonic()
        try:
            number = await post(sequence)
        except (httpx.HTTPError, RuntimeError) as error:  # counted and reported; the others still count
            run.failed_posts.append(str(error)[:200])
            return
        arrived = time.monotonic()
        run.posted[number] = arrived
        run.sent[number] = sent
        run.http_ms.append((arrived - sent) * 1000)

    await asyncio.gather(*(one(sequence) for sequence in range(replies)))


async def drive(
    run: Run, workers: Workers, connect: Awaitable[None], server_pid: int, post: Post, options: argparse.Namespace
) -> tuple[list[dict[str, Any]], float]:
    """Connect the clients (`connect`: `workers.start(...)`), post `run.replies` at --rate, wait up to --drain for
    every delivery and stop the clients; the server's and the clients' CPU and the load average go into `run`.
    The clients' results, and the moment posting started."""
    try:
        began = time.monotonic()
        await connect
        print(f"{run.name}: {run.clients} clients subscribed in {time.monotonic() - began:.1f}s", file=sys.stderr)
        await asyncio.sleep(1)  # let the connection burst's garbage settle
        load_before = _loadavg()
        server_before, clients_before, started = cpu_seconds(server_pid), workers.cpu(), time.monotonic()
        await post_at_rate(post, run.replies, options.rate, run)
        complete = await workers.all_complete(wait=options.drain)
        server_after, clients_after = cpu_seconds(server_pid), workers.cpu()
        if complete:
            await asyncio.sleep(0.5)  # a duplicate would arrive about now
        results = await workers.stop()
    finally:
        await workers.kill()
    run.server_cpu = server_after - server_before
    run.client_cpu = [after - before for before, after in zip(clients_before, clients_after, strict=True)]
    run.loadavg = f"{load_before} -> {_loadavg()}"
    return results, started


# --- one measurement -------------------------------------------------------------------------------------------


async def measure(
    name: str, url: str, server_pid: int, post: Post, seeded: Seeded, options: argparse.Namespace, var: Path
) -> Run:
    run = Run(name=name, clients=options.clients, replies=options.replies)
    workers = Workers(options.client_processes, var, name)
    connect = workers.start(url, seeded.room, seeded.tokens, options.replies, options.deflate)
    results, started = await drive(run, workers, connect, server_pid, post, options)
    last = started
    for result in results:
        run.lost_connections += result["lost"]
        for received in result["received"]:
            seen: set[int] = set()
            for number, at in received:
                if number not in run.posted:
                    run.unexpected += 1
                elif number in seen:
                    run.duplicated += 1
                else:
                    seen.add(number)
                    run.latencies.append(at - run.posted[number])
                    run.end_to_end.append(at - run.sent[number])
                    last = max(last, at)
            run.delivered += len(seen)
    run.missing = options.clients * len(run.posted) - run.delivered
    for failure in run.failed_posts[:3]:
        print(f"{name}: a post failed: {failure}", file=sys.stderr)
    run.window = last - started
    return run


async def bench(options: argparse.Namespace) -> dict[str, Any]:
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="linli-fanout-") as directory:
        var = Path(directory)
        async with database(options.database_url, var) as url:
            began = time.monotonic()
            seeded = await seed(url, options.clients)
            print(f"seeded {options.clients} readers in {time.monotonic() - began:.1f}s", file=sys.stderr)
            runs: list[Run] = []
            floor_env = {"FANOUT_ENVELOPE": json.dumps(seeded.envelope)}
            if "floor" in options.only:
                async with (
                    serving("floor", [python, "-m", "bench.fanout_floor"], floor_env, var) as (floor_url, pid),
                    httpx.AsyncClient(base_url=floor_url, timeout=60) as client,
                ):
                    runs.append(await measure("floor", floor_url, pid, floor_poster(client), seeded, options, var))
            if "linli" in options.only:
                async with (
                    serving("linli", LINLI_COMMAND, linli_env(url, var), var) as (linli_url, pid),
                    httpx.AsyncClient(base_url=linli_url, timeout=30) as client,
                ):
                    post = await linli_poster(client, seeded.thread_id)
                    runs.append(await measure("linli", linli_url, pid, post, seeded, options, var))
                payload = await linli_payload_bytes(url)
            else:
                payload = 0
    return common.make_report(options, runs, payload, seeded.envelope, RATIO_KEYS)


TABLE: list[common.Column] = [
    ("clients", 7, "", "clients"),
    ("posts", 5, "", "replies"),
    ("failed", 6, "", "failed_posts"),
    ("delivered", 9, "", "delivered"),
    ("missing", 7, "", "missing"),
    ("dup", 3, "", "duplicated"),
    ("resp p50", 8, ".1f", "p50_ms"),
    ("resp p99", 8, ".1f", "p99_ms"),
    ("resp max", 8, ".1f", "max_ms"),
    ("send p50", 8, ".1f", "send_p50_ms"),
    ("send p99", 8, ".1f", "send_p99_ms"),
    ("send max", 8, ".1f", "send_max_ms"),
    ("HTTP p50", 8, ".1f", "http_p50_ms"),
    ("CPU us/ev", 9, ".1f", "server_cpu_us_per_event"),
]


def print_table(report: dict[str, Any]) -> None:
    note = "latency in ms: 'response' = from the poster's HTTP response, 'send' = from sending the HTTP request"
    common.print_table(report, "replies", note, TABLE)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--replies", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0, help="replies per second (default 20)")
    common.add_server_options(parser)
    parser.add_argument("--deflate", action="store_true", help="offer permessage-deflate, as browsers do")
    common.add_run_options(parser, sending="posting")
    return common.parse_options(parser, argv)


if __name__ == "__main__":
    common.run_cli(parse, bench, print_table)
