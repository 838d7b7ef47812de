"""A person's choices about private messages: whom they block, whether they take messages only from contacts,
and a secretary's saved answers (sent again with one tap)."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.actions import messages
from forum.db import insert_for
from forum.errors import NotFound, field_error
from forum.i18n import N_
from forum.models import (
    MessagePolicy,
    SavedAnswer,
    User,
    UserBlock,
)
from forum.timeutil import utcnow
from forum.validation import FieldErrors, clean_text

MAX_SAVED_ANSWERS = 20
SAVED_TITLE_MAX = 40


async def set_blocked(session: AsyncSession, *, actor: User, target: User, blocked: bool) -> None:
    """Block (or unblock) private messages from `target`. Idempotent."""
    assert actor.id is not None and target.id is not None  # noqa: S101 -- loaded rows
    if target.id == actor.id:
        raise field_error("username", N_("Choose someone other than yourself."))
    if blocked:
        await session.execute(
            insert_for(session)(UserBlock)
            .values(blocker_id=actor.id, blocked_id=target.id, created_at=utcnow())
            .on_conflict_do_nothing()
        )
    else:
        await session.execute(
            delete(UserBlock).where(col(UserBlock.blocker_id) == actor.id, col(UserBlock.blocked_id) == target.id)
        )


async def set_message_policy(session: AsyncSession, *, actor: User, policy: object) -> None:
    if policy not in {MessagePolicy.EVERYONE, MessagePolicy.CONTACTS}:
        raise field_error("message_policy", N_("Choose who may send you private messages."))
    actor.message_policy = str(policy)
    await session.flush()


async def add_saved_answer(session: AsyncSession, *, actor: User, title: object, body: object) -> SavedAnswer:
    """Keep a reply to send again with one tap (a secretary's everyday answers)."""
    errors = FieldErrors()
    clean_title = errors.check(clean_text, title, "answer_title", max_length=SAVED_TITLE_MAX)
    clean_body = errors.check(clean_text, body, "answer_body", max_length=messages.MAX_MESSAGE_CHARS, multiline=True)
    errors.raise_if_any()
    assert clean_title is not None and clean_body is not None and actor.id is not None  # noqa: S101 -- checked
    count = (await session.execute(select(func.count()).where(col(SavedAnswer.user_id) == actor.id))).scalar_one()
    if count >= MAX_SAVED_ANSWERS:
        raise field_error("answer_title", N_("At most %(max)d saved answers."), max=MAX_SAVED_ANSWERS)
    answer = SavedAnswer(user_id=actor.id, title=clean_title, body=clean_body)
    session.add(answer)
    await session.flush()
    return answer


async def delete_saved_answer(session: AsyncSession, *, actor: User, answer_id: int) -> None:
    """Only one's own: anyone else's is "not found"."""
    answer = (
        await session.execute(
            select(SavedAnswer).where(col(SavedAnswer.id) == answer_id, col(SavedAnswer.user_id) == actor.id)
        )
    ).scalar_one_or_none()
    if answer is None:
        raise NotFound()
    await session.delete(answer)
    await session.flush()
