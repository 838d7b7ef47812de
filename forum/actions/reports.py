"""Problem reports (我身边的事): a resident reports a problem around them, with photos, and the community's
secretaries owe a formal answer within the community's hours (48 by default), on a clock everyone who can see
the report watches.

The life of a report:

    submitted ─► answered ─► in progress ─► referred ─► resolved ─► closed
         └──────────┴────────────┴─────────────┴──► declined (with a reason and where to go instead)

The first formal answer (any secretary's answer or status change) stops the clock. "Resolved" waits for the
reporter: they confirm it (closed) or reopen it (in progress) within 7 days; after 7 days without objection the
clock closes it (`forum.actions.report_clock`). A closed or declined report is rated once by its reporter.

Every change of status is one conditional UPDATE from the status it must be in, so two secretaries (or a
secretary and the clock) acting at once change it once, and the loser is told what happened instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum import subjects
from forum.actions import notifications, word_filters
from forum.actions.images import attach_images
from forum.actions.mutes import require_voice
from forum.actions.threads import author_data, render_body
from forum.db import insert_for, record_event
from forum.errors import Forbidden, field_error
from forum.events import PersonData, ReportChanged, ReportCommentCreated, ReportCreated, ReportEntryAdded, ReportQueued
from forum.i18n import N_, Later
from forum.images import PreparedImage
from forum.markup import MAX_BODY_CHARS
from forum.models import (
    ClockStep,
    Community,
    DistrictAdmin,
    Membership,
    MembershipStatus,
    NotificationKind,
    Report,
    ReportCategory,
    ReportComment,
    ReportEntry,
    ReportEntryKind,
    ReportImage,
    ReportMeToo,
    ReportPlace,
    ReportStatus,
    Role,
    User,
    id_of,
)
from forum.paths import report_image_path, report_path
from forum.permissions import CommunityStanding, can_handle_reports, can_read_content
from forum.timeutil import utcnow
from forum.validation import MAX_ID, FieldErrors, clean_text, parse_id

TITLE_MAX = 60
DESCRIPTION_MAX = 2000
LOCATION_MAX = 60
ANSWER_MAX = MAX_BODY_CHARS
REFERRED_MAX = 100
COMMENT_MAX = 2000
RATING_COMMENT_MAX = 500
MAX_IMAGES = 9
PLAN_MAX = 1000  # a point on the site plan is in thousandths of its width and height
CONFIRM_DAYS = 7  # "resolved" closes itself after this many days unless the reporter objects
DUPLICATE_DAYS = 7  # open reports of the same category and place this recent are offered as "me too"
TOO_MANY_FOR_REPORT = N_("At most %(max)d photos per report; you chose %(count)d.")

# Where a secretary may move a report from each status. The reporter's moves (confirm, reopen) and the clock's
# (close) are their own actions below.
TRANSITIONS: dict[str, frozenset[str]] = {
    ReportStatus.SUBMITTED: frozenset(
        {
            ReportStatus.ANSWERED,
            ReportStatus.IN_PROGRESS,
            ReportStatus.REFERRED,
            ReportStatus.RESOLVED,
            ReportStatus.DECLINED,
        }
    ),
    ReportStatus.ANSWERED: frozenset(
        {ReportStatus.IN_PROGRESS, ReportStatus.REFERRED, ReportStatus.RESOLVED, ReportStatus.DECLINED}
    ),
    ReportStatus.IN_PROGRESS: frozenset({ReportStatus.REFERRED, ReportStatus.RESOLVED, ReportStatus.DECLINED}),
    ReportStatus.REFERRED: frozenset({ReportStatus.IN_PROGRESS, ReportStatus.RESOLVED, ReportStatus.DECLINED}),
    ReportStatus.RESOLVED: frozenset({ReportStatus.IN_PROGRESS}),
    ReportStatus.CLOSED: frozenset(),
    ReportStatus.DECLINED: frozenset(),
}
OPEN_STATUSES = frozenset(
    {ReportStatus.SUBMITTED, ReportStatus.ANSWERED, ReportStatus.IN_PROGRESS, ReportStatus.REFERRED}
)
FINAL_STATUSES = frozenset({ReportStatus.CLOSED, ReportStatus.DECLINED})

# The secretaries' queue: waiting for the answer first (by time left), then being handled, then resolved.
QUEUE_RANK = {
    ReportStatus.SUBMITTED: 0,
    ReportStatus.ANSWERED: 1,
    ReportStatus.IN_PROGRESS: 1,
    ReportStatus.REFERRED: 1,
    ReportStatus.RESOLVED: 2,
    ReportStatus.CLOSED: 9,
    ReportStatus.DECLINED: 9,
}
REMINDERS = ((ClockStep.REMIND_24, timedelta(hours=24)), (ClockStep.REMIND_4, timedelta(hours=4)))

# Status names as residents read them, for messages (templates have their own copy of the same words).
STATUS_NAMES = {
    ReportStatus.SUBMITTED: N_("submitted"),
    ReportStatus.ANSWERED: N_("answered"),
    ReportStatus.IN_PROGRESS: N_("in progress"),
    ReportStatus.REFERRED: N_("referred"),
    ReportStatus.RESOLVED: N_("resolved"),
    ReportStatus.CLOSED: N_("closed"),
    ReportStatus.DECLINED: N_("declined"),
}


def clock_steps(due_at: datetime) -> list[tuple[ClockStep, datetime]]:
    """The steps of an unanswered report's clock, in order: the reminders, then the escalation at `due_at`."""
    return [(step, due_at - before) for step, before in REMINDERS] + [(ClockStep.ESCALATE, due_at)]


