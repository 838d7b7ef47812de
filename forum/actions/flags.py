"""Flags: a neighbour flags something (`forum.flaggables` lists what can be flagged) with a reason; the
community's secretaries review what was flagged (agree: it is hidden, and its author may be muted; disagree: it
stays, and the flags are closed); the flaggers are told the outcome. Something flagged by FLAG_THRESHOLD
distinct members is hidden until reviewed (`forum.actions.hiding`: without a reason, which is how pages tell
"waiting for review" from a secretary's hide). The word filter holds a reply the same way (`hold_for_review`).
Every change to the open flags tells the community's open review pages how many items wait (`review.changed`).
"""

from __future__ import annotations

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.access import require_moderator
from forum.actions import audit, hiding, mutes, notifications
from forum.actions.hiding import Hideable
from forum.db import insert_for, record_event
from forum.errors import field_error
from forum.events import ReviewChanged
from forum.i18n import N_
from forum.models import Flag, FlagReason, Membership, NotificationKind, User
from forum.permissions import CommunityStanding
from forum.queries.flags import open_flag_count
from forum.queries.people import secretary_ids
from forum.timeutil import utcnow
from forum.validation import clean_reason, clean_text

FLAG_THRESHOLD = 3
NOTE_MAX = 500
REASONS: dict[str, str] = {  # what a member may choose; FlagReason.FILTER is the word filter's own
    FlagReason.OFF_TOPIC: N_("Off-topic"),
    FlagReason.ABUSE: N_("Abusive or rude"),
    FlagReason.SPAM: N_("Spam or advertising"),
    FlagReason.PRIVACY: N_("Reveals someone's private information"),
    FlagReason.OTHER: N_("Something else"),
}


def checked_note(reason: object, note: object) -> str:
    """The note of a flag with a valid reason ("something else" needs one)."""
    if not isinstance(reason, str) or reason not in REASONS:
        raise field_error("reason", N_("Choose a reason."))
    return clean_text(note, "note", max_length=NOTE_MAX, required=reason == FlagReason.OTHER, multiline=True)


async def flag(
    session: AsyncSession,
    *,
    actor: User,
    item: Hideable,
    standing: CommunityStanding,
    reason: object,
    note: object = "",
) -> bool:
    """Flag `item` for the community's secretaries. Returns False if the actor had flagged it already (nothing
    changes: one member counts once). The FLAG_THRESHOLD-th distinct flag hides it until a secretary reviews
    it. The secretaries are told (of a private kind, not the one who wrote it)."""
    item.check_flag(actor, standing)
    text = checked_note(reason, note)
    await item.lock(session)
    open_flags = await _add(session, item=item, actor=actor, reason=str(reason), note=text)
    if open_flags is None:
        return False
    if open_flags >= FLAG_THRESHOLD:
        await hiding.hide_for_review(session, item=item, flags=open_flags)
    secretaries = await secretary_ids(session, item.community_id)
    await notifications.notify(
        session,
        recipients=[user_id for user_id in secretaries if not (item.private and user_id == item.author_id)],
        kind=NotificationKind.FLAG,
        community_id=item.community_id,
        subject=item.subject,
        actor_id=actor.id,
        title=item.title,
        url=item.review_url,
    )
    return True


async def review(
    session: AsyncSession,
    *,
    actor: User,
    item: Hideable,
    standing: CommunityStanding,
    agree: bool,
    reason: object = "",
    mute_hours: object = 0,
) -> None:
    """A secretary decides on a flagged item. Agree: it is hidden, with `reason` (required) for its author, who
    is also muted for `mute_hours` if given. Disagree: it stays (shown again if flags or the word filter had
    hidden it). Either way its open flags are closed, the decision is audited and the flaggers are told."""
    require_moderator(standing)
    item.check_review(actor)
    text = clean_reason(reason, multiline=item.reason_lines) if agree else ""
    flaggers, held_by_filter = await _close(session, item=item, agree=agree)
    if agree:
        if item.live and not item.hidden_by_a_secretary:
            await hiding.set_hidden(session, actor=actor, item=item, standing=standing, hidden=True, reason=text)
        await _mute_author(session, actor=actor, standing=standing, item=item, hours=mute_hours, reason=text)
    elif item.live and item.hidden_by_flags:
        await hiding.set_hidden(session, actor=actor, item=item, standing=standing, hidden=False)
        await item.kept(session, held_by_filter=held_by_filter)
    await audit.record(
        session,
        actor=actor,
        action="flags.agreed" if agree else "flags.disagreed",
        community_id=item.community_id,
        target_user_id=item.author_id,
        detail=f"{item.label}: {len(flaggers)} flags" + (f": {text}" if text else ""),
    )
    await notifications.notify(
        session,
        recipients=flaggers,
        kind=NotificationKind.FLAG_AGREED if agree else NotificationKind.FLAG_KEPT,
        community_id=item.community_id,
        subject=item.subject,
        actor_id=actor.id,
        title=item.title,
        url=item.url,
        members_only=item.members_only,
    )


