"""The moderation benchmark (bench/moderation.py), run tiny so that its harness cannot rot unnoticed: every
timed request must succeed and the queue must hold every kind of flagged item it seeded. SQLite only: this
checks the harness, not the database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_moderation_bench_runs_and_reports_every_ratio() -> None:
    command = [sys.executable, "-m", "bench.moderation", "--writes", "4", "--flagged", "5"]
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr[-3000:]
    lines = finished.stdout.strip().splitlines()
    labels = [line[:40].strip() for line in lines[1:]]
    assert labels == [
        "writes, no rate limits",
        "writes, rate limits in memory",
        "review queue, empty",
        "review queue, 5 flagged",
    ]
    assert all(float(line.split()[-1]) > 0 for line in lines[1:])
