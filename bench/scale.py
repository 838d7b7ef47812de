"""Page latency at scale, one request at a time, on a PostgreSQL database filled by `forum seed-bulk`.

    createdb -h 127.0.0.1 -U postgres linli_scale
    DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/linli_scale .venv/bin/forum db upgrade
    DATABASE_URL=... .venv/bin/forum seed-demo
    DATABASE_URL=... .venv/bin/forum seed-bulk --community yuepu-xincun --threads 100000 --replies 1000000
    .venv/bin/python bench/scale.py --database-url postgresql+asyncpg://postgres@127.0.0.1/linli_scale

Serves the forum with one uvicorn worker, signs in as the demo secretary of the filled community, and loads
each page `--requests` times in a row (no concurrency: this is latency, not throughput). Prints p50 and p99 per
page; the target is under 50 ms p99 each. Not a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import aiohttp
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
PORT = 8963
COMMUNITY = "yuepu-xincun"
SEARCHES = {
    "search: common word (the)": "the",
    "search: rare word (手风琴)": "手风琴",
    "search: Chinese two-character word (快递)": "快递",
}


async def _targets(url: str, deep: int) -> dict[str, str]:
    """Paths to measure, found in the data: the longest thread, and a cursor `deep` threads into the board."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            thread_id, posts = (
                await connection.execute(
                    text(
                        "SELECT t.id, t.post_count FROM thread t JOIN community c ON c.id = t.community_id "
                        "WHERE c.slug = :slug ORDER BY t.post_count DESC LIMIT 1"
                    ),
                    {"slug": COMMUNITY},
                )
            ).one()
            stamp, deep_id = (
                await connection.execute(
                    text(
                        "SELECT t.last_posted_at, t.id FROM thread t JOIN board b ON b.id = t.board_id "
                        "JOIN community c ON c.id = b.community_id WHERE c.slug = :slug AND b.slug = 'talk' "
                        "AND NOT t.is_deleted ORDER BY t.last_posted_at DESC, t.id DESC OFFSET :deep LIMIT 1"
                    ),
                    {"slug": COMMUNITY, "deep": deep},
                )
            ).one()
    finally:
        await engine.dispose()
    per_page = 50
    middle = (posts // 2) // per_page * per_page
    last = (posts - 1) // per_page * per_page
    cursor = quote(f"{stamp.isoformat()}_{deep_id}")
    targets = {
        f"thread: first page ({posts} posts)": f"/t/{thread_id}",
        f"thread: middle page (after={middle})": f"/t/{thread_id}?after={middle}",
        f"thread: last page (after={last})": f"/t/{thread_id}?after={last}",
        "board: first page": f"/c/{COMMUNITY}/b/talk",
        f"board: {deep:,} threads deep (keyset)": f"/c/{COMMUNITY}/b/talk?before={cursor}",
    }
    for name, word in SEARCHES.items():
        targets[name] = f"/c/{COMMUNITY}/search?q={quote(word)}"
    return targets


async def _measure(session: aiohttp.ClientSession, path: str, requests: int) -> dict[str, float]:
    for _ in range(5):  # warm caches and the connection pool
        async with session.get(path) as response:
            await response.read()
            assert response.status == 200, (path, response.status)
    latencies = []
    for _ in range(requests):
        started = time.perf_counter()
        async with session.get(path) as response:
            await response.read()
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)],
        "max_ms": latencies[-1],
    }


async def _wait(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default="postgresql+asyncpg://postgres@127.0.0.1/linli_scale")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--deep", type=int, default=20_000, help="how many threads into the board the deep page is")
    options = parser.parse_args()
    targets = await _targets(options.database_url, options.deep)

    with tempfile.TemporaryDirectory() as var:
        env = {**os.environ, "VAR_DIR": var, "DATABASE_URL": options.database_url, "RATE_LIMITS_ENABLED": "false"}
        command = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--no-access-log", "--port", str(PORT)]
        server = subprocess.Popen(  # noqa: ASYNC220 -- started once, before any measuring
            [*command, "forum.asgi:app"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        results: dict[str, dict[str, float]] = {}
        try:
            await _wait(f"http://127.0.0.1:{PORT}/healthz")
            jar = aiohttp.CookieJar(unsafe=True)  # unsafe: cookies from an IP-address host
            async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{PORT}", cookie_jar=jar) as session:
                page = await (await session.get("/login")).text()
                token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
                form = {"username": "secretary_li", "password": "linli-demo-2026", "csrf_token": token}
                async with session.post("/login", data=form, allow_redirects=False) as response:
                    assert response.status == 302, response.status
                for name, path in targets.items():
                    results[name] = await _measure(session, path, options.requests)
        finally:
            server.terminate()
            server.wait()

    print(f"{'page':<50} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, row in results.items():
        print(f"{name:<50} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['max_ms']:>8.1f}")
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
