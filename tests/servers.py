"""Real server processes (`forum serve`) on free ports, for socket and browser tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.factories import PASSWORD
from tests.services import reserved_port, unique_channel

SECRET = "test-secret-key-not-for-production"


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]


@contextmanager
def run_server(
    *,
    db_url: str,
    var_dir: Path,
    redis_url: str = "",
    channel: str | None = None,
    name: str = "server",
    settings: dict[str, str] | None = None,
) -> Iterator[Server]:
    """`settings` are further environment variables for the process (see forum/config.py). Processes that
    should share Redis as one deployment are given the same `channel` (tests.services.unique_channel); without
    one, each gets a channel of its own."""
    with run_servers(
        db_url=db_url, var_dir=var_dir, redis_url=redis_url, channel=channel, names=[name], settings=settings
    ) as (server,):
        yield server


@contextmanager
def run_servers(
    *,
    db_url: str,
    var_dir: Path,
    names: list[str],
    redis_url: str = "",
    channel: str | None = None,
    settings: dict[str, str] | None = None,
) -> Iterator[list[Server]]:
    """Several processes of one deployment, started side by side (start-up takes seconds on a busy machine)."""
    channel = channel or unique_channel()
    servers: list[Server] = []
    ports = ExitStack()  # each port stays reserved until its process has exited
    try:
        for name in names:
            port = ports.enter_context(reserved_port())
            servers.append(_spawn(db_url, var_dir, redis_url, channel, name, port, settings or {}))
        for server in servers:
            _wait_until_healthy(server)
        yield servers
    finally:
        for server in servers:
            server.process.terminate()
        for server in servers:
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()
        ports.close()


def _spawn(
    db_url: str, var_dir: Path, redis_url: str, channel: str, name: str, port: int, settings: dict[str, str]
) -> Server:
    log = var_dir / f"{name}-{port}.log"
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "VAR_DIR": str(var_dir),
        "SECRET_KEY": SECRET,
        "REDIS_URL": redis_url,
        "REDIS_CHANNEL": channel,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PYTHONUNBUFFERED": "1",
        **settings,
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "forum", "serve", "--no-access-log", "--log-level", "warning"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Server(url=f"http://127.0.0.1:{port}", process=process, log=log)


def _wait_until_healthy(server: Server, timeout: float = 60.0) -> None:
    # A deadline, not a wait: start-up takes two seconds on a quiet machine, over twenty on a crowded one.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.output()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not become healthy in {timeout}s:\n{server.output()}")


async def http_login(base_url: str, username: str, password: str = PASSWORD) -> httpx.AsyncClient:
    """An HTTP client signed in through the login form, as a browser would be."""
    import re

    client = httpx.AsyncClient(base_url=base_url, follow_redirects=False)
    page = (await client.get("/login")).text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    response = await client.post(
        "/login", data={"username": username, "password": password, "csrf_token": match.group(1)}
    )
    assert response.status_code == 302, response.text
    return client


def cookie_header(client: httpx.AsyncClient) -> str:
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


async def http_post_form(
    client: httpx.AsyncClient, path: str, data: dict[str, str] | None = None, *, token_from: str = "/"
) -> httpx.Response:
    """POST a form with the CSRF token from a page, as the browser would."""
    page = (await client.get(token_from)).text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return await client.post(path, data={**(data or {}), "csrf_token": token})
