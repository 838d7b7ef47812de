"""The Socket.IO server, mounted on the Quart app at /socket.io/.

Socket.IO traffic does not pass Quart's request hooks, so `connect` authenticates on its own: the login cookie
(verified with quart-auth's signature, then against the session table) or `auth={"token": ...}` for API clients.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from http.cookies import CookieError, SimpleCookie
from typing import Any

import socketio
from quart import Quart
from quart_auth import QuartAuth
from redis import asyncio as aioredis
from redis.asyncio.client import PubSub

from forum import rooms
from forum.actions.sessions import ResolvedSession, resolve_session
from forum.db import Database
from forum.errors import DomainError
from forum.events import ReadersPresent, Ready, RoomRevoked, Typing
from forum.heap import Departures
from forum.models import User
from forum.queries.accounts import live_session_ids
from forum.queries.communities import followed_community_ids
from forum.queries.events import REPLAY_LIMIT, events_after, events_since
from forum.queries.messages import unread_totals
from forum.queries.notifications import unread_notification_totals
from forum.queries.replay import Reader
from forum.queries.threads import latest_event_id
from forum.redis_client import UNAVAILABLE, fail_fast, fail_fast_manager
from forum.validation import MAX_ID
from realtime.presence import Presence

TYPING_INTERVAL = 2.0  # seconds between two typing signals from one client
PRESENCE_INTERVAL = 1.0  # seconds: reader counts of a thread are sent at most this often

log = logging.getLogger(__name__)


def _followed(room: str) -> bool:
    """A room a client joined through an access check (not its personal rooms, nor its own sid)."""
    kind = rooms.kind_of(room)
    return kind is not None and kind.followed


def _ids_of(kind: rooms.RoomKind, names: Iterable[str]) -> list[int]:
    """The ids of the rooms of this kind among `names`."""
    found = []
    for name in names:
        try:
            parsed, ident = rooms.parse(name)
        except DomainError:
            continue
        if parsed is kind:
            found.append(ident)
    return found


def _cookie(environ: dict[str, Any], name: str) -> str | None:
    raw = environ.get("HTTP_COOKIE", "")
    try:
        jar = SimpleCookie(raw)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


def login_token(app: Quart, environ: dict[str, Any], auth: Any) -> tuple[str | None, bool]:
    """The login token a connecting client sent (an API client's bearer token in `auth`, or the login cookie),
    and whether it was verified here already: a cookie's signature is checked without the database (a forged
    one yields no token), a bearer token only by looking it up."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return auth["token"], False
    extension: QuartAuth = app.extensions["QUART_AUTH"][0]
    cookie = _cookie(environ, extension.cookie_name or "")
    return (extension.load_token(cookie, app=app), True) if cookie else (None, True)


async def authenticate(app: Quart, token: str) -> ResolvedSession | None:
    """The login session and person of a token, if it is still good."""
    db: Database = app.extensions["linli.db"]
    async with db.unit_of_work() as session:
        return await resolve_session(session, token)


class MalformedPacket(ValueError):
    """A client sent something that is not a Socket.IO packet (or one too deep to read)."""


class _CheckedPacket(socketio.packet.Packet):
    """Decoding a client's packet either works or raises MalformedPacket: never an IndexError, a JSON error or a
    RecursionError (a body nested 100,000 deep) from inside the library."""

    def decode(self, encoded_packet: Any) -> Any:
        try:
            return super().decode(encoded_packet)
        except (ValueError, TypeError, IndexError, KeyError, RecursionError, UnicodeError) as error:
            raise MalformedPacket(type(error).__name__) from None


class _SafeJSON:
    """JSON for python-socketio and python-engineio: text nested too deep to read is a ValueError, which both
    take as a malformed packet, rather than a RecursionError that escapes them."""

    @staticmethod
    def dumps(*args: Any, **kwargs: Any) -> str:
        return json.dumps(*args, **kwargs)

    @staticmethod
    def loads(*args: Any, **kwargs: Any) -> Any:
        try:
            return json.loads(*args, **kwargs)
        except RecursionError:
            raise ValueError("nested too deep") from None


class _Server(socketio.AsyncServer):
    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except MalformedPacket as error:
            log.info("closing a socket that sent a malformed packet (%s)", error)
            await self.eio.disconnect(eio_sid)


class SocketIOApp(socketio.ASGIApp):
    """The Socket.IO app that wraps the Quart app. A WebSocket frame that Engine.IO cannot even split into a
    packet ("garbage") raises out of python-engineio's receive loop; here it closes that one socket with a line in
    the log, instead of an "Exception in ASGI application" traceback per frame."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            await super().__call__(scope, receive, send)
            return
        try:
            await super().__call__(scope, receive, send)
        except Exception as error:  # a client's bytes: anything from the library's decoding is theirs
            log.info("closed a socket whose frame Engine.IO could not read (%s)", type(error).__name__)


class _OneLineLogger(logging.Logger):
    """The logger given to python-socketio and python-engineio. What a client's frames cause inside python-engineio
    ("Unknown receive error": a frame it cannot read) is one line, so a hostile client cannot fill the log; the
    app's own errors (in a handler) keep their traceback."""

    CLIENT_CAUSED = frozenset({"Unknown receive error"})

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        if msg not in self.CLIENT_CAUSED:
            super().exception(msg, *args, exc_info=exc_info, **kwargs)
            return
        error = sys.exc_info()[1]
        self.warning("%s: %s", msg, f"{type(error).__name__}: {error}"[:200])