def first_step(due_at: datetime, created_at: datetime) -> tuple[ClockStep, datetime]:
    """The first step still ahead of a new report (with a short answer time, the 24-hour reminder is moot)."""
    return next((step, at) for step, at in clock_steps(due_at) if at > created_at or step == ClockStep.ESCALATE)


class ClockState(Protocol):
    @property
    def due_at(self) -> datetime: ...
    @property
    def answered_at(self) -> datetime | None: ...
    @property
    def escalated_at(self) -> datetime | None: ...


def is_overdue(report: ClockState, now: datetime) -> bool:
    """Its formal answer did not come by its due time: escalated, or past due and unanswered (the clock may not
    have taken its step yet). Pages, the API and the lists ask this."""
    return report.escalated_at is not None or (report.answered_at is None and now >= report.due_at)


def report_data(report: Report) -> ReportChanged:
    """The full state of a report for open pages; kept out of the community's list if private or hidden."""
    return ReportChanged(
        report_id=id_of(report),
        community_id=report.community_id,
        status=report.status,
        due_at=report.due_at.isoformat(),
        answered_at=report.answered_at.isoformat() if report.answered_at else None,
        answer_minutes=report.answer_minutes,
        overdue=report.escalated_at is not None,
        referred_to=report.referred_to,
        me_too_count=report.me_too_count,
        comment_count=report.comment_count,
    ).unlisted(report.is_private or report.hidden_at is not None)


def _reporter_data(report: Report, actor: User, standing: CommunityStanding) -> PersonData | None:
    """How an action of the reporter's is shown to everyone in the report's room: nameless if they asked."""
    return None if report.is_anonymous else author_data(actor, standing)


async def secretaries_of(session: AsyncSession, community_id: int) -> list[int]:
    rows = await session.execute(
        select(col(Membership.user_id)).where(
            col(Membership.community_id) == community_id,
            col(Membership.role) == Role.SECRETARY,
            col(Membership.status) == MembershipStatus.VERIFIED,
        )
    )
    return sorted(rows.scalars())


async def district_admins_of(session: AsyncSession, community: Community) -> list[int]:
    rows = await session.execute(
        select(col(DistrictAdmin.user_id)).where(col(DistrictAdmin.district_id) == community.district_id)
    )
    return sorted(rows.scalars())


