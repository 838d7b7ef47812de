"""Threads and replies."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum import search, subjects
from forum.actions import audit, flags, notifications, word_filters
from forum.actions.boards import BoardArchived
from forum.actions.images import attach_images, remove_images
from forum.actions.mutes import require_voice
from forum.actions.thread_tools import require_slow_mode_allows
from forum.db import record_event
from forum.errors import Forbidden, field_error
from forum.events import (
    ImageData,
    NoticePublished,
    PersonData,
    PostCreated,
    PostDeleted,
    PostEdited,
    ThreadCreated,
)
from forum.flaggable_posts import ReplyItem
from forum.i18n import N_
from forum.images import PreparedImage
from forum.markup import MAX_BODY_CHARS, mentioned_usernames, render_markdown
from forum.models import (
    Board,
    BoardKind,
    NotificationKind,
    Post,
    PostImage,
    PostRevision,
    StoredImage,
    Thread,
    User,
    id_of,
)
from forum.offload import text_work
from forum.paths import image_path, post_path, thread_path
from forum.permissions import CommunityStanding, Refusal, can_edit_post, can_moderate, can_start_thread, reply_refusal
from forum.queries.people import member_ids_by_username
from forum.timeutil import utcnow
from forum.validation import FieldErrors, clean_text

TITLE_MAX = 120
NOTE_MAX = 500  # a secretary's note on their edit of someone's post (Post.moderator_note)


async def render_body(session: AsyncSession, *, community_id: int, body: str) -> str:
    """Sanitised HTML of a post or letter, "@name" linked for the community's members. Called before the
    action's first write: on SQLite that write takes the database's write lock, which should not be held over
    CPU work."""
    names = await member_ids_by_username(session, community_id=community_id, usernames=mentioned_usernames(body))
    return await text_work(len(body), render_markdown, body, frozenset(names))


def author_data(actor: User, standing: CommunityStanding) -> PersonData:
    assert actor.id is not None  # noqa: S101 -- a loaded row
    membership = standing.membership
    return PersonData(
        id=actor.id,
        username=actor.username,
        display_name=actor.display_name,
        is_party_member=bool(membership and membership.is_party_member),
    )


def image_data(image: StoredImage, path_of: Callable[[int, str], str] = image_path) -> ImageData:
    """A picture as events and the API carry it; `path_of` names its route (posts', messages' or letters')."""
    assert image.id is not None  # noqa: S101 -- flushed
    return ImageData(
        url=path_of(image.id, "full"),
        thumb_url=path_of(image.id, "thumb"),
        width=image.width,
        height=image.height,
        thumb_width=image.thumb_width,
        thumb_height=image.thumb_height,
    )


async def create_thread(
    session: AsyncSession,
    *,
    actor: User,
    board: Board,
    standing: CommunityStanding,
    title: object,
    body: object,
    images: Sequence[PreparedImage] = (),
) -> Thread:
    """Start a thread with its opening post. In the notices board only secretaries may. `images` were checked
    and re-encoded by `forum.images.prepare_image` (the caller enforces how many and how large)."""
    if not can_start_thread(standing, board):
        raise BoardArchived() if board.is_archived else Forbidden()
    require_voice(standing)
    errors = FieldErrors()
    clean_title = errors.check(clean_text, title, "title", max_length=TITLE_MAX, min_length=2)
    clean_body = errors.check(clean_text, body, "body", max_length=MAX_BODY_CHARS, multiline=True)
    errors.raise_if_any()
    assert clean_title is not None and clean_body is not None and board.id is not None  # noqa: S101 -- checked
    word_filters.refuse_blocked(
        await word_filters.screen(session, community_id=board.community_id, texts=[clean_title, clean_body])
    )
    body_html = await render_body(session, community_id=board.community_id, body=clean_body)
    indexed = await search.document_of(clean_title, clean_body)
    now = utcnow()
    thread = Thread(
        board_id=board.id,
        community_id=board.community_id,
        author_id=actor.id,
        title=clean_title,
        created_at=now,
        last_posted_at=now,
    )
    session.add(thread)
    await session.flush()
    assert thread.id is not None  # noqa: S101 -- flushed
    opening = Post(
        thread_id=thread.id,
        author_id=actor.id,
        number=1,
        body=clean_body,
        body_html=body_html,
        created_at=now,
    )
    session.add(opening)
    await session.flush()
    assert opening.id is not None  # noqa: S101 -- flushed
    await attach_images(session, model=PostImage, owner={"post_id": opening.id}, images=images)
    await search.index_post(session, post_id=opening.id, indexed=indexed)
    author = author_data(actor, standing)
    record_event(
        session,
        ThreadCreated(
            thread_id=thread.id,
            board_id=board.id,
            title=thread.title,
            author=author,
            created_at=now.isoformat(),
            url=thread_path(thread.id),
        ),
    )
    if board.kind == BoardKind.NOTICES:
        record_event(
            session,
            NoticePublished(
                thread_id=thread.id,
                community_id=thread.community_id,
                title=thread.title,
                author=author,
                url=thread_path(thread.id),
            ),
        )
    await notifications.notify_post(session, actor=actor, thread=thread, post=opening)
    return thread


def refuse_reply(refusal: Refusal | None, *, standing: CommunityStanding, thread: Thread) -> None:
    """Raise the error that says why `permissions.reply_refusal` refused (nothing if it did not)."""
    if refusal is None:
        return
    if refusal is Refusal.ARCHIVED:
        raise BoardArchived()
    if refusal is Refusal.MUTED:
        require_voice(standing)
    if refusal is Refusal.HIDDEN:
        raise field_error(
            "body", N_("A secretary hid this thread: %(reason)s"), status=403, reason=thread.hidden_reason
        )
    if refusal is Refusal.LOCKED:
        raise field_error(
            "body", N_("A secretary locked this thread: %(reason)s"), status=403, reason=thread.lock_reason
        )
    raise Forbidden()


async def reply(
    session: AsyncSession,
    *,
    actor: User,
    thread: Thread,
    board: Board,
    standing: CommunityStanding,
    body: object,
    images: Sequence[PreparedImage] = (),
    on_behalf: bool = False,
) -> Post:
    """Add a reply at the end of the thread. The number comes from an atomic increment on the thread row, so
    concurrent replies get consecutive numbers in commit order (PostgreSQL holds the row lock until commit).
    `images` as for `create_thread`. `on_behalf`: the platform posts it for the actor (a sale's published
    summary), past slow mode; the caller skips a locked thread."""
    refuse_reply(reply_refusal(standing, board, thread), standing=standing, thread=thread)
    if not on_behalf:  # the common case, refused before anything is written; checked again under the lock below
        await require_slow_mode_allows(session, actor=actor, thread=thread, standing=standing)
    errors = FieldErrors()
    clean_body = errors.check(clean_text, body, "body", max_length=MAX_BODY_CHARS, multiline=True)
    errors.raise_if_any()
    assert clean_body is not None and thread.id is not None  # noqa: S101 -- checked
    verdict = await word_filters.screen(session, community_id=thread.community_id, texts=[clean_body])
    word_filters.refuse_blocked(verdict, hold_allowed=True)
    body_html = await render_body(session, community_id=thread.community_id, body=clean_body)
    indexed = await search.document_of(None, clean_body)
    now = utcnow()
    number = (
        await session.execute(
            update(Thread)
            .where(col(Thread.id) == thread.id)
            .values(post_count=col(Thread.post_count) + 1, last_posted_at=now)
            .returning(col(Thread.post_count))
        )
    ).scalar_one()
    if not on_behalf:
        # Under the thread's row lock (PostgreSQL) or the write lock (SQLite): replies sent together are
        # checked one after another, each seeing the one before. Refused, the unit of work rolls back.
        await require_slow_mode_allows(session, actor=actor, thread=thread, standing=standing)
    post = Post(
        thread_id=thread.id,
        author_id=actor.id,
        number=number,
        body=clean_body,
        body_html=body_html,
        created_at=now,
        hidden_at=now if verdict.held else None,  # held by the word filter until a secretary reviews it
    )
    session.add(post)
    await session.flush()
    assert post.id is not None  # noqa: S101 -- flushed
    attached = await attach_images(session, model=PostImage, owner={"post_id": post.id}, images=images)
    await search.index_post(session, post_id=post.id, indexed=indexed)
    if verdict.held:  # nobody but its author and the secretaries sees it, live or otherwise, until reviewed
        await flags.hold_for_review(session, item=ReplyItem(post, thread), word=verdict.held)
        return post
    record_event(
        session,
        PostCreated(
            post_id=post.id,
            thread_id=thread.id,
            number=number,
            author=author_data(actor, standing),
            body_html=post.body_html,
            created_at=now.isoformat(),
            url=post_path(thread.id, number),
            images=[image_data(image) for image in attached],
        ),
    )
    await notifications.notify_post(session, actor=actor, thread=thread, post=post)
    return post


async def edit_post(
    session: AsyncSession,
    *,
    actor: User,
    post: Post,
    standing: CommunityStanding,
    body: object,
    note: object = None,
) -> Post:
    """Replace the text of one's own post; the previous text is kept as a revision. Its pictures stay.
    A secretary may edit anyone's post with a `note` (required) shown under it to everyone; its author is told."""
    assert actor.id is not None and post.id is not None  # noqa: S101 -- loaded rows
    by_secretary = post.author_id != actor.id
    if by_secretary:
        if not can_moderate(standing) or post.deleted_at is not None:
            raise Forbidden()
        clean_note = clean_text(note, "note", max_length=NOTE_MAX, min_length=2)
    elif not can_edit_post(standing, post, actor.id):
        raise Forbidden()
    require_voice(standing)
    clean_body = clean_text(body, "body", max_length=MAX_BODY_CHARS, multiline=True)
    if clean_body == post.body and not by_secretary:
        return post
    thread = await session.get(Thread, post.thread_id)  # in the identity map already: the access check loaded it
    assert thread is not None  # noqa: S101 -- a post's thread
    verdict = await word_filters.screen(session, community_id=thread.community_id, texts=[clean_body])
    word_filters.refuse_blocked(verdict, hold_allowed=post.number > 1)
    body_html = await render_body(session, community_id=thread.community_id, body=clean_body)
    indexed = await search.document_of(thread.title if post.number == 1 else None, clean_body)
    now = utcnow()
    session.add(
        PostRevision(post_id=post.id, body=post.body, written_at=post.edited_at or post.created_at, replaced_at=now)
    )
    post.body = clean_body
    if by_secretary:
        post.moderator_note = clean_note
    post.body_html = body_html
    post.edited_at = now
    await session.flush()
    await search.index_post(session, post_id=post.id, indexed=indexed)
    if verdict.held and post.hidden_at is None:  # edited into a word held for review: it waits like a new one
        await flags.hold_for_review(session, item=ReplyItem(post, thread), word=verdict.held)
        return post
    if by_secretary:
        await notifications.notify(
            session,
            recipients=[post.author_id] if post.author_id is not None else [],
            kind=NotificationKind.MODERATED,
            community_id=thread.community_id,
            subject=subjects.post(post.id),
            actor_id=actor.id,
            title=thread.title,
            url=post_path(id_of(thread), post.number),
        )
        await audit.record(
            session,
            actor=actor,
            action="post.edited",
            community_id=thread.community_id,
            target_user_id=post.author_id,
            detail=f"thread {thread.id} #{post.number - 1}: {clean_note}",
        )
    if post.hidden_at is not None:
        return post  # hidden from the thread's readers: its new text is not sent to them either
    record_event(
        session,
        PostEdited(
            post_id=post.id,
            thread_id=post.thread_id,
            number=post.number,
            body_html=post.body_html,
            edited_at=now.isoformat(),
            moderator_note=post.moderator_note,
        ),
    )
    return post


async def delete_post(session: AsyncSession, *, actor: User, post: Post, standing: CommunityStanding) -> Post:
    """Delete one's own post: its text and pictures disappear for everyone (the picture files are removed after
    the commit), and so do the notifications about it; the place in the thread stays, so numbers and links to
    later replies do not move."""
    assert actor.id is not None and post.id is not None  # noqa: S101 -- loaded rows
    if not can_edit_post(standing, post, actor.id):
        raise Forbidden()
    post.deleted_at = utcnow()
    await session.flush()
    await remove_images(session, post=post)
    await search.unindex_post(session, post_id=post.id)
    await notifications.forget_subject(session, subject=subjects.post(post.id))
    record_event(session, PostDeleted(post_id=post.id, thread_id=post.thread_id, number=post.number))
    return post
