"""Memory of one server process under photo uploads and thousands of sockets (issue 21), against the process's
own starting RSS in the same run. Not a timed test.

    .venv/bin/python -m bench.memory [--rounds 3] [--replies 30] [--concurrency 6] [--sockets 3000]
        [--socket-rounds 2] [--database-url URL] [--json]
    MALLOC_ARENA_MAX=2 .venv/bin/python -m bench.memory      # as the Docker image and deploy/compose.yaml run it

Seeds a fresh database as bench/fanout.py does (a community, a thread, its poster, and one verified member with an
API session per socket), makes one photo-like 40-megapixel JPEG (7296 × 5472, a few MB: `photo_jpeg`) and starts
one real `forum serve` (rate limits off: one account posting 90 photos is not what is measured; the server's
environment is this process's, so MALLOC_ARENA_MAX passes through). The poster signs in through the form and
loads the thread page (the warm-up), then the process's RSS is read from /proc/<pid>/status: the start. Then
`--rounds` rounds of `--replies` replies, each carrying the photo through the reply form, `--concurrency` in
flight at once (several neighbours posting at the same moment, as in the issue); RSS after each round, and the
peak (VmHWM). Last, `--sockets` raw Socket.IO clients (bench/fanout_client.py) connect, authenticate and subscribe
to the thread, then close; RSS while they are connected and two seconds after they left, `--socket-rounds` times
(a second round that needs no more memory than the first shows that what stays is kept for reuse, not leaked).
A handshake the server refuses is counted, not fatal.

The goals (issue 21): after the uploads at most 1.5 × the starting RSS, and flat from the second round on (here:
the last round's RSS within 5 % of the start above the second's).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import math
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageChops

from bench.fanout import (
    LINLI_COMMAND,
    POSTER,
    POSTER_PASSWORD,
    Seeded,
    Workers,
    cpu_seconds,
    database,
    linli_env,
    seed,
    serving,
    sign_in,
)

PHOTO_SIZE = (7296, 5472)  # 40 megapixels, 4:3, as a 40 MP phone camera takes them
MAX_RATIO = 1.5  # after the uploads, against the start
FLAT = 0.05  # the last round's RSS at most this share of the start above the second round's
MEBIBYTE = 1024 * 1024


def photo_jpeg(size: tuple[int, int] = PHOTO_SIZE, *, noise: float = 5.0, quality: int = 90) -> bytes:
    """A photo-like JPEG: smooth gradients in each channel with sensor-like noise on top, which makes it about as
    large as a real photo of that size (noise 5 at quality 90: 6.9 MB for 40 MP, under IMAGE_MAX_BYTES). Only
    the size matters for memory; the same bytes every time."""
    gradient = Image.linear_gradient("L").resize(size)
    radial = Image.radial_gradient("L").resize(size)
    grain = Image.effect_noise(size, noise)
    flipped = Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.FLIP_TOP_BOTTOM
    bands = [
        ImageChops.add(gradient, grain, offset=-128),
        ImageChops.add(radial, grain.transpose(flipped[0]), offset=-128),
        ImageChops.add(gradient.transpose(Image.Transpose.ROTATE_180), grain.transpose(flipped[1]), offset=-128),
    ]
    out = io.BytesIO()
    Image.merge("RGB", bands).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def memory_mb(pid: int) -> dict[str, float]:
    """The process's resident set now (`rss`), its peak so far (`peak`, VmHWM) in MiB, and its threads."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {
        "rss": int(fields["VmRSS"].split()[0]) / 1024,
        "peak": int(fields["VmHWM"].split()[0]) / 1024,
        "threads": int(fields["Threads"]),
    }


async def post_photos(
    client: httpx.AsyncClient, thread_id: int, csrf: str, photo: bytes, *, replies: int, concurrency: int
) -> None:
    """`replies` replies through the reply form, each with `photo`, `concurrency` in flight at once."""
    gate = asyncio.Semaphore(concurrency)

    async def one(number: int) -> None:
        async with gate:
            response = await client.post(
                f"/t/{thread_id}/replies",
                data={"body": f"第{number}张照片", "csrf_token": csrf},
                files={"images": (f"IMG_{number:04d}.jpg", photo, "image/jpeg")},
            )
        if response.status_code != 302:
            raise RuntimeError(f"a reply with a photo answered {response.status_code}: {response.text[:300]}")

    await asyncio.gather(*(one(number) for number in range(replies)))


async def bench(options: argparse.Namespace) -> dict[str, Any]:
    photo = photo_jpeg()
    with tempfile.TemporaryDirectory(prefix="linli-memory-") as directory:
        var = Path(directory)
        async with database(options.database_url, var) as url:
            seeded = await seed(url, options.sockets)
            async with (
                serving("linli", LINLI_COMMAND, linli_env(url, var), var) as (linli_url, pid),
                httpx.AsyncClient(base_url=linli_url, timeout=300) as client,
            ):
                csrf = await sign_in(client, POSTER, POSTER_PASSWORD, seeded.thread_id)
                await asyncio.sleep(1)
                start = memory_mb(pid)
                rounds = []
                for _ in range(options.rounds):
                    began, cpu = time.monotonic(), cpu_seconds(pid)
                    await post_photos(
                        client, seeded.thread_id, csrf, photo, replies=options.replies, concurrency=options.concurrency
                    )
                    seconds, cpu = time.monotonic() - began, cpu_seconds(pid) - cpu
                    rounds.append({**memory_mb(pid), "seconds": seconds, "cpu_s": cpu})
                    print(f"round {len(rounds)}: {rounds[-1]}", file=sys.stderr)
                sockets = [
                    await connect_and_leave(linli_url, pid, seeded, options, var, n)
                    for n in range(options.socket_rounds)
                ]
    return report(options, photo, start, rounds, sockets)


