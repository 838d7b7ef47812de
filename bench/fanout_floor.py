"""The floor for bench/fanout.py: bare python-socketio on the same uvicorn settings as `forum serve`.

Clients connect with any token, `subscribe` joins them to the room they name, and `POST /emit?number=N` emits
the envelope given in FANOUT_ENVELOPE (a real `post.created`, so the payload is the same size as Linli's) with
`data.number = N` to the room, then answers 200. No database, no authentication, no HTTP framework: what Linli
costs above this is the price of those.

    FANOUT_ENVELOPE='{...}' .venv/bin/python -m bench.fanout_floor --port 8970

For bench/messages.py, `FANOUT_KEY=message_id` sets `data.message_id` instead, and `POST /emit?number=N&room=R`
sends to room R (a conversation of two) instead of the envelope's.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import socketio
import uvicorn

from forum import heap
from forum.cli import UVICORN_OPTIONS

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

ENVELOPE: dict[str, Any] = json.loads(os.environ.get("FANOUT_ENVELOPE", "{}"))
KEY = os.environ.get("FANOUT_KEY", "number")

sio = socketio.AsyncServer(
    async_mode="asgi", transports=["websocket"], cors_allowed_origins=None, logger=False, engineio_logger=False
)


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
    if not (isinstance(auth, dict) and isinstance(auth.get("token"), str)):
        raise ConnectionRefusedError("not_authenticated")


@sio.event
async def subscribe(sid: str, data: Any) -> dict[str, Any]:
    await sio.enter_room(sid, data["room"])
    return {"ok": True}


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


async def trigger(scope: Scope, receive: Receive, send: Send) -> None:
    """POST /emit?number=N[&room=R]: the envelope to its room (or R); GET /healthz: 200."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/healthz":
        await _respond(send, 200, b"ok")
        return
    query = dict(parse_qsl(scope["query_string"].decode()))
    if scope["path"] != "/emit" or scope["method"] != "POST" or not query.get("number", "").isdigit():
        await _respond(send, 404, b"POST /emit?number=N")
        return
    room = query.get("room", ENVELOPE["room"])
    envelope = {**ENVELOPE, "room": room, "data": {**ENVELOPE["data"], KEY: int(query["number"])}}
    await sio.emit("event", envelope, room=envelope["room"])
    await _respond(send, 200, b"sent")


# The same garbage-collector settings as Linli after start-up (forum/heap.py): the floor gets what Linli gets.
app = socketio.ASGIApp(sio, other_asgi_app=trigger, on_startup=heap.settle)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    uvicorn.run(
        "bench.fanout_floor:app",
        host="127.0.0.1",
        port=options.port,
        log_level="warning",
        access_log=False,
        forwarded_allow_ips="127.0.0.1",
        **UVICORN_OPTIONS,
    )


if __name__ == "__main__":
    main()
