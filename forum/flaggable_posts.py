"""The kinds of flaggable post: a reply, and a whole thread (flagged by its opening post). In a module of their
own, below `forum.flaggables` (the table of every kind), because the forum's own actions use them: the word
filter's hold in `forum.actions.threads` goes through the same path, and the table imports the market's actions,
which import the forum's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from forum import rooms, subjects
from forum.actions import notifications
from forum.actions.hiding import HiddenAtRow, Hideable
from forum.db import queue_event
from forum.errors import Forbidden, field_error
from forum.events import AccessChanged, Event, PostHidden, PostShown, ThreadHidden
from forum.i18n import N_
from forum.models import Community, Membership, NotificationKind, Post, Thread, User, id_of
from forum.paths import post_action_path, post_path, thread_path
from forum.permissions import CommunityStanding
from forum.queries.people import Person

Loaded = dict[int, tuple[Hideable, Person | None]]  # by the id in the kind's flag column


def require_member(standing: CommunityStanding) -> None:
    if not standing.is_verified_member:
        raise Forbidden(N_("Only verified members of this community can flag posts."))


def with_author(statement: Any, author_column: Any, community_id: int) -> Any:
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


def person_of(user: User | None, membership: Membership | None) -> Person | None:
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
    kind_label = N_("Reply")

    def __init__(self, post: Post, thread: Thread) -> None:
        self.row, self.thread = post, thread

    community_id = property(lambda self: self.thread.community_id)
    author_id = property(lambda self: self.row.author_id)
    title = property(lambda self: self.thread.title)
    url = property(lambda self: post_path(id_of(self.thread), self.row.number))
    subject = property(lambda self: subjects.post(id_of(self.row)))
    label = property(lambda self: f"thread {self.thread.id} #{self.row.number - 1}")
    queue_title = property(lambda self: f"{self.thread.title} #{self.row.number - 1}")
    review_path = property(lambda self: post_action_path(id_of(self.row), "review"))

    @property
    def live(self) -> bool:
        return self.row.deleted_at is None

    def ids(self) -> dict[str, int]:
        return {"post_id": id_of(self.row), "thread_id": id_of(self.thread), "number": self.row.number}

    def check_flag(self, actor: User, standing: CommunityStanding) -> None:
        require_member(standing)
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
            with_author(
                select(Post, Thread).join(Thread, col(Thread.id) == col(Post.thread_id)),
                col(Post.author_id),
                id_of(community),
            ).where(col(Post.id).in_(ids))
        )
        return {
            id_of(post): (of_post(post, thread), person_of(user, membership))
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
    kind_label = N_("Thread")

    def __init__(self, thread: Thread, opening: Post | None = None) -> None:
        self.row, self.opening = thread, opening

    community_id = property(lambda self: self.row.community_id)
    author_id = property(lambda self: self.row.author_id)
    title = property(lambda self: self.row.title)
    url = property(lambda self: thread_path(id_of(self.row)))
    label = property(lambda self: f"thread {self.row.id}")
    review_path = property(lambda self: post_action_path(self.flagged_id, "review"))

    @property
    def subject(self) -> str:
        """Its opening post's, when it was flagged by it (as the post's notifications are, so deleting the post
        forgets them); the thread's when a secretary hides it from the thread's page."""
        return subjects.post(id_of(self.opening)) if self.opening is not None else subjects.thread(id_of(self.row))

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
        require_member(standing)
        if self.row.author_id == actor.id:
            raise Forbidden(N_("This is your own post."))
        if self.opening is not None and self.opening.deleted_at is not None:
            raise field_error("post", N_("This post was deleted by its author."), status=409)

    def hidden_event(self, hidden: bool) -> Event:
        return ThreadHidden(thread_id=id_of(self.row), hidden=hidden)

    async def after_change(self, session: AsyncSession, hidden: bool) -> None:
        if hidden:  # its readers who may no longer see it leave its room at once, in every process
            queue_event(session, AccessChanged(user_ids=[], rooms=[rooms.THREAD(id_of(self.row))]))


def of_post(post: Post, thread: Thread) -> Hideable:
    """What flagging or reviewing a post is about: the reply, or for the opening post its whole thread."""
    return ThreadItem(thread, post) if post.number == 1 else ReplyItem(post, thread)
