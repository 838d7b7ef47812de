"""Likes: one per person per post; liking twice, or unliking what was never liked, changes nothing."""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum import subjects
from forum.actions import notifications
from forum.db import insert_for, record_event
from forum.errors import Forbidden
from forum.events import PostLiked
from forum.models import LetterLike, Like, NotificationKind, Post, Thread, User
from forum.paths import post_path
from forum.permissions import CommunityStanding, can_read_content
from forum.timeutil import utcnow


async def toggle(
    session: AsyncSession, *, model: type[Like] | type[LetterLike], owner: dict[str, int], user_id: int, liked: bool
) -> bool:
    """Add (liked) or remove one person's like row of a post or letter (`owner`: {"post_id": 7}); whether a row
    changed. A like that is there already, or an unlike of nothing, changes nothing (ON CONFLICT DO NOTHING):
    a double tap from two tabs counts once."""
    if liked:
        changed = await session.execute(
            insert_for(session)(model)
            .values(**owner, user_id=user_id, created_at=utcnow())
            .on_conflict_do_nothing()
            .returning(col(model.id))
        )
    else:
        mine = [getattr(model, column) == value for column, value in owner.items()]
        changed = await session.execute(
            delete(model).where(*mine, col(model.user_id) == user_id).returning(col(model.id))
        )
    return changed.first() is not None


async def set_like(session: AsyncSession, *, actor: User, post: Post, standing: CommunityStanding, liked: bool) -> int:
    """Like or unlike `post`; returns its like count. Idempotent, also under a double tap from two tabs: the
    insert skips an existing like (ON CONFLICT DO NOTHING) and the count moves only when a row did."""
    if not can_read_content(standing) or post.deleted_at is not None:
        raise Forbidden()
    assert actor.id is not None and post.id is not None  # noqa: S101 -- loaded rows
    if not await toggle(session, model=Like, owner={"post_id": post.id}, user_id=actor.id, liked=liked):
        return post.like_count
    step = 1 if liked else -1
    count: int = (
        await session.execute(
            update(Post)
            .where(col(Post.id) == post.id)
            .values(like_count=col(Post.like_count) + step)
            .returning(col(Post.like_count))
        )
    ).scalar_one()
    record_event(session, PostLiked(post_id=post.id, thread_id=post.thread_id, number=post.number, like_count=count))
    if not liked and post.author_id is not None:
        await notifications.withdraw(
            session, user_id=post.author_id, kind=NotificationKind.LIKE, subject=subjects.post(post.id)
        )
    if liked and post.author_id is not None:
        thread = await session.get(Thread, post.thread_id)
        assert thread is not None and thread.id is not None  # noqa: S101 -- enforced by the foreign key
        await notifications.notify(
            session,
            recipients=[post.author_id],
            kind=NotificationKind.LIKE,
            community_id=thread.community_id,
            subject=subjects.post(post.id),
            actor_id=actor.id,
            title=thread.title,
            url=post_path(thread.id, post.number),
        )
    return count
