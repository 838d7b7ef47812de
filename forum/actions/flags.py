"""Flags: any verified member flags a reply, a thread (by its opening post) or a thank-you letter with a reason
(listings and private messages are flagged in `listings` and `messages`, with the helpers here); the
community's secretaries review what was flagged (agree: it is hidden, and its author may be muted; disagree:
it stays, and the flags are closed); the flaggers are told the outcome. Something flagged by FLAG_THRESHOLD
distinct members is hidden until reviewed (its `hidden_reason` stays empty, which is how pages tell "hidden by
flags, waiting for review" from a secretary's hide, whose reason is required). Every change to the open flags
tells the community's open review pages how many items wait (`review.changed`)."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.actions import audit, moderation, notifications
from forum.db import insert_for, queue_event, record_event
from forum.errors import Forbidden, NotFound, field_error
from forum.i18n import N_
from forum.models import (
    Flag,
    FlagReason,
    Letter,
    Listing,
    Membership,
    Message,
    NotificationKind,
    Post,
    Thread,
    User,
)
from forum.paths import letter_path, post_path
from forum.permissions import CommunityStanding
from forum.queries.flags import open_flag_count
from forum.queries.people import secretary_ids
from forum.timeutil import utcnow
from forum.validation import clean_text
from realtime.events import (
    AccessChanged,
    LetterHidden,
    PostHidden,
    ReviewChanged,
    ThreadHidden,
    letters_room,
    review_room,
    thread_room,
)

FLAG_THRESHOLD = 3
NOTE_MAX = 500
REASONS: dict[str, str] = {  # what a member may choose; FlagReason.FILTER is the word filter's own
    FlagReason.OFF_TOPIC: N_("Off-topic"),
    FlagReason.ABUSE: N_("Abusive or rude"),
    FlagReason.SPAM: N_("Spam or advertising"),
    FlagReason.PRIVACY: N_("Reveals someone's private information"),
    FlagReason.OTHER: N_("Something else"),
}


async def lock_item(
    session: AsyncSession, table: type[Post] | type[Letter] | type[Listing] | type[Message], item_id: int
) -> None:
    """On PostgreSQL, flags of one item take turns (its row is locked first): each then counts the ones
    committed before it, so the flag that makes three always sees the other two. (SQLite's write lock does
    the same.)"""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(col(table.id)).where(col(table.id) == item_id).with_for_update())


def checked_note(reason: object, note: object) -> str:
    """The note of a flag with a valid reason ("something else" needs one)."""
    if not isinstance(reason, str) or reason not in REASONS:
        raise field_error("reason", N_("Choose a reason."))
    return clean_text(note, "note", max_length=NOTE_MAX, required=reason == FlagReason.OTHER, multiline=True)


async def add_flag(
    session: AsyncSession, *, community_id: int, item: tuple[str, int], actor: User, reason: object, note: str
) -> int | None:
    """Store the actor's flag on `item` (column, id); None if they had flagged it already, else how many
    members' flags on it are open now."""
    column, item_id = item
    added = (
        await session.execute(
            insert_for(session)(Flag)
            .values(
                community_id=community_id,
                reporter_id=actor.id,
                reason=reason,
                note=note,
                created_at=utcnow(),
                **{column: item_id},
            )
            .on_conflict_do_nothing(index_elements=[column, "reporter_id"])
            .returning(col(Flag.id))
        )
    ).first()
    if added is None:
        return None
    await _announce(session, community_id)
    return int(
        (
            await session.execute(
                select(func.count()).where(
                    getattr(Flag, column) == item_id,
                    col(Flag.resolved_at).is_(None),
                    col(Flag.reporter_id).is_not(None),  # members only: the word filter's hold is not a flag
                )
            )
        ).scalar_one()
    )


