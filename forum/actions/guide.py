"""The response guide (社区干部问题应对指南): a district's admins keep, by report category, the questions residents
ask often, each with its answer, the department responsible and the rule that applies. Secretaries answering a
report search it and insert an answer with one tap; the public entries are the residents' FAQ, offered while
they write a report of that category."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.actions import audit
from forum.errors import Forbidden
from forum.i18n import N_
from forum.markup import MAX_BODY_CHARS
from forum.models import GuideEntry, User, id_of
from forum.timeutil import utcnow
from forum.validation import FieldErrors, clean_text

CATEGORY_MAX = 20
QUESTION_MAX = 200
ANSWER_MAX = MAX_BODY_CHARS
DEPARTMENT_MAX = 100
RULE_MAX = 300


def _require_admin(is_district_admin: bool) -> None:
    if not is_district_admin:
        raise Forbidden(N_("Only the district's admins keep the response guide."))


def _clean(
    *, category: object, question: object, answer: object, department: object, rule: object
) -> tuple[str, str, str, str, str]:
    errors = FieldErrors()
    values = (
        errors.check(clean_text, category, "category", max_length=CATEGORY_MAX),
        errors.check(clean_text, question, "question", max_length=QUESTION_MAX, min_length=2),
        errors.check(clean_text, answer, "answer", max_length=ANSWER_MAX, min_length=2, multiline=True),
        errors.check(clean_text, department, "department", max_length=DEPARTMENT_MAX, required=False),
        errors.check(clean_text, rule, "rule", max_length=RULE_MAX, required=False, multiline=True),
    )
    errors.raise_if_any()
    return tuple(value or "" for value in values)  # type: ignore[return-value]  # five strings, checked above


async def add_entry(
    session: AsyncSession,
    *,
    actor: User,
    district_id: int,
    is_district_admin: bool,
    category: object,
    question: object,
    answer: object,
    department: object = "",
    rule: object = "",
    public: bool = True,
) -> GuideEntry:
    _require_admin(is_district_admin)
    clean_category, clean_question, clean_answer, clean_department, clean_rule = _clean(
        category=category, question=question, answer=answer, department=department, rule=rule
    )
    entry = GuideEntry(
        district_id=district_id,
        category=clean_category,
        question=clean_question,
        answer=clean_answer,
        department=clean_department,
        rule=clean_rule,
        is_public=bool(public),
        created_by_id=actor.id,
        updated_at=utcnow(),
    )
    session.add(entry)
    await session.flush()
    await audit.record(session, actor=actor, action="guide.added", detail=f"{clean_category}: {clean_question}")
    return entry


async def edit_entry(
    session: AsyncSession,
    *,
    actor: User,
    entry: GuideEntry,
    is_district_admin: bool,
    category: object,
    question: object,
    answer: object,
    department: object = "",
    rule: object = "",
    public: bool = True,
) -> None:
    _require_admin(is_district_admin)
    (entry.category, entry.question, entry.answer, entry.department, entry.rule) = _clean(
        category=category, question=question, answer=answer, department=department, rule=rule
    )
    entry.is_public = bool(public)
    entry.updated_at = utcnow()
    await session.flush()
    await audit.record(session, actor=actor, action="guide.edited", detail=f"{entry.category}: {entry.question}")


async def delete_entry(session: AsyncSession, *, actor: User, entry: GuideEntry, is_district_admin: bool) -> None:
    _require_admin(is_district_admin)
    await session.execute(delete(GuideEntry).where(col(GuideEntry.id) == id_of(entry)))
    await audit.record(session, actor=actor, action="guide.deleted", detail=f"{entry.category}: {entry.question}")
