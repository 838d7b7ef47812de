"""The word filter: words a community's secretaries (and its district's admins, for one community or for every
community of the district) keep out of posts (`block`: the post is refused, saying which word) or hold for
review (`review`: a reply is posted hidden and waits in the review queue; a new thread, whose title everyone
would see on the board, is refused like a blocked one).

Matching is a case-insensitive substring test on NFC text, since Chinese has no spaces between words: a short
word matches inside longer ones, so the lists should hold words, not single characters (at least two)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.access import require_moderator
from forum.actions import audit
from forum.db import insert_for
from forum.errors import Forbidden, field_error
from forum.i18n import N_
from forum.models import Community, FilterMode, User, WordFilter, id_of
from forum.permissions import CommunityStanding
from forum.timeutil import utcnow

WORD_MAX = 50
MOST_WORDS = 500


@dataclass(frozen=True, slots=True)
class Verdict:
    blocked: str | None  # the first blocked word found
    held: str | None  # the first word that holds a post for review


def _normal(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def _applies_to(community_id: int) -> ColumnElement[bool]:
    """The community's own words and its district's."""
    district = select(col(Community.district_id)).where(col(Community.id) == community_id).scalar_subquery()
    return or_(col(WordFilter.community_id) == community_id, col(WordFilter.district_id) == district)


async def screen(session: AsyncSession, *, community_id: int, texts: Iterable[object]) -> Verdict:
    """Which of the community's words (its own and its district's) appear in `texts`: one statement; most
    communities keep few words. A word blocked anywhere blocks."""
    rows = (
        await session.execute(select(col(WordFilter.word), col(WordFilter.mode)).where(_applies_to(community_id)))
    ).all()
    if not rows:
        return Verdict(None, None)
    haystack = _normal(" ".join(text for text in texts if isinstance(text, str)))
    blocked = next((word for word, mode in rows if mode == FilterMode.BLOCK and _normal(word) in haystack), None)
    held = next((word for word, mode in rows if mode == FilterMode.REVIEW and _normal(word) in haystack), None)
    return Verdict(blocked, held)


def refuse_blocked(verdict: Verdict, field: str = "body", *, hold_allowed: bool = False) -> None:
    """Raise 422 on `field` naming the word, for a blocked word (or a held one where holding is not possible)."""
    if verdict.blocked is not None:
        raise field_error(
            field, N_("“%(word)s” is not allowed in this community. Please rephrase."), word=verdict.blocked
        )
    if verdict.held is not None and not hold_allowed:
        raise field_error(
            field,
            N_("Posts with “%(word)s” need a secretary's review first. Please rephrase, or ask a secretary."),
            word=verdict.held,
        )


async def words_of(session: AsyncSession, community: Community) -> list[WordFilter]:
    """The community's words and its district's (those have `district_id` set), alphabetically."""
    return list(
        (
            await session.execute(
                select(WordFilter).where(_applies_to(id_of(community))).order_by(col(WordFilter.word))
            )
        ).scalars()
    )


def _scope(community: Community, standing: CommunityStanding, district_wide: bool) -> tuple[str, int]:
    """The column and id a word is kept under: the community's list, or (district admins only) its district's."""
    if not district_wide:
        return "community_id", id_of(community)
    if not standing.is_district_admin:
        raise Forbidden(N_("Only a district admin can change the district's word list."))
    return "district_id", community.district_id


async def add_word(
    session: AsyncSession,
    *,
    actor: User,
    community: Community,
    standing: CommunityStanding,
    word: object,
    mode: object,
    district_wide: bool = False,
) -> None:
    """Add a word to the community's list (or, for a district admin, to the district's, for every community in
    it), or change its mode. Audited in this community's log."""
    require_moderator(standing)
    if not isinstance(word, str) or not 2 <= len(word.strip()) <= WORD_MAX:
        raise field_error("word", N_("A word of %(low)d to %(high)d characters."), low=2, high=WORD_MAX)
    if mode not in (FilterMode.BLOCK, FilterMode.REVIEW):
        raise field_error("mode", N_("Choose block or review."))
    column, scope_id = _scope(community, standing, district_wide)
    clean = unicodedata.normalize("NFC", word.strip())
    in_scope = getattr(WordFilter, column) == scope_id
    existing = (
        await session.execute(select(WordFilter).where(in_scope, col(WordFilter.word) == clean))
    ).scalar_one_or_none()
    if existing is not None:
        existing.mode = str(mode)
    else:
        count = (await session.execute(select(func.count()).where(in_scope))).scalar_one()
        if count >= MOST_WORDS:
            raise field_error("word", N_("At most %(most)d words."), most=MOST_WORDS)
        await session.execute(
            insert_for(session)(WordFilter)
            .values(word=clean, mode=str(mode), created_by_id=actor.id, created_at=utcnow(), **{column: scope_id})
            .on_conflict_do_nothing(index_elements=[column, "word"])
        )
    await session.flush()
    where = "district: " if district_wide else ""
    await audit.record(
        session, actor=actor, action="word_filter.added", community_id=community.id, detail=f"{where}{clean} ({mode})"
    )


async def remove_word(
    session: AsyncSession,
    *,
    actor: User,
    community: Community,
    standing: CommunityStanding,
    word: object,
    district_wide: bool = False,
) -> None:
    require_moderator(standing)
    if not isinstance(word, str):
        raise field_error("word", N_("A word of %(low)d to %(high)d characters."), low=2, high=WORD_MAX)
    column, scope_id = _scope(community, standing, district_wide)
    await session.execute(
        delete(WordFilter).where(getattr(WordFilter, column) == scope_id, col(WordFilter.word) == word)
    )
    where = "district: " if district_wide else ""
    await audit.record(
        session, actor=actor, action="word_filter.removed", community_id=community.id, detail=f"{where}{word}"
    )