def _whole(raw: object) -> int | None:
    """A whole number from a form (text) or JSON (a number); None for anything else."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 0 <= raw <= MAX_ID else None
    if raw == "0":
        return 0
    return parse_id(raw.strip() if isinstance(raw, str) else raw)


def _plan_point(value: object, field: str) -> int | None:
    if value is None or value == "":
        return None
    number = _whole(value)
    if number is None or number > PLAN_MAX:
        raise field_error(field, N_("A point on the site plan is a whole number from 0 to %(max)d."), max=PLAN_MAX)
    return number


async def _category(
    session: AsyncSession, community_id: int, raw: object, errors: FieldErrors
) -> ReportCategory | None:
    ident = _whole(raw)
    found = None if not ident else await session.get(ReportCategory, ident)
    if found is None or found.community_id != community_id or found.is_archived:
        errors.add("category_id", N_("Choose one of this community's categories."))
        return None
    return found


async def _place(session: AsyncSession, community_id: int, raw: object, errors: FieldErrors) -> ReportPlace | None:
    if raw is None or raw == "":
        return None
    ident = _whole(raw)
    found = None if not ident else await session.get(ReportPlace, ident)
    if found is None or found.community_id != community_id or found.is_archived:
        errors.add("place_id", N_("Choose one of this community's buildings or places."))
        return None
    return found


def _title_of(title: str, description: str) -> str:
    """A report's line in lists: its own title, or the start of what is wrong."""
    if title:
        return title
    first = " ".join(description.split())
    return first[: TITLE_MAX - 1] + "…" if len(first) > TITLE_MAX else first


