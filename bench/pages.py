"""Page throughput and latency against a floor measured in the same run.

    .venv/bin/python bench/pages.py [--seconds 10] [--concurrency 8] [--database-url URL] [--only thread,floor]

Starts the forum and the floor app (bench/floor_app.py) under the same uvicorn, one worker each, on a fresh
SQLite database (or an empty PostgreSQL one given by --database-url) with the demo district, a thread of 50
replies with likes on them, and a board of generated threads (`forum seed-bulk`). Signs in as the demo secretary
and loads each page for a fixed time from one aiohttp client. Prints requests/s, p50 and p99 per page and the
ratio to the floor: the same 50 posts fetched with one Core select and rendered with Jinja2, on SQLAlchemy's
engine as it comes. A second floor runs on Linli's own engine (`forum.db.create_engine`: on SQLite its driver,
forum.sqlite_driver; on PostgreSQL its pool settings, pre-ping included), and the last column is the ratio to
it: how fast the page is beside a floor given the same engine. Not a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
FLOOR = "floor: bare Quart + 1 Core select + Jinja2, 50 posts"
FLOOR_LINLI = "floor on Linli's engine"
SEARCH_WORD = "快递"


def pages(thread_id: int) -> dict[str, str]:
    return {
        "health check (1 statement, no template)": "/healthz",
        "home (my communities)": "/",
        "community page": "/c/yuepu-xincun",
        "member list (secretary)": "/c/yuepu-xincun/members",
        "thread page (50 posts, likes)": f"/t/{thread_id}",
        "board page (30 threads)": "/c/yuepu-xincun/b/talk",
        f"search ({SEARCH_WORD}, 30 hits)": f"/c/yuepu-xincun/search?q={SEARCH_WORD}",
    }


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _prepare(env: dict[str, str]) -> None:
    bulk = [
        "seed-bulk",
        "--community",
        "yuepu-xincun",
        "--threads",
        "300",
        "--replies",
        "3000",
        "--users",
        "0",
        "--quiet",
    ]
    for command in (["db", "upgrade"], ["seed-demo"], bulk):
        subprocess.run(
            [sys.executable, "-m", "forum", *command],
            env={**os.environ, **env},
            cwd=ROOT,
            check=True,
            capture_output=True,
        )


async def _thread_with_likes(url: str) -> int:
    """The newest thread of the talk board, written through the domain actions as residents would: 50 posts,
    each liked by a few neighbours, some of them by the secretary who reads the page."""
    from sqlalchemy import select

    from forum import search
    from forum.access import standing_in
    from forum.actions import likes, threads
    from forum.bulk import generate_body, generate_title
    from forum.db import Database
    from forum.models import Board, Community, Post, User

    await asyncio.to_thread(search.initialize)
    rng = random.Random(7)
    db = Database(url)
    try:
        async with db.unit_of_work() as session:
            community = (await session.execute(select(Community).where(Community.slug == "yuepu-xincun"))).scalar_one()
            board = (
                await session.execute(select(Board).where(Board.community_id == community.id, Board.slug == "talk"))
            ).scalar_one()
            names = ["secretary_li", "zhang_wei", "wang_fang", "li_na", "liu_yang", "chen_jing", "yang_min"]
            people = [(await session.execute(select(User).where(User.username == name))).scalar_one() for name in names]
            standings = [await standing_in(session, person, community) for person in people]
            thread = await threads.create_thread(
                session,
                actor=people[1],
                board=board,
                standing=standings[1],
                title=generate_title(rng),
                body=generate_body(rng),
            )
            posts = [(await session.execute(select(Post).where(Post.thread_id == thread.id))).scalar_one()]
            for _ in range(50):
                author = rng.randrange(len(people))
                posts.append(
                    await threads.reply(
                        session,
                        actor=people[author],
                        thread=thread,
                        board=board,
                        standing=standings[author],
                        body=generate_body(rng),
                    )
                )
            for post in posts:
                for liker in rng.sample(range(len(people)), rng.randint(0, 4)):
                    await likes.set_like(session, actor=people[liker], post=post, standing=standings[liker], liked=True)
            assert thread.id is not None
            return thread.id
    finally:
        await db.dispose()


async def _wait(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux): per request, it is steadier than wall time on a
    machine that other work shares."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _load(
    session: aiohttp.ClientSession, url: str, seconds: float, concurrency: int, pid: int
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.get(url, allow_redirects=False) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - started)

    began, cpu = time.perf_counter(), _cpu_seconds(pid)
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - began, _cpu_seconds(pid) - cpu
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "cpu_ms": cpu / len(latencies) * 1000,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: a fresh SQLite file)")
    parser.add_argument("--only", help="comma-separated words: measure only pages whose name has one of them")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as var:
        url = options.database_url or f"sqlite+aiosqlite:///{var}/bench.db"
        env = {"VAR_DIR": var, "DATABASE_URL": url, "RATE_LIMITS_ENABLED": "false"}
        python = sys.executable
        await asyncio.to_thread(_prepare, env)
        thread_id = await _thread_with_likes(url)
        uvicorn = [python, "-m", "uvicorn", "--log-level", "warning", "--no-access-log", "--port"]
        app = _start([*uvicorn, "8961", "forum.asgi:app"], env)
        floors = {FLOOR: (_start([*uvicorn, "8962", "bench.floor_app:app"], env), 8962)}
        linli = _start([*uvicorn, "8963", "bench.floor_app:app"], {**env, "FLOOR_ENGINE": "linli"})
        floors[FLOOR_LINLI] = (linli, 8963)
        wanted = [word.strip() for word in options.only.split(",")] if options.only else []
        try:
            await _wait("http://127.0.0.1:8961/healthz")
            results: dict[str, dict[str, float]] = {}
            for name, (floor, port) in floors.items():
                floor_url = f"http://127.0.0.1:{port}/floor/thread/{thread_id}"
                await _wait(floor_url)
                connector = aiohttp.TCPConnector(limit=options.concurrency)
                async with aiohttp.ClientSession(connector=connector) as session:
                    results[name] = await _load(session, floor_url, options.seconds, options.concurrency, floor.pid)
            # unsafe=True: aiohttp otherwise refuses cookies set by an IP-address host.
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(base_url="http://127.0.0.1:8961", cookie_jar=jar) as session:
                page = await (await session.get("/login")).text()
                token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
                form = {"username": "secretary_li", "password": "linli-demo-2026", "csrf_token": token}
                async with session.post("/login", data=form, allow_redirects=False) as response:
                    assert response.status == 302, response.status
                for name, path in pages(thread_id).items():
                    if wanted and not any(word in name for word in wanted):
                        continue
                    async with session.get(path) as response:  # the page is what we think it is
                        body = await response.text()
                        assert response.status == 200, (path, response.status)
                        assert "/t/" not in path or body.count('class="post') >= 50, path
                    results[name] = await _load(
                        session, f"http://127.0.0.1:8961{path}", options.seconds, options.concurrency, app.pid
                    )
        finally:
            for process in (app, *(floor for floor, _port in floors.values())):
                process.terminate()
                process.wait()

    floor_rps = results[FLOOR]["rps"]
    floor_cpu = results[FLOOR]["cpu_ms"]
    same_engine_rps = results[FLOOR_LINLI]["rps"]
    print(
        f"{'page':<52} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x floor':>8} "
        f"{'CPU ms':>7} {'floor CPU/CPU':>13} {'errors':>6} {'x floor, same engine':>20}"
    )
    for name, row in results.items():
        print(
            f"{name:<52} {row['rps']:>8.0f} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} "
            f"{row['rps'] / floor_rps:>8.2f} {row['cpu_ms']:>7.2f} {floor_cpu / row['cpu_ms']:>13.2f} "
            f"{row['errors']:>6.0f} {row['rps'] / same_engine_rps:>20.2f}"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main())
