"""Cheap Socket.IO load clients for bench/fanout.py: Engine.IO v4 / Socket.IO v5 over WebSocket only, on the
sans-I/O core of the `websockets` package driven by plain asyncio protocols (no task per connection, no JSON
parsing on the hot path). python-socketio's own client was the bottleneck at 1,000 connections; this is not.

Run by bench/fanout.py as a worker process, one line of JSON on stdin:

    {"url": "http://127.0.0.1:8000", "room": "thread:1", "tokens": ["...", ...], "expect": 100, "deflate": false}

It connects one client per token, authenticates with `auth={"token": ...}`, subscribes to the room (with an
ack), then prints `ready <connected> <failed>`. From then on it notes time.monotonic() (CLOCK_MONOTONIC: the
same clock in every process) each time a client receives a `post.created` event, keyed by the post's number, and
prints `complete` once its clients have received `expect` events each (counting duplicates: the parent checks).
On `stop` (stdin) it writes {"received": [[[number, time], ...] per client], "lost": closed connections} to the
file given as its only argument, prints `done` and exits.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

CONNECT_CONCURRENCY = 50  # handshakes in flight per process: the server authenticates each against the database
NUMBER = re.compile(r'"number":(\d+)')
EVENT_PREFIX = '42["event",'


class Tally:
    """Receipts still expected by this process; says `complete` on stdout when none are left."""

    def __init__(self) -> None:
        self.remaining = -1  # set once every client is subscribed

    def count(self) -> None:
        self.remaining -= 1
        if self.remaining == 0:
            print("complete", flush=True)


class Client(asyncio.Protocol):
    """One Socket.IO client. Everything happens in callbacks: a received frame costs one regex search."""

    def __init__(self, uri: str, token: str, room: str, deflate: bool, tally: Tally) -> None:
        self.tally = tally
        extensions = [ClientPerMessageDeflateFactory()] if deflate else None
        self.ws = ClientProtocol(parse_uri(uri), extensions=extensions, max_size=None)
        self.token = token
        self.room = room
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport subclasses
        self.subscribed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.received: list[tuple[int, float]] = []
        self.closed = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.ws.send_request(self.ws.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Frame):
                if event.opcode is Opcode.TEXT:
                    self._message(str(event.data, "utf-8"), now)
            elif isinstance(event, Response) and event.status_code != 101:
                self._fail(f"handshake answered {event.status_code}")
        self._flush()

    def eof_received(self) -> bool | None:
        self.ws.receive_eof()
        self._flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(f"connection lost: {exc}")

    # Engine.IO / Socket.IO
    def _message(self, text: str, now: float) -> None:
        if text.startswith(EVENT_PREFIX):
            if '"post.created"' in text:
                match = NUMBER.search(text)
                if match:
                    self.received.append((int(match.group(1)), now))
                    self.tally.count()
        elif text == "2":  # Engine.IO ping: answer or the server drops us after pingTimeout
            self._send("3")
        elif text.startswith("0{"):  # Engine.IO open: connect to the default namespace with our token
            self._send("40" + json.dumps({"token": self.token}))
        elif text.startswith("40"):  # namespace connected: subscribe, ack id 1
            self._send("421" + json.dumps(["subscribe", {"room": self.room, "after": 0}]))
        elif text.startswith("431"):
            answer = json.loads(text[3:])[0]
            if answer.get("ok"):
                if not self.subscribed.done():
                    self.subscribed.set_result(None)
            else:
                self._fail(f"subscribe refused: {answer}")
        elif text.startswith("44"):
            self._fail(f"connect refused: {text[2:]}")

    def _send(self, text: str) -> None:
        self.ws.send_text(text.encode())
        self._flush()

    def _flush(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        for data in self.ws.data_to_send():
            if data:
                self.transport.write(data)
            else:
                self.transport.write_eof()

    def _fail(self, reason: str) -> None:
        if not self.subscribed.done():
            self.subscribed.set_exception(ConnectionError(reason))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


async def connect_all(url: str, room: str, tokens: list[str], deflate: bool, tally: Tally) -> tuple[list[Client], int]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    uri = f"ws://{host}:{port}/socket.io/?EIO=4&transport=websocket"
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    failures = 0

    async def one(token: str) -> Client | None:
        nonlocal failures
        async with gate:
            client = Client(uri, token, room, deflate, tally)
            try:
                await loop.create_connection(lambda: client, host, port)
                await asyncio.wait_for(client.subscribed, 60)
            except (OSError, ConnectionError, TimeoutError) as error:
                failures += 1
                if failures <= 3:
                    print(f"client failed: {error!r}", file=sys.stderr, flush=True)
                client.close()
                return None
            return client

    clients = [client for client in await asyncio.gather(*(one(token) for token in tokens)) if client]
    return clients, failures


async def run(result_path: str) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    job: dict[str, Any] = json.loads(await reader.readline())
    tally = Tally()
    clients, failures = await connect_all(job["url"], job["room"], job["tokens"], job.get("deflate", False), tally)
    tally.remaining = len(clients) * job["expect"] - sum(len(client.received) for client in clients)
    print(f"ready {len(clients)} {failures}", flush=True)
    while (await reader.readline()).decode().strip() not in ("stop", ""):
        pass
    result = {"received": [client.received for client in clients], "lost": sum(client.closed for client in clients)}
    with open(result_path, "w") as out:  # noqa: ASYNC230 -- after the measurement
        json.dump(result, out)
    for client in clients:
        client.close()
    print("done", flush=True)


def main() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover -- uvicorn[standard] brings it
        asyncio.run(run(sys.argv[1]))
    else:
        uvloop.run(run(sys.argv[1]))


if __name__ == "__main__":
    main()