async def submit_report(
    session: AsyncSession,
    *,
    actor: User,
    community: Community,
    standing: CommunityStanding,
    category_id: object,
    description: object,
    title: object = "",
    place_id: object = None,
    location: object = "",
    plan_x: object = None,
    plan_y: object = None,
    private: bool = False,
    anonymous: bool = False,
    images: Sequence[PreparedImage] = (),
    now: datetime | None = None,
) -> Report:
    """A verified member reports a problem: a category and a place of this community (a building or landmark,
    and/or a unit or detail), what is wrong, and up to nine photos already checked and re-encoded. The answer
    is due in the community's hours; the secretaries are notified, open queues and lists show it live."""
    if not standing.is_verified_member:
        raise Forbidden(N_("Only verified members of this community can report problems here."))
    require_voice(standing, "description")
    now = now or utcnow()
    community_id = id_of(community)
    errors = FieldErrors()
    category = await _category(session, community_id, category_id, errors)
    place = await _place(session, community_id, place_id, errors)
    clean_location = errors.check(clean_text, location, "location", max_length=LOCATION_MAX, required=False)
    clean_title = errors.check(clean_text, title, "title", max_length=TITLE_MAX, required=False)
    clean_description = errors.check(
        clean_text, description, "description", max_length=DESCRIPTION_MAX, min_length=2, multiline=True
    )
    x = errors.check(_plan_point, plan_x, "plan_x")
    y = errors.check(_plan_point, plan_y, "plan_y")
    if (x is None) != (y is None) and "plan_x" not in errors and "plan_y" not in errors:
        errors.add("plan_x", N_("Tap the site plan once to mark the place, or leave it unmarked."))
    if place is None and not clean_location and "place_id" not in errors and "location" not in errors:
        errors.add("location", N_("Say where: choose a building or place, or write the unit or a landmark."))
    if len(images) > MAX_IMAGES:
        errors.add("images", TOO_MANY_FOR_REPORT, max=MAX_IMAGES, count=len(images))
    errors.raise_if_any()
    assert category is not None and clean_description is not None  # noqa: S101 -- checked above
    verdict = await word_filters.screen(
        session, community_id=community_id, texts=[clean_title, clean_description, clean_location]
    )
    word_filters.refuse_blocked(verdict, "description", hold_allowed=True)
    due_at = now + timedelta(hours=community.report_answer_hours)
    step, step_at = first_step(due_at, now)
    report = Report(
        community_id=community_id,
        reporter_id=actor.id,
        category_id=id_of(category),
        place_id=place.id if place is not None else None,
        location=clean_location or "",
        plan_x=x,
        plan_y=y,
        title=_title_of(clean_title or "", clean_description),
        description=clean_description,
        is_private=bool(private),
        is_anonymous=bool(anonymous),
        status=ReportStatus.SUBMITTED,
        queue_rank=QUEUE_RANK[ReportStatus.SUBMITTED],
        created_at=now,
        due_at=due_at,
        clock_at=step_at,
        clock_step=step,
        last_activity_at=now,
    )
    session.add(report)
    await session.flush()
    pictures = await attach_images(session, model=ReportImage, owner={"report_id": id_of(report)}, images=images)
    session.add(ReportEntry(report_id=id_of(report), actor_id=actor.id, kind=ReportEntryKind.SUBMITTED, created_at=now))
    place_name = " ".join(part for part in (place.name if place else "", report.location) if part)
    thumbnail = report_image_path(id_of(pictures[0]), "thumb") if pictures else None
    reporter = author_data(actor, standing)
    if verdict.held is not None:
        # Held by the word filter: stored hidden, waiting in the review queue; the secretaries still see it
        # and the clock still runs (a held report is still a report).
        from forum.actions.flags import hold_for_review
        from forum.flaggables import ReportItem

        await hold_for_review(session, item=ReportItem(report), word=verdict.held)
    if not report.is_private and report.hidden_at is None:
        record_event(
            session,
            ReportCreated(
                report_id=id_of(report),
                community_id=community_id,
                title=report.title,
                category=category.name,
                place=place_name,
                status=report.status,
                reporter=None if report.is_anonymous else reporter,
                created_at=now.isoformat(),
                due_at=due_at.isoformat(),
                me_too_count=0,
                thumbnail_url=thumbnail,
                url=report_path(id_of(report)),
            ),
        )
    record_event(
        session,
        ReportQueued(
            report_id=id_of(report),
            community_id=community_id,
            title=report.title,
            category=category.name,
            place=place_name,
            status=report.status,
            reporter=reporter,
            is_private=report.is_private,
            is_anonymous=report.is_anonymous,
            created_at=now.isoformat(),
            due_at=due_at.isoformat(),
            url=report_path(id_of(report)),
        ),
    )
    await notifications.notify(
        session,
        recipients=await secretaries_of(session, community_id),
        kind=NotificationKind.REPORT_NEW,
        community_id=community_id,
        subject=subjects.report(id_of(report)),
        actor_id=actor.id,
        title=report.title,
        url=report_path(id_of(report)),
    )
    return report


async def _add_entry(
    session: AsyncSession,
    report: Report,
    *,
    kind: ReportEntryKind,
    actor: PersonData | None,
    actor_id: int | None,
    by_reporter: bool = False,
    status: str = "",
    body: str = "",
    referred_to: str = "",
    now: datetime,
) -> ReportEntry:
    body_html = await render_body(session, community_id=report.community_id, body=body) if body else ""
    entry = ReportEntry(
        report_id=id_of(report),
        actor_id=actor_id,
        kind=kind,
        status=status,
        body=body,
        body_html=body_html,
        referred_to=referred_to,
        created_at=now,
    )
    session.add(entry)
    await session.flush()
    record_event(
        session,
        ReportEntryAdded(
            entry_id=id_of(entry),
            report_id=id_of(report),
            kind=kind,
            status=status,
            actor=actor,
            by_reporter=by_reporter,
            created_at=now.isoformat(),
        ),
    )
    return entry