def _library_logger(name: str) -> logging.Logger:
    logger = _OneLineLogger(name, level=logging.WARNING)
    logger.parent = logging.getLogger()  # handled like every other record (propagates to the root's handlers)
    return logger


def _peer(environ: dict[str, Any]) -> str:
    """The client's address as uvicorn resolved it (engineio's REMOTE_ADDR is always 127.0.0.1)."""
    client = environ.get("asgi.scope", {}).get("client")
    return str(client[0]) if client else "unknown"


class FailedConnects:
    """Connection attempts without a valid login, per client address and per process: past the allowance in a
    minute, further attempts are refused before the database is asked."""

    WINDOW = 60.0
    MOST_ADDRESSES = 10_000  # memory stays bounded whatever addresses come and go

    def __init__(self, allowance: int) -> None:
        self.allowance = allowance
        self._seen: dict[str, collections.deque[float]] = {}

    def _prune(self, times: collections.deque[float], now: float) -> collections.deque[float]:
        while times and now - times[0] > self.WINDOW:
            times.popleft()
        return times

    def blocked(self, address: str) -> bool:
        times = self._seen.get(address)
        return times is not None and len(self._prune(times, time.monotonic())) >= self.allowance

    def note(self, address: str) -> None:
        """One more failure from `address` (only failures are kept)."""
        now = time.monotonic()
        times = self._seen.get(address)
        if times is None:
            if len(self._seen) >= self.MOST_ADDRESSES:  # drop the addresses with no recent failure first
                for stale in [each for each, seen in self._seen.items() if not self._prune(seen, now)]:
                    del self._seen[stale]
                if len(self._seen) >= self.MOST_ADDRESSES:
                    self._seen.pop(next(iter(self._seen)))  # the oldest added
            times = self._seen[address] = collections.deque()
        self._prune(times, now).append(now)


