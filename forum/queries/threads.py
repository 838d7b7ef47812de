"""Read paths of boards and threads: one statement per list, keyset pages, constant in the number of rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.i18n import N_, gettext
from forum.models import (
    Board,
    BoardKind,
    Community,
    Event,
    Like,
    Membership,
    Post,
    PostImage,
    PostRevision,
    Thread,
    User,
)
from forum.paths import POSTS_PER_PAGE
from forum.queries.people import Person
from forum.sqlite_driver import long_reads
from forum.timeutil import utcnow

THREADS_PER_PAGE = 30
DEFAULT_BOARD_NAMES = {
    BoardKind.TALK: N_("Neighbourhood talk"),
    BoardKind.NOTICES: N_("Notices"),
    BoardKind.GUIDES: N_("Guides"),
    BoardKind.SALE: N_("Charity sales"),
    BoardKind.SWAP: N_("Item swaps"),
}


PINNED_MOST = 10  # threads pinned above a board's others at once


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


async def boards_of(session: AsyncSession, community: Community, *, include_archived: bool = False) -> list[BoardRow]:
    """The community's boards in their order; archived ones (after the open ones) only when asked for. Counting
    a board's threads reads all of them (tens of ms at 100,000): off the event loop on SQLite."""
    counts = (
        select(func.count())
        .where(col(Thread.board_id) == col(Board.id), col(Thread.is_deleted).is_(False))
        .correlate(Board)
        .scalar_subquery()
    )
    with long_reads():
        rows = (
            await session.execute(
                select(Board, counts)
                .where(
                    col(Board.community_id) == community.id,
                    *([] if include_archived else [col(Board.is_archived).is_(False)]),
                )
                .order_by(col(Board.is_archived), col(Board.position), col(Board.id))
            )
        ).all()
    return [BoardRow(board, board_name(board), int(count)) for board, count in rows]


@dataclass(frozen=True, slots=True)
class ThreadView:
    """A thread as a board lists it."""

    id: int
    board_id: int
    author_id: int | None
    title: str
    post_count: int
    created_at: datetime
    last_posted_at: datetime


@dataclass(frozen=True, slots=True)
class ThreadRow:
    thread: ThreadView
    author: Person | None


@dataclass(frozen=True)
class BoardPage:
    threads: list[ThreadRow]
    next_cursor: str | None  # "<iso time>_<id>" of the last thread shown, when there are more
    last_event_id: int  # events up to here are reflected on the page
    pinned: list[ThreadRow] = field(default_factory=list)  # above the rest, on the first page only


CURSOR_MAX = 64  # "<iso time>_<id>" is 43 characters at most


def parse_cursor(raw: str | None) -> tuple[datetime, int] | None:
    """A board page cursor; anything malformed means 'from the top' rather than an error."""
    if not raw or "_" not in raw or len(raw) > CURSOR_MAX:
        return None
    stamp, _, raw_id = raw.rpartition("_")
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if not raw_id.isdigit() or len(raw_id) > 10 or parsed.tzinfo is None:
        return None
    return parsed, int(raw_id)


def _person(author_id: int | None, username: str | None, display_name: str | None, badge: bool | None) -> Person | None:
    if author_id is None or username is None or display_name is None:
        return None
    return Person(author_id, username, display_name, bool(badge))


