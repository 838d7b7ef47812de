"""Flags: any verified member flags a reply with a reason; the community's secretaries review the flagged
replies (agree: it is hidden; disagree: it stays, and the flags are closed); the flaggers are told the outcome.
A reply flagged by FLAG_THRESHOLD distinct members is hidden until reviewed (its `hidden_reason` stays empty,
which is how pages tell "hidden by flags, waiting for review" from a secretary's hide, whose reason is
required)."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.actions import audit, moderation, notifications
from forum.db import insert_for, record_event
from forum.errors import Forbidden, NotFound, field_error
from forum.i18n import N_
from forum.models import (
    Flag,
    FlagReason,
    NotificationKind,
    Post,
    Thread,
    User,
)
from forum.paths import post_path
from forum.permissions import CommunityStanding
from forum.queries.people import secretary_ids
from forum.timeutil import utcnow
from forum.validation import clean_text
from realtime.events import PostHidden, thread_room

FLAG_THRESHOLD = 3
NOTE_MAX = 500
REASONS: dict[str, str] = {  # what a member may choose; FlagReason.FILTER is the word filter's own
    FlagReason.OFF_TOPIC: N_("Off-topic"),
    FlagReason.ABUSE: N_("Abusive or rude"),
    FlagReason.SPAM: N_("Spam or advertising"),
    FlagReason.PRIVACY: N_("Reveals someone's private information"),
    FlagReason.OTHER: N_("Something else"),
}


async def _lock_post(session: AsyncSession, post: Post) -> None:
    """On PostgreSQL, flags of one reply take turns: each then counts the ones committed before it, so the
    flag that makes three always sees the other two. (SQLite's write lock does the same.)"""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(col(Post.id)).where(col(Post.id) == post.id).with_for_update())


async def flag_post(
    session: AsyncSession,
    *,
    actor: User,
    post: Post,
    thread: Thread,
    standing: CommunityStanding,
    reason: object,
    note: object = "",
) -> bool:
    """Flag a reply for the secretaries. Returns False if the actor had flagged it already (nothing changes:
    one member counts once). The third distinct flag hides it until a secretary reviews it."""
    if not standing.is_verified_member:
        raise Forbidden(N_("Only verified members of this community can flag posts."))
    if post.thread_id != thread.id:
        raise NotFound()
    if post.author_id == actor.id:
        raise Forbidden(N_("This is your own post."))
    if post.deleted_at is not None:
        raise field_error("post", N_("This post was deleted by its author."), status=409)
    if not isinstance(reason, str) or reason not in REASONS:
        raise field_error("reason", N_("Choose a reason."))
    text = clean_text(note, "note", max_length=NOTE_MAX, required=reason == FlagReason.OTHER, multiline=True)
    assert post.id is not None and actor.id is not None and thread.id is not None  # noqa: S101 -- loaded rows
    await _lock_post(session, post)
    added = (
        await session.execute(
            insert_for(session)(Flag)
            .values(
                community_id=thread.community_id,
                post_id=post.id,
                reporter_id=actor.id,
                reason=reason,
                note=text,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["post_id", "reporter_id"])
            .returning(col(Flag.id))
        )
    ).first()
    if added is None:
        return False
    open_flags = (
        await session.execute(
            select(func.count()).where(
                col(Flag.post_id) == post.id,
                col(Flag.resolved_at).is_(None),
                col(Flag.reporter_id).is_not(None),  # members only: the word filter's hold is not a flag
            )
        )
    ).scalar_one()
    if open_flags >= FLAG_THRESHOLD and post.number > 1:
        hidden = (
            await session.execute(
                update(Post)
                .where(col(Post.id) == post.id, col(Post.hidden_at).is_(None))
                .values(hidden_at=utcnow(), hidden_reason="")
                .returning(col(Post.id))
            )
        ).first()
        if hidden is not None:
            record_event(
                session,
                thread_room(thread.id),
                PostHidden(post_id=post.id, thread_id=thread.id, number=post.number).model_dump(),
            )
            await audit.record(
                session,
                actor=None,
                action="post.auto_hidden",
                community_id=thread.community_id,
                target_user_id=post.author_id,
                detail=f"thread {thread.id} #{post.number - 1}: flagged by {open_flags} members",
            )
    await notifications.notify(
        session,
        recipients=await secretary_ids(session, thread.community_id),
        kind=NotificationKind.FLAG,
        community_id=thread.community_id,
        subject=f"post:{post.id}",
        actor_id=actor.id,
        title=thread.title,
        url=post_path(thread.id, post.number),
    )
    return True


async def review(
    session: AsyncSession,
    *,
    actor: User,
    post: Post,
    thread: Thread,
    standing: CommunityStanding,
    agree: bool,
    reason: object = "",
) -> None:
    """A secretary decides on a flagged reply. Agree: it is hidden, with `reason` (required) for its author.
    Disagree: it stays (shown again if the flags had hidden it). Either way its open flags are closed and the
    flaggers are told."""
    moderation.require_moderator(standing)
    if post.thread_id != thread.id:
        raise NotFound()
    text = clean_text(reason, "reason", max_length=moderation.REASON_MAX, min_length=2) if agree else ""
    now = utcnow()
    flaggers = (
        (
            await session.execute(
                update(Flag)
                .where(col(Flag.post_id) == post.id, col(Flag.resolved_at).is_(None))
                .values(resolved_at=now, outcome="agreed" if agree else "disagreed")
                .returning(col(Flag.reporter_id))
            )
        )
        .scalars()
        .all()
    )
    if not flaggers:
        raise field_error("post", N_("There are no open flags on this reply."), status=409)
    if agree:
        if post.hidden_at is None:
            await moderation.hide_post(session, actor=actor, post=post, thread=thread, standing=standing, reason=text)
        else:  # hidden by the flags (or already by a secretary): it keeps hiding, now with a reason
            await session.execute(update(Post).where(col(Post.id) == post.id).values(hidden_reason=text))
            post.hidden_reason = text
    elif post.hidden_at is not None and not post.hidden_reason and post.deleted_at is None:  # the flags hid it
        await moderation.show_post(session, actor=actor, post=post, thread=thread, standing=standing)
    await audit.record(
        session,
        actor=actor,
        action="flags.agreed" if agree else "flags.disagreed",
        community_id=thread.community_id,
        target_user_id=post.author_id,
        detail=f"thread {thread.id} #{post.number - 1}: {len(flaggers)} flags" + (f": {text}" if text else ""),
    )
    assert thread.id is not None  # noqa: S101 -- a loaded row
    await notifications.notify(
        session,
        recipients={flagger for flagger in flaggers if flagger is not None},  # the word filter is nobody
        kind=NotificationKind.FLAG_AGREED if agree else NotificationKind.FLAG_KEPT,
        community_id=thread.community_id,
        subject=f"post:{post.id}",
        actor_id=actor.id,
        title=thread.title,
        url=post_path(thread.id, post.number),
    )


async def hold_for_review(session: AsyncSession, *, post: Post, thread: Thread, word: str) -> None:
    """The word filter held a new reply (already stored hidden): it waits in the review queue like a flagged
    one, with the word as the note, and the secretaries are told."""
    assert post.id is not None and thread.id is not None  # noqa: S101 -- flushed rows
    session.add(
        Flag(
            community_id=thread.community_id,
            post_id=post.id,
            reporter_id=None,
            reason=FlagReason.FILTER,
            note=word,
            created_at=utcnow(),
        )
    )
    await session.flush()
    await audit.record(
        session,
        actor=None,
        action="post.held",
        community_id=thread.community_id,
        target_user_id=post.author_id,
        detail=f"thread {thread.id} #{post.number - 1}: {word}",
    )
    await notifications.notify(
        session,
        recipients=await secretary_ids(session, thread.community_id),
        kind=NotificationKind.FLAG,
        community_id=thread.community_id,
        subject=f"post:{post.id}",
        actor_id=post.author_id,
        title=thread.title,
        url=post_path(thread.id, post.number),
    )
