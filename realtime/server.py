"""The Socket.IO server, mounted on the Quart app at /socket.io/.

Socket.IO traffic does not pass Quart's request hooks, so `connect` authenticates on its own: the login cookie
(verified with quart-auth's signature, then against the session table) or `auth={"token": ...}` for API clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any

import socketio
from quart import Quart
from quart_auth import QuartAuth
from redis import asyncio as aioredis

from forum.access import access_room
from forum.actions.sessions import ResolvedSession, resolve_session
from forum.db import Database
from forum.errors import DomainError
from forum.models import User
from forum.queries.communities import followed_community_ids
from forum.queries.events import REPLAY_LIMIT, events_after
from realtime.events import (
    ReadersPresent,
    Ready,
    RoomRevoked,
    Typing,
    community_room,
    session_room,
    thread_room,
    user_room,
)
from realtime.presence import Presence

TYPING_INTERVAL = 2.0  # seconds between two typing signals from one client
PRESENCE_INTERVAL = 1.0  # seconds: reader counts of a thread are sent at most this often
FOLLOWED_PREFIXES = ("thread:", "board:", "community:")  # rooms joined through an access check

log = logging.getLogger(__name__)


def _cookie(environ: dict[str, Any], name: str) -> str | None:
    raw = environ.get("HTTP_COOKIE", "")
    try:
        jar = SimpleCookie(raw)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


async def authenticate(app: Quart, environ: dict[str, Any], auth: Any) -> ResolvedSession | None:
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
        return await resolve_session(session, token)


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
        resolved = await authenticate(app, environ, auth)
        if resolved is None:
            raise ConnectionRefusedError("not_authenticated")
        auth_session, user = resolved.auth_session, resolved.user
        assert user.id is not None and auth_session.id is not None  # noqa: S101 -- stored rows
        await sio.save_session(
            sid, {"user_id": user.id, "auth_session_id": auth_session.id, "display_name": user.display_name}
        )
        await sio.enter_room(sid, user_room(user.id))
        await sio.enter_room(sid, session_room(auth_session.id))
        # Every community the user is a verified member of: a secretary's notice reaches whatever page they
        # have open. Nothing is replayed here; notices missed while offline are on the community page.
        db: Database = app.extensions["linli.db"]
        async with db.read_only() as session:
            for community_id in await followed_community_ids(session, user):
                await sio.enter_room(sid, community_room(community_id))
        await sio.emit("ready", Ready(user_id=user.id, display_name=user.display_name).model_dump(), to=sid)

    @sio.event
    async def disconnect(sid: str, *_reason: Any) -> None:
        for room in presence.rooms_of(sid):
            if await presence.leave(room, sid):
                changed(room)

    @sio.event
    async def subscribe(sid: str, data: Any) -> dict[str, Any]:
        """Join a room and receive, in order, every event in it after `after` (the id the page was rendered at
        or the last one the client saw). Joining first, then replaying, leaves no gap; the client ignores ids it
        has already seen. Answers {"ok": true}, {"ok": false, "error": ...} or {"ok": false, "reload": true}."""
        if not isinstance(data, dict) or not isinstance(data.get("room"), str):
            return {"ok": False, "error": "bad_request"}
        room: str = data["room"][:64]
        after = data.get("after", 0)
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            return {"ok": False, "error": "bad_request"}
        socket_session = await sio.get_session(sid)
        db: Database = app.extensions["linli.db"]
        async with db.read_only() as session:
            user = await session.get(User, socket_session["user_id"])
            if user is None:
                return {"ok": False, "error": "not_authenticated"}
            try:
                await access_room(session, user, room)
            except DomainError as error:
                return {"ok": False, "error": error.code}
            await sio.enter_room(sid, room)
            backlog = await events_after(session, room=room, after=after, limit=REPLAY_LIMIT)
        if backlog is None:
            return {"ok": False, "reload": True}
        for envelope in backlog:
            await sio.emit("event", envelope, to=sid)
        if room.startswith("thread:") and await presence.enter(room, sid, socket_session["user_id"]):
            changed(room)
        return {"ok": True}

    @sio.event
    async def typing(sid: str, data: Any) -> None:
        """Relay "someone is replying" to the other readers of a thread the sender has subscribed to (the
        subscription was the access check). At most one signal per sender every two seconds."""
        if not isinstance(data, dict) or not isinstance(data.get("thread_id"), int):
            return
        room = thread_room(data["thread_id"])
        if room not in sio.rooms(sid):
            return
        now = asyncio.get_running_loop().time()
        async with sio.session(sid) as socket_session:
            if now - socket_session.get("typing_at", 0.0) < TYPING_INTERVAL:
                return
            socket_session["typing_at"] = now
        signal = Typing(
            thread_id=data["thread_id"], user_id=socket_session["user_id"], display_name=socket_session["display_name"]
        )
        await sio.emit("typing", signal.model_dump(), room=room, skip_sid=sid)

    @sio.event
    async def unsubscribe(sid: str, data: Any) -> dict[str, Any]:
        if isinstance(data, dict) and isinstance(data.get("room"), str):
            room = data["room"][:64]
            await sio.leave_room(sid, room)
            if await presence.leave(room, sid):
                changed(room)
        return {"ok": True}

    # --- Readers present: counted on every change, sent at most once a second per thread ---------------------
    presence = Presence(redis_url, app.config["REDIS_CHANNEL"])
    dirty: set[str] = set()
    flushing: list[asyncio.Task[None]] = []

    def changed(room: str) -> None:
        dirty.add(room)
        if not flushing or flushing[0].done():
            flushing[:] = [asyncio.create_task(flush())]

    async def flush() -> None:
        await asyncio.sleep(PRESENCE_INTERVAL)
        rooms = list(dirty)
        dirty.clear()
        for room in rooms:
            try:
                count = await presence.count(room)
                signal = ReadersPresent(thread_id=int(room.partition(":")[2]), count=count)
                await sio.emit("presence", signal.model_dump(), room=room)
            except Exception:  # an ephemeral signal: the next change sends the count again
                log.warning("could not send the reader count of %s", room, exc_info=True)

    # --- Access that changed after a room was joined ----------------------------------------------------------
    async def recheck(user_ids: list[int]) -> None:
        """Take this process's sockets of these users out of every room they may no longer follow."""
        db: Database = app.extensions["linli.db"]
        async with db.read_only() as session:
            for user_id in user_ids:
                sockets = [sid for sid, _eio in sio.manager.get_participants("/", user_room(user_id))]
                if not sockets:
                    continue
                user = await session.get(User, user_id)
                for sid in sockets:
                    for room in [room for room in sio.rooms(sid) if room.startswith(FOLLOWED_PREFIXES)]:
                        allowed = user is not None
                        if user is not None:
                            try:
                                await access_room(session, user, room)
                            except DomainError:
                                allowed = False
                        if allowed:
                            continue
                        await sio.leave_room(sid, room)
                        if await presence.leave(room, sid):
                            changed(room)
                        await sio.emit("revoked", RoomRevoked(room=room).model_dump(), to=sid)

    relay = Relay(sio, redis_url, f"{app.config['REDIS_CHANNEL']}:sessions-ended", recheck=recheck)
    app.extensions["linli.relay"] = relay
    app.extensions["linli.presence"] = presence
    app.before_serving(relay.start)
    app.before_serving(presence.start)
    app.after_serving(presence.stop)
    app.after_serving(relay.stop)
    return sio


