"""A secretary's tools on a thread: lock it (with the reason shown in it) and unlock it, pin it, slow mode, a
closing timer (`close_due` locks what is due), move it to another board, delete it. Each takes effect on every
open page through an event where pages show it, and leaves an audit entry. Secretaries of the community and
admins of its district may; nobody else. Hiding a thread goes through the one hide path
(`forum.actions.hiding`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum import subjects
from forum.access import require_moderator
from forum.actions import audit, notifications
from forum.db import record_event
from forum.errors import NotFound, field_error
from forum.events import ThreadLocked
from forum.i18n import N_
from forum.models import Board, Community, NotificationKind, Post, Thread, User, id_of
from forum.paths import community_path
from forum.permissions import CommunityStanding, can_moderate
from forum.timeutil import utcnow
from forum.validation import clean_reason, whole_number

PIN_HOURS_MAX = 90 * 24
SLOW_MODE_MAX_MINUTES = 24 * 60
CLOSE_HOURS_MAX = 90 * 24


async def set_locked(
    session: AsyncSession,
    *,
    actor: User,
    thread: Thread,
    standing: CommunityStanding,
    locked: bool,
    reason: object = "",
) -> None:
    """Lock a thread with a reason shown in it (residents can no longer reply; secretaries still can), or
    unlock it."""
    require_moderator(standing)
    text = clean_reason(reason) if locked else ""
    changed = (
        await session.execute(
            update(Thread)
            .where(
                col(Thread.id) == thread.id,
                col(Thread.locked_at).is_(None) if locked else col(Thread.locked_at).is_not(None),
            )
            .values(locked_at=utcnow() if locked else None, lock_reason=text, closes_at=None, close_reason="")
            .returning(col(Thread.locked_at))
        )
    ).first()
    if changed is None:
        raise field_error(
            "thread", N_("This thread is locked already.") if locked else N_("This thread is not locked."), status=409
        )
    thread.locked_at, thread.lock_reason, thread.closes_at, thread.close_reason = changed[0], text, None, ""
    assert thread.id is not None  # noqa: S101 -- a loaded row
    record_event(session, ThreadLocked(thread_id=thread.id, locked=locked, reason=text))
    await audit.record(
        session,
        actor=actor,
        action="thread.locked" if locked else "thread.unlocked",
        community_id=thread.community_id,
        target_user_id=thread.author_id,
        detail=f"thread {thread.id}: {text}" if locked else f"thread {thread.id}",
    )


async def set_pinned(
    session: AsyncSession,
    *,
    actor: User,
    thread: Thread,
    standing: CommunityStanding,
    pinned: bool,
    hours: object = 0,
) -> None:
    """Pin a thread above its board's others, until unpinned (`hours` 0) or for `hours`; or unpin it. Audited."""
    require_moderator(standing)
    until = None
    if pinned:
        hours = whole_number(hours)
        if hours in (None, ""):
            hours = 0
        if isinstance(hours, bool) or not isinstance(hours, int) or not 0 <= hours <= PIN_HOURS_MAX:
            raise field_error("hours", N_("From 0 (until unpinned) to %(most)d hours."), most=PIN_HOURS_MAX)
        until = utcnow() + timedelta(hours=hours) if hours else None
    now = utcnow()
    await session.execute(
        update(Thread).where(col(Thread.id) == thread.id).values(pinned_at=now if pinned else None, pinned_until=until)
    )
    thread.pinned_at, thread.pinned_until = (now if pinned else None), until
    await audit.record(
        session,
        actor=actor,
        action="thread.pinned" if pinned else "thread.unpinned",
        community_id=thread.community_id,
        target_user_id=thread.author_id,
        detail=f"thread {thread.id}" + (f" until {until.isoformat()}" if until else ""),
    )


def _whole(value: object, field: str, *, low: int, high: int, message: str) -> int:
    value = whole_number(value)
    if value in (None, ""):
        value = 0
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise field_error(field, message, low=low, high=high)
    return value


async def set_slow_mode(
    session: AsyncSession, *, actor: User, thread: Thread, standing: CommunityStanding, minutes: object
) -> None:
    """One reply per person per `minutes` in this thread (0 turns it off); secretaries are exempt. Audited."""
    require_moderator(standing)
    value = _whole(
        minutes, "minutes", low=0, high=SLOW_MODE_MAX_MINUTES, message=N_("From %(low)d to %(high)d minutes.")
    )
    await session.execute(update(Thread).where(col(Thread.id) == thread.id).values(slow_mode_minutes=value))
    thread.slow_mode_minutes = value
    await audit.record(
        session,
        actor=actor,
        action="thread.slow_mode",
        community_id=thread.community_id,
        target_user_id=thread.author_id,
        detail=f"thread {thread.id}: {value} min" if value else f"thread {thread.id}: off",
    )