async def _move(session: AsyncSession, report: Report, *, sources: Sequence[str], **values: object) -> bool:
    """Change the report from one of `sources` (conditionally: whoever comes second finds it moved already).
    Updates `report` in place; False if it was not in one of them any more."""
    changed = (
        await session.execute(
            update(Report)
            .where(col(Report.id) == report.id, col(Report.status).in_(list(sources)))
            .values(**values)
            .returning(col(Report.id))
        )
    ).first()
    if changed is None:
        await session.refresh(report)
        return False
    for name, value in values.items():
        setattr(report, name, value)
    return True


def _refuse_move(report: Report, target: str) -> None:
    # `current`, not `status`: field_error's own `status` is the HTTP status.
    if report.status in FINAL_STATUSES and target == report.status:
        raise field_error(
            "status",
            N_("This report is %(current)s: it cannot change any more."),
            status=409,
            current=Later(STATUS_NAMES[ReportStatus(report.status)]),
        )
    raise field_error(
        "status",
        N_("A report that is %(current)s cannot become %(target)s."),
        status=409,
        current=Later(STATUS_NAMES[ReportStatus(report.status)]),
        target=Later(STATUS_NAMES[ReportStatus(target)]),
    )


async def respond(
    session: AsyncSession,
    *,
    actor: User,
    report: Report,
    standing: CommunityStanding,
    body: object,
    status: object = None,
    referred_to: object = "",
    now: datetime | None = None,
) -> ReportEntry:
    """A secretary's formal answer, with a change of status or without (then a submitted report becomes
    answered). The first one stops the clock. Referring names to whom; declining says where to go instead.
    `body` is the answer, or why the status changed. The reporter is notified."""
    if not can_handle_reports(standing):
        raise Forbidden(N_("Only the community's secretaries answer reports formally."))
    now = now or utcnow()
    errors = FieldErrors()
    clean_body = errors.check(clean_text, body, "body", max_length=ANSWER_MAX, min_length=2, multiline=True)
    target: str = report.status
    if status not in (None, ""):
        if not isinstance(status, str) or status not in TRANSITIONS:
            errors.add("status", N_("Choose a status from the list."))
        else:
            target = status
    if target == ReportStatus.SUBMITTED == report.status:
        # The first answer makes a new report answered, also when the form sent its current status back (it
        # would otherwise stop the clock and stay "submitted", first in the queue as if still waiting).
        target = ReportStatus.ANSWERED
    clean_referred = errors.check(clean_text, referred_to, "referred_to", max_length=REFERRED_MAX, required=False)
    if target in (ReportStatus.REFERRED, ReportStatus.DECLINED) and target != report.status and not clean_referred:
        errors.add(
            "referred_to",
            N_("Say to whom it is referred.") if target == ReportStatus.REFERRED else N_("Say where to go instead."),
        )
    errors.raise_if_any()
    assert clean_body is not None  # noqa: S101 -- checked above
    if report.status in FINAL_STATUSES or (target != report.status and target not in TRANSITIONS[report.status]):
        _refuse_move(report, target)
    verdict = await word_filters.screen(session, community_id=report.community_id, texts=[clean_body])
    word_filters.refuse_blocked(verdict)
    values: dict[str, object] = {"status": target, "queue_rank": QUEUE_RANK[ReportStatus(target)]}
    values["last_activity_at"] = now
    first_answer = report.answered_at is None
    if first_answer:
        values.update(
            answered_at=now,
            answered_by_id=actor.id,
            answer_minutes=max(0, math.ceil((now - report.created_at).total_seconds() / 60)),
            clock_at=None,
            clock_step="",
        )
    if target == ReportStatus.REFERRED and target != report.status:
        values["referred_to"] = clean_referred
    if target == ReportStatus.RESOLVED and target != report.status:
        values.update(resolved_at=now, clock_at=now + timedelta(days=CONFIRM_DAYS), clock_step=ClockStep.CLOSE)
    elif target != ReportStatus.RESOLVED and report.status == ReportStatus.RESOLVED:
        values.update(resolved_at=None, clock_at=None, clock_step="")
    if target == ReportStatus.DECLINED:
        values["closed_at"] = now
    previous = report.status
    if not await _move(session, report, sources=[previous], **values):
        raise field_error("status", N_("Someone changed this report meanwhile; here is how it stands now."), status=409)
    moved = target != previous
    entry = await _add_entry(
        session,
        report,
        kind=ReportEntryKind.STATUS if moved and target != ReportStatus.ANSWERED else ReportEntryKind.ANSWER,
        # A secretary answering a report they made without their name stays nameless to neighbours.
        actor=_reporter_data(report, actor, standing)
        if report.reporter_id == actor.id
        else author_data(actor, standing),
        by_reporter=report.reporter_id == actor.id,
        actor_id=actor.id,
        status=target if moved else "",
        body=clean_body,
        referred_to=(clean_referred or "")
        if target in (ReportStatus.REFERRED, ReportStatus.DECLINED) and moved
        else "",
        now=now,
    )
    record_event(session, report_data(report))
    await notifications.notify(
        session,
        recipients=[report.reporter_id] if report.reporter_id is not None else [],
        kind=NotificationKind.REPORT_UPDATE,
        community_id=report.community_id,
        subject=subjects.report(id_of(report)),
        actor_id=actor.id,
        title=report.title,
        url=report_path(id_of(report)),
    )
    return entry


