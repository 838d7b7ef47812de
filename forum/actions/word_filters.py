"""The word filter: words a community's secretaries (and its district's admins) keep out of posts (`block`: the
post is refused, saying which word) or hold for review (`review`: a reply is posted hidden and waits in the
review queue; a new thread, whose title everyone would see on the board, is refused like a blocked one).

Matching is a case-insensitive substring test on NFC text, since Chinese has no spaces between words: a short
word matches inside longer ones, so the lists should hold words, not single characters (at least two)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.actions import audit
from forum.actions.moderation import require_moderator
from forum.db import insert_for
from forum.errors import field_error
from forum.i18n import N_
from forum.models import Community, FilterMode, User, WordFilter
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


async def screen(session: AsyncSession, *, community_id: int, texts: Iterable[object]) -> Verdict:
    """Which of the community's words appear in `texts` (one statement; most communities keep few words)."""
    rows = (
        await session.execute(
            select(col(WordFilter.word), col(WordFilter.mode)).where(col(WordFilter.community_id) == community_id)
        )
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
    return list(
        (
            await session.execute(
                select(WordFilter).where(col(WordFilter.community_id) == community.id).order_by(col(WordFilter.word))
            )
        ).scalars()
    )


async def add_word(
    session: AsyncSession,
    *,
    actor: User,
    community: Community,
    standing: CommunityStanding,
    word: object,
    mode: object,
) -> None:
    """Add a word to the community's list, or change its mode. Audited."""
    require_moderator(standing)
    if not isinstance(word, str) or not 2 <= len(word.strip()) <= WORD_MAX:
        raise field_error("word", N_("A word of %(low)d to %(high)d characters."), low=2, high=WORD_MAX)
    if mode not in (FilterMode.BLOCK, FilterMode.REVIEW):
        raise field_error("mode", N_("Choose block or review."))
    clean = unicodedata.normalize("NFC", word.strip())
    assert community.id is not None  # noqa: S101 -- a loaded row
    existing = (
        await session.execute(
            select(WordFilter).where(col(WordFilter.community_id) == community.id, col(WordFilter.word) == clean)
        )
    ).scalar_one_or_none()
    if existing is not None:
        existing.mode = str(mode)
    else:
        count = len(await words_of(session, community))
        if count >= MOST_WORDS:
            raise field_error("word", N_("At most %(most)d words."), most=MOST_WORDS)
        await session.execute(
            insert_for(session)(WordFilter)
            .values(community_id=community.id, word=clean, mode=str(mode), created_by_id=actor.id, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["community_id", "word"])
        )
    await session.flush()
    await audit.record(
        session, actor=actor, action="word_filter.added", community_id=community.id, detail=f"{clean} ({mode})"
    )


async def remove_word(
    session: AsyncSession, *, actor: User, community: Community, standing: CommunityStanding, word: object
) -> None:
    require_moderator(standing)
    if not isinstance(word, str):
        raise field_error("word", N_("A word of %(low)d to %(high)d characters."), low=2, high=WORD_MAX)
    await session.execute(
        delete(WordFilter).where(col(WordFilter.community_id) == community.id, col(WordFilter.word) == word)
    )
    await audit.record(session, actor=actor, action="word_filter.removed", community_id=community.id, detail=word)
