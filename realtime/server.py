"""The Socket.IO server, mounted on the Quart app at /socket.io/.

Socket.IO traffic does not pass Quart's request hooks, so `connect` authenticates on its own: the login cookie
(verified with quart-auth's signature, then against the session table) or `auth={"token": ...}` for API clients.
"""

from __future__ import annotations

import logging
from http.cookies import CookieError, SimpleCookie
from typing import Any

import socketio
from quart import Quart
from quart_auth import QuartAuth

from forum.actions.sessions import resolve_session
from forum.db import Database
from forum.models import User
from realtime.events import Ready, user_room

log = logging.getLogger(__name__)


def _cookie(environ: dict[str, Any], name: str) -> str | None:
    raw = environ.get("HTTP_COOKIE", "")
    try:
        jar = SimpleCookie(raw)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


async def authenticate(app: Quart, environ: dict[str, Any], auth: Any) -> User | None:
    token: str | None = None
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        token = auth["token"]
    else:
        extension: QuartAuth = app.extensions["QUART_AUTH"][0]
        cookie = _cookie(environ, extension.cookie_name or "")
        if cookie:
            token = extension.load_token(cookie, app=app)
    if not token:
        return None
    db: Database = app.extensions["linli.db"]
    async with db.unit_of_work() as session:
        resolved = await resolve_session(session, token)
    return resolved[1] if resolved else None


def create_socket_server(app: Quart) -> socketio.AsyncServer:
    redis_url = app.config["REDIS_URL"]
    manager = socketio.AsyncRedisManager(redis_url, channel=app.config["REDIS_CHANNEL"]) if redis_url else None
    sio = socketio.AsyncServer(
        # Stated explicitly: with aiohttp installed the default would pick aiohttp (python-socketio #776).
        async_mode="asgi",
        client_manager=manager,
        # WebSocket only: no server here does sticky sessions, and polling needs them across processes.
        transports=["websocket"],
        # None = same origin only: the guard against cross-site WebSocket hijacking.
        cors_allowed_origins=None,
        logger=False,
        engineio_logger=False,
    )

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        user = await authenticate(app, environ, auth)
        if user is None or user.id is None:
            raise ConnectionRefusedError("authentication required")
        await sio.save_session(sid, {"user_id": user.id})
        await sio.enter_room(sid, user_room(user.id))
        await sio.emit("ready", Ready(user_id=user.id, display_name=user.display_name).model_dump(), to=sid)

    return sio
