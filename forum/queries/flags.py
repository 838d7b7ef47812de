"""The review queue: a community's replies, threads (by their opening post), thank-you letters, listings and
private messages with open flags, most-flagged or newest first, with each flag's reason and who raised it. At
most seven statements, whatever the number of flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ScalarSelect, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from forum.models import (
    Community,
    Flag,
    Letter,
    Listing,
    ListingStatus,
    Membership,
    Message,
    MessageImage,
    Post,
    Thread,
    User,
)
from forum.queries.messages import pictures_of
from forum.queries.people import Person

QUEUE_LIMIT = 100


@dataclass(frozen=True, slots=True)
class FlagView:
    flag: Flag
    reporter: Person | None  # None: the word filter held the reply


@dataclass(frozen=True, slots=True)
class Flagged:
    """One flagged item: a post (with its thread; the opening post stands for the thread), a letter, a
    listing, or a private message (that one message, never its conversation)."""

    post: Post | None
    thread: Thread | None
    letter: Letter | None
    listing: Listing | None
    message: Message | None
    author: Person | None
    flags: list[FlagView]
    latest: datetime
    pictures: list[MessageImage] = field(default_factory=list)  # a flagged message's, shown with its text

    @property
    def count(self) -> int:
        return len(self.flags)

    @property
    def is_thread(self) -> bool:
        return self.post is not None and self.post.number == 1

    @property
    def hidden(self) -> bool:
        if self.letter is not None:
            return self.letter.hidden_at is not None
        if self.listing is not None:
            return self.listing.hidden_at is not None or self.listing.status == ListingStatus.REMOVED
        if self.message is not None:
            return self.message.hidden_at is not None
        if self.is_thread:
            return self.thread is not None and self.thread.hidden_at is not None
        return self.post is not None and self.post.hidden_at is not None


async def review_queue(
    session: AsyncSession, community: Community, *, viewer: User, newest_first: bool = False
) -> list[Flagged]:
    """Items with open flags: the most-flagged first (then the newest), or the newest first. Flags on the
    viewer's own private messages are left to the other secretaries: who reported someone privately is not
    shown to that someone."""
    count, latest = func.count().label("count"), func.max(col(Flag.created_at)).label("latest")
    grouped = (
        select(col(Flag.post_id), col(Flag.letter_id), col(Flag.listing_id), col(Flag.message_id), count, latest)
        .where(col(Flag.community_id) == community.id, col(Flag.resolved_at).is_(None))
        .group_by(col(Flag.post_id), col(Flag.letter_id), col(Flag.listing_id), col(Flag.message_id))
        .order_by(*((latest.desc(),) if newest_first else (count.desc(), latest.desc())))
        .limit(QUEUE_LIMIT)
    )
    order = [
        ((post_id, letter_id, listing_id, message_id), when)
        for post_id, letter_id, listing_id, message_id, _count, when in (await session.execute(grouped)).all()
    ]
    if not order:
        return []
    post_ids = [key[0] for key, _when in order if key[0] is not None]
    letter_ids = [key[1] for key, _when in order if key[1] is not None]
    listing_ids = [key[2] for key, _when in order if key[2] is not None]
    message_ids = [key[3] for key, _when in order if key[3] is not None]
    author = aliased(User)

    posts: dict[int, tuple[Post, Thread, Person | None]] = {}
    if post_ids:
        for post, thread, user, membership in (
            await session.execute(
                select(Post, Thread, author, Membership)
                .join(Thread, col(Thread.id) == col(Post.thread_id))
                .outerjoin(author, col(author.id) == col(Post.author_id))
                .outerjoin(
                    Membership,
                    and_(col(Membership.user_id) == col(author.id), col(Membership.community_id) == community.id),
                )
                .where(col(Post.id).in_(post_ids))
            )
        ).all():
            posts[post.id or 0] = (post, thread, Person.of(user, membership) if user else None)
    letters: dict[int, tuple[Letter, Person | None]] = {}
    if letter_ids:
        for letter, user, membership in (
            await session.execute(
                select(Letter, author, Membership)
                .outerjoin(author, col(author.id) == col(Letter.author_id))
                .outerjoin(
                    Membership,
                    and_(col(Membership.user_id) == col(author.id), col(Membership.community_id) == community.id),
                )
                .where(col(Letter.id).in_(letter_ids))
            )
        ).all():
            letters[letter.id or 0] = (letter, Person.of(user, membership) if user else None)
    listings: dict[int, tuple[Listing, Person | None]] = {}
    if listing_ids:
        for listing, user, membership in (
            await session.execute(
                select(Listing, author, Membership)
                .outerjoin(author, col(author.id) == col(Listing.owner_id))
                .outerjoin(
                    Membership,
                    and_(col(Membership.user_id) == col(author.id), col(Membership.community_id) == community.id),
                )
                .where(col(Listing.id).in_(listing_ids))
            )
        ).all():
            listings[listing.id or 0] = (listing, Person.of(user, membership) if user else None)
    messages: dict[int, tuple[Message, Person | None]] = {}
    if message_ids:
        for message, user, membership in (
            await session.execute(
                select(Message, author, Membership)
                .outerjoin(author, col(author.id) == col(Message.sender_id))
                .outerjoin(
                    Membership,
                    and_(col(Membership.user_id) == col(author.id), col(Membership.community_id) == community.id),
                )
                .where(col(Message.id).in_(message_ids), col(Message.sender_id).is_distinct_from(viewer.id))
            )
        ).all():
            messages[message.id or 0] = (message, Person.of(user, membership) if user else None)
    pictures = await pictures_of(session, message_ids) if message_ids else {}
    flags: dict[tuple[int | None, ...], list[FlagView]] = {}
    for flag, user, membership in (
        await session.execute(
            select(Flag, User, Membership)
            .outerjoin(User, col(User.id) == col(Flag.reporter_id))
            .outerjoin(
                Membership, and_(col(Membership.user_id) == col(User.id), col(Membership.community_id) == community.id)
            )
            .where(
                col(Flag.community_id) == community.id,
                col(Flag.resolved_at).is_(None),
                col(Flag.post_id).in_(post_ids)
                | col(Flag.letter_id).in_(letter_ids)
                | col(Flag.listing_id).in_(listing_ids)
                | col(Flag.message_id).in_(message_ids),
            )
            .order_by(col(Flag.id))
        )
    ).all():
        flags.setdefault((flag.post_id, flag.letter_id, flag.listing_id, flag.message_id), []).append(
            FlagView(flag, Person.of(user, membership) if user else None)
        )
    queue: list[Flagged] = []
    for key, when in order:
        post_id, letter_id, listing_id, message_id = key
        views = flags.get(key, [])
        if post_id is not None and post_id in posts:
            post, thread, writer = posts[post_id]
            queue.append(Flagged(post, thread, None, None, None, writer, views, when))
        elif letter_id is not None and letter_id in letters:
            letter, writer = letters[letter_id]
            queue.append(Flagged(None, None, letter, None, None, writer, views, when))
        elif listing_id is not None and listing_id in listings:
            listing, writer = listings[listing_id]
            queue.append(Flagged(None, None, None, listing, None, writer, views, when))
        elif message_id is not None and message_id in messages:
            message, writer = messages[message_id]
            queue.append(Flagged(None, None, None, None, message, writer, views, when, pictures.get(message_id, [])))
    return queue


def open_flag_count(community_id: int) -> ScalarSelect[int]:
    """How many items wait in the community's review queue, as a column of a larger statement."""
    # One number per item: ids of the four kinds kept apart by their remainder.
    item = func.coalesce(
        col(Flag.post_id) * 4, col(Flag.letter_id) * 4 + 1, col(Flag.listing_id) * 4 + 2, col(Flag.message_id) * 4 + 3
    )
    return (
        select(func.count(func.distinct(item)))
        .where(col(Flag.community_id) == community_id, col(Flag.resolved_at).is_(None))
        .scalar_subquery()
    )