async def board_page(session: AsyncSession, board: Board, *, cursor: str | None = None) -> BoardPage:
    """Threads by latest activity, newest first, THREADS_PER_PAGE at a time after the keyset `cursor`, with
    their authors and the newest event id: one statement (one more for an empty page). The index on
    (board_id, last_posted_at) serves any depth without an OFFSET."""
    statement = (
        select(
            col(Thread.id),
            col(Thread.board_id),
            col(Thread.author_id),
            col(Thread.title),
            col(Thread.post_count),
            col(Thread.created_at),
            col(Thread.last_posted_at),
            col(User.username),
            col(User.display_name),
            col(Membership.is_party_member),
            _newest_event_id().label("last_event_id"),
        )
        .select_from(Thread)
        .outerjoin(User, col(User.id) == col(Thread.author_id))
        .outerjoin(
            Membership,
            and_(col(Membership.user_id) == col(Thread.author_id), col(Membership.community_id) == board.community_id),
        )
        .where(col(Thread.board_id) == board.id, col(Thread.is_deleted).is_(False), col(Thread.hidden_at).is_(None))
        .order_by(col(Thread.last_posted_at).desc(), col(Thread.id).desc())
        .limit(THREADS_PER_PAGE + 1)
    )
    now = utcnow()
    pinned_now = and_(
        col(Thread.pinned_at).is_not(None), or_(col(Thread.pinned_until).is_(None), col(Thread.pinned_until) > now)
    )
    pinned_rows: Sequence[Any] = []
    if cursor is None:
        pinned_rows = (
            await session.execute(
                statement.where(pinned_now).order_by(None).order_by(col(Thread.pinned_at).desc()).limit(PINNED_MOST)
            )
        ).all()
    statement = statement.where(~pinned_now)  # listed once: above the rest while pinned
    position = parse_cursor(cursor)
    if position is not None:
        stamp, thread_id = position
        # A row-value comparison, which both databases answer with one range of ix_thread_board_last_posted_id.
        statement = statement.where(tuple_(col(Thread.last_posted_at), col(Thread.id)) < tuple_(stamp, thread_id))
    rows = (await session.execute(statement)).all()
    threads = [
        ThreadRow(
            ThreadView(*row[:7]),  # type: ignore[arg-type]  # a stored row's id is never None
            _person(row.author_id, row.username, row.display_name, row.is_party_member),
        )
        for row in rows[:THREADS_PER_PAGE]
    ]
    next_cursor = None
    if len(rows) > THREADS_PER_PAGE:
        last = threads[-1].thread
        next_cursor = f"{last.last_posted_at.isoformat()}_{last.id}"
    last_event_id = rows[0].last_event_id or 0 if rows else await latest_event_id(session)
    pinned = [
        ThreadRow(
            ThreadView(*row[:7]),
            _person(row.author_id, row.username, row.display_name, row.is_party_member),
        )
        for row in pinned_rows
    ]
    return BoardPage(threads, next_cursor, last_event_id, pinned)


class PostView(NamedTuple):
    """A post as pages and the API show it: the columns they read, without an ORM object per row (a
    NamedTuple: fifty a page, and a frozen dataclass's __init__ costs several times a tuple's)."""

    id: int
    thread_id: int
    number: int
    author_id: int | None
    body_html: str
    like_count: int
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    hidden_at: datetime | None
    hidden_reason: str
    moderator_note: str


class PostRow(NamedTuple):
    post: PostView
    author: Person | None


@dataclass(frozen=True)
class ThreadPage:
    posts: list[PostRow]
    after: int  # the cursor this page started after
    has_more: bool
    # Events up to here are reflected on the page; the live client resumes after it.
    last_event_id: int
    liked: frozenset[int]  # ids of the posts on this page that the viewer likes
    images: dict[int, list[PostImage]]  # post id -> its pictures in order (posts without any are absent)

    @property
    def earlier_after(self) -> int:
        """The cursor of the page before this one."""
        return max(0, self.after - POSTS_PER_PAGE)

    @property
    def later_after(self) -> int:
        return self.after + POSTS_PER_PAGE


def _newest_event_id() -> Any:
    return select(func.max(col(Event.id))).scalar_subquery()