async def connect_and_leave(
    url: str, pid: int, seeded: Seeded, options: argparse.Namespace, var: Path, number: int
) -> dict[str, Any]:
    """`--sockets` clients connect, authenticate and subscribe, then close: RSS while connected and after."""
    workers = Workers(options.client_processes, var, f"memory-{number}")
    refused = 0
    try:
        began = time.monotonic()
        try:
            await workers.start(url, seeded.room, seeded.tokens, 0, False)
        except RuntimeError as error:  # some handshakes refused (the server's log says why): the rest are in
            counted = re.match(r"(\d+) of \d+ clients could not connect", str(error))
            if counted is None:
                raise
            refused = int(counted.group(1))
        connected = {**memory_mb(pid), "connect_s": time.monotonic() - began, "refused": refused}
        await workers.stop()
    finally:
        await workers.kill()
    await asyncio.sleep(2)  # the server notices every close and drops the sockets' state
    left = memory_mb(pid)
    print(f"sockets {number + 1}: connected {connected}, left {left}", file=sys.stderr)
    return {"connected": connected, "left": left}


def report(
    options: argparse.Namespace,
    photo: bytes,
    start: dict[str, float],
    rounds: list[dict[str, float]],
    sockets: list[dict[str, Any]],
) -> dict[str, Any]:
    base = start["rss"]
    after_uploads = rounds[-1]["rss"]
    flat = rounds[-1]["rss"] - rounds[1]["rss"] if len(rounds) > 1 else math.nan
    return {
        "database": "postgresql" if options.database_url else "sqlite",
        "malloc_arena_max": os.environ.get("MALLOC_ARENA_MAX", ""),
        "photo": {"width": PHOTO_SIZE[0], "height": PHOTO_SIZE[1], "bytes": len(photo)},
        "replies_per_round": options.replies,
        "concurrency": options.concurrency,
        "sockets": options.sockets,
        "start": start,
        "rounds": rounds,
        "socket_rounds": sockets,
        "ratio": {
            "after_uploads": after_uploads / base,
            "peak_uploads": max(each["peak"] for each in rounds) / base,
            "connected": max(each["connected"]["rss"] for each in sockets) / base,
            "after_sockets": sockets[-1]["left"]["rss"] / base,
        },
        "goals": {
            f"after uploads <= {MAX_RATIO}x start": after_uploads <= MAX_RATIO * base,
            f"flat from round 2 (within {FLAT:.0%} of start)": flat <= FLAT * base,
        },
    }


def print_table(report: dict[str, Any]) -> None:
    photo, base = report["photo"], report["start"]["rss"]
    print(
        f"database {report['database']}, MALLOC_ARENA_MAX={report['malloc_arena_max'] or '(unset)'}, "
        f"photo {photo['width']}x{photo['height']} {photo['bytes'] / MEBIBYTE:.1f} MiB, "
        f"{report['replies_per_round']} replies a round, {report['concurrency']} in flight"
    )
    print(f"{'moment':<26} {'RSS MiB':>8} {'x start':>8} {'peak MiB':>9} {'threads':>7} {'seconds':>8} {'CPU s':>6}")

    def line(moment: str, row: dict[str, float]) -> None:
        seconds = f"{row['seconds']:>8.1f} {row['cpu_s']:>6.1f}" if "seconds" in row else ""
        print(
            f"{moment:<26} {row['rss']:>8.0f} {row['rss'] / base:>8.2f} {row['peak']:>9.0f} {row['threads']:>7}"
            f" {seconds}"
        )

    line("start (after warm-up)", report["start"])
    for number, row in enumerate(report["rounds"], start=1):
        line(f"after round {number}", row)
    for number, row in enumerate(report["socket_rounds"], start=1):
        refused = row["connected"]["refused"]
        line(
            f"{report['sockets']} sockets in ({number})" + (f", {refused} refused" if refused else ""), row["connected"]
        )
        line(f"after they left ({number})", row["left"])
    for goal, met in report["goals"].items():
        print(f"{goal}: {'met' if met else 'NOT met'}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of uploads (default 3)")
    parser.add_argument("--replies", type=int, default=30, help="replies with a photo per round (default 30)")
    parser.add_argument("--concurrency", type=int, default=6, help="replies in flight at once (default 6)")
    parser.add_argument("--sockets", type=int, default=3000, help="sockets that connect and leave (default 3000)")
    parser.add_argument(
        "--socket-rounds", type=int, default=2, help="times they connect and leave (default 2: is the memory reused?)"
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres: a throwaway "
        "database is created on it and dropped afterwards (default: SQLite in a temp dir)",
    )
    parser.add_argument("--client-processes", type=int, default=4, help="socket client processes (default 4)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON after the table")
    options = parser.parse_args(argv)
    if min(options.rounds, options.replies, options.sockets, options.socket_rounds) < 1:
        parser.error("--rounds, --replies, --sockets and --socket-rounds must be at least 1")
    return options


def main() -> None:
    options = parse()
    result = asyncio.run(bench(options))
    print_table(result)
    if options.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
