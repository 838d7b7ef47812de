"""JSON API for boards, threads, replies and likes: the same actions and access checks as the pages."""

from __future__ import annotations

from pydantic import BaseModel, Field
from quart_rate_limiter import rate_limit
from quart_schema import tag, validate_querystring, validate_request, validate_response

from forum.access import access_board, access_community, access_post, access_thread
from forum.actions import likes, threads
from forum.api.v1 import PersonOut, blueprint
from forum.errors import NotFound
from forum.models import User
from forum.paths import post_path, thread_path
from forum.permissions import CommunityStanding, can_read_content, can_reply, can_start_thread
from forum.queries.people import Person
from forum.queries.threads import board_page, boards_of, likers, thread_page
from forum.web.context import commit, db_session, require_user
from forum.web.ratelimits import POST_LIMITS


class BoardOut(BaseModel):
    id: int
    slug: str
    name: str
    kind: str
    thread_count: int


class BoardListOut(BaseModel):
    boards: list[BoardOut]


class ThreadSummaryOut(BaseModel):
    id: int
    title: str
    author: PersonOut | None
    reply_count: int
    created_at: str
    last_posted_at: str
    url: str


class ThreadListOut(BaseModel):
    threads: list[ThreadSummaryOut]
    next_cursor: str | None
    can_start: bool


class BoardQuery(BaseModel):
    before: str | None = None


class ThreadIn(BaseModel):
    title: str = Field(max_length=1000)
    body: str = Field(max_length=100_000)


class PostOut(BaseModel):
    id: int
    number: int
    author: PersonOut | None
    body_html: str
    like_count: int
    liked_by_me: bool
    created_at: str
    url: str


class ThreadOut(BaseModel):
    id: int
    title: str
    board_id: int
    posts: list[PostOut]
    has_more: bool
    after: int
    can_reply: bool
    last_event_id: int  # subscribe to thread:<id> with after=last_event_id to follow it live


class ThreadQuery(BaseModel):
    after: int = Field(default=0, ge=0, le=2**31 - 1)


class ReplyIn(BaseModel):
    body: str = Field(max_length=100_000)


class LikeIn(BaseModel):
    value: bool


class LikeOut(BaseModel):
    post_id: int
    liked: bool
    like_count: int


class PeopleOut(BaseModel):
    people: list[PersonOut]


def _author_out(user: User, standing: CommunityStanding) -> PersonOut:
    """The actor as the author of what they just posted, badged as in that community."""
    return PersonOut(**Person.of(user, standing.membership).payload())


def _person(person: Person | None) -> PersonOut | None:
    return PersonOut(**person.payload()) if person else None


@blueprint.get("/communities/<slug>/boards")
@tag(["forum"])
@validate_response(BoardListOut)
async def list_boards(slug: str) -> BoardListOut:
    community, standing = await access_community(db_session(), require_user(), slug)
    if not can_read_content(standing):
        raise NotFound()
    rows = await boards_of(db_session(), community)
    return BoardListOut(
        boards=[
            BoardOut(
                id=row.board.id or 0,
                slug=row.board.slug,
                name=row.name,
                kind=row.board.kind,
                thread_count=row.thread_count,
            )
            for row in rows
        ]
    )


@blueprint.get("/communities/<slug>/boards/<board_slug>/threads")
@tag(["forum"])
@validate_querystring(BoardQuery)
@validate_response(ThreadListOut)
async def list_threads(slug: str, board_slug: str, query_args: BoardQuery) -> ThreadListOut:
    """Newest activity first; pass `next_cursor` back as `before` for the next page."""
    _community, board, standing = await access_board(db_session(), require_user(), slug, board_slug)
    page = await board_page(db_session(), board, cursor=query_args.before)
    return ThreadListOut(
        threads=[
            ThreadSummaryOut(
                id=row.thread.id or 0,
                title=row.thread.title,
                author=_person(row.author),
                reply_count=row.thread.post_count - 1,
                created_at=row.thread.created_at.isoformat(),
                last_posted_at=row.thread.last_posted_at.isoformat(),
                url=thread_path(row.thread.id or 0),
            )
            for row in page.threads
        ],
        next_cursor=page.next_cursor,
        can_start=can_start_thread(standing, board),
    )


