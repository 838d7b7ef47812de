"""A secretary's tools on threads and replies: hide a reply (its author sees why), show it again, lock a thread
(with the reason shown in it) and unlock it. Each takes effect on every open page through an event and leaves
an audit entry. Secretaries of the community and admins of its district may; nobody else."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.actions import audit, notifications
from forum.db import queue_event, record_event
from forum.errors import Forbidden, NotFound, field_error
from forum.i18n import N_
from forum.models import (
    Board,
    Community,
    Letter,
    Membership,
    MembershipStatus,
    NotificationKind,
    Post,
    Role,
    Thread,
    User,
)
from forum.paths import community_path, letter_path, post_path
from forum.permissions import CommunityStanding, can_moderate
from forum.timeutil import utcnow
from forum.validation import clean_text, whole_number
from realtime.events import (
    AccessChanged,
    LetterHidden,
    MemberMuted,
    PostHidden,
    PostShown,
    ThreadHidden,
    ThreadLocked,
    letters_room,
    thread_room,
    user_room,
)

REASON_MAX = 500
MUTE_HOURS_MAX = 30 * 24  # a month at most; longer is a removal


def require_moderator(standing: CommunityStanding) -> None:
    """Raise 403 unless the standing is a secretary's or a district admin's (word filters, flags use it too)."""
    if not can_moderate(standing):
        raise Forbidden(N_("Only the community's secretaries can do this."))


def not_hidden_by_a_secretary(table: type[Post] | type[Thread] | type[Letter]) -> ColumnElement[bool]:
    """Shown, or hidden only by flags or the word filter, waiting for review (no reason yet): a secretary's
    hide applies, and gives it the reason its author sees."""
    return or_(col(table.hidden_at).is_(None), col(table.hidden_reason) == "")


def _reason(value: object) -> str:
    return clean_text(value, "reason", max_length=REASON_MAX, min_length=2)


async def hide_post(
    session: AsyncSession, *, actor: User, post: Post, thread: Thread, standing: CommunityStanding, reason: object
) -> None:
    """Hide a reply, with a reason its author sees; the opening post is the thread's (lock or delete it). One
    that flags or the word filter hid (no reason yet) is hidden again, with the secretary's reason."""
    require_moderator(standing)
    if post.thread_id != thread.id:
        raise NotFound()
    if post.number == 1:
        raise field_error("post", N_("The opening post cannot be hidden on its own; lock the thread instead."))
    if post.deleted_at is not None:
        raise field_error("post", N_("This post was deleted by its author."), status=409)
    text = _reason(reason)
    now = utcnow()
    hidden = (
        await session.execute(
            update(Post)
            .where(col(Post.id) == post.id, not_hidden_by_a_secretary(Post))
            .values(hidden_at=now, hidden_reason=text)
            .returning(col(Post.id))
        )
    ).first()
    if hidden is None:
        raise field_error("post", N_("This reply is hidden already."), status=409)
    post.hidden_at, post.hidden_reason = now, text
    assert post.id is not None and thread.id is not None  # noqa: S101 -- loaded rows
    record_event(
        session,
        thread_room(thread.id),
        PostHidden(post_id=post.id, thread_id=thread.id, number=post.number).model_dump(),
    )
    if post.author_id is not None:
        await notifications.notify(
            session,
            recipients=[post.author_id],
            kind=NotificationKind.HIDDEN,
            community_id=thread.community_id,
            subject=f"post:{post.id}",
            actor_id=actor.id,
            title=thread.title,
            url=post_path(thread.id, post.number),
        )
    await audit.record(
        session,
        actor=actor,
        action="post.hidden",
        community_id=thread.community_id,
        target_user_id=post.author_id,
        detail=f"thread {thread.id} #{post.number - 1}: {text}",
    )