def create_socket_server(app: Quart) -> socketio.AsyncServer:
    redis_url = app.config["REDIS_URL"]
    # Through Redis go only typing and reader counts now (events are relayed from the log, see Relay), and never
    # in the path of an answer: everything for this process's own sockets is emitted with ignore_queue=True.
    manager = fail_fast_manager(redis_url, app.config["REDIS_CHANNEL"]) if redis_url else None
    sio = _Server(
        # Stated explicitly: with aiohttp installed the default would pick aiohttp (python-socketio #776).
        async_mode="asgi",
        client_manager=manager,
        # WebSocket only: no server here does sticky sessions, and polling needs them across processes.
        transports=["websocket"],
        # None = same origin only: the guard against cross-site WebSocket hijacking.
        cors_allowed_origins=None,
        serializer=_CheckedPacket,
        json=_SafeJSON,
        logger=_library_logger("socketio.server"),
        engineio_logger=_library_logger("engineio.server"),
    )
    failed_connects = FailedConnects(app.config["SOCKET_FAILED_CONNECTS_PER_MINUTE"])
    sockets_per_account = app.config["SOCKETS_PER_ACCOUNT"]

    def database() -> Database:
        db: Database = app.extensions["linli.db"]
        return db

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        try:
            await admit(sid, environ, auth)
        except socketio.exceptions.ConnectionRefusedError:
            raise
        except Exception as error:
            if database().outage.note(error):  # logged once per outage, not a traceback per connection
                # A refusal that passes: the client connects again a little later (docs/realtime.md).
                raise socketio.exceptions.ConnectionRefusedError("unavailable") from None
            raise

    async def admit(sid: str, environ: dict[str, Any], auth: Any) -> None:
        """Authenticate a connecting socket and put it in its personal and community rooms, or refuse it."""
        address = _peer(environ)
        token, verified = login_token(app, environ, auth)
        # Tokens that only the database can judge (an API client's) are throttled per address after failures; a
        # signed cookie never is, so one broken client behind a shared address does not shut its neighbours out.
        if not verified and failed_connects.blocked(address):
            raise socketio.exceptions.ConnectionRefusedError("rate_limited")
        resolved = await authenticate(app, token) if token else None
        if resolved is None:
            failed_connects.note(address)
            raise socketio.exceptions.ConnectionRefusedError("not_authenticated")
        auth_session, user = resolved.auth_session, resolved.user
        assert user.id is not None and auth_session.id is not None  # noqa: S101 -- stored rows
        if len(list(sio.manager.get_participants("/", rooms.USER(user.id)))) >= sockets_per_account:
            raise socketio.exceptions.ConnectionRefusedError("too_many_connections")
        await sio.save_session(
            sid, {"user_id": user.id, "auth_session_id": auth_session.id, "display_name": user.display_name}
        )
        await sio.enter_room(sid, rooms.USER(user.id))
        await sio.enter_room(sid, rooms.SESSION(auth_session.id))
        # Every community the user is a verified member of: a secretary's notice reaches whatever page they
        # have open. Nothing is replayed here (notices missed while offline are on the community page), so the
        # socket joins once the relay has sent what was committed before: an older notice, hidden since, must
        # not arrive as new.
        db = database()
        generation = rechecked.get(user.id, 0)
        async with db.read_only() as session:
            newest = await latest_event_id(session)
        if not await relay.caught_up(newest):
            raise socketio.exceptions.ConnectionRefusedError("unavailable")
        async with db.read_only() as session:
            communities = await followed_community_ids(session, user)
            for community_id in communities:
                await sio.enter_room(sid, rooms.COMMUNITY(community_id))
            if rechecked.get(user.id, 0) != generation:
                # Removed or suspended while this connect was reading: the recheck may not have seen these rooms.
                still = set(await followed_community_ids(session, user))
                for community_id in set(communities) - still:
                    await sio.leave_room(sid, rooms.COMMUNITY(community_id))
            # Counted after joining the personal room: any later change arrives there as `unread.changed`.
            unread = (await unread_totals(session, [user.id]))[user.id]
            bell = (await unread_notification_totals(session, [user.id]))[user.id]
        # ignore_queue: the socket is on this process; through Redis this would be a message to every process
        # (and wait for Redis when it is unreachable).
        ready = Ready(user_id=user.id, display_name=user.display_name, unread=unread, notifications=bell)
        await sio.emit("ready", ready.model_dump(), to=sid, ignore_queue=True)

    # --- Flood guard: each connection may send so many events per window; one that sends more is dropped ---------
    allowance, window = app.config["SOCKET_EVENTS_PER_WINDOW"], app.config["SOCKET_WINDOW_SECONDS"]
    recent: dict[str, collections.deque[float]] = {}

    async def within_limit(sid: str) -> bool:
        """Count one event from `sid`; past the allowance, disconnect it (a client that floods is broken or
        hostile; a real page sends a few subscribes and a typing signal every two seconds)."""
        now = asyncio.get_running_loop().time()
        times = recent.setdefault(sid, collections.deque())
        while times and now - times[0] > window:
            times.popleft()
        times.append(now)
        if len(times) <= allowance:
            return True
        log.warning("dropping socket %s: %d events in %.0f s", sid, len(times), window)
        recent.pop(sid, None)
        await sio.disconnect(sid)
        return False

    departures = Departures()

    @sio.event
    async def disconnect(sid: str, *_reason: Any) -> None:
        departures.note()  # what a closed socket leaves behind is freed by a full collection now and then
        recent.pop(sid, None)
        for room in presence.rooms_of(sid):
            if presence.leave(room, sid):
                changed(room)

    @sio.event
    async def subscribe(sid: str, data: Any = None) -> dict[str, Any]:
        """Join a room and receive, in order, every event in it after `after` (the id the page was rendered at
        or the last one the client saw), as the room's page would show it now (`forum.rooms`: its replay
        filter). Answers {"ok": true}, {"ok": false, "error": ...} or {"ok": false, "reload": true}.

        The socket joins the room only once this process's relay has sent every event committed before the
        access check, and the replay covers everything the relay had sent when it joined: so an event recorded
        before a later change (a reply, then hidden) reaches the socket only through the replay, which shows it
        as it is now, never live as it was. Events after the join arrive live; the client ignores ids it has
        already seen (an event being sent as the socket joins may come both ways).

        With the database away, the answer is {"ok": false, "error": "unavailable"} (the client tries again) and
        the socket stays connected, in none of the room or its count. Nothing here waits for Redis."""
        try:
            return await join(sid, data)
        except Exception as error:
            if database().outage.note(error):  # logged once per outage, not a traceback per subscribe
                return {"ok": False, "error": "unavailable"}
            raise

    async def join(sid: str, data: Any) -> dict[str, Any]:
        if not await within_limit(sid):
            return {"ok": False, "error": "rate_limited"}
        if not isinstance(data, dict) or not isinstance(data.get("room"), str):
            return {"ok": False, "error": "bad_request"}
        room: str = data["room"][:64]
        after = data.get("after", 0)
        if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= MAX_ID:
            return {"ok": False, "error": "bad_request"}
        socket_session = await sio.get_session(sid)
        db = database()
        async with db.read_only() as session:
            user = await session.get(User, socket_session["user_id"])
            if user is None:
                return {"ok": False, "error": "not_authenticated"}
            try:
                kind, standing = await rooms.check_access(session, user, room)
            except DomainError as error:
                return {"ok": False, "error": error.code}
            newest = await latest_event_id(session)
        if not await relay.caught_up(newest):
            return {"ok": False, "error": "unavailable"}  # the database is away: the client tries again
        if not sio.manager.is_connected(sid, "/"):
            return {"ok": False, "error": "disconnected"}
        await sio.enter_room(sid, room)
        joined_at = relay.position  # read after joining: every later event reaches the socket live
        # Counted as a reader from the moment it is in the room (this process's own count; Redis is told after
        # the answer), so no count that reaches the socket leaves it out; it is taken out again on every way out
        # below.
        if kind.counts_readers and presence.enter(room, sid, socket_session["user_id"]):
            changed(room)

        async def withdraw(answer: dict[str, Any]) -> dict[str, Any]:
            # A socket that went is out of every room already; leaving one for it would ask the other processes
            # through Redis (python-socketio publishes a leave for a socket it does not know).
            if sio.manager.is_connected(sid, "/"):
                await sio.leave_room(sid, room)
            if presence.leave(room, sid):
                changed(room)
            return answer

        try:
            async with db.read_only() as session:
                # Checked again now that the socket is in the room: a change of access while this subscribe
                # waited (a removal, or a secretary hiding the thread) was rechecked only for the sockets in the
                # room then.
                try:
                    kind, standing = await rooms.check_access(session, user, room)
                except DomainError as error:
                    return await withdraw({"ok": False, "error": error.code})
                backlog = await events_after(session, room=room, after=after, upto=joined_at, limit=REPLAY_LIMIT)
                if backlog and kind.replay is not None:
                    reader = Reader(user_id=socket_session["user_id"], standing=standing, room_id=rooms.parse(room)[1])
                    backlog = await kind.replay(session, backlog, reader)
        except BaseException:  # the database went away: neither in the room nor counted, as if never joined
            await withdraw({})
            raise
        if backlog is None:
            return await withdraw({"ok": False, "reload": True})
        for envelope in backlog:
            await sio.emit("event", envelope, to=sid, ignore_queue=True)  # a local socket, as for `ready`
        # The socket may have gone while the database answered: its `disconnect` took it out of the count, and
        # it leaves the room it can no longer be sent to.
        if not sio.manager.is_connected(sid, "/"):
            return await withdraw({"ok": False, "error": "disconnected"})
        return {"ok": True}

    @sio.event
    async def typing(sid: str, data: Any) -> None:
        """Relay "someone is writing" to the others in a thread or conversation the sender has subscribed to
        (the subscription was the access check). At most one signal per sender every two seconds."""
        if not await within_limit(sid) or not isinstance(data, dict):
            return
        thread_id, conversation_id = data.get("thread_id"), data.get("conversation_id")
        if isinstance(thread_id, int) and not isinstance(thread_id, bool):
            room, conversation_id = rooms.THREAD(thread_id), None
        elif isinstance(conversation_id, int) and not isinstance(conversation_id, bool):
            room, thread_id = rooms.CONVERSATION(conversation_id), None
        else:
            return
        if room not in sio.rooms(sid):
            return
        now = asyncio.get_running_loop().time()
        async with sio.session(sid) as socket_session:
            if now - socket_session.get("typing_at", 0.0) < TYPING_INTERVAL:
                return
            socket_session["typing_at"] = now
        signal = Typing(
            thread_id=thread_id,
            conversation_id=conversation_id,
            user_id=socket_session["user_id"],
            display_name=socket_session["display_name"],
        )
        await sio.emit("typing", signal.model_dump(), room=room, skip_sid=sid)

    @sio.event
    async def unsubscribe(sid: str, data: Any = None) -> dict[str, Any]:
        if not await within_limit(sid):
            return {"ok": False, "error": "rate_limited"}
        if not isinstance(data, dict):
            return {"ok": False, "error": "bad_request"}
        try:
            kind, _ident = rooms.parse(data.get("room"))
        except DomainError:
            return {"ok": False, "error": "bad_request"}
        if not kind.followed:  # the personal rooms are how logout and removal find a socket: never left
            return {"ok": False, "error": "bad_request"}
        room = str(data["room"])
        await sio.leave_room(sid, room)
        if presence.leave(room, sid):
            changed(room)
        return {"ok": True}

    # --- Readers present: counted on every change, sent at most once a second per thread ---------------------
    presence = Presence(redis_url, app.config["REDIS_CHANNEL"])
    dirty: set[str] = set()
    flushing: list[asyncio.Task[None]] = []

    def changed(room: str) -> None:
        kind = rooms.kind_of(room)
        if kind is None or not kind.announces_readers:
            return
        dirty.add(room)
        if not flushing or flushing[0].done():
            flushing[:] = [asyncio.create_task(flush())]

    async def flush() -> None:
        while dirty:  # a change that arrives while counts are being sent gets its own round
            await asyncio.sleep(PRESENCE_INTERVAL)
            due = list(dirty)
            dirty.clear()
            await send_counts(due)

    async def send_counts(due: list[str]) -> None:
        for room in due:
            try:
                count = await presence.count(room)
                signal = ReadersPresent(thread_id=rooms.parse(room)[1], count=count)
                await sio.emit("presence", signal.model_dump(), room=room)  # through Redis: every process
            except Exception:  # an ephemeral signal: the next change sends the count again
                log.warning("could not send the reader count of %s", room, exc_info=True)

    # --- Access that changed after a room was joined ----------------------------------------------------------
    rechecked: dict[int, int] = {}  # user id -> how many times their access changed (see `subscribe`)

    async def recheck(user_ids: list[int]) -> None:
        """Take this process's sockets of these users out of every room they may no longer follow."""
        for user_id in user_ids:
            rechecked[user_id] = rechecked.get(user_id, 0) + 1
        db: Database = app.extensions["linli.db"]
        async with db.read_only() as session:
            for user_id in user_ids:
                sockets = [sid for sid, _eio in sio.manager.get_participants("/", rooms.USER(user_id))]
                if not sockets:
                    continue
                user = await session.get(User, user_id)
                for sid in sockets:
                    for room in [room for room in sio.rooms(sid) if _followed(room)]:
                        allowed = user is not None
                        if user is not None:
                            try:
                                await rooms.check_access(session, user, room)
                            except DomainError:
                                allowed = False
                        if allowed:
                            continue
                        if sio.manager.is_connected(sid, "/"):
                            # (For a sid gone meanwhile, python-socketio would ask the other processes through
                            # Redis, and this runs inside a request's commit.)
                            await sio.leave_room(sid, room)
                        if presence.leave(room, sid):
                            changed(room)
                        revoked = RoomRevoked(room=room).model_dump()
                        await sio.emit("revoked", revoked, to=sid, ignore_queue=True)

    def users_in(followed: list[str]) -> list[int]:
        """The users whose sockets on this process follow any of these rooms (rooms are per process)."""
        users: set[int] = set()
        for room in followed:
            for sid, _eio in sio.manager.get_participants("/", room):
                users.update(_ids_of(rooms.USER, sio.rooms(sid)))
        return sorted(users)

    async def recheck_rooms(followed: list[str]) -> None:
        """Who may follow these rooms changed (a thread was hidden): recheck the users following them here."""
        users = users_in(followed)
        if users:
            await recheck(users)

    relay = Relay(
        app,
        sio,
        redis_url=redis_url,
        channel=app.config["REDIS_CHANNEL"],
        poll_seconds=app.config["EVENT_POLL_SECONDS"],
        recheck=recheck,
        recheck_rooms=recheck_rooms,
    )
    app.extensions["linli.relay"] = relay
    app.extensions["linli.presence"] = presence
    app.before_serving(relay.start)
    app.before_serving(presence.start)
    app.after_serving(presence.stop)
    app.after_serving(relay.stop)
    return sio


