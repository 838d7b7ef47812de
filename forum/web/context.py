"""The request's unit of work and signed-in user, as handlers see them."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from quart import current_app, flash, g, redirect, request, session, url_for
from sqlalchemy.ext.asyncio import AsyncSession

from forum.db import Database
from forum.errors import InvalidInput, NotAuthenticated
from forum.i18n import gettext
from forum.models import AuthSession, User

P = ParamSpec("P")
R = TypeVar("R")


def database() -> Database:
    db: Database = current_app.extensions["linli.db"]
    return db


def db_session() -> AsyncSession:
    """The request's session, opened on first use and closed (rolled back if uncommitted) at teardown."""
    if "db_session" not in g:
        g.db_session = database().sessionmaker()
    session: AsyncSession = g.db_session
    return session


async def commit() -> None:
    await database().commit(db_session())


async def close_db_session(_exc: BaseException | None) -> None:
    session: AsyncSession | None = g.pop("db_session", None)
    if session is not None:
        await session.close()


def current_user() -> User | None:
    user: User | None = g.get("user")
    return user


def current_auth_session() -> AuthSession | None:
    auth_session: AuthSession | None = g.get("auth_session")
    return auth_session


def require_user() -> User:
    user = current_user()
    if user is None:
        raise NotAuthenticated()
    return user


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: a `next` parameter must never send a user to another site. Only printable ones: a
    control character cannot go into the Location header, and the server dropped the connection without an
    answer (after a sign-in, without the session cookie)."""
    if not target or not target.isprintable():
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def login_required(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[Any]]:
    """HTML views: send a signed-out visitor to the login page and back again afterwards."""

    @functools.wraps(view)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
        if current_user() is None:
            if wants_json():
                raise NotAuthenticated()
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return await view(*args, **kwargs)

    return wrapper


# Messages wait in the session cookie until a page shows them. A client that never loads that page (a script
# posting replies without following the redirect) would otherwise grow the cookie by one message a request, and
# every request would decode and sign it again: 100 replies made it 6 KB and the reply request twice as slow.
MAX_PENDING_NOTICES = 3


async def notify(message: str, category: str = "ok", **params: object) -> None:
    """A one-time message on the next page (post/redirect/get), in the user's language."""
    await flash(gettext(message, **params), category)
    pending = session.get("_flashes", [])
    if len(pending) > MAX_PENDING_NOTICES:
        session["_flashes"] = pending[-MAX_PENDING_NOTICES:]


async def people_reading(room: str) -> set[int]:
    """Who has `room` open right now, in every server process (realtime.presence); nobody without sockets.

    Asked inside the request's transaction, so Redis gets at most `Presence.BUDGET` (0.1 s) to answer; a Redis
    away, hung or slow answers with this process's own readers instead, and is not asked again for
    `Presence.PAUSE` seconds (someone reading on another process may then be notified needlessly)."""
    presence = current_app.extensions.get("linli.presence")
    return await presence.people_in(room, within=presence.BUDGET) if presence is not None else set()


async def refused_back(error: InvalidInput, target: str) -> Any:
    """A step refused from a small form on another page (a member's row, a thread's panel): say why on the
    page it came from, and go back there (303)."""
    await flash(" ".join(error.translated_fields().values()) or error.translated(), "error")
    return redirect(target), 303