async def _announce(session: AsyncSession, community_id: int) -> None:
    """Tell the community's open review pages how many items wait now (after this transaction's changes)."""
    waiting = (await session.execute(select(open_flag_count(community_id)))).scalar_one()
    record_event(
        session, review_room(community_id), ReviewChanged(community_id=community_id, waiting=int(waiting)).model_dump()
    )


async def close_flags(session: AsyncSession, *, community_id: int, item: tuple[str, int], agree: bool) -> list[int]:
    """Close the open flags on `item`; the members who raised them (none: there were no open flags)."""
    column, item_id = item
    flaggers = (
        await session.execute(
            update(Flag)
            .where(getattr(Flag, column) == item_id, col(Flag.resolved_at).is_(None))
            .values(resolved_at=utcnow(), outcome="agreed" if agree else "disagreed")
            .returning(col(Flag.reporter_id), col(Flag.id))
        )
    ).all()
    if not flaggers:
        raise field_error("item", N_("There are no open flags on this."), status=409)
    await _announce(session, community_id)
    return [reporter for reporter, _id in flaggers if reporter is not None]  # the word filter is nobody


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
    assert post.id is not None and actor.id is not None and thread.id is not None  # noqa: S101 -- loaded rows
    text = checked_note(reason, note)
    await lock_item(session, Post, post.id)
    open_flags = await add_flag(
        session, community_id=thread.community_id, item=("post_id", post.id), actor=actor, reason=reason, note=text
    )
    if open_flags is None:
        return False
    if open_flags >= FLAG_THRESHOLD:
        await _hide_for_review(session, post=post, thread=thread, flags=open_flags)
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


async def _hide_for_review(session: AsyncSession, *, post: Post, thread: Thread, flags: int) -> None:
    """Enough neighbours flagged it: hide the reply (or, for an opening post, the whole thread) until a
    secretary reviews it, with no reason, which is how pages say "waiting for review". Once."""
    assert post.id is not None and thread.id is not None  # noqa: S101 -- loaded rows
    now = utcnow()
    if post.number == 1:
        hidden = (
            await session.execute(
                update(Thread)
                .where(col(Thread.id) == thread.id, col(Thread.hidden_at).is_(None))
                .values(hidden_at=now, hidden_reason="")
                .returning(col(Thread.id))
            )
        ).first()
        event = ThreadHidden(thread_id=thread.id, hidden=True).model_dump()
        action, detail = "thread.auto_hidden", f"thread {thread.id}: flagged by {flags} members"
    else:
        hidden = (
            await session.execute(
                update(Post)
                .where(col(Post.id) == post.id, col(Post.hidden_at).is_(None))
                .values(hidden_at=now, hidden_reason="")
                .returning(col(Post.id))
            )
        ).first()
        event = PostHidden(post_id=post.id, thread_id=thread.id, number=post.number).model_dump()
        action, detail = "post.auto_hidden", f"thread {thread.id} #{post.number - 1}: flagged by {flags} members"
    if hidden is None:
        return
    record_event(session, thread_room(thread.id), event)
    if post.number == 1:  # the thread's readers who may no longer see it leave its room at once
        queue_event(session, AccessChanged(user_ids=[], rooms=[thread_room(thread.id)]).model_dump())
    await audit.record(
        session,
        actor=None,
        action=action,
        community_id=thread.community_id,
        target_user_id=post.author_id,
        detail=detail,
    )


async def conclude(
    session: AsyncSession,
    *,
    actor: User,
    standing: CommunityStanding,
    agree: bool,
    reason: str,
    mute_hours: object,
    flaggers: list[int],
    community_id: int,
    author_id: int | None,
    detail: str,
    subject: str,
    title: str,
    url: str,
    members_only: bool = True,
) -> None:
    """What every decision from the review queue ends with, once the item is hidden or kept: agreeing may mute
    its author; the decision is audited; the flaggers are told."""
    if agree:
        await mute_author(
            session,
            actor=actor,
            standing=standing,
            community_id=community_id,
            author_id=author_id,
            hours=mute_hours,
            reason=reason,
        )
    await audit.record(
        session,
        actor=actor,
        action="flags.agreed" if agree else "flags.disagreed",
        community_id=community_id,
        target_user_id=author_id,
        detail=f"{detail}: {len(flaggers)} flags" + (f": {reason}" if reason else ""),
    )
    await notifications.notify(
        session,
        recipients=flaggers,
        kind=NotificationKind.FLAG_AGREED if agree else NotificationKind.FLAG_KEPT,
        community_id=community_id,
        subject=subject,
        actor_id=actor.id,
        title=title,
        url=url,
        members_only=members_only,
    )