class RedisHung(ConnectionError):
    """Redis keeps the connection open but does not answer."""


class Relay:
    """Hands committed events to this process's sockets.

    Client events: each process relays the event log to its own sockets, reading on from the last id it relayed,
    so it emits every event once and in id order, which is what a client's "last id seen" relies on. Events it
    commits itself that follow on from the last one relayed it sends at once, from memory (`_relay_committed`).
    It reads the log when it commits other events, when Redis announces that another process did, when it
    subscribes to Redis (again: announcements made while it was away are lost), and at least every
    EVENT_POLL_SECONDS. Redis pub/sub only makes events arrive sooner: a lost announcement (Redis restarting or
    unreachable, a process killed between its commit and its announcement) delays events by at most
    EVENT_POLL_SECONDS, never loses them, and clients notice nothing. Without Redis there is one process, and
    each commit's events are sent as it commits.

    Ended login sessions: the process that ended them disconnects its own sockets, and announces them on Redis;
    every other process disconnects its sockets of those sessions (rooms are per process). Access that shrank
    (a member removed) travels the same way: each process rechecks the rooms of that user's sockets; so do rooms
    whose readers changed (a thread hidden): each process rechecks the users following them there.

    Nothing here waits for Redis in the path of an answer. Announcements are made by a task of their own
    (`_announce_forever`), in the order they were made, after the request that committed them has answered;
    what could not be announced is announced once this process is subscribed again. The subscription checks
    itself (`_receive`): a Redis that hangs (stopped, or behind a network that drops packets) never closes the
    connection, and a blocking read on it would wait forever, so a quiet connection is pinged, and one that does
    not answer is dropped and subscribed again, which reads the log (the catch-up) once Redis answers.
    """

    RELAY_BATCH = 500  # events read from the log at a time
    # Seconds to wait for this process's own commits to fill a gap in the ids before reading the log instead.
    GAP_WAIT = 0.05
    RECONNECT_SECONDS = 1.0  # between two attempts to subscribe to Redis again, or to announce
    PING_SECONDS = 1.0  # a subscription quiet for this long is pinged
    PONG_SECONDS = 2.0  # a ping not answered within this long means Redis hangs: subscribe again
    STOP_SECONDS = 5.0  # how long a stop waits for the relay's round to end
    CATCH_UP_SECONDS = 5.0  # a subscribe waits at most this long for the relay to reach the log's newest event

    def __init__(
        self,
        app: Quart,
        sio: socketio.AsyncServer,
        *,
        redis_url: str,
        channel: str,
        poll_seconds: float,
        recheck: Callable[[list[int]], Awaitable[None]],
        recheck_rooms: Callable[[list[str]], Awaitable[None]],
    ) -> None:
        self.app = app
        self.sio = sio
        self.redis_url = redis_url
        self.events_channel = f"{channel}:events"
        self.sessions_channel = f"{channel}:sessions-ended"
        self.access_channel = f"{channel}:access-changed"
        self.recheck = recheck
        self.recheck_rooms = recheck_rooms
        # What is still to be announced on Redis (see `_announce_forever`): ended login sessions, users whose
        # access changed, rooms whose readers changed, and events committed here (`_unannounced`).
        self._unannounced_sessions: set[int] = set()
        self._unannounced_access: set[int] = set()
        self._unannounced_rooms: set[str] = set()
        self._announcing = asyncio.Event()  # set: something to announce
        self._announce_failed = False  # the last announcement failed (for the log: one line each way)
        self.poll_seconds = poll_seconds
        self._redis: aioredis.Redis | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._due = asyncio.Event()  # set: relay now
        self._log_due = False  # the next relay reads the log (not only what was committed here)
        self._committed: list[dict[str, Any]] = []  # committed here since the last relay
        self._relayed: int | None = None  # the last event id relayed to this process's sockets
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []  # subscribes waiting for an id to be relayed
        self._subscribed = False  # to Redis, right now
        self._lost = False  # Redis could not be reached since the last subscription (or since start)
        self._newest_here = 0  # the newest event id committed by this process
        self._unannounced = False  # events committed here not yet announced on Redis
        self._stopping = False

    @property
    def _db(self) -> Database:
        database: Database = self.app.extensions["linli.db"]
        return database

    def _failed(self, what: str, error: BaseException) -> None:
        """Log an error of the relay's own work: one line per outage if the database is away (its Outage says
        when it ends), a traceback for anything else."""
        if not self._db.outage.note(error):
            log.error("%s", what, exc_info=error)

    async def start(self) -> None:
        try:
            # Before serving: an event committed by the first request must be relayed, not taken as the start.
            async with self._db.read_only() as session:
                self._advance(await latest_event_id(session))
        except Exception as error:  # the database is away: serving pages fails too; relaying starts once it is back
            self._failed("could not read the event log at start", error)
        self._tasks.append(asyncio.create_task(self._relay_forever()))
        if self.redis_url:
            self._redis = fail_fast(self.redis_url)
            self._tasks.append(asyncio.create_task(self._listen()))
            self._tasks.append(asyncio.create_task(self._announce_forever()))

    async def stop(self) -> None:
        """Stop relaying. The relay finishes the round it is in (its statements) rather than being cancelled in
        the middle of one, which would leave a connection checked out of a pool about to be disposed; a round
        that does not end within STOP_SECONDS (a hung database) is cancelled."""
        self._stopping = True
        self._due.set()
        if not self._tasks:
            return
        relaying, *others = self._tasks
        for task in others:
            task.cancel()
        if self._redis is not None and self._subscribed:
            # What was committed just before the stop (a ban, a logout) still reaches the other processes; each
            # publish gives up after the fail-fast timeout.
            with contextlib.suppress(Exception):
                await self._announce_pending()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(relaying), self.STOP_SECONDS)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._redis is not None:
            await self._redis.aclose()

    async def publish(self, events: list[dict[str, Any]]) -> None:
        """The unit of work's sink for client events (already stored, and committed): hand them to this process's
        relay (which sends them from memory, see `_relay_committed`), and have them announced to the other
        processes (after the request answers, see `_announce_forever`)."""
        committed = [event for event in events if "room" in event]
        if not committed:
            return
        self._newest_here = max(self._newest_here, *(event["id"] for event in committed))
        self._committed.extend(committed)
        self._due.set()
        if self._redis is not None:
            self._unannounced = True
            self._announcing.set()

    async def _relay_committed(self) -> bool:
        """Send the events committed here since the last relay, from memory, if they follow on from the last one
        relayed: on SQLite (one writer) that is every commit, on PostgreSQL every one not preceded by another
        process's events not relayed here yet. False if the log must be read (a gap: someone else's events)."""
        committed, self._committed = self._committed, []
        if self._relayed is None:
            return False
        fresh = sorted((event for event in committed if event["id"] > self._relayed), key=lambda event: event["id"])
        sent = 0
        for envelope in fresh:
            if envelope["id"] != self._relayed + 1:
                break
            await self._send(envelope)
            sent += 1
        if sent == len(fresh):
            return True
        # A gap. On PostgreSQL two transactions here often commit in one order and reach this sink in the other:
        # keep what follows the gap, for when the missing events arrive (`_gap_filled`) or the log is read.
        self._committed = fresh[sent:] + self._committed
        return False

    async def _gap_filled(self) -> bool:
        """Wait a moment for this process's own commits that fill a gap; False if the log must be read."""
        try:
            await asyncio.wait_for(self._due.wait(), self.GAP_WAIT)
        except TimeoutError:
            return False
        if self._log_due:
            return False
        self._due.clear()
        return await self._relay_committed()

    async def sink(self, events: list[dict[str, Any]]) -> None:
        """The unit of work's event sink: called after commit with the events the actions queued."""
        ended = [sid for event in events if event.get("type") == "sessions.ended" for sid in event["session_ids"]]
        if ended:
            await self.disconnect_local(ended)
            if self._redis is not None:
                self._unannounced_sessions.update(ended)
                self._announcing.set()
        changed = sorted(
            {uid for event in events if event.get("type") == "access.changed" for uid in event["user_ids"]}
        )
        if changed:
            await self.recheck(changed)
            if self._redis is not None:
                self._unannounced_access.update(changed)
                self._announcing.set()
        rooms = sorted(
            {room for event in events if event.get("type") == "access.changed" for room in event.get("rooms", [])}
        )
        if rooms:
            await self.recheck_rooms(rooms)
            if self._redis is not None:
                self._unannounced_rooms.update(rooms)
                self._announcing.set()

    async def _announce_forever(self) -> None:
        """Announce on Redis what was committed here, apart from the requests that committed it: a hung Redis
        would otherwise hold each of them for the fail-fast timeout. Only while subscribed: what comes
        meanwhile waits for the subscription to return (which sets `_announcing`). An announcement that fails
        while subscribed (Redis hangs, and the subscription has not noticed yet) is tried again after
        RECONNECT_SECONDS, so a short hang loses nothing either."""
        while True:
            await self._announcing.wait()
            self._announcing.clear()
            if not self._subscribed:
                continue
            try:
                announced = await self._announce_pending()
            except Exception:  # a bug here must not end announcing: the pending ones are tried again
                log.exception("announcing on Redis failed")
                announced = False
            if not announced:
                await asyncio.sleep(self.RECONNECT_SECONDS)
                self._announcing.set()

    async def _announce_pending(self) -> bool:
        """Publish what is still to be announced, in the order the sink and the relay would have: ended sessions,
        changed access, then new events. False if Redis did not take it (it is kept for the next attempt)."""
        assert self._redis is not None  # noqa: S101 -- only called with Redis
        try:
            if self._unannounced_sessions:
                ended = sorted(self._unannounced_sessions)
                await self._redis.publish(self.sessions_channel, json.dumps(ended))
                self._unannounced_sessions.difference_update(ended)
            if self._unannounced_access:
                users = sorted(self._unannounced_access)
                await self._redis.publish(self.access_channel, json.dumps(users))
                self._unannounced_access.difference_update(users)
            if self._unannounced_rooms:
                rooms = sorted(self._unannounced_rooms)
                await self._redis.publish(self.access_channel, json.dumps({"rooms": rooms}))
                self._unannounced_rooms.difference_update(rooms)
            if self._unannounced:
                self._unannounced = False  # a commit while this is published sets it again
                try:
                    await self._redis.publish(self.events_channel, str(self._newest_here))
                except BaseException:
                    self._unannounced = True
                    raise
        except UNAVAILABLE as error:
            if not self._announce_failed:
                self._announce_failed = True
                log.warning(
                    "could not announce on Redis (%s); other processes read new events from the log, and hear of "
                    "ended sessions and changed access once Redis answers",
                    error,
                )
            return False
        if self._announce_failed:
            self._announce_failed = False
            log.warning("announcing on Redis again")
        return True

    async def disconnect_local(self, session_ids: list[int]) -> None:
        for session_id in session_ids:
            room = rooms.SESSION(session_id)
            for sid, _eio_sid in list(self.sio.manager.get_participants("/", room)):
                # Only this process's sockets are in its rooms: nothing to tell the others.
                await self.sio.disconnect(sid, ignore_queue=True)

    async def _disconnect_ended_sessions(self) -> None:
        """Sessions ended while Redis was away were not announced here: check this process's sockets against
        the session table instead."""
        names = [room for room in list(self.sio.manager.rooms.get("/", {})) if isinstance(room, str)]
        held = _ids_of(rooms.SESSION, names)
        if not held:
            return
        try:
            async with self._db.read_only() as session:
                live = await live_session_ids(session, held)
        except Exception as error:  # the database is away too: the sockets of live sessions must not be dropped
            self._failed("could not check the sessions of open sockets", error)
            return
        await self.disconnect_local([session_id for session_id in held if session_id not in live])

    async def _recheck_everyone(self) -> None:
        """Access changes announced while Redis was away were not heard here: check the rooms of every socket
        of this process against the page rules again."""
        names = [room for room in list(self.sio.manager.rooms.get("/", {})) if isinstance(room, str)]
        users = sorted(set(_ids_of(rooms.USER, names)))
        if not users:
            return
        try:
            await self.recheck(users)
        except Exception as error:  # the database is away too: the next access change or reconnection tries again
            self._failed("could not recheck the rooms of open sockets", error)

    async def _send(self, envelope: dict[str, Any]) -> None:
        """Send the next event to this process's sockets in its room. The position moves first: a socket that
        joins the room while it is being sent (and so may miss it) replays it (see `position`)."""
        self._advance(envelope["id"])
        await self.sio.emit("event", envelope, room=envelope["room"], ignore_queue=True)

    def _advance(self, relayed: int) -> None:
        self._relayed = relayed
        for target, waiter in self._waiters:
            if target <= relayed and not waiter.done():
                waiter.set_result(None)

    @property
    def position(self) -> int:
        """The id of the last event this process has started sending: a socket that joins a room now gets every
        later event of it live, and must be replayed the earlier ones."""
        return self._relayed or 0

    async def caught_up(self, newest: int) -> bool:
        """Wait until this process has relayed every event up to id `newest` (reading the log at once if it has
        not); False if it could not within CATCH_UP_SECONDS (the database is away)."""
        if self._relayed is not None and self._relayed >= newest:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (newest, waiter)
        self._waiters.append(entry)
        try:
            self._read_log_soon()
            await asyncio.wait_for(waiter, self.CATCH_UP_SECONDS)
            return True
        except TimeoutError:
            return False
        finally:
            self._waiters.remove(entry)

    def _read_log_soon(self) -> None:
        self._log_due = True
        self._due.set()

    async def _relay_forever(self) -> None:
        while not self._stopping:
            try:
                await asyncio.wait_for(self._due.wait(), self.poll_seconds)
            except TimeoutError:
                self._log_due = True  # the periodic read
            if self._stopping:
                return
            self._due.clear()  # before relaying: a commit or announcement during it gets a round of its own
            read_log, self._log_due = self._log_due, False
            try:
                if read_log or not (await self._relay_committed() or await self._gap_filled()):
                    await self._relay_new_events()
            except Exception as error:  # the database is away: try again at the next poll, from the same id
                self._failed("relaying events from the event log failed", error)
                await asyncio.sleep(min(1.0, self.poll_seconds))

    async def _relay_new_events(self) -> None:
        if self._relayed is None:
            # Clients are replayed what happened before they subscribed; this process relays from here on.
            async with self._db.read_only() as session:
                self._advance(await latest_event_id(session))
        while True:
            async with self._db.read_only() as session:
                batch = await events_since(session, after=self.position, limit=self.RELAY_BATCH)
            for envelope in batch:
                await self._send(envelope)
            if len(batch) < self.RELAY_BATCH:
                return

    async def _listen(self) -> None:
        assert self._redis is not None  # noqa: S101 -- set in start
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.events_channel, self.sessions_channel, self.access_channel)
                    await self._receive(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # Redis restarted or unreachable: keep trying; the log is polled meanwhile
                if not self._lost:  # once per outage, including one that was there when this process started
                    log.warning(
                        "no Redis (%s); reading the event log every %s s until it is back", error, self.poll_seconds
                    )
                self._lost = True
                self._subscribed = False
                await asyncio.sleep(self.RECONNECT_SECONDS)

    async def _receive(self, pubsub: PubSub) -> None:
        """Hand each message to `_on_message` until the connection fails. One quiet for PING_SECONDS gets a PING;
        if no PONG came PONG_SECONDS later (with nothing else to read meanwhile, so a slow `_on_message` is not
        taken for a silent Redis), Redis hangs: RedisHung."""
        loop = asyncio.get_running_loop()
        pinged: float | None = None  # when the PING not answered yet was sent
        while True:
            message = await pubsub.get_message(timeout=self.PING_SECONDS)
            if message is not None:
                if message.get("type") == "pong":
                    pinged = None
                else:
                    await self._on_message(message)
            elif pinged is None:
                pinged = loop.time()
                await pubsub.ping()
            elif loop.time() - pinged >= self.PONG_SECONDS:
                raise RedisHung(f"no answer to PING in {loop.time() - pinged:.1f} s")

    async def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        channel = message.get("channel")
        channel = channel.decode() if isinstance(channel, bytes) else channel
        if channel == self.events_channel:
            if kind == "subscribe":
                # Subscribed, first or again: announcements made while this process was not are lost, so read
                # the log now; and announce what was committed here meanwhile, for the other processes.
                if self._lost:
                    self._lost = False
                    log.warning("Redis is back; catching up from the event log")
                    await self._disconnect_ended_sessions()
                    await self._recheck_everyone()
                self._subscribed = True
                self._read_log_soon()
                self._announcing.set()  # what could not be announced meanwhile
            elif kind == "message" and (self._relayed is None or int(message["data"]) > self._relayed):
                self._read_log_soon()  # (this process's own announcements come back too: nothing new then)
        elif channel == self.sessions_channel and kind == "message":
            await self.disconnect_local([int(item) for item in json.loads(message["data"])])
        elif channel == self.access_channel and kind == "message":
            try:
                changed = json.loads(message["data"])
                if isinstance(changed, dict):  # rooms whose followers changed (a thread hidden)
                    await self.recheck_rooms([str(room) for room in changed.get("rooms", [])])
                else:  # users whose access changed
                    await self.recheck([int(item) for item in changed])
            except Exception as error:  # a database hiccup must not drop the subscription
                self._failed("could not recheck rooms after an access change", error)