async def set_close_timer(
    session: AsyncSession,
    *,
    actor: User,
    thread: Thread,
    standing: CommunityStanding,
    hours: object,
    reason: object = "",
) -> None:
    """Lock the thread by itself in `hours` (1 to 90 days' worth), with `reason` shown then; 0 cancels the timer.
    Audited; the lock it makes is audited too."""
    require_moderator(standing)
    value = _whole(hours, "hours", low=0, high=CLOSE_HOURS_MAX, message=N_("From %(low)d to %(high)d hours."))
    text = clean_reason(reason) if value else ""
    until = utcnow() + timedelta(hours=value) if value else None
    await session.execute(update(Thread).where(col(Thread.id) == thread.id).values(closes_at=until, close_reason=text))
    thread.closes_at, thread.close_reason = until, text
    await audit.record(
        session,
        actor=actor,
        action="thread.timer",
        community_id=thread.community_id,
        target_user_id=thread.author_id,
        detail=f"thread {thread.id}: closes {until.isoformat()}: {text}" if until else f"thread {thread.id}: timer off",
    )


async def close_due(session: AsyncSession, *, now: datetime, most: int = 200) -> int:
    """Lock the threads whose timer has run out (the moderation clock); each once, whichever process gets there
    first. Returns how many."""
    due = (
        select(col(Thread.id))
        .where(col(Thread.closes_at) <= now)
        .order_by(col(Thread.closes_at))
        .limit(most)
        .scalar_subquery()
    )
    # A thread locked by hand meanwhile: its timer just ends (set_locked clears timers, so this is rare).
    await session.execute(
        update(Thread)
        .where(col(Thread.id).in_(due), col(Thread.closes_at).is_not(None), col(Thread.locked_at).is_not(None))
        .values(closes_at=None)
    )
    closed = (
        await session.execute(
            update(Thread)
            .where(col(Thread.id).in_(due), col(Thread.closes_at).is_not(None), col(Thread.locked_at).is_(None))
            .values(closes_at=None, locked_at=now, lock_reason=col(Thread.close_reason))
            .returning(col(Thread.id), col(Thread.community_id), col(Thread.lock_reason))
        )
    ).all()
    for stored_id, community_id, reason in closed:
        thread_id = int(stored_id or 0)  # a stored row's id
        record_event(session, ThreadLocked(thread_id=thread_id, locked=True, reason=reason))
        await audit.record(
            session, actor=None, action="thread.locked", community_id=community_id, detail=f"thread {thread_id}: timer"
        )
    return len(closed)


async def require_slow_mode_allows(
    session: AsyncSession, *, actor: User, thread: Thread, standing: CommunityStanding
) -> None:
    """Raise (429, on the body) if slow mode is on and the actor replied here less than its minutes ago."""
    if not thread.slow_mode_minutes or can_moderate(standing):
        return
    since = utcnow() - timedelta(minutes=thread.slow_mode_minutes)
    recent = (
        await session.execute(
            select(func.max(col(Post.created_at))).where(
                col(Post.thread_id) == thread.id, col(Post.author_id) == actor.id, col(Post.created_at) > since
            )
        )
    ).scalar_one()
    if recent is not None:
        wait = max(1, int((recent + timedelta(minutes=thread.slow_mode_minutes) - utcnow()).total_seconds() // 60) + 1)
        raise field_error(
            "body",
            N_("Slow mode: one reply every %(minutes)d minutes here. You can reply again in %(wait)d minutes."),
            status=429,
            minutes=thread.slow_mode_minutes,
            wait=wait,
        )


async def move_thread(
    session: AsyncSession, *, actor: User, thread: Thread, standing: CommunityStanding, board: Board
) -> None:
    """Move a thread to another open board of its community. Audited."""
    require_moderator(standing)
    if board.community_id != thread.community_id:
        raise NotFound()
    if board.is_archived:
        raise field_error("board", N_("Choose an open board."), status=409)
    if board.id == thread.board_id:
        return
    old = thread.board_id
    await session.execute(update(Thread).where(col(Thread.id) == thread.id).values(board_id=board.id))
    thread.board_id = id_of(board)
    await audit.record(
        session,
        actor=actor,
        action="thread.moved",
        community_id=thread.community_id,
        target_user_id=thread.author_id,
        detail=f"thread {thread.id}: board {old} -> {board.id}",
    )


async def delete_thread(
    session: AsyncSession, *, actor: User, thread: Thread, standing: CommunityStanding, reason: object
) -> None:
    """A secretary deletes a thread (it is gone for everyone); its author is told why. Audited."""
    require_moderator(standing)
    text = clean_reason(reason)
    deleted = (
        await session.execute(
            update(Thread)
            .where(col(Thread.id) == thread.id, col(Thread.is_deleted).is_(False))
            .values(is_deleted=True)
            .returning(col(Thread.id))
        )
    ).first()
    if deleted is None:
        raise NotFound()
    thread.is_deleted = True
    if thread.author_id is not None and thread.author_id != actor.id:
        community = await session.get(Community, thread.community_id)
        await notifications.notify(
            session,
            recipients=[thread.author_id],
            kind=NotificationKind.REMOVED,
            community_id=thread.community_id,
            subject=subjects.thread(id_of(thread)),
            actor_id=actor.id,
            title=f"{thread.title}: {text}"[:200],
            url=community_path(community.slug) if community else "/",
        )
    await audit.record(
        session,
        actor=actor,
        action="thread.deleted",
        community_id=thread.community_id,
        target_user_id=thread.author_id,
        detail=f"thread {thread.id} ({thread.title}): {text}",
    )
