"""JSON API for boards, threads, replies and likes: the same actions and access checks as the pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, Field
from quart_rate_limiter import rate_limit
from quart_schema import tag, validate_querystring, validate_request, validate_response
from quart_schema.pydantic import File

from forum import search
from forum.access import access_board, access_community_content, access_post, access_thread
from forum.actions import likes, threads
from forum.actions.threads import NOTE_MAX, TITLE_MAX, image_data
from forum.api.bodies import validate_json_or_multipart
from forum.api.schemas import PersonOut
from forum.api.v1 import blueprint
from forum.errors import Forbidden, NotFound
from forum.markup import MAX_BODY_CHARS
from forum.models import StoredImage, User, id_of
from forum.paths import image_path, post_path, thread_path
from forum.permissions import (
    CommunityStanding,
    can_manage_boards,
    can_moderate,
    can_reply,
    can_see_hidden,
    can_see_history,
    can_see_post_text,
    can_start_thread,
)
from forum.queries.people import Person, mention_candidates
from forum.queries.quotes import quote_of_post
from forum.queries.threads import (
    CURSOR_MAX,
    BoardRow,
    board_page,
    boards_of,
    images_of,
    likers,
    revisions,
    thread_page,
)
from forum.validation import MAX_ID, USERNAME_MAX
from forum.web.context import commit, db_session, require_user
from forum.web.ratelimits import LIKE_LIMITS, POST_LIMITS
from forum.web.uploads import uploaded_images


class BoardOut(BaseModel):
    id: int
    slug: str
    name: str  # as shown to this reader: a default board's name is in the reader's language
    description: str
    kind: str
    position: int  # open boards hold 0, 1, 2, … in list order; archived boards follow
    is_archived: bool
    thread_count: int


class BoardListOut(BaseModel):
    boards: list[BoardOut]


class BoardListQuery(BaseModel):
    include_archived: bool = False  # secretaries and district admins only


def board_out(row: BoardRow) -> BoardOut:
    return BoardOut(
        id=id_of(row.board),
        slug=row.board.slug,
        name=row.name,
        description=row.board.description,
        kind=row.board.kind,
        position=row.board.position,
        is_archived=row.board.is_archived,
        thread_count=row.thread_count,
    )


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
    pinned: list[ThreadSummaryOut] = []  # above the rest, on the first page only (not repeated in `threads`)


class BoardQuery(BaseModel):
    before: str | None = Field(default=None, max_length=CURSOR_MAX)


class ThreadIn(BaseModel):
    title: str = Field(max_length=TITLE_MAX)
    body: str = Field(max_length=MAX_BODY_CHARS)


class ThreadWithImagesIn(ThreadIn):
    """multipart/form-data: the text fields, and up to POST_MAX_IMAGES files in `images` (JPEG, PNG, GIF or
    WebP, each up to IMAGE_MAX_BYTES). Pictures are re-encoded without any metadata (EXIF, GPS position)."""

    images: list[File] = []


class ImageOut(BaseModel):
    """A picture under a post; both URLs need the same login as the thread (sizes in pixels)."""

    url: str
    thumb_url: str
    width: int
    height: int
    thumb_width: int
    thumb_height: int


class ThreadCreatedOut(ThreadSummaryOut):
    images: list[ImageOut]  # of the opening post


class PostOut(BaseModel):
    id: int
    number: int
    author: PersonOut | None
    body_html: str
    like_count: int
    liked_by_me: bool
    created_at: str
    url: str
    images: list[ImageOut]
    edited_at: str | None = None
    deleted: bool = False  # a deleted post keeps its place (and number); its text is gone
    # Hidden by a secretary: its text and pictures only for its author and the secretaries, with the reason.
    hidden: bool = False
    hidden_reason: str | None = None


class ThreadOut(BaseModel):
    id: int
    title: str
    board_id: int
    locked: bool = False  # by a secretary: residents cannot reply
    lock_reason: str | None = None
    hidden: bool = False  # by a secretary: only its author and the secretaries can see it (the reason is theirs)
    hidden_reason: str | None = None
    posts: list[PostOut]
    has_more: bool
    after: int
    can_reply: bool
    last_event_id: int  # subscribe to thread:<id> with after=last_event_id to follow it live


class ThreadQuery(BaseModel):
    after: int = Field(default=0, ge=0, le=MAX_ID)


class ReplyIn(BaseModel):
    body: str = Field(max_length=MAX_BODY_CHARS)


class ReplyWithImagesIn(ReplyIn):
    """multipart/form-data: `body`, and the pictures in `images` as for a new thread."""

    images: list[File] = []


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


def images_out(images: Sequence[StoredImage], path_of: Callable[[int, str], str] = image_path) -> list[ImageOut]:
    """Pictures as the API gives them; `path_of` names their route (posts', messages' or letters')."""
    return [ImageOut(**image_data(image, path_of).model_dump()) for image in images]


@blueprint.get("/communities/<slug>/boards")
@tag(["forum"])
@validate_querystring(BoardListQuery)
@validate_response(BoardListOut)
async def list_boards(slug: str, query_args: BoardListQuery) -> BoardListOut:
    """The open boards in order; `include_archived=true` adds the archived ones, for those who manage boards."""
    community, standing = await access_community_content(db_session(), require_user(), slug)
    if query_args.include_archived and not can_manage_boards(standing):
        raise Forbidden()
    rows = await boards_of(db_session(), community, include_archived=query_args.include_archived)
    return BoardListOut(boards=[board_out(row) for row in rows])


@blueprint.get("/communities/<slug>/boards/<board_slug>/threads")
@tag(["forum"])
@validate_querystring(BoardQuery)
@validate_response(ThreadListOut)
async def list_threads(slug: str, board_slug: str, query_args: BoardQuery) -> ThreadListOut:
    """Newest activity first; pass `next_cursor` back as `before` for the next page."""
    _community, board, standing = await access_board(db_session(), require_user(), slug, board_slug)
    page = await board_page(db_session(), board, cursor=query_args.before)

    def summary(row: Any) -> ThreadSummaryOut:
        return ThreadSummaryOut(
            id=id_of(row.thread),
            title=row.thread.title,
            author=_person(row.author),
            reply_count=row.thread.post_count - 1,
            created_at=row.thread.created_at.isoformat(),
            last_posted_at=row.thread.last_posted_at.isoformat(),
            url=thread_path(id_of(row.thread)),
        )

    return ThreadListOut(
        threads=[summary(row) for row in page.threads],
        next_cursor=page.next_cursor,
        can_start=can_start_thread(standing, board),
        pinned=[summary(row) for row in page.pinned],
    )


@blueprint.post("/communities/<slug>/boards/<board_slug>/threads")
@tag(["forum"])
@rate_limit(limits=POST_LIMITS)
@validate_json_or_multipart(ThreadIn, ThreadWithImagesIn)
@validate_response(ThreadCreatedOut, 201)
async def start_thread(slug: str, board_slug: str, data: ThreadIn) -> tuple[ThreadCreatedOut, int]:
    """JSON, or multipart/form-data with pictures in `images`."""
    user = require_user()
    _community, board, standing = await access_board(db_session(), user, slug, board_slug)
    thread = await threads.create_thread(
        db_session(),
        actor=user,
        board=board,
        standing=standing,
        title=data.title,
        body=data.body,
        images=await uploaded_images(),
    )
    await commit()
    author = _author_out(user, standing)
    images = await images_of(db_session(), thread_id=id_of(thread), numbers=[1])
    return ThreadCreatedOut(
        id=id_of(thread),
        title=thread.title,
        author=author,
        reply_count=0,
        created_at=thread.created_at.isoformat(),
        last_posted_at=thread.last_posted_at.isoformat(),
        url=thread_path(id_of(thread)),
        images=images_out(next(iter(images.values()), [])),
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
    moderates = can_moderate(standing)

    def shown(post: Any) -> bool:
        return can_see_post_text(post, is_author=post.author_id == user.id, moderates=moderates)

    return ThreadOut(
        id=id_of(thread),
        title=thread.title,
        board_id=id_of(board),
        locked=thread.locked_at is not None,
        lock_reason=thread.lock_reason or None,
        hidden=thread.hidden_at is not None,
        hidden_reason=thread.hidden_reason or None,
        posts=[
            PostOut(
                id=id_of(row.post),
                number=row.post.number,
                author=_person(row.author),
                body_html=row.post.body_html if shown(row.post) else "",
                like_count=row.post.like_count,
                liked_by_me=row.post.id in page.liked,
                created_at=row.post.created_at.isoformat(),
                url=post_path(id_of(thread), row.post.number),
                edited_at=row.post.edited_at.isoformat() if row.post.edited_at else None,
                deleted=row.post.deleted_at is not None,
                hidden=row.post.hidden_at is not None,
                hidden_reason=row.post.hidden_reason
                if row.post.hidden_at and can_see_hidden(is_author=row.post.author_id == user.id, moderates=moderates)
                else None,
                images=images_out(page.images.get(id_of(row.post), [])) if shown(row.post) else [],
            )
            for row in page.posts
        ],
        has_more=page.has_more,
        after=page.after,
        can_reply=can_reply(standing, board, thread),
        last_event_id=page.last_event_id,
    )


@blueprint.post("/threads/<id:thread_id>/replies")
@tag(["forum"])
@rate_limit(limits=POST_LIMITS)
@validate_json_or_multipart(ReplyIn, ReplyWithImagesIn)
@validate_response(PostOut, 201)
async def reply(thread_id: int, data: ReplyIn) -> tuple[PostOut, int]:
    """JSON, or multipart/form-data with pictures in `images`."""
    user = require_user()
    thread, board, _community, standing = await access_thread(db_session(), user, thread_id)
    post = await threads.reply(
        db_session(),
        actor=user,
        thread=thread,
        board=board,
        standing=standing,
        body=data.body,
        images=await uploaded_images(),
    )
    await commit()
    author = _author_out(user, standing)
    images = await images_of(db_session(), thread_id=thread_id, numbers=[post.number])
    return PostOut(
        id=id_of(post),
        number=post.number,
        author=author,
        body_html=post.body_html,
        like_count=0,
        liked_by_me=False,
        created_at=post.created_at.isoformat(),
        url=post_path(thread_id, post.number),
        images=images_out(images.get(id_of(post), [])),
    ), 201


@blueprint.put("/posts/<id:post_id>/like")
@tag(["forum"])
@rate_limit(limits=LIKE_LIMITS)
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
    people = await likers(db_session(), post, community_id=id_of(community))
    return PeopleOut(people=[PersonOut(**person.payload()) for person in people])


class EditIn(BaseModel):
    body: str = Field(max_length=MAX_BODY_CHARS)
    note: str | None = Field(default=None, max_length=NOTE_MAX)  # secretaries editing someone's post: shown under it


class EditedOut(BaseModel):
    id: int
    number: int
    body_html: str
    edited_at: str | None


class RevisionOut(BaseModel):
    body: str  # the Markdown as it was written
    written_at: str
    replaced_at: str


class RevisionListOut(BaseModel):
    revisions: list[RevisionOut]  # newest first


class QuoteOut(BaseModel):
    post_id: int
    markdown: str  # put it at the start of a reply's body


class MentionQuery(BaseModel):
    q: str = Field(default="", max_length=USERNAME_MAX)  # what mention_candidates reads of it


class SearchQuery(BaseModel):
    q: str = Field(max_length=search.QUERY_MAX)


class SearchHitOut(BaseModel):
    post_id: int
    thread_id: int
    number: int
    title: str
    snippet_html: str  # escaped text with <mark> around the matched words
    url: str


class SearchOut(BaseModel):
    hits: list[SearchHitOut]


@blueprint.put("/posts/<id:post_id>")
@tag(["forum"])
@rate_limit(limits=POST_LIMITS)
@validate_request(EditIn)
@validate_response(EditedOut)
async def edit_post(post_id: int, data: EditIn) -> EditedOut:
    """Replace the text of one's own post; the previous text is kept in its history. Secretaries may edit
    anyone's post with a `note`, shown under it."""
    user = require_user()
    post, _thread, _board, _community, standing = await access_post(db_session(), user, post_id)
    await threads.edit_post(db_session(), actor=user, post=post, standing=standing, body=data.body, note=data.note)
    await commit()
    return EditedOut(
        id=post_id,
        number=post.number,
        body_html=post.body_html,
        edited_at=post.edited_at.isoformat() if post.edited_at else None,
    )


@blueprint.delete("/posts/<id:post_id>")
@tag(["forum"])
async def delete_post(post_id: int) -> tuple[str, int]:
    """Delete one's own post: its text goes, its place in the thread stays."""
    user = require_user()
    post, _thread, _board, _community, standing = await access_post(db_session(), user, post_id)
    await threads.delete_post(db_session(), actor=user, post=post, standing=standing)
    await commit()
    return "", 204


@blueprint.get("/posts/<id:post_id>/revisions")
@tag(["forum"])
@validate_response(RevisionListOut)
async def get_revisions(post_id: int) -> RevisionListOut:
    """Earlier texts of an edited post: for its author and the community's secretaries."""
    user = require_user()
    post, _thread, _board, _community, standing = await access_post(db_session(), user, post_id)
    if not can_see_history(standing, post, id_of(user)):
        raise Forbidden()
    return RevisionListOut(
        revisions=[
            RevisionOut(
                body=item.body, written_at=item.written_at.isoformat(), replaced_at=item.replaced_at.isoformat()
            )
            for item in await revisions(db_session(), post)
        ]
    )


@blueprint.get("/posts/<id:post_id>/quote")
@tag(["forum"])
@validate_response(QuoteOut)
async def get_quote(post_id: int) -> QuoteOut:
    """The Markdown that quotes this post in a reply: "> @author [#n](link):" and its text."""
    post, thread, board, _community, standing = await access_post(db_session(), require_user(), post_id)
    if not can_reply(standing, board, thread):
        raise Forbidden()
    markdown = await quote_of_post(db_session(), post, thread)
    if markdown is None:
        raise NotFound()
    return QuoteOut(post_id=post_id, markdown=markdown)


@blueprint.get("/communities/<slug>/mentions")
@tag(["forum"])
@validate_querystring(MentionQuery)
@validate_response(PeopleOut)
async def get_mention_candidates(slug: str, query_args: MentionQuery) -> PeopleOut:
    """Members whose username starts with, or whose name contains, `q`: whom "@" can mention (at most 8)."""
    community, _standing = await access_community_content(db_session(), require_user(), slug)
    people = await mention_candidates(db_session(), community_id=id_of(community), typed=query_args.q)
    return PeopleOut(people=[PersonOut(**person.payload()) for person in people])


@blueprint.get("/communities/<slug>/search")
@tag(["forum"])
@validate_querystring(SearchQuery)
@validate_response(SearchOut)
async def search_posts(slug: str, query_args: SearchQuery) -> SearchOut:
    """Threads and replies of the community matching every word of `q` (Chinese is segmented), best first."""
    community, _standing = await access_community_content(db_session(), require_user(), slug)
    hits = await search.search(db_session(), community_id=id_of(community), query=query_args.q)
    return SearchOut(
        hits=[
            SearchHitOut(
                post_id=hit.post_id,
                thread_id=hit.thread_id,
                number=hit.number,
                title=hit.title,
                snippet_html=str(hit.snippet),
                url=post_path(hit.thread_id, hit.number),
            )
            for hit in hits
        ]
    )