async def _screen_words(
    session: AsyncSession, report: Report, standing: CommunityStanding, field: str, text: str | None
) -> None:
    """The reporter's words shown on the timeline (a reason, a rating's comment) are held to the same rules as a
    post: not while muted, and no blocked word (nothing can wait for review on a timeline)."""
    if not text:
        return
    require_voice(standing, field)
    verdict = await word_filters.screen(session, community_id=report.community_id, texts=[text])
    word_filters.refuse_blocked(verdict, field)


def _require_reporter(report: Report, actor: User) -> None:
    if report.reporter_id is None or report.reporter_id != actor.id:
        raise Forbidden(N_("Only the resident who reported it can do this."))


async def confirm(
    session: AsyncSession,
    *,
    actor: User,
    report: Report,
    standing: CommunityStanding,
    rating: object = None,
    comment: object = "",
    now: datetime | None = None,
) -> None:
    """The reporter confirms a resolved report is solved: it closes, rated now if they give a rating."""
    _require_reporter(report, actor)
    now = now or utcnow()
    clean_rating = _rating(rating, required=False)
    clean_comment = clean_text(comment, "comment", max_length=RATING_COMMENT_MAX, required=False, multiline=True)
    if report.status != ReportStatus.RESOLVED:
        raise field_error(
            "status",
            N_("Only a resolved report can be confirmed; this one is %(current)s."),
            status=409,
            current=Later(STATUS_NAMES[ReportStatus(report.status)]),
        )
    values: dict[str, object] = {
        "status": ReportStatus.CLOSED,
        "queue_rank": QUEUE_RANK[ReportStatus.CLOSED],
        "closed_at": now,
        "clock_at": None,
        "clock_step": "",
        "last_activity_at": now,
    }
    await _screen_words(session, report, standing, "comment", clean_comment)
    if clean_rating is not None:
        values.update(rating=clean_rating, rating_comment=clean_comment)
    elif clean_comment:
        raise field_error("rating", N_("Give the handling from 1 to 5 stars with your comment."))
    if not await _move(session, report, sources=[ReportStatus.RESOLVED], **values):
        raise field_error("status", N_("Someone changed this report meanwhile; here is how it stands now."), status=409)
    person = _reporter_data(report, actor, standing)
    await _add_entry(
        session,
        report,
        kind=ReportEntryKind.CONFIRMED,
        actor=person,
        actor_id=actor.id,
        by_reporter=True,
        status=ReportStatus.CLOSED,
        now=now,
    )
    if clean_rating is not None:
        await _add_entry(
            session,
            report,
            kind=ReportEntryKind.RATED,
            actor=person,
            actor_id=actor.id,
            by_reporter=True,
            body=f"{clean_rating}/5" + (f" {clean_comment}" if clean_comment else ""),
            now=now,
        )
    record_event(session, report_data(report))


