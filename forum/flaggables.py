"""The kinds of things neighbours flag and secretaries hide, one entry each: what its row is, which `flag` column
names it, who wrote it, what notifications and the review queue call it and link to, what open pages are told,
and what else hiding it does. `forum.actions.flags` (`flag`, `review`) and `forum.actions.hiding`
(`set_hidden`) do the rest the same way for all of them.

A new kind is one class here (a `Hideable`), its column on `flag` (`Flag.ITEM_COLUMNS` and a migration), and
its entry in `KINDS`; docs/architecture.md shows an example.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import escape
from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from forum import rooms, subjects
from forum.actions import listings, notifications, offers
from forum.actions.hiding import HiddenAtRow, Hideable
from forum.db import queue_event
from forum.errors import Forbidden, field_error
from forum.events import (
    AccessChanged,
    Event,
    LetterHidden,
    MessageHidden,
    PostHidden,
    PostShown,
    ThreadHidden,
)
from forum.i18n import N_
from forum.models import (
    Community,
    Letter,
    Listing,
    ListingStatus,
    Membership,
    Message,
    NotificationKind,
    Post,
    Thread,
    User,
    id_of,
)
from forum.paths import community_path, letter_path, listing_path, message_path, post_path, thread_path
from forum.permissions import CommunityStanding
from forum.queries.people import Person
from forum.timeutil import utcnow

Loaded = dict[int, tuple[Hideable, Person | None]]  # by the id in the kind's flag column


def _require_member(standing: CommunityStanding) -> None:
    if not standing.is_verified_member:
        raise Forbidden(N_("Only verified members of this community can flag posts."))


def _with_author(statement: Any, author_column: Any, community_id: int) -> Any:
    """`statement` with the author (a User, None if the account is gone) and their membership of the community
    (for the badge) added as its last two columns."""
    author = aliased(User)
    return (
        statement.add_columns(author, Membership)
        .outerjoin(author, col(author.id) == author_column)
        .outerjoin(
            Membership, and_(col(Membership.user_id) == col(author.id), col(Membership.community_id) == community_id)
        )
    )


def _person(user: User | None, membership: Membership | None) -> Person | None:
    return Person.of(user, membership) if user is not None else None


class ReplyItem(HiddenAtRow):
    """A reply in a thread (its opening post stands for the thread: `Thread`)."""

    kind = "reply"
    noun = "post"
    flag_column = "post_id"
    table = Post
    hidden_notice = NotificationKind.HIDDEN
    already_hidden = N_("This reply is hidden already.")
    not_hidden = N_("This reply is not hidden.")

    def __init__(self, post: Post, thread: Thread) -> None:
        self.row, self.thread = post, thread

    community_id = property(lambda self: self.thread.community_id)
    author_id = property(lambda self: self.row.author_id)
    title = property(lambda self: self.thread.title)
    url = property(lambda self: post_path(id_of(self.thread), self.row.number))
    subject = property(lambda self: subjects.post(id_of(self.row)))
    label = property(lambda self: f"thread {self.thread.id} #{self.row.number - 1}")

    @property
    def live(self) -> bool:
        return self.row.deleted_at is None

    def ids(self) -> dict[str, int]:
        return {"post_id": id_of(self.row), "thread_id": id_of(self.thread), "number": self.row.number}

    def check_flag(self, actor: User, standing: CommunityStanding) -> None:
        _require_member(standing)
        if self.row.author_id == actor.id:
            raise Forbidden(N_("This is your own post."))
        if not self.live:
            raise field_error("post", N_("This post was deleted by its author."), status=409)

    def check_hide(self, hidden: bool) -> None:
        if self.row.number == 1:
            raise field_error("post", N_("The opening post cannot be hidden on its own; lock the thread instead."))
        if not self.live:  # its author deleted it: nothing to hide or show
            raise field_error("post", N_("This post was deleted by its author."), status=409)

    def hidden_event(self, hidden: bool) -> Event:
        post = self.row
        if hidden:
            return PostHidden(post_id=id_of(post), thread_id=post.thread_id, number=post.number)
        return PostShown(post_id=id_of(post), thread_id=post.thread_id, number=post.number, body_html=post.body_html)

    async def kept(self, session: AsyncSession, *, held_by_filter: bool) -> None:
        # A new reply the word filter held made none of a post's notifications (mentions, quotes, the thread's
        # author): kept now, it makes them. (One held by an edit made them when it was first posted.)
        if held_by_filter and self.row.edited_at is None and self.row.author_id is not None:
            author = await session.get(User, self.row.author_id)
            if author is not None:
                await notifications.notify_post(session, actor=author, thread=self.thread, post=self.row)

    @classmethod
    async def load(cls, session: AsyncSession, ids: Sequence[int], *, community: Community, viewer: User) -> Loaded:
        """Flagged posts: replies, and opening posts as their threads."""
        rows = await session.execute(
            _with_author(
                select(Post, Thread).join(Thread, col(Thread.id) == col(Post.thread_id)),
                col(Post.author_id),
                id_of(community),
            ).where(col(Post.id).in_(ids))
        )
        return {
            id_of(post): (of_post(post, thread), _person(user, membership))
            for post, thread, user, membership in rows.all()
        }


class ThreadItem(HiddenAtRow):
    """A whole thread, flagged by its opening post: hidden, it leaves the board, search and its readers' pages."""

    kind = "thread"
    noun = "thread"
    flag_column = "post_id"
    table = Thread
    hidden_notice = NotificationKind.THREAD_HIDDEN
    already_hidden = N_("This thread is hidden already.")
    not_hidden = N_("This thread is not hidden.")

    def __init__(self, thread: Thread, opening: Post | None = None) -> None:
        self.row, self.opening = thread, opening

    community_id = property(lambda self: self.row.community_id)
    author_id = property(lambda self: self.row.author_id)
    title = property(lambda self: self.row.title)
    url = property(lambda self: thread_path(id_of(self.row)))
    subject = property(lambda self: subjects.thread(id_of(self.row)))
    label = property(lambda self: f"thread {self.row.id}")

    @property
    def flagged_id(self) -> int:
        if self.opening is None:
            raise ValueError("a thread is flagged by its opening post: load it")
        return id_of(self.opening)

    @property
    def body_html(self) -> str:
        return self.opening.body_html if self.opening is not None else ""

    def ids(self) -> dict[str, int]:
        return {"post_id": self.flagged_id, "thread_id": id_of(self.row), "number": 1}

    def check_flag(self, actor: User, standing: CommunityStanding) -> None:
        _require_member(standing)
        if self.row.author_id == actor.id:
            raise Forbidden(N_("This is your own post."))

    def hidden_event(self, hidden: bool) -> Event:
        return ThreadHidden(thread_id=id_of(self.row), hidden=hidden)

    async def after_change(self, session: AsyncSession, hidden: bool) -> None:
        if hidden:  # its readers who may no longer see it leave its room at once, in every process
            queue_event(session, AccessChanged(user_ids=[], rooms=[rooms.THREAD(id_of(self.row))]))