def hidden_by_a_secretary(item: Post | Thread | Letter | Message) -> bool:
    """Hidden with a reason: a secretary's decision already (flags and the word filter hide without one)."""
    return item.hidden_at is not None and bool(item.hidden_reason)


async def mute_author(
    session: AsyncSession,
    *,
    actor: User,
    standing: CommunityStanding,
    community_id: int,
    author_id: int | None,
    hours: object,
    reason: str,
) -> None:
    """Agreeing may also mute the author here for `hours` (0 or empty: not), with the same reason, under the
    mute's own rules (a verified member; a fellow secretary only by a district admin)."""
    if hours in (None, "", 0, "0"):
        return
    membership = (
        await session.execute(
            select(Membership).where(col(Membership.user_id) == author_id, col(Membership.community_id) == community_id)
        )
    ).scalar_one_or_none()
    if membership is None:
        raise field_error("mute_hours", N_("Its author is no longer a member here, so cannot be muted."), status=409)
    await moderation.set_muted(
        session, actor=actor, membership=membership, standing=standing, hours=hours, reason=reason, muted=True
    )


async def review(
    session: AsyncSession,
    *,
    actor: User,
    post: Post,
    thread: Thread,
    standing: CommunityStanding,
    agree: bool,
    reason: object = "",
    mute_hours: object = 0,
) -> None:
    """A secretary decides on a flagged reply. Agree: it is hidden, with `reason` (required) for its author,
    who is also muted for `mute_hours` if given. Disagree: it stays (shown again if the flags had hidden it).
    Either way its open flags are closed and the flaggers are told."""
    moderation.require_moderator(standing)
    if post.thread_id != thread.id:
        raise NotFound()
    text = clean_text(reason, "reason", max_length=moderation.REASON_MAX, min_length=2) if agree else ""
    assert post.id is not None  # noqa: S101 -- a loaded row
    # A new reply the word filter held made none of a post's notifications (mentions, quotes, the thread's
    # author): kept now, it makes them. (One held by an edit made them when it was first posted.)
    held_when_new = (
        post.edited_at is None
        and (
            await session.execute(
                select(func.count()).where(
                    col(Flag.post_id) == post.id, col(Flag.resolved_at).is_(None), col(Flag.reason) == FlagReason.FILTER
                )
            )
        ).scalar_one()
        > 0
    )
    flaggers = await close_flags(session, community_id=thread.community_id, item=("post_id", post.id), agree=agree)
    if post.number == 1:  # the opening post stands for its thread: the thread is hidden or kept
        if agree and not hidden_by_a_secretary(thread):
            await moderation.set_thread_hidden(
                session, actor=actor, thread=thread, standing=standing, hidden=True, reason=text
            )
        elif not agree and thread.hidden_at is not None and not thread.hidden_reason:  # the flags hid it
            await moderation.set_thread_hidden(session, actor=actor, thread=thread, standing=standing, hidden=False)
    elif agree:
        if not hidden_by_a_secretary(post):
            await moderation.hide_post(session, actor=actor, post=post, thread=thread, standing=standing, reason=text)
    elif post.hidden_at is not None and not post.hidden_reason and post.deleted_at is None:  # the flags hid it
        await moderation.show_post(session, actor=actor, post=post, thread=thread, standing=standing)
        author = await session.get(User, post.author_id) if post.author_id is not None else None
        if held_when_new and author is not None:  # the word filter held it as it was posted: tell now as then
            await notifications.notify_post(session, actor=author, thread=thread, post=post)
    assert thread.id is not None  # noqa: S101 -- a loaded row
    await conclude(
        session,
        actor=actor,
        standing=standing,
        agree=agree,
        reason=text,
        mute_hours=mute_hours,
        flaggers=flaggers,
        community_id=thread.community_id,
        author_id=post.author_id,
        detail=f"thread {thread.id}" if post.number == 1 else f"thread {thread.id} #{post.number - 1}",
        subject=f"post:{post.id}",
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
    await _announce(session, thread.community_id)
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


async def flag_letter(
    session: AsyncSession,
    *,
    actor: User,
    letter: Letter,
    standing: CommunityStanding,
    reason: object,
    note: object = "",
) -> bool:
    """Flag a thank-you letter for the secretaries; as `flag_post` (the third distinct flag hides it)."""
    if not standing.is_verified_member:
        raise Forbidden(N_("Only verified members of this community can flag posts."))
    if letter.author_id == actor.id:
        raise Forbidden(N_("This is your own letter."))
    assert letter.id is not None and actor.id is not None  # noqa: S101 -- loaded rows
    text = checked_note(reason, note)
    await lock_item(session, Letter, letter.id)
    open_flags = await add_flag(
        session, community_id=letter.community_id, item=("letter_id", letter.id), actor=actor, reason=reason, note=text
    )
    if open_flags is None:
        return False
    if open_flags >= FLAG_THRESHOLD:
        hidden = (
            await session.execute(
                update(Letter)
                .where(col(Letter.id) == letter.id, col(Letter.hidden_at).is_(None))
                .values(hidden_at=utcnow(), hidden_reason="")
                .returning(col(Letter.id))
            )
        ).first()
        if hidden is not None:
            record_event(
                session,
                letters_room(letter.community_id),
                LetterHidden(letter_id=letter.id, hidden=True).model_dump(),
            )
            await audit.record(
                session,
                actor=None,
                action="letter.auto_hidden",
                community_id=letter.community_id,
                target_user_id=letter.author_id,
                detail=f"letter {letter.id}: flagged by {open_flags} members",
            )
    await notifications.notify(
        session,
        recipients=await secretary_ids(session, letter.community_id),
        kind=NotificationKind.FLAG,
        community_id=letter.community_id,
        subject=f"letter:{letter.id}",
        actor_id=actor.id,
        title=letter.title,
        url=letter_path(letter.id),
    )
    return True


async def review_letter(
    session: AsyncSession,
    *,
    actor: User,
    letter: Letter,
    standing: CommunityStanding,
    agree: bool,
    reason: object = "",
    mute_hours: object = 0,
) -> None:
    """A secretary decides on a flagged letter, as `review` does on a reply."""
    moderation.require_moderator(standing)
    text = clean_text(reason, "reason", max_length=moderation.REASON_MAX, min_length=2) if agree else ""
    assert letter.id is not None  # noqa: S101 -- a loaded row
    flaggers = await close_flags(session, community_id=letter.community_id, item=("letter_id", letter.id), agree=agree)
    if agree and not hidden_by_a_secretary(letter):
        await moderation.set_letter_hidden(
            session, actor=actor, letter=letter, standing=standing, hidden=True, reason=text
        )
    elif not agree and letter.hidden_at is not None and not letter.hidden_reason:  # the flags hid it
        await moderation.set_letter_hidden(session, actor=actor, letter=letter, standing=standing, hidden=False)
    await conclude(
        session,
        actor=actor,
        standing=standing,
        agree=agree,
        reason=text,
        mute_hours=mute_hours,
        flaggers=flaggers,
        community_id=letter.community_id,
        author_id=letter.author_id,
        detail=f"letter {letter.id}",
        subject=f"letter:{letter.id}",
        title=letter.title,
        url=letter_path(letter.id),
    )
