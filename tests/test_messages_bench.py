"""The private-messages benchmark (bench/messages.py), run tiny so that its harness cannot rot unnoticed.

SQLite only, as for the fan-out bench: this checks the harness (seeding, per-client rooms, the sender, the floor
and the bookkeeping), not the database; delivery itself is covered by the messages tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parent.parent


def test_the_messages_bench_delivers_every_message_to_its_recipient_exactly_once() -> None:
    command = [sys.executable, "-m", "bench.messages", "--clients", "20", "--messages", "30", "--rate", "10", "--json"]
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert finished.returncode == 0, finished.stderr[-3000:]
    report = json.loads(finished.stdout.strip().splitlines()[-1])

    assert set(report["runs"]) == {"floor", "linli"}
    for name, run in report["runs"].items():
        keys = ("failed_sends", "missing", "duplicated", "misdelivered", "unexpected", "missing_echoes")
        counts = {key: run[key] for key in (*keys, "duplicated_echoes", "lost_connections")}
        assert counts == dict.fromkeys(counts, 0), (name, counts)
        assert run["sent"] == run["delivered"] == run["echoes"] == 30, (name, run)
        assert run["server_cpu_s"] >= 0 and run["p99_ms"] <= run["max_ms"]
    # Each participant hears of every message of their conversation in their unread count; the floor sends none.
    assert report["runs"]["linli"]["unread_changed"] == 2 * 30
    assert report["runs"]["linli"]["unread_wrong_clients"] == 0
    # The floor emits a payload of the same size as Linli's message.created, or the comparison means little.
    sizes = report["payload_bytes"]
    assert abs(sizes["linli"] - sizes["floor"]) < 0.1 * sizes["linli"], sizes