@blueprint.post("/communities/<slug>/boards/<board_slug>/threads")
@tag(["forum"])
@rate_limit(limits=POST_LIMITS)
@validate_request(ThreadIn)
@validate_response(ThreadSummaryOut, 201)
async def start_thread(slug: str, board_slug: str, data: ThreadIn) -> tuple[ThreadSummaryOut, int]:
    user = require_user()
    _community, board, standing = await access_board(db_session(), user, slug, board_slug)
    thread = await threads.create_thread(
        db_session(), actor=user, board=board, standing=standing, title=data.title, body=data.body
    )
    await commit()
    author = _author_out(user, standing)
    return ThreadSummaryOut(
        id=thread.id or 0,
        title=thread.title,
        author=author,
        reply_count=0,
        created_at=thread.created_at.isoformat(),
        last_posted_at=thread.last_posted_at.isoformat(),
        url=thread_path(thread.id or 0),
    ), 201


@blueprint.get("/threads/<id:thread_id>")
@tag(["forum"])
@validate_querystring(ThreadQuery)
@validate_response(ThreadOut)
async def get_thread(thread_id: int, query_args: ThreadQuery) -> ThreadOut:
    """Fifty posts after `after` (0: from the start)."""
    user = require_user()
    thread, board, _community, standing = await access_thread(db_session(), user, thread_id)
    page = await thread_page(db_session(), thread, viewer=user, after=query_args.after)
    return ThreadOut(
        id=thread.id or 0,
        title=thread.title,
        board_id=board.id or 0,
        posts=[
            PostOut(
                id=row.post.id or 0,
                number=row.post.number,
                author=_person(row.author),
                body_html=row.post.body_html,
                like_count=row.post.like_count,
                liked_by_me=row.post.id in page.liked,
                created_at=row.post.created_at.isoformat(),
                url=post_path(thread.id or 0, row.post.number),
            )
            for row in page.posts
        ],
        has_more=page.has_more,
        after=page.after,
        can_reply=can_reply(standing, board),
        last_event_id=page.last_event_id,
    )


@blueprint.post("/threads/<id:thread_id>/replies")
@tag(["forum"])
@rate_limit(limits=POST_LIMITS)
@validate_request(ReplyIn)
@validate_response(PostOut, 201)
async def reply(thread_id: int, data: ReplyIn) -> tuple[PostOut, int]:
    user = require_user()
    thread, board, _community, standing = await access_thread(db_session(), user, thread_id)
    post = await threads.reply(db_session(), actor=user, thread=thread, board=board, standing=standing, body=data.body)
    await commit()
    author = _author_out(user, standing)
    return PostOut(
        id=post.id or 0,
        number=post.number,
        author=author,
        body_html=post.body_html,
        like_count=0,
        liked_by_me=False,
        created_at=post.created_at.isoformat(),
        url=post_path(thread_id, post.number),
    ), 201


@blueprint.put("/posts/<id:post_id>/like")
@tag(["forum"])
@validate_request(LikeIn)
@validate_response(LikeOut)
async def set_like(post_id: int, data: LikeIn) -> LikeOut:
    """Idempotent: liking twice is liking once."""
    user = require_user()
    post, _thread, _board, _community, standing = await access_post(db_session(), user, post_id)
    count = await likes.set_like(db_session(), actor=user, post=post, standing=standing, liked=data.value)
    await commit()
    return LikeOut(post_id=post_id, liked=data.value, like_count=count)


@blueprint.get("/posts/<id:post_id>/likes")
@tag(["forum"])
@validate_response(PeopleOut)
async def get_likers(post_id: int) -> PeopleOut:
    post, _thread, _board, community, _standing = await access_post(db_session(), require_user(), post_id)
    people = await likers(db_session(), post, community_id=community.id or 0)
    return PeopleOut(people=[PersonOut(**person.payload()) for person in people])
