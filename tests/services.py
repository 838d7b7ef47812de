"""Real PostgreSQL and Redis for the tests. Locally a missing service skips its tests; with CI=true it fails the run.

The suite runs in parallel (pytest-xdist), and other test runs may share the machine: whatever two of them could
both reach is named per worker (databases, Redis channels and the keys under them) or reserved (ports)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import secrets
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get("TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# "gw0", "gw1", ... under pytest-xdist; "main" when the suite runs in one process.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")

# Ports for servers the tests start: below Linux's ephemeral range (32768-60999, ip_local_port_range), so no
# outgoing connection (to PostgreSQL, Redis, a server) is ever given one between reserving it and listening on it.
PORTS = range(20000, 32000)
_PORT_LOCKS = Path(tempfile.gettempdir()) / "linli-test-ports"


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    if port_open(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message}; CI=true, so this fails instead of skipping.")
    pytest.skip(f"{message} (start it, or run `.ci/run`)")


def unique_channel() -> str:
    """A REDIS_CHANNEL of the test's own. Everything the processes keep in Redis is named under it (pub/sub
    channels, `<channel>:rl:` rate-limit counters, `<channel>:presence:` reader sets), so tests running at the
    same time, in this worker or another, never see each other's."""
    return f"linli-test-{WORKER}-{secrets.token_hex(4)}"


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        # As uvicorn and redis-server bind: a connection of an earlier server in TIME_WAIT does not stop them.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _reserve() -> tuple[int, int]:
    """A port nobody listens on, and the descriptor of the lock file that reserves it.

    Binding to port 0 and handing the number on races: between closing that socket and the server's bind, a
    test in another worker (or another run of the suite) may be handed the same number. Every test run on the
    machine takes its ports through an exclusive lock on a file named after the port instead, and holds it while
    the port is in use; the lock goes with the descriptor, also when a process dies."""
    _PORT_LOCKS.mkdir(mode=0o777, exist_ok=True)
    start = random.randrange(len(PORTS))  # noqa: S311 -- spreading workers over the range, not a secret
    for offset in range(len(PORTS)):
        port = PORTS[(start + offset) % len(PORTS)]
        descriptor = os.open(_PORT_LOCKS / str(port), os.O_CREAT | os.O_RDWR, 0o666)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            continue
        if _bindable(port):
            return port, descriptor
        os.close(descriptor)
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


@contextlib.contextmanager
def reserved_port() -> Iterator[int]:
    """A free port, reserved against every other test run on the machine until the block ends."""
    port, descriptor = _reserve()
    try:
        yield port
    finally:
        os.close(descriptor)
