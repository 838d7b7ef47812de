"""The fan-out benchmark (bench/fanout.py), run tiny so that its harness cannot rot unnoticed.

SQLite only: this checks the harness (seeding, the raw clients, the poster, the floor and the bookkeeping), not
the database; delivery on both backends is covered by tests/test_live.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parent.parent


def test_the_fanout_bench_delivers_every_reply_to_every_client_exactly_once() -> None:
    command = [sys.executable, "-m", "bench.fanout", "--clients", "20", "--replies", "3", "--rate", "10", "--json"]
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert finished.returncode == 0, finished.stderr[-3000:]
    report = json.loads(finished.stdout.strip().splitlines()[-1])

    assert set(report["runs"]) == {"floor", "linli"}
    for name, run in report["runs"].items():
        counts = {key: run[key] for key in ("failed_posts", "missing", "duplicated", "unexpected", "lost_connections")}
        assert counts == dict.fromkeys(counts, 0), (name, counts)
        assert run["expected"] == run["delivered"] == 20 * 3, (name, run)
        assert run["server_cpu_s"] >= 0 and run["p99_ms"] <= run["max_ms"]
    # The floor emits a payload of the same size as Linli's post.created, or the comparison means little.
    sizes = report["payload_bytes"]
    assert abs(sizes["linli"] - sizes["floor"]) < 0.1 * sizes["linli"], sizes
