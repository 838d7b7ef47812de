"""JSON API for a secretary's tools on threads and replies, and the moderation log: the same actions and access
checks as the pages."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from quart_rate_limiter import rate_limit
from quart_schema import tag, validate_querystring, validate_request, validate_response

from forum.access import (
    access_community_to_moderate,
    access_flagged_message,
    access_letter,
    access_listing,
    access_membership_to_moderate,
    access_post,
    access_thread,
    board_in,
)
from forum.actions import boards, flags, hiding, mutes, suspensions, thread_tools, word_filters
from forum.api.schemas import longest
from forum.api.v1 import blueprint
from forum.errors import Forbidden
from forum.flaggables import LetterItem, ListingItem, MessageItem, ReplyItem, ThreadItem, of_post
from forum.i18n import N_
from forum.models import FilterMode, id_of
from forum.queries.audit import audit_log
from forum.queries.review import Flagged, review_queue
from forum.validation import REASON_MAX
from forum.web.context import commit, db_session, require_user
from forum.web.ratelimits import FLAG_LIMITS


class ReasonIn(BaseModel):
    reason: str = Field(max_length=REASON_MAX)


class LockIn(BaseModel):
    locked: bool
    reason: str = Field(default="", max_length=REASON_MAX)  # required to lock; shown in the thread


class PostStateOut(BaseModel):
    post_id: int
    hidden: bool
    hidden_reason: str


class ThreadStateOut(BaseModel):
    thread_id: int
    locked: bool
    lock_reason: str


class LogEntryOut(BaseModel):
    id: int
    at: str
    action: str  # e.g. post.hidden, thread.locked, member.verified, listing.removed
    actor: str | None  # username; None: done by Linli itself (`automatic`), or the account is gone
    automatic: bool  # flags, the word filter, a timer or the clock did it
    target: str | None
    community: str  # its slug (a district's log spans its communities)
    detail: str


class LogOut(BaseModel):
    entries: list[LogEntryOut]  # newest first, at most 200


@blueprint.post("/posts/<id:post_id>/hide")
@tag(["moderation"])
@validate_request(ReasonIn)
@validate_response(PostStateOut)
async def hide_post(post_id: int, data: ReasonIn) -> PostStateOut:
    """Secretaries: hide a reply with a reason its author sees."""
    user = require_user()
    post, thread, _board, _community, standing = await access_post(db_session(), user, post_id)
    await hiding.set_hidden(
        db_session(), actor=user, item=ReplyItem(post, thread), standing=standing, hidden=True, reason=data.reason
    )
    await commit()
    return PostStateOut(post_id=post_id, hidden=True, hidden_reason=post.hidden_reason)


@blueprint.post("/posts/<id:post_id>/show")
@tag(["moderation"])
@validate_response(PostStateOut)
async def show_post(post_id: int) -> PostStateOut:
    user = require_user()
    post, thread, _board, _community, standing = await access_post(db_session(), user, post_id)
    await hiding.set_hidden(db_session(), actor=user, item=ReplyItem(post, thread), standing=standing, hidden=False)
    await commit()
    return PostStateOut(post_id=post_id, hidden=False, hidden_reason="")


@blueprint.post("/threads/<id:thread_id>/lock")
@tag(["moderation"])
@validate_request(LockIn)
@validate_response(ThreadStateOut)
async def lock_thread(thread_id: int, data: LockIn) -> ThreadStateOut:
    """Secretaries: lock (with a reason) or unlock a thread."""
    user = require_user()
    thread, _board, _community, standing = await access_thread(db_session(), user, thread_id)
    await thread_tools.set_locked(
        db_session(), actor=user, thread=thread, standing=standing, locked=data.locked, reason=data.reason
    )
    await commit()
    return ThreadStateOut(thread_id=thread_id, locked=thread.locked_at is not None, lock_reason=thread.lock_reason)


class LogQuery(BaseModel):
    scope: Literal["community", "district"] = "community"  # district: every community of it (district admins)


@blueprint.get("/communities/<slug>/moderation-log")
@tag(["moderation"])
@validate_querystring(LogQuery)
@validate_response(LogOut)
async def moderation_log(slug: str, query_args: LogQuery) -> LogOut:
    """Secretaries and district admins: the community's audit entries, newest first; district admins may ask
    for the whole district's (`scope=district`)."""
    community, standing = await access_community_to_moderate(db_session(), require_user(), slug)
    whole = query_args.scope == "district"
    if whole and not standing.is_district_admin:
        raise Forbidden(N_("Only a district admin can read the whole district's log."))
    rows = await audit_log(db_session(), community, whole_district=whole)
    return LogOut(
        entries=[
            LogEntryOut(
                id=id_of(row.entry),
                at=row.entry.at.isoformat(),
                action=row.entry.action,
                actor=row.actor.username if row.actor else None,
                automatic=row.automatic,
                target=row.target.username if row.target else None,
                community=row.community.slug,
                detail=row.entry.detail,
            )
            for row in rows
        ]
    )


