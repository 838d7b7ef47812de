"""Server-side sessions. quart-auth signs the cookie; this table decides whether it is still good."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.db import queue_event
from forum.events import SessionsEnded
from forum.models import AuthSession, Membership, MembershipStatus, SessionKind, User
from forum.timeutil import utcnow

# Writing last_seen_at on every request would turn every page view into a write; once a minute is plenty.
_TOUCH_INTERVAL = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(
    session: AsyncSession,
    *,
    user: User,
    kind: SessionKind = SessionKind.WEB,
    days: int = 30,
    user_agent: str = "",
    ip: str = "",
) -> tuple[AuthSession, str]:
    """Create a session and return it with its raw token; only the token's hash is stored."""
    assert user.id is not None  # noqa: S101 -- a flushed user
    token = secrets.token_urlsafe(32)
    now = utcnow()
    auth_session = AuthSession(
        token_hash=hash_token(token),
        user_id=user.id,
        kind=kind,
        user_agent=user_agent[:200],
        ip=ip[:64],
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(auth_session)
    await session.flush()
    return auth_session, token


class ResolvedSession(NamedTuple):
    auth_session: AuthSession
    user: User
    is_party_member: bool  # in any community where they are verified: the badge beside their own name


# Built once (see forum.access): this runs on every request.
_RESOLVE = (
    select(
        AuthSession,
        User,
        exists()
        .where(
            col(Membership.user_id) == col(User.id),
            col(Membership.is_party_member).is_(True),
            col(Membership.status) == MembershipStatus.VERIFIED,
        )
        .label("badged"),
    )
    .join(User, col(User.id) == col(AuthSession.user_id))
    .where(col(AuthSession.token_hash) == bindparam("token_hash"))
)


async def resolve_session(session: AsyncSession, token: str) -> ResolvedSession | None:
    """The live session and active user for a raw token, or None if it was revoked, expired or never existed.
    One statement: it runs on every request."""
    result = await session.execute(_RESOLVE, {"token_hash": hash_token(token)})
    row = result.first()
    if row is None:
        return None
    auth_session, user, is_party_member = row
    now = utcnow()
    if auth_session.expires_at <= now or not user.is_active:
        return None
    if now - auth_session.last_seen_at > _TOUCH_INTERVAL:
        auth_session.last_seen_at = now
        await session.flush()
    return ResolvedSession(auth_session, user, bool(is_party_member))


def _announce_ended(session: AsyncSession, session_ids: list[int]) -> None:
    """After commit, open sockets of these sessions are disconnected (see realtime.server)."""
    if session_ids:
        queue_event(session, SessionsEnded(session_ids=session_ids))


async def end_session(session: AsyncSession, *, auth_session: AuthSession) -> None:
    await session.execute(delete(AuthSession).where(col(AuthSession.id) == auth_session.id))
    assert auth_session.id is not None  # noqa: S101 -- a stored row
    _announce_ended(session, [auth_session.id])


async def end_session_of_user(session: AsyncSession, *, user: User, session_id: int) -> bool:
    ended = (
        (
            await session.execute(
                delete(AuthSession)
                .where(col(AuthSession.id) == session_id, col(AuthSession.user_id) == user.id)
                .returning(col(AuthSession.id))
            )
        )
        .scalars()
        .all()
    )
    _announce_ended(session, [session_id for session_id in ended if session_id is not None])
    return bool(ended)


async def end_all_sessions(session: AsyncSession, *, user: User, except_id: int | None = None) -> None:
    statement = delete(AuthSession).where(col(AuthSession.user_id) == user.id)
    if except_id is not None:
        statement = statement.where(col(AuthSession.id) != except_id)
    ended = (await session.execute(statement.returning(col(AuthSession.id)))).scalars().all()
    _announce_ended(session, [session_id for session_id in ended if session_id is not None])