async def show_post(
    session: AsyncSession, *, actor: User, post: Post, thread: Thread, standing: CommunityStanding
) -> None:
    """Show a hidden reply again."""
    require_moderator(standing)
    if post.thread_id != thread.id:
        raise NotFound()
    if post.deleted_at is not None:  # its author deleted it: nothing to show again
        raise field_error("post", N_("This post was deleted by its author."), status=409)
    shown = (
        await session.execute(
            update(Post)
            .where(col(Post.id) == post.id, col(Post.hidden_at).is_not(None))
            .values(hidden_at=None, hidden_reason="")
            .returning(col(Post.id))
        )
    ).first()
    if shown is None:
        raise field_error("post", N_("This reply is not hidden."), status=409)
    post.hidden_at, post.hidden_reason = None, ""
    assert post.id is not None and thread.id is not None  # noqa: S101 -- loaded rows
    record_event(
        session,
        thread_room(thread.id),
        PostShown(post_id=post.id, thread_id=thread.id, number=post.number, body_html=post.body_html).model_dump(),
    )
    await audit.record(
        session,
        actor=actor,
        action="post.shown",
        community_id=thread.community_id,
        target_user_id=post.author_id,
        detail=f"thread {thread.id} #{post.number - 1}",
    )


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
    text = _reason(reason) if locked else ""
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
    record_event(
        session, thread_room(thread.id), ThreadLocked(thread_id=thread.id, locked=locked, reason=text).model_dump()
    )
    await audit.record(
        session,
        actor=actor,
        action="thread.locked" if locked else "thread.unlocked",
        community_id=thread.community_id,
        target_user_id=thread.author_id,
        detail=f"thread {thread.id}: {text}" if locked else f"thread {thread.id}",
    )


def require_voice(standing: CommunityStanding, field: str = "body") -> None:
    """Raise (403, on `field`) if a secretary muted this member here: they can read, not post or message."""
    if standing.muted_until is not None:
        reason = standing.membership.mute_reason if standing.membership is not None else ""
        raise field_error(
            field,
            N_("A secretary muted you here for a while: %(reason)s. You can still read."),
            status=403,
            reason=reason,
        )