class FlagIn(BaseModel):
    reason: str = Field(max_length=longest(flags.REASONS))  # off_topic, abuse, spam, privacy or other
    note: str = Field(default="", max_length=flags.NOTE_MAX)  # needed for other


class FlagOut(BaseModel):
    post_id: int
    added: bool  # False: you had flagged it already (one member counts once)


class ReviewIn(BaseModel):
    agree: bool  # True: hide it (reason required); False: keep it
    reason: str = Field(default="", max_length=REASON_MAX)
    mute_hours: int = Field(default=0, ge=0, le=mutes.MUTE_HOURS_MAX)  # with agree: also mute the author


class FlagEntryOut(BaseModel):
    reporter: str | None  # username; None: the word filter held the reply (`note` is the word)
    reason: str
    note: str
    created_at: str


class FlaggedOut(BaseModel):
    # a thread is flagged by its opening post
    kind: Literal["reply", "thread", "letter", "listing", "message", "report", "report_comment"]
    post_id: int | None
    thread_id: int | None
    number: int | None
    letter_id: int | None
    listing_id: int | None
    message_id: int | None  # a private message: that one message, never its conversation
    report_id: int | None = None  # a problem report (我身边的事)
    report_comment_id: int | None = None  # a comment under a report
    title: str  # the thread's, the letter's or the listing's; for a message, the start of its text
    author: str | None
    body_html: str
    hidden: bool
    flags: list[FlagEntryOut]


class QueueOut(BaseModel):
    items: list[FlaggedOut]


class LetterFlagOut(BaseModel):
    letter_id: int
    added: bool  # False: you had flagged it already (one member counts once)


class LetterHideIn(BaseModel):
    hidden: bool
    reason: str = Field(default="", max_length=REASON_MAX)  # required to hide; the writer sees it


class LetterStateOut(BaseModel):
    letter_id: int
    hidden: bool
    reason: str


REVIEW_ORDERS = ("most", "newest")  # flagged most first (any other value too), or newest first


class QueueQuery(BaseModel):
    sort: str = Field(default="most", max_length=longest(REVIEW_ORDERS))


@blueprint.post("/posts/<id:post_id>/flags")
@tag(["moderation"])
@rate_limit(limits=FLAG_LIMITS)
@validate_request(FlagIn)
@validate_response(FlagOut)
async def flag_post(post_id: int, data: FlagIn) -> FlagOut:
    """Verified members: flag a reply for the secretaries. Three distinct members hide it until reviewed."""
    user = require_user()
    post, thread, _board, _community, standing = await access_post(db_session(), user, post_id)
    added = await flags.flag(
        db_session(), actor=user, item=of_post(post, thread), standing=standing, reason=data.reason, note=data.note
    )
    await commit()
    return FlagOut(post_id=post_id, added=added)


