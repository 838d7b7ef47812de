"""Thank-you letters (感谢信): a verified member publicly thanks one neighbour, or several under a group name.

A letter is public to the community (whoever may read its boards): it appears on the thanks wall, newest
first, and on each recipient's profile unless that recipient hid it there. Recipients are notified. Likes work
as on posts. A secretary may feature a letter on the community page.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.actions import audit, likes, notifications, word_filters
from forum.actions.images import attach_images
from forum.actions.mutes import require_voice
from forum.actions.threads import author_data, image_data, render_body
from forum.db import record_event
from forum.errors import Forbidden
from forum.events import LetterCreated, LetterLiked, PersonData
from forum.i18n import N_
from forum.images import PreparedImage
from forum.markup import MAX_BODY_CHARS
from forum.models import (
    Community,
    Letter,
    LetterImage,
    LetterLike,
    LetterRecipient,
    Membership,
    MembershipStatus,
    User,
    id_of,
)
from forum.paths import letter_image_path, letter_path
from forum.permissions import CommunityStanding, can_moderate, can_read_content
from forum.queries.messages import members_named
from forum.timeutil import utcnow
from forum.validation import FieldErrors, clean_text

TITLE_MAX = 100
GROUP_NAME_MAX = 60
MAX_IMAGES = 3
TOO_MANY_FOR_LETTER = N_("At most %(max)d pictures per letter; you chose %(count)d.")


async def write_letter(
    session: AsyncSession,
    *,
    actor: User,
    community: Community,
    standing: CommunityStanding,
    usernames: object,
    title: object,
    body: object,
    group_name: object = "",
    images: Sequence[PreparedImage] = (),
) -> Letter:
    """Publish a letter to the verified members of the community named in `usernames` ("@a b, c"), not the
    writer. Several recipients need a group name. `images`: at most three, already checked and re-encoded.
    Names are looked up only once the writer may write here: nobody else learns who is a member."""
    if not standing.is_verified_member:
        raise Forbidden(N_("Only verified members of this community can write thank-you letters here."))
    require_voice(standing)
    recipients = await members_named(session, community, usernames)
    errors = FieldErrors()
    clean_title = errors.check(clean_text, title, "title", max_length=TITLE_MAX, min_length=2)
    clean_body = errors.check(clean_text, body, "body", max_length=MAX_BODY_CHARS, multiline=True)
    clean_group = errors.check(clean_text, group_name, "group_name", max_length=GROUP_NAME_MAX, required=False)
    people = list({user.id: user for user in recipients}.values())
    if any(user.id == actor.id for user in people):
        errors.add("usernames", N_("A thank-you letter is for someone else."))
    elif not people:
        errors.add("usernames", N_("Name the neighbour you are thanking."))
    elif len(people) > 1 and not clean_group:
        errors.add("group_name", N_("Several people together need a name, such as “the volunteers of building 12”."))
    if len(images) > MAX_IMAGES:
        errors.add("images", TOO_MANY_FOR_LETTER, max=MAX_IMAGES, count=len(images))
    errors.raise_if_any()
    assert clean_title is not None and clean_body is not None and community.id is not None  # noqa: S101 -- checked
    word_filters.refuse_blocked(
        await word_filters.screen(session, community_id=community.id, texts=[clean_title, clean_body, clean_group])
    )
    body_html = await render_body(session, community_id=community.id, body=clean_body)
    now = utcnow()
    letter = Letter(
        community_id=community.id,
        author_id=actor.id,
        title=clean_title,
        body=clean_body,
        body_html=body_html,
        group_name=clean_group or "",
        created_at=now,
    )
    session.add(letter)
    await session.flush()
    assert letter.id is not None  # noqa: S101 -- flushed
    session.add_all(
        LetterRecipient(letter_id=letter.id, user_id=id_of(user), position=position)
        for position, user in enumerate(people)
    )
    pictures = await attach_images(session, model=LetterImage, owner={"letter_id": letter.id}, images=images)
    badges = await _badges(session, community_id=community.id, user_ids=[id_of(user) for user in people])
    record_event(
        session,
        LetterCreated(
            letter_id=letter.id,
            community_id=community.id,
            title=letter.title,
            body_html=body_html,
            author=author_data(actor, standing),
            recipients=[
                PersonData(
                    id=id_of(user),
                    username=user.username,
                    display_name=user.display_name,
                    is_party_member=badges.get(id_of(user), False),
                )
                for user in people
            ],
            group_name=letter.group_name,
            images=[image_data(picture, letter_image_path) for picture in pictures],
            created_at=now.isoformat(),
            url=letter_path(letter.id),
        ),
    )
    await notifications.notify_letter(session, actor=actor, letter=letter, recipients=[id_of(user) for user in people])
    return letter


async def _badges(session: AsyncSession, *, community_id: int, user_ids: Sequence[int]) -> dict[int, bool]:
    """Verified members among `user_ids`, with whether each wears the party badge here."""
    rows = await session.execute(
        select(col(Membership.user_id), col(Membership.is_party_member)).where(
            col(Membership.community_id) == community_id,
            col(Membership.user_id).in_(user_ids),
            col(Membership.status) == MembershipStatus.VERIFIED,
        )
    )
    return {user_id: bool(badge) for user_id, badge in rows.all()}


async def set_like(
    session: AsyncSession, *, actor: User, letter: Letter, standing: CommunityStanding, liked: bool
) -> int:
    """Like or unlike a letter; idempotent as a post's like. Returns the letter's like count."""
    if not can_read_content(standing):
        raise Forbidden()
    assert actor.id is not None and letter.id is not None  # noqa: S101 -- loaded rows
    if not await likes.toggle(session, model=LetterLike, owner={"letter_id": letter.id}, user_id=actor.id, liked=liked):
        return letter.like_count
    count: int = (
        await session.execute(
            update(Letter)
            .where(col(Letter.id) == letter.id)
            .values(like_count=col(Letter.like_count) + (1 if liked else -1))
            .returning(col(Letter.like_count))
        )
    ).scalar_one()
    record_event(session, LetterLiked(letter_id=letter.id, community_id=letter.community_id, like_count=count))
    return count


async def set_featured(
    session: AsyncSession, *, actor: User, letter: Letter, standing: CommunityStanding, featured: bool
) -> None:
    """A secretary shows the letter on the community page, or stops showing it. Audited."""
    if not can_moderate(standing):
        raise Forbidden()
    if (letter.featured_at is not None) == featured:
        return
    letter.featured_at = utcnow() if featured else None
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="letter.featured" if featured else "letter.unfeatured",
        community_id=letter.community_id,
        target_user_id=letter.author_id,
    )


async def set_hidden(session: AsyncSession, *, actor: User, letter: Letter, hidden: bool) -> None:
    """A recipient takes the letter off their own profile, or puts it back. It stays on the thanks wall."""
    result = await session.execute(
        update(LetterRecipient)
        .where(col(LetterRecipient.letter_id) == letter.id, col(LetterRecipient.user_id) == actor.id)
        .values(hidden_at=utcnow() if hidden else None)
        .returning(col(LetterRecipient.user_id))
    )
    if result.first() is None:
        raise Forbidden(N_("Only someone this letter thanks can hide it from their profile."))
