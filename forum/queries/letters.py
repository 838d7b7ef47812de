"""Thank-you letters as pages show them: the thanks wall, one letter, the featured ones, a person's letters.
Any number of letters costs the same four statements: the letters with their writers, their recipients, their
photos and which of them the viewer liked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.models import Community, Letter, LetterImage, LetterLike, LetterRecipient, Membership, User, id_of
from forum.queries.people import Person

PER_PAGE = 20
FEATURED = 3


@dataclass(frozen=True, slots=True)
class LetterView:
    letter: Letter
    author: Person | None  # None: the writer's account is gone
    recipients: list[Person]
    pictures: list[LetterImage]
    liked: bool  # by the viewer
    hidden_by: frozenset[int]  # recipients who took it off their profile


@dataclass(frozen=True, slots=True)
class LetterPage:
    letters: list[LetterView]
    earlier: int | None  # ask again with before=this


def _with_authors() -> Select[Letter, User, Membership]:
    return (
        select(Letter, User, Membership)
        .outerjoin(User, col(User.id) == col(Letter.author_id))
        .outerjoin(
            Membership,
            and_(col(Membership.user_id) == col(User.id), col(Membership.community_id) == col(Letter.community_id)),
        )
    )


async def _views(session: AsyncSession, rows: Sequence[Any], viewer: User) -> list[LetterView]:
    """`rows` of (Letter, writer or None, writer's membership or None), as `_with_authors` selects them."""
    ids = [letter.id for letter, _user, _membership in rows if letter.id is not None]
    if not ids:
        return []
    recipients: dict[int, list[Person]] = {}
    hidden: dict[int, set[int]] = {}
    for recipient, user, membership in (
        await session.execute(
            select(LetterRecipient, User, Membership)
            .join(User, col(User.id) == col(LetterRecipient.user_id))
            .join(Letter, col(Letter.id) == col(LetterRecipient.letter_id))
            .outerjoin(
                Membership,
                and_(col(Membership.user_id) == col(User.id), col(Membership.community_id) == col(Letter.community_id)),
            )
            .where(col(LetterRecipient.letter_id).in_(ids))
            .order_by(col(LetterRecipient.letter_id), col(LetterRecipient.position))
        )
    ).all():
        recipients.setdefault(recipient.letter_id, []).append(Person.of(user, membership))
        if recipient.hidden_at is not None:
            hidden.setdefault(recipient.letter_id, set()).add(recipient.user_id)
    pictures: dict[int, list[LetterImage]] = {}
    for picture in (
        await session.execute(
            select(LetterImage)
            .where(col(LetterImage.letter_id).in_(ids))
            .order_by(col(LetterImage.letter_id), col(LetterImage.position))
        )
    ).scalars():
        pictures.setdefault(picture.letter_id, []).append(picture)
    liked = set(
        (
            await session.execute(
                select(col(LetterLike.letter_id)).where(
                    col(LetterLike.letter_id).in_(ids), col(LetterLike.user_id) == viewer.id
                )
            )
        ).scalars()
    )
    return [
        LetterView(
            letter=letter,
            author=Person.of(user, membership) if user is not None else None,
            recipients=recipients.get(id_of(letter), []),
            pictures=pictures.get(id_of(letter), []),
            liked=letter.id in liked,
            hidden_by=frozenset(hidden.get(id_of(letter), set())),
        )
        for letter, user, membership in rows
    ]


async def thanks_wall(
    session: AsyncSession,
    community: Community,
    viewer: User,
    *,
    moderator: bool = False,
    before: int | None = None,
    limit: int = PER_PAGE,
) -> LetterPage:
    """The community's letters, newest first, by keyset on id. Hidden letters only for their writer, and for
    the secretaries (`moderator`), who see them marked."""
    statement = _with_authors().where(col(Letter.community_id) == community.id)
    if not moderator:
        statement = statement.where(or_(col(Letter.hidden_at).is_(None), col(Letter.author_id) == viewer.id))
    if before is not None:
        statement = statement.where(col(Letter.id) < before)
    rows = (await session.execute(statement.order_by(col(Letter.id).desc()).limit(limit + 1))).all()
    views = await _views(session, rows[:limit], viewer)
    return LetterPage(views, views[-1].letter.id if len(rows) > limit else None)


async def letter_view(session: AsyncSession, letter: Letter, viewer: User) -> LetterView:
    row = (await session.execute(_with_authors().where(col(Letter.id) == letter.id))).one()
    return (await _views(session, [row], viewer))[0]


async def featured_letters(session: AsyncSession, community: Community, viewer: User) -> list[LetterView]:
    """The letters a secretary chose to show on the community page, most recently chosen first."""
    rows = (
        await session.execute(
            _with_authors()
            .where(
                col(Letter.community_id) == community.id,
                col(Letter.featured_at).is_not(None),
                col(Letter.hidden_at).is_(None),
            )
            .order_by(col(Letter.featured_at).desc())
            .limit(FEATURED)
        )
    ).all()
    return await _views(session, rows, viewer)


@dataclass(frozen=True, slots=True)
class Received:
    count: int  # letters shown on the profile (not hidden), in the communities the viewer may read
    letters: list[LetterView]  # the newest of them; for the person themself, hidden ones too


async def letters_received(
    session: AsyncSession, user: User, viewer: User, *, community_ids: Sequence[int], limit: int = 10
) -> Received:
    """The letters thanking `user` in these communities (those the viewer may read), newest first. Someone
    looking at their own profile also sees the letters they hid, to put them back."""
    if not community_ids:
        return Received(0, [])
    mine = user.id == viewer.id
    shown = and_(
        col(LetterRecipient.user_id) == user.id,
        col(Letter.community_id).in_(community_ids),
        col(Letter.hidden_at).is_(None),  # a secretary's hide (or the flags') takes it off every profile
    )
    visible = and_(shown, col(LetterRecipient.hidden_at).is_(None))
    count = (
        await session.execute(
            select(func.count())
            .select_from(LetterRecipient)
            .join(Letter, col(Letter.id) == col(LetterRecipient.letter_id))
            .where(visible)
        )
    ).scalar_one()
    rows = (
        await session.execute(
            _with_authors()
            .join(LetterRecipient, col(LetterRecipient.letter_id) == col(Letter.id))
            .where(shown if mine else visible)
            .order_by(col(Letter.id).desc())
            .limit(limit)
        )
    ).all()
    return Received(int(count), await _views(session, rows, viewer))
