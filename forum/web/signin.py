"""Starting and ending the browser's login, shared by the HTML views and the cookie side of the API."""

from __future__ import annotations

from quart import current_app, request
from quart_auth import AuthUser, login_user, logout_user

from forum.actions import sessions as session_actions
from forum.models import AuthSession, SessionKind, User
from forum.web import csrf
from forum.web.context import commit, current_auth_session, db_session


async def sign_in(user: User, *, kind: SessionKind = SessionKind.WEB) -> tuple[AuthSession, str]:
    """Start a session for `user`. A browser that was signed in (perhaps as someone else) ends that session first."""
    previous = current_auth_session()
    if kind == SessionKind.WEB and previous is not None:
        await session_actions.end_session(db_session(), auth_session=previous)
    auth_session, token = await session_actions.start_session(
        db_session(),
        user=user,
        kind=kind,
        days=current_app.config["SESSION_DAYS"],
        user_agent=request.headers.get("User-Agent", ""),
        ip=request.remote_addr or "",
    )
    await commit()
    if kind == SessionKind.WEB:
        # A persistent cookie: phones should stay signed in; the session row decides when it ends.
        login_user(AuthUser(token), remember=True)
        csrf.rotate()
    return auth_session, token


async def sign_out(auth_session: AuthSession | None) -> None:
    if auth_session is not None:
        await session_actions.end_session(db_session(), auth_session=auth_session)
        await commit()
    logout_user()
    csrf.rotate()
