"""The review queue: a community's replies with open flags, most-flagged or newest first, with each flag's
reason and who raised it. Three statements, whatever the number of flags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from forum.models import Community, Flag, Membership, Post, Thread, User
from forum.queries.people import Person

QUEUE_LIMIT = 100


@dataclass(frozen=True, slots=True)
class FlagView:
    flag: Flag
    reporter: Person | None  # None: the word filter held the reply


@dataclass(frozen=True, slots=True)
class FlaggedPost:
    post: Post
    thread: Thread
    author: Person | None
    flags: list[FlagView]
    latest: datetime

    @property
    def count(self) -> int:
        return len(self.flags)


async def review_queue(session: AsyncSession, community: Community, *, newest_first: bool = False) -> list[FlaggedPost]:
    """Replies with open flags: the most-flagged first (then the newest), or the newest first."""
    count, latest = func.count().label("count"), func.max(col(Flag.created_at)).label("latest")
    grouped = (
        select(col(Flag.post_id), count, latest)
        .where(col(Flag.community_id) == community.id, col(Flag.resolved_at).is_(None))
        .group_by(col(Flag.post_id))
        .order_by(*((latest.desc(),) if newest_first else (count.desc(), latest.desc())))
        .limit(QUEUE_LIMIT)
    )
    order = [(post_id, when) for post_id, _count, when in (await session.execute(grouped)).all()]
    if not order:
        return []
    ids = [post_id for post_id, _when in order]
    author = aliased(User)
    posts = {
        post.id: (post, thread, Person.of(user, membership) if user else None)
        for post, thread, user, membership in (
            await session.execute(
                select(Post, Thread, author, Membership)
                .join(Thread, col(Thread.id) == col(Post.thread_id))
                .outerjoin(author, col(author.id) == col(Post.author_id))
                .outerjoin(
                    Membership,
                    and_(col(Membership.user_id) == col(author.id), col(Membership.community_id) == community.id),
                )
                .where(col(Post.id).in_(ids))
            )
        ).all()
    }
    flags: dict[int, list[FlagView]] = {}
    for flag, user, membership in (
        await session.execute(
            select(Flag, User, Membership)
            .outerjoin(User, col(User.id) == col(Flag.reporter_id))
            .outerjoin(
                Membership, and_(col(Membership.user_id) == col(User.id), col(Membership.community_id) == community.id)
            )
            .where(col(Flag.post_id).in_(ids), col(Flag.resolved_at).is_(None))
            .order_by(col(Flag.id))
        )
    ).all():
        flags.setdefault(flag.post_id, []).append(FlagView(flag, Person.of(user, membership) if user else None))
    return [
        FlaggedPost(posts[post_id][0], posts[post_id][1], posts[post_id][2], flags.get(post_id, []), when)
        for post_id, when in order
        if post_id in posts
    ]
