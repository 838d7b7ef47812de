"""The text a reply starts with when it quotes another post."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.markup import escape_label, quote_markdown
from forum.models import Post, Thread, User
from forum.paths import post_path


def quote_for(post: Post, author: User, thread_title: str) -> str:
    """Markdown quoting `post`: "> @author [#3](link):" then its text. The label is stored in the reply and read
    in every language, so it has no words: a reply's number as the page shows it, or the thread's title for the
    opening post (which has no number on the page)."""
    label = escape_label(thread_title) if post.number == 1 else f"#{post.number - 1}"
    return quote_markdown(post.body, username=author.username, label=label, url=post_path(post.thread_id, post.number))


async def quote_of_number(session: AsyncSession, *, thread: Thread, number: int) -> str | None:
    """The quote of post `number` of a thread the caller has already been allowed to read; None if there is no
    such post or it was deleted or hidden."""
    row = (
        await session.execute(
            select(Post, User)
            .join(User, col(User.id) == col(Post.author_id))
            .where(
                col(Post.thread_id) == thread.id,
                col(Post.number) == number,
                col(Post.deleted_at).is_(None),
                col(Post.hidden_at).is_(None),  # a hidden reply is not passed on in quotes
            )
        )
    ).first()
    return quote_for(row[0], row[1], thread.title) if row else None


async def quote_of_post(session: AsyncSession, post: Post, thread: Thread) -> str | None:
    if post.deleted_at is not None or post.hidden_at is not None or post.author_id is None:  # gone or hidden
        return None
    author = await session.get(User, post.author_id)
    return quote_for(post, author, thread.title) if author else None