async def reopen(
    session: AsyncSession,
    *,
    actor: User,
    report: Report,
    standing: CommunityStanding,
    reason: object,
    now: datetime | None = None,
) -> None:
    """The reporter says a resolved report is not solved, within 7 days of "resolved": it is in progress again,
    and the secretaries are told."""
    _require_reporter(report, actor)
    now = now or utcnow()
    clean_reason = clean_text(reason, "reason", max_length=RATING_COMMENT_MAX, min_length=2, multiline=True)
    await _screen_words(session, report, standing, "reason", clean_reason)
    if report.status != ReportStatus.RESOLVED:
        raise field_error(
            "status",
            N_("Only a resolved report can be reopened; this one is %(current)s."),
            status=409,
            current=Later(STATUS_NAMES[ReportStatus(report.status)]),
        )
    if report.resolved_at is not None and now >= report.resolved_at + timedelta(days=CONFIRM_DAYS):
        raise field_error(
            "status",
            N_("A report can be reopened within %(days)d days of being resolved."),
            status=409,
            days=CONFIRM_DAYS,
        )
    if not await _move(
        session,
        report,
        sources=[ReportStatus.RESOLVED],
        status=ReportStatus.IN_PROGRESS,
        queue_rank=QUEUE_RANK[ReportStatus.IN_PROGRESS],
        resolved_at=None,
        clock_at=None,
        clock_step="",
        last_activity_at=now,
    ):
        raise field_error("status", N_("Someone changed this report meanwhile; here is how it stands now."), status=409)
    await _add_entry(
        session,
        report,
        kind=ReportEntryKind.REOPENED,
        actor=_reporter_data(report, actor, standing),
        actor_id=actor.id,
        by_reporter=True,
        status=ReportStatus.IN_PROGRESS,
        body=clean_reason,
        now=now,
    )
    record_event(session, report_data(report))
    await notifications.notify(
        session,
        recipients=await secretaries_of(session, report.community_id),
        kind=NotificationKind.REPORT_REOPENED,
        community_id=report.community_id,
        subject=subjects.report(id_of(report)),
        actor_id=actor.id,
        title=report.title,
        url=report_path(id_of(report)),
    )


def _rating(value: object, *, required: bool) -> int | None:
    if value is None or value == "":
        if required:
            raise field_error("rating", N_("Choose from 1 to 5 stars."))
        return None
    number = _whole(value)
    if number is None or not 1 <= number <= 5:
        raise field_error("rating", N_("Choose from 1 to 5 stars."))
    return number


async def rate(
    session: AsyncSession,
    *,
    actor: User,
    report: Report,
    standing: CommunityStanding,
    rating: object,
    comment: object = "",
    now: datetime | None = None,
) -> None:
    """The reporter rates how a closed (or declined) report was handled, once: 1 to 5, with a comment."""
    _require_reporter(report, actor)
    now = now or utcnow()
    clean_rating = _rating(rating, required=True)
    clean_comment = clean_text(comment, "comment", max_length=RATING_COMMENT_MAX, required=False, multiline=True)
    await _screen_words(session, report, standing, "comment", clean_comment)
    if report.status not in FINAL_STATUSES:
        raise field_error("rating", N_("A report is rated once it is closed."), status=409)
    changed = (
        await session.execute(
            update(Report)
            .where(col(Report.id) == report.id, col(Report.rating).is_(None))
            .values(rating=clean_rating, rating_comment=clean_comment)
            .returning(col(Report.id))
        )
    ).first()
    if changed is None:
        raise field_error("rating", N_("You rated this report already."), status=409)
    report.rating, report.rating_comment = clean_rating, clean_comment
    await _add_entry(
        session,
        report,
        kind=ReportEntryKind.RATED,
        actor=_reporter_data(report, actor, standing),
        actor_id=actor.id,
        by_reporter=True,
        body=f"{clean_rating}/5" + (f" {clean_comment}" if clean_comment else ""),
        now=now,
    )