def of_post(post: Post, thread: Thread) -> Hideable:
    """What flagging or reviewing a post is about: the reply, or for the opening post its whole thread."""
    return ThreadItem(thread, post) if post.number == 1 else ReplyItem(post, thread)


class LetterItem(HiddenAtRow):
    """A thank-you letter: hidden, it leaves the wall, the community page and every profile."""

    kind = "letter"
    noun = "letter"
    flag_column = "letter_id"
    table = Letter
    hidden_notice = NotificationKind.LETTER_HIDDEN
    already_hidden = N_("This letter is hidden already.")
    not_hidden = N_("This letter is not hidden.")

    def __init__(self, letter: Letter) -> None:
        self.row = letter

    community_id = property(lambda self: self.row.community_id)
    author_id = property(lambda self: self.row.author_id)
    title = property(lambda self: self.row.title)
    url = property(lambda self: letter_path(id_of(self.row)))
    subject = property(lambda self: subjects.letter(id_of(self.row)))

    def check_flag(self, actor: User, standing: CommunityStanding) -> None:
        _require_member(standing)
        if self.row.author_id == actor.id:
            raise Forbidden(N_("This is your own letter."))

    def hidden_event(self, hidden: bool) -> Event:
        return LetterHidden(letter_id=id_of(self.row), community_id=self.row.community_id, hidden=hidden)

    @classmethod
    async def load(cls, session: AsyncSession, ids: Sequence[int], *, community: Community, viewer: User) -> Loaded:
        rows = await session.execute(
            _with_author(select(Letter), col(Letter.author_id), id_of(community)).where(col(Letter.id).in_(ids))
        )
        return {id_of(letter): (cls(letter), _person(user, membership)) for letter, user, membership in rows.all()}


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

    def __init__(self, listing: Listing) -> None:
        self.row = listing

    community_id = property(lambda self: self.row.community_id)
    author_id = property(lambda self: self.row.owner_id)
    title = property(lambda self: self.row.title)
    url = property(lambda self: listing_path(id_of(self.row)))
    subject = property(lambda self: subjects.listing(id_of(self.row)))

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
            _with_author(select(Listing), col(Listing.owner_id), id_of(community)).where(col(Listing.id).in_(ids))
        )
        return {id_of(listing): (cls(listing), _person(user, membership)) for listing, user, membership in rows.all()}


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
    private = True  # a secretary is not told who reported their own message, nor shown the flags
    members_only = False  # a participant who has since moved away still reads the conversation

    def __init__(self, message: Message, community: Community) -> None:
        self.row, self.community = message, community

    community_id = property(lambda self: id_of(self.community))
    author_id = property(lambda self: self.row.sender_id)
    url = property(lambda self: message_path(self.row.conversation_id, id_of(self.row)))
    review_url = property(lambda self: f"{community_path(self.community.slug)}/review")
    subject = property(lambda self: subjects.message(id_of(self.row)))

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
            _with_author(select(Message), col(Message.sender_id), id_of(community)).where(
                col(Message.id).in_(ids),
                col(Message.sender_id).is_distinct_from(viewer.id),  # flags on one's own message are not shown
            )
        )
        return {
            id_of(message): (cls(message, community), _person(user, membership))
            for message, user, membership in rows.all()
        }


# Every kind, by the name the API and the review queue use; and by the `flag` column that names its items
# (a thread is flagged by its opening post, so replies and threads share `post_id`, and `ReplyItem.load` gives both).
KINDS: dict[str, type[Hideable]] = {
    kind.kind: kind for kind in (ReplyItem, ThreadItem, LetterItem, ListingItem, MessageItem)
}
LOADERS = {
    "post_id": ReplyItem.load,
    "letter_id": LetterItem.load,
    "listing_id": ListingItem.load,
    "message_id": MessageItem.load,
}