@blueprint.get("/communities/<slug>/review")
@tag(["moderation"])
@validate_querystring(QueueQuery)
@validate_response(QueueOut)
async def get_review_queue(slug: str, query_args: QueueQuery) -> QueueOut:
    """Secretaries and district admins: replies with open flags."""
    user = require_user()
    community, _standing = await access_community_to_moderate(db_session(), user, slug)
    rows = await review_queue(db_session(), community, viewer=user, newest_first=query_args.sort == "newest")
    return QueueOut(items=[_flagged_out(row) for row in rows])


def _flagged_out(row: Flagged) -> FlaggedOut:
    item = row.item
    return FlaggedOut(
        **{**dict.fromkeys(("post_id", "thread_id", "number", "letter_id", "listing_id", "message_id")), **item.ids()},
        kind=item.kind,
        title=item.title,
        author=row.author.username if row.author else None,
        body_html=item.body_html,
        hidden=row.hidden,
        flags=[
            FlagEntryOut(
                reporter=view.reporter.username if view.reporter else None,
                reason=view.flag.reason,
                note=view.flag.note,
                created_at=view.flag.created_at.isoformat(),
            )
            for view in row.flags
        ],
    )


@blueprint.post("/posts/<id:post_id>/review")
@tag(["moderation"])
@validate_request(ReviewIn)
@validate_response(PostStateOut)
async def review_post(post_id: int, data: ReviewIn) -> PostStateOut:
    """Secretaries: decide on a flagged reply; the flaggers are told."""
    user = require_user()
    post, thread, _board, _community, standing = await access_post(db_session(), user, post_id)
    await flags.review(
        db_session(),
        actor=user,
        item=of_post(post, thread),
        standing=standing,
        agree=data.agree,
        reason=data.reason,
        mute_hours=data.mute_hours,
    )
    await commit()
    return PostStateOut(post_id=post_id, hidden=post.hidden_at is not None, hidden_reason=post.hidden_reason)


class MuteIn(BaseModel):
    muted: bool
    hours: int = Field(default=24, ge=1, le=mutes.MUTE_HOURS_MAX)
    reason: str = Field(default="", max_length=REASON_MAX)  # required to mute; the member sees it


class MuteOut(BaseModel):
    membership_id: int
    muted_until: str | None
    reason: str


@blueprint.post("/memberships/<id:membership_id>/mute")
@tag(["moderation"])
@validate_request(MuteIn)
@validate_response(MuteOut)
async def mute_member(membership_id: int, data: MuteIn) -> MuteOut:
    """Secretaries: mute a member for `hours` (they can read, not post or message here), or lift it."""
    user = require_user()
    membership, _community, standing = await access_membership_to_moderate(db_session(), user, membership_id)
    await mutes.set_muted(
        db_session(),
        actor=user,
        membership=membership,
        standing=standing,
        hours=data.hours,
        reason=data.reason,
        muted=data.muted,
    )
    await commit()
    until = membership.muted_until
    return MuteOut(
        membership_id=membership_id, muted_until=until.isoformat() if until else None, reason=membership.mute_reason
    )


class SuspendIn(BaseModel):
    suspended: bool
    days: int = Field(default=7, ge=0, le=suspensions.SUSPEND_DAYS_MAX)  # 0: until lifted
    reason: str = Field(default="", max_length=REASON_MAX)  # required to suspend; the member sees it


class SuspendOut(BaseModel):
    membership_id: int
    status: str
    suspended_until: str | None
    reason: str


@blueprint.post("/memberships/<id:membership_id>/suspend")
@tag(["moderation"])
@validate_request(SuspendIn)
@validate_response(SuspendOut)
async def suspend_member(membership_id: int, data: SuspendIn) -> SuspendOut:
    """Secretaries: suspend a member for `days` (0: until lifted; they can neither read nor post here, and
    their live connections leave the community at once), or lift it."""
    user = require_user()
    membership, _community, standing = await access_membership_to_moderate(db_session(), user, membership_id)
    await suspensions.set_suspended(
        db_session(),
        actor=user,
        membership=membership,
        standing=standing,
        suspended=data.suspended,
        days=data.days,
        reason=data.reason,
    )
    await commit()
    until = membership.suspended_until
    return SuspendOut(
        membership_id=membership_id,
        status=membership.status,
        suspended_until=until.isoformat() if until else None,
        reason=membership.suspend_reason,
    )


