"""Page throughput and latency against a floor measured in the same run.

    .venv/bin/python bench/pages.py [--seconds 10] [--concurrency 8]

Starts `forum serve` and the floor app (bench/floor_app.py) under the same uvicorn, on a fresh SQLite database
with the demo district, signs in as the demo secretary, and loads each page for a fixed time from one
aiohttp client. Prints requests/s, p50 and p99 per page and the ratio to the floor. Not a timed test.
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

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
PAGES = {
    "health check (1 statement, no template)": "/healthz",
    "home (my communities)": "/",
    "community page": "/c/yuepu-xincun",
    "member list (secretary)": "/c/yuepu-xincun/members",
}


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _prepare(env: dict[str, str]) -> None:
    for command in (["db", "upgrade"], ["seed-demo"]):
        subprocess.run(
            [sys.executable, "-m", "forum", *command],
            env={**os.environ, **env},
            cwd=ROOT,
            check=True,
            capture_output=True,
        )


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


async def _load(session: aiohttp.ClientSession, url: str, seconds: float, concurrency: int) -> dict[str, float]:
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

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as var:
        env = {"VAR_DIR": var, "DATABASE_URL": f"sqlite+aiosqlite:///{var}/bench.db", "RATE_LIMITS_ENABLED": "false"}
        python = sys.executable
        await asyncio.to_thread(_prepare, env)
        uvicorn = [python, "-m", "uvicorn", "--log-level", "warning", "--no-access-log", "--port"]
        app = _start([*uvicorn, "8961", "forum.asgi:app"], env)
        floor = _start([*uvicorn, "8962", "bench.floor_app:app"], env)
        try:
            await _wait("http://127.0.0.1:8961/healthz")
            await _wait("http://127.0.0.1:8962/floor/yuepu-xincun")
            results: dict[str, dict[str, float]] = {}
            connector = aiohttp.TCPConnector(limit=options.concurrency)
            async with aiohttp.ClientSession(connector=connector) as session:
                results["floor: bare Quart + Core select + Jinja2"] = await _load(
                    session, "http://127.0.0.1:8962/floor/yuepu-xincun", options.seconds, options.concurrency
                )
            # unsafe=True: aiohttp otherwise refuses cookies set by an IP-address host.
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(base_url="http://127.0.0.1:8961", cookie_jar=jar) as session:
                page = await (await session.get("/login")).text()
                token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
                form = {"username": "secretary_li", "password": "linli-demo-2026", "csrf_token": token}
                async with session.post("/login", data=form, allow_redirects=False) as response:
                    assert response.status == 302, response.status
                for name, path in PAGES.items():
                    results[name] = await _load(
                        session, f"http://127.0.0.1:8961{path}", options.seconds, options.concurrency
                    )
        finally:
            for process in (app, floor):
                process.terminate()
                process.wait()

    floor_rps = next(iter(results.values()))["rps"]
    print(f"{'page':<45} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x floor':>8} {'errors':>6}")
    for name, row in results.items():
        print(
            f"{name:<45} {row['rps']:>8.0f} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} "
            f"{row['rps'] / floor_rps:>8.2f} {row['errors']:>6.0f}"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main())