class Relay:
    """Hands committed events to Socket.IO: client events to their rooms (through Redis to every process when
    REDIS_URL is set), and ended login sessions to every process, which disconnects their sockets.

    The sockets of a session may be held by any process, and rooms are per process, so the news travels on its
    own Redis channel and each process disconnects its own sockets. Without Redis there is one process.
    """

    def __init__(
        self,
        sio: socketio.AsyncServer,
        redis_url: str,
        channel: str,
        *,
        recheck: Callable[[list[int]], Awaitable[None]],
    ) -> None:
        self.sio = sio
        self.redis_url = redis_url
        self.channel = channel
        self.access_channel = f"{channel}:access-changed"
        self.recheck = recheck
        self._redis: aioredis.Redis | None = None
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.redis_url:
            self._redis = aioredis.from_url(self.redis_url)
            self._listener = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._redis is not None:
            await self._redis.aclose()

    async def publish(self, events: list[dict[str, Any]]) -> None:
        """The unit of work's sink for client events: called after commit, in id order."""
        for envelope in events:
            if "room" in envelope:
                await self.sio.emit("event", envelope, room=envelope["room"])

    async def sink(self, events: list[dict[str, Any]]) -> None:
        """The unit of work's event sink: called after commit with the events the actions queued."""
        ended = [sid for event in events if event.get("type") == "sessions.ended" for sid in event["session_ids"]]
        if ended:
            if self._redis is not None:
                await self._redis.publish(self.channel, json.dumps(ended))
            else:
                await self.disconnect_local(ended)
        changed = sorted(
            {uid for event in events if event.get("type") == "access.changed" for uid in event["user_ids"]}
        )
        if changed:
            if self._redis is not None:
                await self._redis.publish(self.access_channel, json.dumps(changed))
            else:
                await self.recheck(changed)

    async def disconnect_local(self, session_ids: list[int]) -> None:
        for session_id in session_ids:
            room = session_room(session_id)
            for sid, _eio_sid in list(self.sio.manager.get_participants("/", room)):
                await self.sio.disconnect(sid)

    async def _listen(self) -> None:
        assert self._redis is not None  # noqa: S101 -- set in start
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel, self.access_channel)
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        try:
                            ids = [int(item) for item in json.loads(message["data"])]
                            if message["channel"].decode() == self.access_channel:
                                await self.recheck(ids)
                            else:
                                await self.disconnect_local(ids)
                        except Exception:  # one bad message or a database hiccup: keep listening
                            log.exception("could not act on %r", message.get("channel"))
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis restarted or unreachable: keep trying, sockets stay as they are meanwhile
                log.warning("session and access listener lost Redis; retrying", exc_info=True)
                await asyncio.sleep(1)