async def set_me_too(
    session: AsyncSession, *, actor: User, report: Report, standing: CommunityStanding, on: bool
) -> int:
    """A neighbour has the same problem (我也遇到), or takes it back; idempotent. Returns the count."""
    if not standing.is_verified_member:
        raise Forbidden(N_("Only verified members of this community can say they have the same problem."))
    if report.reporter_id == actor.id:
        raise field_error("report", N_("This is your own report."), status=409)
    if on and report.status in FINAL_STATUSES:
        raise field_error("report", N_("This report is closed. Report the problem again if it came back."), status=409)
    assert actor.id is not None  # noqa: S101 -- a loaded user
    if on:
        inserted = (
            await session.execute(
                insert_for(session)(ReportMeToo)
                .values(report_id=id_of(report), user_id=actor.id, created_at=utcnow())
                .on_conflict_do_nothing()
                .returning(col(ReportMeToo.user_id))
            )
        ).first()
        changed = inserted is not None
    else:
        deleted = (
            await session.execute(
                delete(ReportMeToo)
                .where(col(ReportMeToo.report_id) == report.id, col(ReportMeToo.user_id) == actor.id)
                .returning(col(ReportMeToo.user_id))
            )
        ).first()
        changed = deleted is not None
    if not changed:
        return report.me_too_count
    count: int = (
        await session.execute(
            update(Report)
            .where(col(Report.id) == report.id)
            .values(me_too_count=col(Report.me_too_count) + (1 if on else -1))
            .returning(col(Report.me_too_count))
        )
    ).scalar_one()
    report.me_too_count = count
    record_event(session, report_data(report))
    return count


async def comment(
    session: AsyncSession, *, actor: User, report: Report, standing: CommunityStanding, body: object
) -> ReportComment:
    """A comment under a report, by whoever may see it (a private report: its reporter and the secretaries).
    The word filter applies: a blocked word is refused, a held one waits hidden for review."""
    if not can_read_content(standing):
        raise Forbidden()
    require_voice(standing)
    clean_body = clean_text(body, "body", max_length=COMMENT_MAX, multiline=True)
    verdict = await word_filters.screen(session, community_id=report.community_id, texts=[clean_body])
    word_filters.refuse_blocked(verdict, hold_allowed=True)
    body_html = await render_body(session, community_id=report.community_id, body=clean_body)
    now = utcnow()
    row = ReportComment(
        report_id=id_of(report), author_id=actor.id, body=clean_body, body_html=body_html, created_at=now
    )
    session.add(row)
    await session.flush()
    count: int = (
        await session.execute(
            update(Report)
            .where(col(Report.id) == report.id)
            .values(comment_count=col(Report.comment_count) + 1, last_activity_at=now)
            .returning(col(Report.comment_count))
        )
    ).scalar_one()
    report.comment_count = count
    if verdict.held is not None:
        from forum.actions.flags import hold_for_review
        from forum.flaggables import ReportCommentItem

        await hold_for_review(session, item=ReportCommentItem(row, report), word=verdict.held)
        return row
    by_reporter = report.reporter_id == actor.id
    record_event(
        session,
        ReportCommentCreated(
            comment_id=id_of(row),
            report_id=id_of(report),
            body_html=body_html,
            author=None if by_reporter and report.is_anonymous else author_data(actor, standing),
            by_reporter=by_reporter,
            created_at=now.isoformat(),
        ),
    )
    record_event(session, report_data(report))
    if report.reporter_id is not None:
        await notifications.notify(
            session,
            recipients=[report.reporter_id],
            kind=NotificationKind.REPORT_COMMENT,
            community_id=report.community_id,
            subject=subjects.report(id_of(report)),
            actor_id=actor.id,
            title=report.title,
            url=report_path(id_of(report)),
        )
    return row
