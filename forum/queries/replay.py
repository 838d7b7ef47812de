"""What a client that resumes a room may read in its replay: no more than the room's page shows that reader now.

Events keep what they carried when they were recorded, but a client may ask to replay from any point in the
retention window; by then a reply may have been edited, hidden or deleted, a thread hidden, a listing removed.
Each room kind with such content has one filter here (`forum.rooms` names it): it decides, from the current
state and with the same predicates as the pages (`forum.permissions`), for every event type in `decides`, to
keep the event with today's content, blank its content, or leave it out. One statement per replay.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.models import Letter, Listing, ListingStatus, Message, Post, Report, ReportComment, Thread
from forum.permissions import CommunityStanding, can_moderate, can_see_hidden, can_see_post_text

Envelope = dict[str, Any]


@dataclass(frozen=True)
class Reader:
    """Who replays: their id, their standing in the room's community, and the id of the room's subject."""

    user_id: int
    standing: CommunityStanding
    room_id: int

    @property
    def moderates(self) -> bool:
        return can_moderate(self.standing)


@dataclass(frozen=True)
class ReplayFilter:
    decides: frozenset[str]  # the event types whose content it decides; tests check every such type has one
    apply: Callable[[AsyncSession, list[Envelope], Reader], Awaitable[list[Envelope]]]

    async def __call__(self, session: AsyncSession, envelopes: list[Envelope], reader: Reader) -> list[Envelope]:
        """The envelopes as `reader` may see them now (edited in place, some left out), in the same order."""
        if not any(envelope["type"] in self.decides for envelope in envelopes):
            return envelopes
        return await self.apply(session, envelopes, reader)


def _ids(envelopes: list[Envelope], types: frozenset[str], key: str) -> set[int]:
    return {envelope["data"][key] for envelope in envelopes if envelope["type"] in types}


_POST_TEXT = frozenset({"post.created", "post.edited", "post.shown"})


async def _thread(session: AsyncSession, envelopes: list[Envelope], reader: Reader) -> list[Envelope]:
    """A reply's text as the thread page shows it now: today's text (not what an edit or a secretary's edit
    replaced, whose history is only for its author and the secretaries), or none if it was deleted, or hidden
    from this reader."""
    rows = await session.execute(
        select(
            col(Post.id),
            col(Post.author_id),
            col(Post.hidden_at),
            col(Post.deleted_at),
            col(Post.body_html),
            col(Post.moderator_note),
        ).where(col(Post.id).in_(_ids(envelopes, _POST_TEXT, "post_id")))
    )
    posts = {row.id: row for row in rows.all()}
    for envelope in envelopes:
        if envelope["type"] not in _POST_TEXT:
            continue
        data, post = envelope["data"], posts.get(envelope["data"]["post_id"])
        shown = post is not None and can_see_post_text(
            post, is_author=post.author_id == reader.user_id, moderates=reader.moderates
        )
        data["body_html"] = post.body_html if shown and post is not None else ""
        if "moderator_note" in data:
            data["moderator_note"] = post.moderator_note if shown and post is not None else ""
        if "images" in data and not shown:
            data["images"] = []
    return envelopes


async def _listed_threads(session: AsyncSession, envelopes: list[Envelope], types: frozenset[str]) -> dict[int, Any]:
    """The threads these events announce that a board or the community page lists now (not deleted, not hidden:
    a hidden thread leaves the board for everyone), with their board and title."""
    rows = await session.execute(
        select(col(Thread.id), col(Thread.board_id), col(Thread.title)).where(
            col(Thread.id).in_(_ids(envelopes, types, "thread_id")),
            col(Thread.is_deleted).is_(False),
            col(Thread.hidden_at).is_(None),
        )
    )
    return {row.id: row for row in rows.all()}


_NEW_THREAD = frozenset({"thread.created"})


async def _board(session: AsyncSession, envelopes: list[Envelope], reader: Reader) -> list[Envelope]:
    """New threads the board lists now: not deleted, hidden or moved to another board since."""
    listed = await _listed_threads(session, envelopes, _NEW_THREAD)
    kept = []
    for envelope in envelopes:
        if envelope["type"] in _NEW_THREAD:
            thread = listed.get(envelope["data"]["thread_id"])
            if thread is None or thread.board_id != reader.room_id:
                continue
            envelope["data"]["title"] = thread.title
        kept.append(envelope)
    return kept


_NOTICE = frozenset({"notice.published"})


async def _community(session: AsyncSession, envelopes: list[Envelope], reader: Reader) -> list[Envelope]:
    """Notices still there: not deleted or hidden since."""
    listed = await _listed_threads(session, envelopes, _NOTICE)
    return [
        envelope for envelope in envelopes if envelope["type"] not in _NOTICE or envelope["data"]["thread_id"] in listed
    ]


_NEW_LETTER = frozenset({"letter.created"})


async def _letters(session: AsyncSession, envelopes: list[Envelope], reader: Reader) -> list[Envelope]:
    """Letters the thanks wall shows this reader now: a hidden one only to its writer and the secretaries."""
    rows = await session.execute(
        select(col(Letter.id), col(Letter.author_id), col(Letter.hidden_at)).where(
            col(Letter.id).in_(_ids(envelopes, _NEW_LETTER, "letter_id"))
        )
    )
    shown = {
        row.id
        for row in rows.all()
        if row.hidden_at is None
        or can_see_hidden(is_author=row.author_id == reader.user_id, moderates=reader.moderates)
    }
    return [
        envelope
        for envelope in envelopes
        if envelope["type"] not in _NEW_LETTER or envelope["data"]["letter_id"] in shown
    ]


_NEW_LISTING = frozenset({"listing.created"})


async def _market(session: AsyncSession, envelopes: list[Envelope], reader: Reader) -> list[Envelope]:
    """Listings the market page lists now: not removed by a secretary, not hidden by flags."""
    rows = await session.execute(
        select(col(Listing.id)).where(
            col(Listing.id).in_(_ids(envelopes, _NEW_LISTING, "listing_id")),
            col(Listing.status) != ListingStatus.REMOVED,
            col(Listing.hidden_at).is_(None),
        )
    )
    listed = set(rows.scalars())
    return [
        envelope
        for envelope in envelopes
        if envelope["type"] not in _NEW_LISTING or envelope["data"]["listing_id"] in listed
    ]


_MESSAGE = frozenset({"message.created"})


async def _conversation(session: AsyncSession, envelopes: list[Envelope], reader: Reader) -> list[Envelope]:
    """A message hidden since keeps its place, without its text and pictures, for all but its sender (as the
    conversation's page shows it)."""
    rows = await session.execute(
        select(col(Message.id)).where(
            col(Message.id).in_(_ids(envelopes, _MESSAGE, "message_id")),
            col(Message.hidden_at).is_not(None),
            col(Message.sender_id).is_distinct_from(reader.user_id),
        )
    )
    withheld = set(rows.scalars())
    for envelope in envelopes:
        if envelope["type"] in _MESSAGE and envelope["data"]["message_id"] in withheld:
            envelope["data"]["body_html"] = ""
            envelope["data"]["images"] = []
    return envelopes


_LISTED_REPORT = frozenset({"report.created", "report.changed"})


async def _reports(session: AsyncSession, envelopes: list[Envelope], reader: Reader) -> list[Envelope]:
    """Reports the community's list shows this reader now: a hidden one (its making and its changes before it
    was hidden) only to its reporter and the secretaries; `report.hidden` stays, so a list that shows it drops
    it. (Private reports are never recorded in this room.)"""
    rows = await session.execute(
        select(col(Report.id), col(Report.reporter_id), col(Report.hidden_at)).where(
            col(Report.id).in_(_ids(envelopes, _LISTED_REPORT, "report_id"))
        )
    )
    shown = {
        row.id
        for row in rows.all()
        if row.hidden_at is None
        or can_see_hidden(is_author=row.reporter_id == reader.user_id, moderates=reader.moderates)
    }
    return [
        envelope
        for envelope in envelopes
        if envelope["type"] not in _LISTED_REPORT or envelope["data"]["report_id"] in shown
    ]


_QUEUED = frozenset({"report.queued"})


async def _report_queue(session: AsyncSession, envelopes: list[Envelope], reader: Reader) -> list[Envelope]:
    """The queue is the secretaries' (its room admits no one else), and they see every report, hidden or
    private: everything stays."""
    return envelopes


_COMMENT = frozenset({"report.comment_created"})


async def _report(session: AsyncSession, envelopes: list[Envelope], reader: Reader) -> list[Envelope]:
    """A comment hidden since is left out for all but its author and the secretaries (as the report's page
    shows it). Who may see the report at all is the room's access check."""
    rows = await session.execute(
        select(col(ReportComment.id), col(ReportComment.author_id)).where(
            col(ReportComment.id).in_(_ids(envelopes, _COMMENT, "comment_id")),
            col(ReportComment.hidden_at).is_not(None),
        )
    )
    withheld = {
        row.id
        for row in rows.all()
        if not can_see_hidden(is_author=row.author_id == reader.user_id, moderates=reader.moderates)
    }
    return [
        envelope
        for envelope in envelopes
        if envelope["type"] not in _COMMENT or envelope["data"]["comment_id"] not in withheld
    ]


THREAD = ReplayFilter(_POST_TEXT, _thread)
BOARD = ReplayFilter(_NEW_THREAD, _board)
COMMUNITY = ReplayFilter(_NOTICE, _community)
LETTERS = ReplayFilter(_NEW_LETTER, _letters)
MARKET = ReplayFilter(_NEW_LISTING, _market)
CONVERSATION = ReplayFilter(_MESSAGE, _conversation)
REPORTS = ReplayFilter(_LISTED_REPORT, _reports)
REPORT_QUEUE = ReplayFilter(_QUEUED, _report_queue)
REPORT = ReplayFilter(_COMMENT, _report)
