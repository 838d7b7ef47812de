"""Cheap Socket.IO load clients for bench/fanout.py and bench/messages.py: Engine.IO v4 / Socket.IO v5 over
WebSocket only, on the sans-I/O core of the `websockets` package driven by plain asyncio protocols (no task per
connection, no JSON parsing on the hot path). python-socketio's own client was the bottleneck at 1,000
connections; this is not.

Run by bench/fanout.py as a worker process, one line of JSON on stdin:

    {"url": "http://127.0.0.1:8000", "room": "thread:1", "tokens": ["...", ...], "expect": 100, "deflate": false}

It connects one client per token, authenticates with `auth={"token": ...}`, subscribes to the room (with an
ack), then prints `ready <connected> <failed>`. From then on it notes time.monotonic() (CLOCK_MONOTONIC: the
same clock in every process) each time a client receives a `post.created` event, keyed by the post's number, and
prints `complete` once its clients have received `expect` events each (counting duplicates: the parent checks).
On `stop` (stdin) it writes {"received": [[[number, time], ...] per client], "counted": [[count per watched type]
per client], "lost": closed connections} to the file given as its only argument, prints `done` and exits.

bench/messages.py gives each client its own room and count instead (`"rooms"` and `"expect"` as lists, one per
token), times `message.created` keyed by `message_id` (`"event"`, `"key"`), and only counts the event types
listed in `"watch"` (`unread.changed`). Clients are reported in the order of their tokens.
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
EVENT_PREFIX = '42["event",'


class Match:
    """Which event a client times (its type, and the payload field that keys it) and which it only counts."""

    def __init__(self, event: str = "post.created", key: str = "number", watch: list[str] | None = None) -> None:
        self.quoted_type = f'"{event}"'
        self.key = re.compile(f'"{key}":(\\d+)')
        self.watch = [f'"{kind}"' for kind in watch or []]


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

    def __init__(self, uri: str, token: str, room: str, deflate: bool, tally: Tally, match: Match) -> None:
        self.tally = tally
        self.match = match
        extensions = [ClientPerMessageDeflateFactory()] if deflate else None
        self.ws = ClientProtocol(parse_uri(uri), extensions=extensions, max_size=None)
        self.token = token
        self.room = room
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport subclasses
        self.subscribed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.received: list[tuple[int, float]] = []
        self.counted = [0] * len(match.watch)
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
            if self.match.quoted_type in text:
                found = self.match.key.search(text)
                if found:
                    self.received.append((int(found.group(1)), now))
                    self.tally.count()
            for n, watched in enumerate(self.match.watch):
                if watched in text:
                    self.counted[n] += 1
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


async def connect_all(
    url: str, rooms: list[str], tokens: list[str], deflate: bool, tally: Tally, match: Match
) -> tuple[list[Client], int]:
    """One client per token, subscribed to the room at the same position; the clients that failed are None."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    uri = f"ws://{host}:{port}/socket.io/?EIO=4&transport=websocket"
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    failures = 0

    async def one(token: str, room: str) -> Client | None:
        nonlocal failures
        async with gate:
            client = Client(uri, token, room, deflate, tally, match)
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

    clients = await asyncio.gather(*(one(token, room) for token, room in zip(tokens, rooms, strict=True)))
    return [client for client in clients if client], failures


async def run(result_path: str) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    job: dict[str, Any] = json.loads(await reader.readline())
    tally = Tally()
    tokens: list[str] = job["tokens"]
    rooms: list[str] = job["rooms"] if "rooms" in job else [job["room"]] * len(tokens)
    expect: list[int] = job["expect"] if isinstance(job["expect"], list) else [job["expect"]] * len(tokens)
    match = Match(job.get("event", "post.created"), job.get("key", "number"), job.get("watch"))
    clients, failures = await connect_all(job["url"], rooms, tokens, job.get("deflate", False), tally, match)
    # A client that failed is missing from the list: the parent stops the run before it reads the results.
    tally.remaining = sum(expect) - sum(len(client.received) for client in clients)
    print(f"ready {len(clients)} {failures}", flush=True)
    while (await reader.readline()).decode().strip() not in ("stop", ""):
        pass
    result = {
        "received": [client.received for client in clients],
        "counted": [client.counted for client in clients],
        "lost": sum(client.closed for client in clients),
    }
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