class PinIn(BaseModel):
    pinned: bool
    hours: int = Field(default=0, ge=0, le=thread_tools.PIN_HOURS_MAX)  # 0: until unpinned


class PinOut(BaseModel):
    thread_id: int
    pinned: bool
    pinned_until: str | None


@blueprint.post("/threads/<id:thread_id>/pin")
@tag(["moderation"])
@validate_request(PinIn)
@validate_response(PinOut)
async def pin_thread(thread_id: int, data: PinIn) -> PinOut:
    """Secretaries: pin a thread above its board's others (for `hours`, or until unpinned), or unpin it."""
    user = require_user()
    thread, _board, _community, standing = await access_thread(db_session(), user, thread_id)
    await thread_tools.set_pinned(
        db_session(), actor=user, thread=thread, standing=standing, pinned=data.pinned, hours=data.hours
    )
    await commit()
    until = thread.pinned_until
    return PinOut(
        thread_id=thread_id, pinned=thread.pinned_at is not None, pinned_until=until.isoformat() if until else None
    )


class SlowModeIn(BaseModel):
    minutes: int = Field(ge=0, le=thread_tools.SLOW_MODE_MAX_MINUTES)  # 0: off


class TimerIn(BaseModel):
    hours: int = Field(ge=0, le=thread_tools.CLOSE_HOURS_MAX)  # 0: no timer
    reason: str = Field(default="", max_length=REASON_MAX)  # required with a timer; shown when it closes


class MoveIn(BaseModel):
    board: str = Field(max_length=boards.SLUG_MAX)  # the slug of another board of the community


class ThreadToolsOut(BaseModel):
    thread_id: int
    board_id: int
    slow_mode_minutes: int
    closes_at: str | None


def _tools_out(thread: Any) -> ThreadToolsOut:
    return ThreadToolsOut(
        thread_id=id_of(thread),
        board_id=thread.board_id,
        slow_mode_minutes=thread.slow_mode_minutes,
        closes_at=thread.closes_at.isoformat() if thread.closes_at else None,
    )


@blueprint.post("/threads/<id:thread_id>/slow-mode")
@tag(["moderation"])
@validate_request(SlowModeIn)
@validate_response(ThreadToolsOut)
async def slow_mode(thread_id: int, data: SlowModeIn) -> ThreadToolsOut:
    """Secretaries: one reply per person every `minutes` (secretaries exempt); 0 turns it off."""
    user = require_user()
    thread, _board, _community, standing = await access_thread(db_session(), user, thread_id)
    await thread_tools.set_slow_mode(db_session(), actor=user, thread=thread, standing=standing, minutes=data.minutes)
    await commit()
    return _tools_out(thread)


@blueprint.post("/threads/<id:thread_id>/timer")
@tag(["moderation"])
@validate_request(TimerIn)
@validate_response(ThreadToolsOut)
async def close_timer(thread_id: int, data: TimerIn) -> ThreadToolsOut:
    """Secretaries: the thread locks itself in `hours`, with `reason`; 0 cancels."""
    user = require_user()
    thread, _board, _community, standing = await access_thread(db_session(), user, thread_id)
    await thread_tools.set_close_timer(
        db_session(), actor=user, thread=thread, standing=standing, hours=data.hours, reason=data.reason
    )
    await commit()
    return _tools_out(thread)


@blueprint.post("/threads/<id:thread_id>/move")
@tag(["moderation"])
@validate_request(MoveIn)
@validate_response(ThreadToolsOut)
async def move_thread(thread_id: int, data: MoveIn) -> ThreadToolsOut:
    user = require_user()
    thread, _board, _community, standing = await access_thread(db_session(), user, thread_id)
    board = await board_in(db_session(), thread.community_id, data.board)
    await thread_tools.move_thread(db_session(), actor=user, thread=thread, standing=standing, board=board)
    await commit()
    return _tools_out(thread)


