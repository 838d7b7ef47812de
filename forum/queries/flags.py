"""The review queue: a community's replies, threads (by their opening post) and thank-you letters with open
flags, most-flagged or newest first, with each flag's reason and who raised it. Four statements, whatever the
number of flags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ScalarSelect, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from forum.models import Community, Flag, Letter, Membership, Post, Thread, User
from forum.queries.people import Person

QUEUE_LIMIT = 100


@dataclass(frozen=True, slots=True)
class FlagView:
    flag: Flag
    reporter: Person | None  # None: the word filter held the reply


@dataclass(frozen=True, slots=True)
class Flagged:
    """One flagged item: a post (with its thread; the opening post stands for the thread) or a letter."""

    post: Post | None
    thread: Thread | None
    letter: Letter | None
    author: Person | None
    flags: list[FlagView]
    latest: datetime

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
        if self.is_thread:
            return self.thread is not None and self.thread.hidden_at is not None
        return self.post is not None and self.post.hidden_at is not None


async def review_queue(session: AsyncSession, community: Community, *, newest_first: bool = False) -> list[Flagged]:
    """Items with open flags: the most-flagged first (then the newest), or the newest first."""
    count, latest = func.count().label("count"), func.max(col(Flag.created_at)).label("latest")
    grouped = (
        select(col(Flag.post_id), col(Flag.letter_id), count, latest)
        .where(col(Flag.community_id) == community.id, col(Flag.resolved_at).is_(None))
        .group_by(col(Flag.post_id), col(Flag.letter_id))
        .order_by(*((latest.desc(),) if newest_first else (count.desc(), latest.desc())))
        .limit(QUEUE_LIMIT)
    )
    order = [(post_id, letter_id, when) for post_id, letter_id, _count, when in (await session.execute(grouped)).all()]
    if not order:
        return []
    post_ids = [post_id for post_id, _letter, _when in order if post_id is not None]
    letter_ids = [letter_id for _post, letter_id, _when in order if letter_id is not None]
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
    flags: dict[tuple[int | None, int | None], list[FlagView]] = {}
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
                col(Flag.post_id).in_(post_ids) | col(Flag.letter_id).in_(letter_ids),
            )
            .order_by(col(Flag.id))
        )
    ).all():
        flags.setdefault((flag.post_id, flag.letter_id), []).append(
            FlagView(flag, Person.of(user, membership) if user else None)
        )
    queue: list[Flagged] = []
    for post_id, letter_id, when in order:
        views = flags.get((post_id, letter_id), [])
        if post_id is not None and post_id in posts:
            post, thread, writer = posts[post_id]
            queue.append(Flagged(post, thread, None, writer, views, when))
        elif letter_id is not None and letter_id in letters:
            letter, writer = letters[letter_id]
            queue.append(Flagged(None, None, letter, writer, views, when))
    return queue


def open_flag_count(community_id: int) -> ScalarSelect[int]:
    """How many items wait in the community's review queue, as a column of a larger statement."""
    item = func.coalesce(col(Flag.post_id), -col(Flag.letter_id))  # letters' ids negated: one key per item
    return (
        select(func.count(func.distinct(item)))
        .where(col(Flag.community_id) == community_id, col(Flag.resolved_at).is_(None))
        .scalar_subquery()
    )
