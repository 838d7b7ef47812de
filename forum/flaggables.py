"""The kinds of things neighbours flag and secretaries hide, one entry each: what its row is, which `flag` column
names it, who wrote it, what notifications and the review queue call it and link to, what open pages are told,
and what else hiding it does. `forum.actions.flags` (`flag`, `review`, `hold_for_review`) and
`forum.actions.hiding` (`set_hidden`) do the rest the same way for all of them.

A new kind is one class (a `Hideable`), its column on `flag` (in `forum.models.FLAGGED_ITEMS`, with a
migration), and its entry in `KINDS`; docs/architecture.md shows an example. Posts' kinds live in
`forum.flaggable_posts`, which the forum's own actions import.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from markupsafe import escape
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum import rooms, subjects
from forum.actions import listings, offers
from forum.actions.hiding import HiddenAtRow, Hideable
from forum.db import queue_event, record_event
from forum.errors import Forbidden, field_error
from forum.events import AccessChanged, Event, LetterHidden, MessageHidden, ReportCommentHidden, ReportHidden
from forum.flaggable_posts import Loaded, ReplyItem, ThreadItem, of_post, person_of, require_member, with_author
from forum.i18n import N_
from forum.models import (
    Community,
    Letter,
    Listing,
    ListingStatus,
    Message,
    NotificationKind,
    Report,
    ReportComment,
    User,
    id_of,
)
from forum.paths import community_path, letter_path, listing_path, message_path, report_path
from forum.permissions import CommunityStanding
from forum.timeutil import utcnow

__all__ = [
    "KINDS",
    "LOADERS",
    "LetterItem",
    "ListingItem",
    "MessageItem",
    "ReplyItem",
    "ReportCommentItem",
    "ReportItem",
    "ThreadItem",
    "of_post",
]


class LetterItem(HiddenAtRow):
    """A thank-you letter: hidden, it leaves the wall, the community page and every profile."""

    kind = "letter"
    noun = "letter"
    flag_column = "letter_id"
    table = Letter
    hidden_notice = NotificationKind.LETTER_HIDDEN
    already_hidden = N_("This letter is hidden already.")
    not_hidden = N_("This letter is not hidden.")
    kind_label = N_("Thank-you letter")

    def __init__(self, letter: Letter) -> None:
        self.row = letter

    community_id = property(lambda self: self.row.community_id)
    author_id = property(lambda self: self.row.author_id)
    title = property(lambda self: self.row.title)
    url = property(lambda self: letter_path(id_of(self.row)))
    subject = property(lambda self: subjects.letter(id_of(self.row)))
    review_path = property(lambda self: f"{letter_path(id_of(self.row))}/review")

    def check_flag(self, actor: User, standing: CommunityStanding) -> None:
        require_member(standing)
        if self.row.author_id == actor.id:
            raise Forbidden(N_("This is your own letter."))

    def hidden_event(self, hidden: bool) -> Event:
        return LetterHidden(letter_id=id_of(self.row), community_id=self.row.community_id, hidden=hidden)

    @classmethod
    async def load(cls, session: AsyncSession, ids: Sequence[int], *, community: Community, viewer: User) -> Loaded:
        rows = await session.execute(
            with_author(select(Letter), col(Letter.author_id), id_of(community)).where(col(Letter.id).in_(ids))
        )
        return {id_of(letter): (cls(letter), person_of(user, membership)) for letter, user, membership in rows.all()}


class ListingItem(Hideable):
    """A swap or give-away. A secretary's hide removes it (a deal in progress is called off, its discussion
    goes with it) and showing it again puts it back; flags only hide it, and its discussion, until review."""

    kind = "listing"
    noun = "listing"
    audit_verbs = ("removed", "restored")
    flag_column = "listing_id"
    table = Listing
    hidden_notice = NotificationKind.REMOVED
    already_hidden = N_("This listing is already done or removed.")
    not_hidden = N_("This listing is not removed.")
    kind_label = N_("Listing")
    reason_lines = True  # its owner reads it on the listing, where there is room for several lines

    def __init__(self, listing: Listing) -> None:
        self.row = listing

    community_id = property(lambda self: self.row.community_id)
    author_id = property(lambda self: self.row.owner_id)
    title = property(lambda self: self.row.title)
    url = property(lambda self: listing_path(id_of(self.row)))
    subject = property(lambda self: subjects.listing(id_of(self.row)))
    review_path = property(lambda self: f"{listing_path(id_of(self.row))}/review")

    @property
    def body_html(self) -> str:
        return str(escape(self.row.description))

    @property
    def hidden(self) -> bool:
        return self.row.status == ListingStatus.REMOVED or self.row.hidden_at is not None

    @property
    def reason(self) -> str:
        reason: str = self.row.removed_reason
        return reason

    def check_flag(self, actor: User, standing: CommunityStanding) -> None:
        listings.require_member(standing)
        if self.row.owner_id == actor.id:
            raise Forbidden(N_("This is your own listing."))
        if self.row.status in (ListingStatus.REMOVED, ListingStatus.DONE):
            raise field_error("listing", self.already_hidden, status=409)

    async def hide(self, session: AsyncSession, *, reason: str, actor: User | None) -> bool:
        listing = self.row
        if not reason:  # flags: hidden, with its discussion, until a secretary reviews it
            if not await self._set_hidden_at(session, utcnow(), only_if_shown=True):
                return False
        elif listing.status == ListingStatus.DONE:  # handed over already: nothing to call off, it is only hidden
            if listing.removed_reason:
                return False
            await self._set_hidden_at(session, listing.hidden_at or utcnow(), removed_reason=reason)
        else:
            removed = await listings.move(
                session,
                id_of(listing),
                sources=[ListingStatus.OPEN, ListingStatus.RESERVED, ListingStatus.EXPIRED],
                to=ListingStatus.REMOVED,
                removed_reason=reason,
            )
            if removed is None:
                return False
            await offers.settle_removed(session, actor=actor, listing=removed)
            await listings.record_change(session, removed)
            return True
        await listings.record_change(session, listing, status=ListingStatus.REMOVED)  # gone from open pages
        await listings.hide_discussion(session, listing, hidden=True)
        return True

    async def show(self, session: AsyncSession, *, actor: User | None) -> bool:
        listing = self.row
        if listing.status == ListingStatus.REMOVED:
            # Open again until its 30 days are up (expired if they are). Deals the removal called off stay off,
            # and its discussion, deleted with it, does not come back.
            restored = await listings.move(
                session,
                id_of(listing),
                sources=[ListingStatus.REMOVED],
                to=ListingStatus.OPEN if listing.expires_at > utcnow() else ListingStatus.EXPIRED,
                removed_reason="",
                hidden_at=None,
            )
            if restored is None:
                return False
            await listings.record_change(session, restored)
            return True
        if listing.hidden_at is None:
            return False
        await self._set_hidden_at(session, None, removed_reason="")
        await listings.record_change(session, listing)
        await listings.hide_discussion(session, listing, hidden=False)
        return True

    async def _set_hidden_at(
        self, session: AsyncSession, when: Any, *, only_if_shown: bool = False, **values: Any
    ) -> bool:
        statement = update(Listing).where(col(Listing.id) == self.row.id)
        if only_if_shown:
            statement = statement.where(col(Listing.hidden_at).is_(None))
        changed = (await session.execute(statement.values(hidden_at=when, **values).returning(col(Listing.id)))).first()
        if changed is None:
            return False
        self.row.hidden_at = when
        for name, value in values.items():
            setattr(self.row, name, value)
        return True

    @classmethod
    async def load(cls, session: AsyncSession, ids: Sequence[int], *, community: Community, viewer: User) -> Loaded:
        rows = await session.execute(
            with_author(select(Listing), col(Listing.owner_id), id_of(community)).where(col(Listing.id).in_(ids))
        )
        return {id_of(listing): (cls(listing), person_of(user, membership)) for listing, user, membership in rows.all()}


class MessageItem(HiddenAtRow):
    """One private message, flagged by a participant: secretaries see that message alone, never its
    conversation. Hidden, the other participants see only that it was; its sender still sees it, and why."""

    kind = "message"
    noun = "message"
    flag_column = "message_id"
    table = Message
    hidden_notice = NotificationKind.MESSAGE_HIDDEN
    already_hidden = N_("This message is hidden already.")
    not_hidden = N_("This message is not hidden.")
    kind_label = N_("Private message")
    private = True  # a secretary is not told who reported their own message, nor shown the flags
    members_only = False  # a participant who has since moved away still reads the conversation

    def __init__(self, message: Message, community: Community) -> None:
        self.row, self.community = message, community

    community_id = property(lambda self: id_of(self.community))
    author_id = property(lambda self: self.row.sender_id)
    url = property(lambda self: message_path(self.row.conversation_id, id_of(self.row)))
    review_url = property(lambda self: f"{community_path(self.community.slug)}/review")
    subject = property(lambda self: subjects.message(id_of(self.row)))
    review_path = property(lambda self: f"/message/{id_of(self.row)}/review")
    queue_title = property(lambda self: "")  # a private message has no title: its kind's label heads it
    queue_link = property(lambda self: None)  # secretaries never open the conversation

    @property
    def title(self) -> str:
        """The start of its text, or a picture."""
        text = " ".join(self.row.body.split())
        return (text[:30] + "…" if len(text) > 30 else text) or "🖼"

    def check_flag(self, actor: User, standing: CommunityStanding) -> None:
        # The participant-only access check found the message; a participant may flag it whether or not they
        # still live there.
        if self.row.sender_id == actor.id:
            raise field_error("message_id", N_("You cannot report your own message."))

    def check_review(self, actor: User) -> None:
        if self.row.sender_id is not None and self.row.sender_id == actor.id:
            raise Forbidden(N_("Another secretary decides on flags about your own message."))

    def hidden_event(self, hidden: bool) -> Event:
        message = self.row
        return MessageHidden(message_id=id_of(message), conversation_id=message.conversation_id, hidden=hidden)

    @classmethod
    async def load(cls, session: AsyncSession, ids: Sequence[int], *, community: Community, viewer: User) -> Loaded:
        rows = await session.execute(
            with_author(select(Message), col(Message.sender_id), id_of(community)).where(
                col(Message.id).in_(ids),
                col(Message.sender_id).is_distinct_from(viewer.id),  # flags on one's own message are not shown
            )
        )
        return {
            id_of(message): (cls(message, community), person_of(user, membership))
            for message, user, membership in rows.all()
        }


class ReportItem(HiddenAtRow):
    """A problem report (我身边的事): hidden, it leaves the community's list and its page is gone for neighbours
    (its reporter still sees it, and why; the secretaries still handle it, and its clock still runs)."""

    kind = "report"
    noun = "report"
    flag_column = "report_id"
    table = Report
    hidden_notice = NotificationKind.REPORT_HIDDEN
    already_hidden = N_("This report is hidden already.")
    not_hidden = N_("This report is not hidden.")
    kind_label = N_("Problem report")
    reason_lines = True

    def __init__(self, report: Report) -> None:
        self.row = report

    community_id = property(lambda self: self.row.community_id)
    author_id = property(lambda self: self.row.reporter_id)
    title = property(lambda self: self.row.title)
    url = property(lambda self: report_path(id_of(self.row)))
    subject = property(lambda self: subjects.report(id_of(self.row)))
    review_path = property(lambda self: f"{report_path(id_of(self.row))}/review")

    @property
    def body_html(self) -> str:
        return str(escape(self.row.description))

    def check_flag(self, actor: User, standing: CommunityStanding) -> None:
        require_member(standing)
        if self.row.reporter_id == actor.id:
            raise Forbidden(N_("This is your own report."))

    def hidden_event(self, hidden: bool) -> Event:
        return ReportHidden(report_id=id_of(self.row), community_id=self.row.community_id, hidden=hidden).unlisted(
            self.row.is_private
        )

    async def after_change(self, session: AsyncSession, hidden: bool) -> None:
        if hidden:  # neighbours with its page open leave its room: it is gone for them
            queue_event(session, AccessChanged(user_ids=[], rooms=[rooms.REPORT(id_of(self.row))]))

    @classmethod
    async def load(cls, session: AsyncSession, ids: Sequence[int], *, community: Community, viewer: User) -> Loaded:
        rows = await session.execute(
            with_author(select(Report), col(Report.reporter_id), id_of(community)).where(col(Report.id).in_(ids))
        )
        return {id_of(report): (cls(report), person_of(user, membership)) for report, user, membership in rows.all()}


class ReportCommentItem(HiddenAtRow):
    """A comment under a report: hidden, it stays for its author (who sees why) and the secretaries."""

    kind = "report_comment"
    noun = "report_comment"
    flag_column = "report_comment_id"
    table = ReportComment
    hidden_notice = NotificationKind.COMMENT_HIDDEN
    already_hidden = N_("This comment is hidden already.")
    not_hidden = N_("This comment is not hidden.")
    kind_label = N_("Comment on a report")

    def __init__(self, comment: ReportComment, report: Report) -> None:
        self.row, self.report = comment, report

    community_id = property(lambda self: self.report.community_id)
    author_id = property(lambda self: self.row.author_id)
    url = property(lambda self: f"{report_path(id_of(self.report))}#comment-{id_of(self.row)}")
    subject = property(lambda self: subjects.report_comment(id_of(self.row)))
    review_path = property(lambda self: f"/reports/comments/{id_of(self.row)}/review")

    @property
    def title(self) -> str:
        """The report it is under."""
        title: str = self.report.title
        return title

    def check_flag(self, actor: User, standing: CommunityStanding) -> None:
        require_member(standing)
        if self.row.author_id == actor.id:
            raise Forbidden(N_("This is your own comment."))

    def hidden_event(self, hidden: bool) -> Event:
        return ReportCommentHidden(comment_id=id_of(self.row), report_id=id_of(self.report), hidden=hidden)

    async def after_change(self, session: AsyncSession, hidden: bool) -> None:
        """The report's comment count is what neighbours see: a hidden comment leaves it, one shown joins it."""
        from forum.actions.reports import report_data

        count: int = (
            await session.execute(
                update(Report)
                .where(col(Report.id) == self.report.id)
                .values(comment_count=col(Report.comment_count) + (-1 if hidden else 1))
                .returning(col(Report.comment_count))
            )
        ).scalar_one()
        self.report.comment_count = count
        record_event(session, report_data(self.report))

    @classmethod
    async def load(cls, session: AsyncSession, ids: Sequence[int], *, community: Community, viewer: User) -> Loaded:
        rows = await session.execute(
            with_author(
                select(ReportComment, Report).join(Report, col(Report.id) == col(ReportComment.report_id)),
                col(ReportComment.author_id),
                id_of(community),
            ).where(col(ReportComment.id).in_(ids))
        )
        return {
            id_of(comment): (cls(comment, report), person_of(user, membership))
            for comment, report, user, membership in rows.all()
        }


# Every kind, by the name the API and the review queue use; and how the review queue loads the items a `flag`
# column names (replies and threads share `post_id`, a thread being flagged by its opening post: `ReplyItem.load`
# gives both).
KINDS: dict[str, type[Hideable]] = {
    kind.kind: kind
    for kind in (ReplyItem, ThreadItem, LetterItem, ListingItem, MessageItem, ReportItem, ReportCommentItem)
}
Loader = Callable[..., Coroutine[Any, Any, Loaded]]
LOADERS: dict[str, Loader] = {
    kind.flag_column: kind.load
    for kind in (ReplyItem, LetterItem, ListingItem, MessageItem, ReportItem, ReportCommentItem)
}
