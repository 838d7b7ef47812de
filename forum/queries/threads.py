"""Read paths of boards and threads: one statement per list, keyset pages, constant in the number of rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.i18n import N_, gettext
from forum.models import Board, BoardKind, Community, Event, Like, Membership, Post, PostRevision, Thread, User
from forum.paths import POSTS_PER_PAGE
from forum.queries.people import Person

THREADS_PER_PAGE = 30
DEFAULT_BOARD_NAMES = {
    BoardKind.TALK: N_("Neighbourhood talk"),
    BoardKind.NOTICES: N_("Notices"),
    BoardKind.GUIDES: N_("Guides"),
    BoardKind.SALE: N_("Charity sales"),
    BoardKind.SWAP: N_("Item swaps"),
}


def board_name(board: Board) -> str:
    """A renamed board keeps its name; a default one is named in the reader's language."""
    return board.name or gettext(DEFAULT_BOARD_NAMES.get(BoardKind(board.kind), N_("Board")))


def _author(user: User | None, membership: Membership | None) -> Person | None:
    return Person.of(user, membership) if user is not None else None


def _with_author(community_id: int, author_column: Any) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """Join conditions for an author and their membership in the community (for the badge)."""
    return (
        col(User.id) == author_column,
        and_(col(Membership.user_id) == col(User.id), col(Membership.community_id) == community_id),
    )


@dataclass(frozen=True)
class BoardRow:
    board: Board
    name: str
    thread_count: int


async def boards_of(session: AsyncSession, community: Community) -> list[BoardRow]:
    counts = (
        select(func.count())
        .where(col(Thread.board_id) == col(Board.id), col(Thread.is_deleted).is_(False))
        .correlate(Board)
        .scalar_subquery()
    )
    rows = (
        await session.execute(
            select(Board, counts)
            .where(col(Board.community_id) == community.id, col(Board.is_archived).is_(False))
            .order_by(col(Board.position), col(Board.id))
        )
    ).all()
    return [BoardRow(board, board_name(board), int(count)) for board, count in rows]


@dataclass(frozen=True)
class ThreadRow:
    thread: Thread
    author: Person | None


@dataclass(frozen=True)
class BoardPage:
    threads: list[ThreadRow]
    next_cursor: str | None  # "<iso time>_<id>" of the last thread shown, when there are more


def parse_cursor(raw: str | None) -> tuple[datetime, int] | None:
    """A board page cursor; anything malformed means 'from the top' rather than an error."""
    if not raw or "_" not in raw:
        return None
    stamp, _, raw_id = raw.rpartition("_")
    try:
        return datetime.fromisoformat(stamp), int(raw_id)
    except ValueError:
        return None


async def board_page(session: AsyncSession, board: Board, *, cursor: str | None = None) -> BoardPage:
    """Threads by latest activity, newest first, THREADS_PER_PAGE at a time."""
    user_join, membership_join = _with_author(board.community_id, col(Thread.author_id))
    statement = (
        select(Thread, User, Membership)
        .outerjoin(User, user_join)
        .outerjoin(Membership, membership_join)
        .where(col(Thread.board_id) == board.id, col(Thread.is_deleted).is_(False))
        .order_by(col(Thread.last_posted_at).desc(), col(Thread.id).desc())
        .limit(THREADS_PER_PAGE + 1)
    )
    position = parse_cursor(cursor)
    if position is not None:
        stamp, thread_id = position
        statement = statement.where(
            or_(
                col(Thread.last_posted_at) < stamp,
                and_(col(Thread.last_posted_at) == stamp, col(Thread.id) < thread_id),
            )
        )
    rows = (await session.execute(statement)).all()
    threads = [ThreadRow(thread, _author(user, membership)) for thread, user, membership in rows[:THREADS_PER_PAGE]]
    next_cursor = None
    if len(rows) > THREADS_PER_PAGE:
        last = threads[-1].thread
        next_cursor = f"{last.last_posted_at.isoformat()}_{last.id}"
    return BoardPage(threads, next_cursor)


@dataclass(frozen=True)
class PostRow:
    post: Post
    author: Person | None


@dataclass(frozen=True)
class ThreadPage:
    posts: list[PostRow]
    after: int  # the cursor this page started after
    has_more: bool
    # Events up to here are reflected on the page; the live client resumes after it.
    last_event_id: int
    liked: frozenset[int]  # ids of the posts on this page that the viewer likes

    @property
    def earlier_after(self) -> int:
        """The cursor of the page before this one."""
        return max(0, self.after - POSTS_PER_PAGE)

    @property
    def later_after(self) -> int:
        return self.after + POSTS_PER_PAGE


async def thread_page(session: AsyncSession, thread: Thread, *, viewer: User, after: int = 0) -> ThreadPage:
    """Posts numbered after `after`, POSTS_PER_PAGE of them, with the id of the newest event so far.

    The event id is read first: anything committed later is either already on the page (the client ignores the
    duplicate by post number) or arrives as an event after that id, so nothing falls in between."""
    last_event_id = await latest_event_id(session)
    user_join, membership_join = _with_author(thread.community_id, col(Post.author_id))
    rows = (
        await session.execute(
            select(Post, User, Membership)
            .outerjoin(User, user_join)
            .outerjoin(Membership, membership_join)
            .where(col(Post.thread_id) == thread.id, col(Post.number) > after)
            .order_by(col(Post.number))
            .limit(POSTS_PER_PAGE + 1)
        )
    ).all()
    posts = [PostRow(post, _author(user, membership)) for post, user, membership in rows[:POSTS_PER_PAGE]]
    liked = frozenset(
        (
            await session.execute(
                select(col(Like.post_id)).where(
                    col(Like.user_id) == viewer.id, col(Like.post_id).in_([row.post.id for row in posts])
                )
            )
        ).scalars()
    )
    return ThreadPage(posts, after, len(rows) > POSTS_PER_PAGE, last_event_id, liked)


async def likers(session: AsyncSession, post: Post, *, community_id: int, limit: int = 200) -> list[Person]:
    """Who liked a post, most recent first, as names shown in the post's community."""
    user_join, membership_join = _with_author(community_id, col(Like.user_id))
    rows = (
        await session.execute(
            select(User, Membership)
            .select_from(Like)
            .join(User, user_join)
            .outerjoin(Membership, membership_join)
            .where(col(Like.post_id) == post.id)
            .order_by(col(Like.created_at).desc(), col(Like.id).desc())
            .limit(limit)
        )
    ).all()
    return [Person.of(user, membership) for user, membership in rows]


async def latest_event_id(session: AsyncSession) -> int:
    newest: int | None = (await session.execute(select(func.max(col(Event.id))))).scalar_one()
    return newest or 0


async def revisions(session: AsyncSession, post: Post) -> list[PostRevision]:
    """Earlier texts of a post, newest first."""
    return list(
        (
            await session.execute(
                select(PostRevision).where(col(PostRevision.post_id) == post.id).order_by(col(PostRevision.id).desc())
            )
        ).scalars()
    )