def _hours(value: object) -> int:
    value = whole_number(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MUTE_HOURS_MAX:
        raise field_error("hours", N_("From 1 to %(most)d hours."), most=MUTE_HOURS_MAX)
    return value


async def set_muted(
    session: AsyncSession,
    *,
    actor: User,
    membership: Membership,
    standing: CommunityStanding,
    hours: object = None,
    reason: object = "",
    muted: bool = True,
) -> None:
    """Mute a verified member for `hours` with a reason they see (they can read, not post or message here), or
    lift it. Secretaries mute residents; a fellow secretary only a district admin may. The member's open
    pages are told at once; audited."""
    require_moderator(standing)
    if membership.status != MembershipStatus.VERIFIED:
        raise field_error("member", N_("Only a verified member can be muted."), status=409)
    if membership.role == Role.SECRETARY and not standing.is_district_admin:
        raise Forbidden(N_("Only a district admin can mute a secretary."))
    if membership.user_id == actor.id:
        raise Forbidden(N_("You cannot mute yourself."))
    until = None
    text = ""
    if muted:
        length = _hours(hours)
        text = _reason(reason)
        until = utcnow() + timedelta(hours=length)
    elif membership.muted_until is None:
        raise field_error("member", N_("This member is not muted."), status=409)
    await session.execute(
        update(Membership).where(col(Membership.id) == membership.id).values(muted_until=until, mute_reason=text)
    )
    membership.muted_until, membership.mute_reason = until, text
    record_event(
        session,
        user_room(membership.user_id),
        MemberMuted(
            community_id=membership.community_id,
            muted_until=until.isoformat() if until else None,
            reason=text,
        ).model_dump(),
    )
    if muted:
        community = await session.get(Community, membership.community_id)
        await notifications.notify(
            session,
            recipients=[membership.user_id],
            kind=NotificationKind.MUTED,
            community_id=membership.community_id,
            subject=f"muted:{membership.community_id}",
            actor_id=actor.id,
            title=text,
            url=community_path(community.slug) if community else "/",
            members_only=False,
        )
    await audit.record(
        session,
        actor=actor,
        action="member.muted" if muted else "member.unmuted",
        community_id=membership.community_id,
        target_user_id=membership.user_id,
        detail=f"{hours} h: {text}" if muted else "",
    )


PIN_HOURS_MAX = 90 * 24


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


SLOW_MODE_MAX_MINUTES = 24 * 60
CLOSE_HOURS_MAX = 90 * 24


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
    text = _reason(reason) if value else ""
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
        record_event(
            session, thread_room(thread_id), ThreadLocked(thread_id=thread_id, locked=True, reason=reason).model_dump()
        )
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
    thread.board_id = board.id or 0
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
    text = _reason(reason)
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
            subject=f"thread:{thread.id}",
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


async def set_thread_hidden(
    session: AsyncSession,
    *,
    actor: User,
    thread: Thread,
    standing: CommunityStanding,
    hidden: bool,
    reason: object = "",
) -> None:
    """Hide a whole thread with a reason its author sees (everyone else gets 404 and it leaves the board and
    search; it takes no more replies but the secretaries'), or show it again. Audited; its author is told. A
    thread the flags hid is hidden again, with the reason."""
    require_moderator(standing)
    text = _reason(reason) if hidden else ""
    changed = (
        await session.execute(
            update(Thread)
            .where(
                col(Thread.id) == thread.id,
                not_hidden_by_a_secretary(Thread) if hidden else col(Thread.hidden_at).is_not(None),
            )
            .values(hidden_at=utcnow() if hidden else None, hidden_reason=text)
            .returning(col(Thread.hidden_at))
        )
    ).first()
    if changed is None:
        raise field_error(
            "thread", N_("This thread is hidden already.") if hidden else N_("This thread is not hidden."), status=409
        )
    thread.hidden_at, thread.hidden_reason = changed[0], text
    assert thread.id is not None  # noqa: S101 -- a loaded row
    record_event(session, thread_room(thread.id), ThreadHidden(thread_id=thread.id, hidden=hidden).model_dump())
    if hidden:  # its readers who may no longer see it leave its room at once, in every process
        queue_event(session, AccessChanged(user_ids=[], rooms=[thread_room(thread.id)]).model_dump())
    if hidden and thread.author_id is not None and thread.author_id != actor.id:
        await notifications.notify(
            session,
            recipients=[thread.author_id],
            kind=NotificationKind.THREAD_HIDDEN,
            community_id=thread.community_id,
            subject=f"thread:{thread.id}",
            actor_id=actor.id,
            title=thread.title,
            url=f"/t/{thread.id}",
        )
    await audit.record(
        session,
        actor=actor,
        action="thread.hidden" if hidden else "thread.shown",
        community_id=thread.community_id,
        target_user_id=thread.author_id,
        detail=f"thread {thread.id}: {text}" if hidden else f"thread {thread.id}",
    )


async def set_letter_hidden(
    session: AsyncSession,
    *,
    actor: User,
    letter: Letter,
    standing: CommunityStanding,
    hidden: bool,
    reason: object = "",
) -> None:
    """A secretary hides a letter from everyone but its writer and the secretaries, with a reason the writer
    sees (it leaves the wall, the community page and every profile; its photos answer 404), or shows it
    again. Open walls drop it at once (`letter.hidden`). The writer is told; audited."""
    require_moderator(standing)
    text = _reason(reason) if hidden else ""
    changed = (
        await session.execute(
            update(Letter)
            .where(
                col(Letter.id) == letter.id,
                not_hidden_by_a_secretary(Letter) if hidden else col(Letter.hidden_at).is_not(None),
            )
            .values(hidden_at=utcnow() if hidden else None, hidden_reason=text)
            .returning(col(Letter.hidden_at))
        )
    ).first()
    if changed is None:
        raise field_error(
            "letter", N_("This letter is hidden already.") if hidden else N_("This letter is not hidden."), status=409
        )
    letter.hidden_at, letter.hidden_reason = changed[0], text
    assert letter.id is not None  # noqa: S101 -- a loaded row
    record_event(
        session, letters_room(letter.community_id), LetterHidden(letter_id=letter.id, hidden=hidden).model_dump()
    )
    if hidden and letter.author_id is not None and letter.author_id != actor.id:
        await notifications.notify(
            session,
            recipients=[letter.author_id],
            kind=NotificationKind.LETTER_HIDDEN,
            community_id=letter.community_id,
            subject=f"letter:{letter.id}",
            actor_id=actor.id,
            title=letter.title,
            url=letter_path(letter.id),
        )
    await audit.record(
        session,
        actor=actor,
        action="letter.hidden" if hidden else "letter.shown",
        community_id=letter.community_id,
        target_user_id=letter.author_id,
        detail=f"letter {letter.id}: {text}" if hidden else f"letter {letter.id}",
    )