@blueprint.post("/threads/<id:thread_id>/delete")
@tag(["moderation"])
@validate_request(ReasonIn)
async def delete_thread(thread_id: int, data: ReasonIn) -> tuple[str, int]:
    """Secretaries: delete a thread for everyone; its author is told the reason."""
    user = require_user()
    thread, _board, _community, standing = await access_thread(db_session(), user, thread_id)
    await thread_tools.delete_thread(db_session(), actor=user, thread=thread, standing=standing, reason=data.reason)
    await commit()
    return "", 204


class WordIn(BaseModel):
    word: str = Field(max_length=word_filters.WORD_MAX)
    mode: str = Field(default="block", max_length=longest(FilterMode))  # block or review
    remove: bool = False  # True: take the word off the list
    district: bool = False  # district admins: the district's list, for every community in it


class WordOut(BaseModel):
    word: str
    mode: str
    district: bool  # on the district's list (every community of the district), not this community's


class WordListOut(BaseModel):
    words: list[WordOut]


async def _word_list(community: Any) -> WordListOut:
    return WordListOut(
        words=[
            WordOut(word=entry.word, mode=entry.mode, district=entry.district_id is not None)
            for entry in await word_filters.words_of(db_session(), community)
        ]
    )


@blueprint.get("/communities/<slug>/word-filter")
@tag(["moderation"])
@validate_response(WordListOut)
async def get_word_filter(slug: str) -> WordListOut:
    community, _standing = await access_community_to_moderate(db_session(), require_user(), slug)
    return await _word_list(community)


@blueprint.post("/communities/<slug>/word-filter")
@tag(["moderation"])
@validate_request(WordIn)
@validate_response(WordListOut)
async def change_word_filter(slug: str, data: WordIn) -> WordListOut:
    """Secretaries: add a word (`block` refuses posts with it; `review` holds replies for review), change its
    mode, or remove it. District admins may do so on the district's list (`district`), for all its communities."""
    user = require_user()
    community, standing = await access_community_to_moderate(db_session(), user, slug)
    if data.remove:
        await word_filters.remove_word(
            db_session(),
            actor=user,
            community=community,
            standing=standing,
            word=data.word,
            district_wide=data.district,
        )
    else:
        await word_filters.add_word(
            db_session(),
            actor=user,
            community=community,
            standing=standing,
            word=data.word,
            mode=data.mode,
            district_wide=data.district,
        )
    await commit()
    return await _word_list(community)


class HideThreadIn(BaseModel):
    hidden: bool
    reason: str = Field(default="", max_length=REASON_MAX)  # required to hide; its author sees it


@blueprint.post("/threads/<id:thread_id>/hide")
@tag(["moderation"])
@validate_request(HideThreadIn)
@validate_response(ThreadToolsOut)
async def hide_thread(thread_id: int, data: HideThreadIn) -> ThreadToolsOut:
    """Secretaries: hide the whole thread with a reason its author sees, or show it again."""
    user = require_user()
    thread, _board, _community, standing = await access_thread(db_session(), user, thread_id)
    await hiding.set_hidden(
        db_session(), actor=user, item=ThreadItem(thread), standing=standing, hidden=data.hidden, reason=data.reason
    )
    await commit()
    return _tools_out(thread)


@blueprint.post("/letters/<id:letter_id>/flags")
@tag(["moderation"])
@rate_limit(limits=FLAG_LIMITS)
@validate_request(FlagIn)
@validate_response(LetterFlagOut)
async def flag_letter(letter_id: int, data: FlagIn) -> LetterFlagOut:
    """Verified members: flag a thank-you letter for the secretaries. Three distinct members hide it until
    reviewed."""
    user = require_user()
    letter, _community, standing = await access_letter(db_session(), user, letter_id)
    added = await flags.flag(
        db_session(), actor=user, item=LetterItem(letter), standing=standing, reason=data.reason, note=data.note
    )
    await commit()
    return LetterFlagOut(letter_id=letter_id, added=added)