async def hold_for_review(session: AsyncSession, *, item: Hideable, word: str) -> None:
    """The word filter held `item` (a reply, stored hidden; or edited into the word, hidden here): it waits in the
    review queue like a flagged one, with the word as the note, and the secretaries are told."""
    await item.hide(session, reason="", actor=None)  # a new reply was stored hidden already: nothing to do then
    await session.execute(
        insert(Flag).values(
            community_id=item.community_id,
            reporter_id=None,
            reason=FlagReason.FILTER,
            note=word,
            created_at=utcnow(),
            **{item.flag_column: item.flagged_id},
        )
    )
    await _announce(session, item.community_id)
    await audit.record(
        session,
        actor=None,
        action=f"{item.noun}.held",
        community_id=item.community_id,
        target_user_id=item.author_id,
        detail=f"{item.label}: {word}",
    )
    await notifications.notify(
        session,
        recipients=await secretary_ids(session, item.community_id),
        kind=NotificationKind.FLAG,
        community_id=item.community_id,
        subject=item.subject,
        actor_id=item.author_id,
        title=item.title,
        url=item.review_url,
    )


async def _add(session: AsyncSession, *, item: Hideable, actor: User, reason: str, note: str) -> int | None:
    """Store the actor's flag on `item`; None if they had flagged it already, else how many members' flags on it
    are open now."""
    column = getattr(Flag, item.flag_column)
    added = (
        await session.execute(
            insert_for(session)(Flag)
            .values(
                community_id=item.community_id,
                reporter_id=actor.id,
                reason=reason,
                note=note,
                created_at=utcnow(),
                **{item.flag_column: item.flagged_id},
            )
            .on_conflict_do_nothing(index_elements=[item.flag_column, "reporter_id"])
            .returning(col(Flag.id))
        )
    ).first()
    if added is None:
        return None
    await _announce(session, item.community_id)
    return int(
        (
            await session.execute(
                select(func.count()).where(
                    column == item.flagged_id,
                    col(Flag.resolved_at).is_(None),
                    col(Flag.reporter_id).is_not(None),  # members only: the word filter's hold is not a flag
                )
            )
        ).scalar_one()
    )


async def _close(session: AsyncSession, *, item: Hideable, agree: bool) -> tuple[list[int], bool]:
    """Close the open flags on `item`: the members who raised them, and whether the word filter held it."""
    closed = (
        await session.execute(
            update(Flag)
            .where(getattr(Flag, item.flag_column) == item.flagged_id, col(Flag.resolved_at).is_(None))
            .values(resolved_at=utcnow(), outcome="agreed" if agree else "disagreed")
            .returning(col(Flag.reporter_id), col(Flag.reason))
        )
    ).all()
    if not closed:
        raise field_error("item", N_("There are no open flags on this."), status=409)
    await _announce(session, item.community_id)
    flaggers = [reporter for reporter, _reason in closed if reporter is not None]  # the word filter is nobody
    return flaggers, any(reason == FlagReason.FILTER for _reporter, reason in closed)


async def _announce(session: AsyncSession, community_id: int) -> None:
    """Tell the community's open review pages how many items wait now (after this transaction's changes)."""
    waiting = (await session.execute(select(open_flag_count(community_id)))).scalar_one()
    record_event(session, ReviewChanged(community_id=community_id, waiting=int(waiting)))


async def _mute_author(
    session: AsyncSession, *, actor: User, standing: CommunityStanding, item: Hideable, hours: object, reason: str
) -> None:
    """Agreeing may also mute the author here for `hours` (0 or empty: not), with the same reason, under the
    mute's own rules (a verified member; a fellow secretary only by a district admin)."""
    if hours in (None, "", 0, "0"):
        return
    membership = (
        await session.execute(
            select(Membership).where(
                col(Membership.user_id) == item.author_id, col(Membership.community_id) == item.community_id
            )
        )
    ).scalar_one_or_none()
    if membership is None:
        raise field_error("mute_hours", N_("Its author is no longer a member here, so cannot be muted."), status=409)
    await mutes.set_muted(
        session, actor=actor, membership=membership, standing=standing, hours=hours, reason=reason, muted=True
    )