def _thread_page_statement() -> Any:
    """Built once: building and keying a statement this size costs more than running it on SQLite."""
    liked = (
        select(col(Like.id))
        .where(col(Like.post_id) == col(Post.id), col(Like.user_id) == bindparam("viewer_id"))
        .exists()
    )
    pictures = select(func.count()).where(col(PostImage.post_id) == col(Post.id)).correlate(Post).scalar_subquery()
    return (
        select(
            col(Post.id),
            col(Post.thread_id),
            col(Post.number),
            col(Post.author_id),
            col(Post.body_html),
            col(Post.like_count),
            col(Post.created_at),
            col(Post.edited_at),
            col(Post.deleted_at),
            col(Post.hidden_at),
            col(Post.hidden_reason),
            col(Post.moderator_note),
            col(User.username),
            col(User.display_name),
            col(Membership.is_party_member),
            liked.label("liked"),
            pictures.label("pictures"),
            _newest_event_id().label("last_event_id"),
        )
        .select_from(Post)
        .outerjoin(User, col(User.id) == col(Post.author_id))
        .outerjoin(
            Membership,
            and_(
                col(Membership.user_id) == col(Post.author_id),
                col(Membership.community_id) == bindparam("community_id"),
            ),
        )
        .where(col(Post.thread_id) == bindparam("thread_id"), col(Post.number) > bindparam("after"))
        .order_by(col(Post.number))
        .limit(POSTS_PER_PAGE + 1)
    )


_THREAD_PAGE = _thread_page_statement()


async def thread_page(session: AsyncSession, thread: Thread, *, viewer: User, after: int = 0) -> ThreadPage:
    """Posts numbered after `after`, POSTS_PER_PAGE of them, with their authors, whether the viewer likes each,
    how many pictures each has and the id of the newest event: one statement, whatever the number of posts and
    likes (one more for an empty page, one more when a post on it has pictures). Its one snapshot makes the
    event id and the posts agree: the live client resumes after that id and ignores by post number anything
    the page already shows."""
    rows = (
        await session.execute(
            _THREAD_PAGE,
            {"viewer_id": viewer.id, "community_id": thread.community_id, "thread_id": thread.id, "after": after},
        )
    ).all()
    posts = [
        PostRow(
            PostView(*row[:12]),
            _person(row.author_id, row.username, row.display_name, row.is_party_member),
        )
        for row in rows[:POSTS_PER_PAGE]
    ]
    liked_ids = frozenset(row.id for row in rows[:POSTS_PER_PAGE] if row.liked)
    last_event_id = rows[0].last_event_id or 0 if rows else await latest_event_id(session)
    images = await pictures_of(session, [row.id for row in rows[:POSTS_PER_PAGE] if row.pictures])
    return ThreadPage(posts, after, len(rows) > POSTS_PER_PAGE, last_event_id, liked_ids, images)


_PICTURES_OF = (
    select(PostImage)
    .where(col(PostImage.post_id).in_(bindparam("post_ids", expanding=True)))
    .order_by(col(PostImage.post_id), col(PostImage.position))
)


async def pictures_of(session: AsyncSession, post_ids: Sequence[int]) -> dict[int, list[PostImage]]:
    """The pictures of these posts, by post id, in order; one statement, none for no posts."""
    images: dict[int, list[PostImage]] = {}
    if post_ids:
        for image in (await session.execute(_PICTURES_OF, {"post_ids": list(post_ids)})).scalars():
            images.setdefault(image.post_id, []).append(image)
    return images


async def images_of(session: AsyncSession, *, thread_id: int, numbers: Sequence[int]) -> dict[int, list[PostImage]]:
    """The pictures of the posts with these numbers in a thread, by post id, in order; one statement (none for
    no posts). Deleted posts have none left (forum.actions.images.remove_images)."""
    if not numbers:
        return {}
    images: dict[int, list[PostImage]] = {}
    rows = await session.execute(
        select(PostImage)
        .join(Post, col(Post.id) == col(PostImage.post_id))
        .where(col(Post.thread_id) == thread_id, col(Post.number).in_(numbers))
        .order_by(col(PostImage.post_id), col(PostImage.position))
    )
    for image in rows.scalars():
        images.setdefault(image.post_id, []).append(image)
    return images


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


async def discussion_replies(session: AsyncSession, thread_id: int | None) -> int | None:
    """How many replies a sale's or listing's discussion thread has; None when it has none (any more)."""
    if thread_id is None:
        return None
    count = (
        await session.execute(
            select(col(Thread.post_count)).where(
                col(Thread.id) == thread_id, col(Thread.is_deleted).is_(False), col(Thread.hidden_at).is_(None)
            )
        )
    ).scalar_one_or_none()
    return None if count is None else max(count - 1, 0)


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