@blueprint.post("/letters/<id:letter_id>/review")
@tag(["moderation"])
@validate_request(ReviewIn)
@validate_response(LetterStateOut)
async def review_letter(letter_id: int, data: ReviewIn) -> LetterStateOut:
    """Secretaries: decide on a flagged letter; the flaggers are told."""
    user = require_user()
    letter, _community, standing = await access_letter(db_session(), user, letter_id)
    await flags.review(
        db_session(),
        actor=user,
        item=LetterItem(letter),
        standing=standing,
        agree=data.agree,
        reason=data.reason,
        mute_hours=data.mute_hours,
    )
    await commit()
    return LetterStateOut(letter_id=letter_id, hidden=letter.hidden_at is not None, reason=letter.hidden_reason)


@blueprint.post("/letters/<id:letter_id>/moderate")
@tag(["moderation"])
@validate_request(LetterHideIn)
@validate_response(LetterStateOut)
async def moderate_letter(letter_id: int, data: LetterHideIn) -> LetterStateOut:
    """Secretaries: hide a thank-you letter from everyone but its writer (who sees `reason`), or show it again."""
    user = require_user()
    letter, _community, standing = await access_letter(db_session(), user, letter_id)
    await hiding.set_hidden(
        db_session(), actor=user, item=LetterItem(letter), standing=standing, hidden=data.hidden, reason=data.reason
    )
    await commit()
    return LetterStateOut(letter_id=letter_id, hidden=letter.hidden_at is not None, reason=letter.hidden_reason)


class ListingFlagOut(BaseModel):
    listing_id: int
    added: bool  # False: you had flagged it already (one member counts once)


class ListingReviewOut(BaseModel):
    listing_id: int
    status: str
    hidden: bool  # hidden by flags until reviewed


@blueprint.post("/market/<id:listing_id>/flags")
@tag(["moderation"])
@rate_limit(limits=FLAG_LIMITS)
@validate_request(FlagIn)
@validate_response(ListingFlagOut)
async def flag_listing(listing_id: int, data: FlagIn) -> ListingFlagOut:
    """Verified members: flag a swap or give-away for the secretaries. Three distinct members hide it until
    reviewed."""
    user = require_user()
    listing, _community, standing = await access_listing(db_session(), user, listing_id)
    added = await flags.flag(
        db_session(), actor=user, item=ListingItem(listing), standing=standing, reason=data.reason, note=data.note
    )
    await commit()
    return ListingFlagOut(listing_id=listing_id, added=added)


@blueprint.post("/market/<id:listing_id>/review")
@tag(["moderation"])
@validate_request(ReviewIn)
@validate_response(ListingReviewOut)
async def review_listing(listing_id: int, data: ReviewIn) -> ListingReviewOut:
    """Secretaries: decide on a flagged listing (agree removes it, with the reason for its owner); the flaggers
    are told."""
    user = require_user()
    listing, _community, standing = await access_listing(db_session(), user, listing_id)
    await flags.review(
        db_session(),
        actor=user,
        item=ListingItem(listing),
        standing=standing,
        agree=data.agree,
        reason=data.reason,
        mute_hours=data.mute_hours,
    )
    await commit()
    await db_session().refresh(listing)
    return ListingReviewOut(listing_id=listing_id, status=listing.status, hidden=listing.hidden_at is not None)


class MessageReviewOut(BaseModel):
    message_id: int
    hidden: bool


@blueprint.post("/messages/<id:message_id>/review")
@tag(["moderation"])
@validate_request(ReviewIn)
@validate_response(MessageReviewOut)
async def review_message(message_id: int, data: ReviewIn) -> MessageReviewOut:
    """Secretaries: decide on a flagged private message (agree hides it from the other participants, with the
    reason for its sender); the flaggers are told."""
    user = require_user()
    message, community, standing = await access_flagged_message(db_session(), user, message_id)
    await flags.review(
        db_session(),
        actor=user,
        item=MessageItem(message, community),
        standing=standing,
        agree=data.agree,
        reason=data.reason,
        mute_hours=data.mute_hours,
    )
    await commit()
    return MessageReviewOut(message_id=message_id, hidden=message.hidden_at is not None)
