"""Problem reports (我身边的事) in the JSON API: the same actions, queries and access checks as the pages.

A reader gets what the report's page shows them: a private or hidden report is 404 to anyone but its reporter
and the community's secretaries (and its district's admins), a reporter who hid their name is null for
neighbours, a hidden comment is left out for everyone but its author and the secretaries."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from pydantic.config import JsonDict
from quart_rate_limiter import rate_limit
from quart_schema import tag, validate_querystring, validate_request, validate_response
from quart_schema.pydantic import File

from forum import rooms
from forum.access import (
    access_community_content,
    access_community_to_moderate,
    access_district,
    access_report,
    access_report_comment,
    guide_entry_in,
    report_category_in,
    report_place_in,
    require_district_admin,
)
from forum.actions import flags, guide, hiding, report_settings, reports
from forum.api.bodies import validate_json_or_multipart
from forum.api.forum_v1 import ImageOut, images_out
from forum.api.moderation_v1 import FlagIn, ReviewIn
from forum.api.schemas import PersonOut, WholeNumber, longest
from forum.api.v1 import blueprint
from forum.errors import field_error
from forum.flaggables import ReportCommentItem, ReportItem
from forum.i18n import N_
from forum.models import GuideEntry, Report, ReportCategory, ReportPlace, ReportStatus, id_of
from forum.paths import report_image_path, report_path
from forum.permissions import can_moderate
from forum.queries import reports as report_queries
from forum.queries.people import Person
from forum.queries.reports import Figures, ReportDetail, ReportRow
from forum.queries.threads import latest_event_id
from forum.timeutil import utcnow
from forum.validation import MAX_ID, REASON_MAX
from forum.web.context import commit, db_session, require_user
from forum.web.ratelimits import BOARD_LIMITS, FLAG_LIMITS, LIKE_LIMITS, POST_LIMITS, REPORT_LIMITS
from forum.web.uploads import uploaded_images

FIGURE_DAYS = (30, 90)  # the windows of the accountability figures; any other value gives the first
# A rating is from 1 to 5: shown in /openapi.json, checked by the action, which explains one out of range (422).
RATING: JsonDict = {"minimum": 1, "maximum": 5}
STATUS_MAX = longest(ReportStatus)


def _person(person: Person | None) -> PersonOut | None:
    return PersonOut(**person.payload()) if person is not None else None


# ---- what the API answers -------------------------------------------------------------------------------------


class ReportBriefOut(BaseModel):
    id: int
    community_id: int
    title: str
    category_id: int
    category: str
    place_id: int | None
    place: str  # the building or landmark, and the unit or detail
    status: str  # submitted, answered, in_progress, referred, resolved, closed or declined
    referred_to: str  # referred: to whom
    is_private: bool  # only its reporter and the secretaries see it
    is_anonymous: bool  # its reporter's name is hidden from neighbours
    reporter: PersonOut | None  # null: hidden from you (anonymous), or the account is gone
    me_too_count: int
    comment_count: int
    thumb_url: str | None  # the first photo's thumbnail
    hidden: bool  # hidden by a secretary or by flags (then only its reporter and the secretaries see it)
    # The clock: the formal answer is due at `due_at`; the first answer stops it (`answered_at`,
    # `answer_minutes`); `overdue` once the due time passed unanswered (escalated to the district).
    created_at: str
    due_at: str
    answered_at: str | None
    answer_minutes: int | None
    overdue: bool
    url: str


class ReportListOut(BaseModel):
    reports: list[ReportBriefOut]  # newest first
    earlier: int | None  # pass as `before` for older ones
    room: str  # subscribe after `last_event_id` for new reports and their changes
    last_event_id: int


class QueueOut(BaseModel):
    reports: list[ReportBriefOut]  # waiting for an answer first, soonest due (the overdue) first
    later: str | None  # pass as `after` for the next page
    room: str  # the secretaries' queue room: new reports (private ones too) as they come
    last_event_id: int


class SimilarOut(BaseModel):
    reports: list[ReportBriefOut]  # open reports of the same category and place from the last 7 days


class EntryOut(BaseModel):
    """A line of the timeline: who, when, what and why."""

    id: int
    kind: str  # submitted, answer, status, reminded, escalated, confirmed, reopened, auto_closed or rated
    status: str  # the status it moved the report to; empty if it did not move it
    actor: PersonOut | None  # null: the clock, or a reporter whose name is hidden from you
    by_reporter: bool
    body_html: str  # the answer, or why (sanitised HTML)
    referred_to: str  # referred: to whom; declined: where to go instead
    created_at: str


class CommentOut(BaseModel):
    id: int
    author: PersonOut | None  # null: the reporter with their name hidden from you, or the account is gone
    by_reporter: bool
    body_html: str
    hidden: bool  # only its author and the secretaries see a hidden comment
    hidden_reason: str
    created_at: str


class ReportOut(ReportBriefOut):
    description: str
    location: str
    plan_x: int | None  # a point on the community's site plan, in thousandths of its width and height
    plan_y: int | None
    images: list[ImageOut]
    entries: list[EntryOut]  # the timeline, oldest first
    comments: list[CommentOut]  # oldest first
    me_too: bool  # you said you have the same problem
    answered_by: PersonOut | None
    resolved_at: str | None
    confirm_until: str | None  # resolved: the reporter confirms or reopens until then, else it closes
    closed_at: str | None
    rating: int | None  # 1 to 5, by the reporter, once closed or declined
    rating_comment: str
    hidden_reason: str  # why a secretary hid it (its reporter and the secretaries see it)
    room: str  # subscribe after `last_event_id` for its changes, timeline and comments
    last_event_id: int


class MeTooOut(BaseModel):
    report_id: int
    me_too: bool
    me_too_count: int


class CategoryOut(BaseModel):
    id: int
    name: str
    archived: bool


class PlaceOut(BaseModel):
    id: int
    name: str
    archived: bool


class CategoryListOut(BaseModel):
    categories: list[CategoryOut]  # in order; archived ones only with `archived=true`, for secretaries


class PlaceListOut(BaseModel):
    places: list[PlaceOut]


class SettingsOut(BaseModel):
    answer_hours: int  # for reports made from now on


class FiguresOut(BaseModel):
    days: int
    reports: int  # made in the window (per secretary: answered first by them)
    median_answer_minutes: int | None
    answered_in_time: float | None  # share answered before the due time
    resolved: float | None  # share resolved or closed
    average_rating: float | None
    ratings: int


class SecretaryFiguresOut(BaseModel):
    secretary: PersonOut
    figures: FiguresOut


class CommunityFiguresOut(BaseModel):
    figures: FiguresOut
    by_secretary: list[SecretaryFiguresOut] | None  # district admins only; null for everyone else


class GuideEntryOut(BaseModel):
    id: int
    district_id: int
    category: str  # a report category's name, as communities call it
    question: str
    answer: str
    department: str  # the department responsible
    rule: str  # the rule that applies
    public: bool  # residents see public entries (their FAQ); the rest are for secretaries
    updated_at: str


class GuideOut(BaseModel):
    entries: list[GuideEntryOut]  # by category, at most 50


class FlagStateOut(BaseModel):
    id: int  # the report's or the comment's
    added: bool  # False: you had flagged it already (one member counts once)


class HiddenStateOut(BaseModel):
    id: int
    hidden: bool
    reason: str


# ---- what the API takes ---------------------------------------------------------------------------------------


class ReportListQuery(BaseModel):
    show: str = Field(default="open", max_length=longest(report_queries.LIST_FILTERS))  # open, done or all
    category_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    place_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    before: int | None = Field(default=None, ge=1, le=MAX_ID)


class QueueQuery(BaseModel):
    status: str = Field(default="", max_length=STATUS_MAX)  # empty: everything open or resolved
    category_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    place_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    after: str = Field(default="", max_length=report_queries.QUEUE_CURSOR_MAX)


class SimilarQuery(BaseModel):
    category_id: int = Field(ge=1, le=MAX_ID)
    place_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    location: str = Field(default="", max_length=reports.LOCATION_MAX)


class ReportIn(BaseModel):
    category_id: WholeNumber  # one of the community's categories
    description: str = Field(max_length=reports.DESCRIPTION_MAX)
    title: str = Field(default="", max_length=reports.TITLE_MAX)  # empty: the start of the description
    place_id: WholeNumber | None = None  # one of the community's buildings or places
    location: str = Field(default="", max_length=reports.LOCATION_MAX)  # the unit, or a landmark
    plan_x: WholeNumber | None = None  # a point on the site plan, from 0 to 1000, with plan_y
    plan_y: WholeNumber | None = None
    private: bool = False  # only you and the secretaries see it
    anonymous: bool = False  # your name is hidden from neighbours (never from the secretaries)


class ReportWithImagesIn(ReportIn):
    """multipart/form-data: the fields, and up to nine photos in `images`, re-encoded as for posts."""

    images: list[File] = []


class ResponseIn(BaseModel):
    body: str = Field(max_length=reports.ANSWER_MAX)  # the answer, or why the status changes
    status: str = Field(default="", max_length=STATUS_MAX)  # empty: keep it (a new report becomes answered)
    referred_to: str = Field(default="", max_length=reports.REFERRED_MAX)  # referred: to whom; declined: where


class ConfirmIn(BaseModel):
    rating: int | None = Field(default=None, json_schema_extra=RATING)
    comment: str = Field(default="", max_length=reports.RATING_COMMENT_MAX)


class ReopenIn(BaseModel):
    reason: str = Field(max_length=reports.RATING_COMMENT_MAX)


class RatingIn(BaseModel):
    rating: int = Field(json_schema_extra=RATING)
    comment: str = Field(default="", max_length=reports.RATING_COMMENT_MAX)


class CommentIn(BaseModel):
    body: str = Field(max_length=reports.COMMENT_MAX)


class SettingsListQuery(BaseModel):
    archived: bool = False  # secretaries: the archived ones too


class CategoryIn(BaseModel):
    name: str = Field(max_length=report_settings.CATEGORY_NAME_MAX)


class CategoryChangeIn(BaseModel):
    name: str | None = Field(default=None, max_length=report_settings.CATEGORY_NAME_MAX)  # rename
    archived: bool | None = None  # archive (offered no more) or restore


class PlaceIn(BaseModel):
    name: str = Field(max_length=report_settings.PLACE_NAME_MAX)


class PlaceChangeIn(BaseModel):
    archived: bool


class SettingsIn(BaseModel):
    answer_hours: int = Field(ge=report_settings.ANSWER_HOURS_MIN, le=report_settings.ANSWER_HOURS_MAX)


class FiguresQuery(BaseModel):
    days: int = Field(default=FIGURE_DAYS[0], ge=min(FIGURE_DAYS), le=max(FIGURE_DAYS))  # 30 or 90


class GuideQuery(BaseModel):
    category: str = Field(default="", max_length=guide.CATEGORY_MAX)
    q: str = Field(default="", max_length=guide.QUESTION_MAX)  # words of the question, answer, department or rule


class GuideEntryIn(BaseModel):
    category: str = Field(max_length=guide.CATEGORY_MAX)
    question: str = Field(max_length=guide.QUESTION_MAX)
    answer: str = Field(max_length=guide.ANSWER_MAX)
    department: str = Field(default="", max_length=guide.DEPARTMENT_MAX)
    rule: str = Field(default="", max_length=guide.RULE_MAX)
    public: bool = True


class HideIn(BaseModel):
    hidden: bool
    reason: str = Field(default="", max_length=REASON_MAX)  # required to hide; its author sees it


# ---- rendering ------------------------------------------------------------------------------------------------


def _brief(row: ReportRow, now: datetime) -> ReportBriefOut:
    report = row.report
    return ReportBriefOut(
        id=id_of(report),
        community_id=report.community_id,
        title=report.title,
        category_id=report.category_id,
        category=row.category,
        place_id=report.place_id,
        place=row.place,
        status=report.status,
        referred_to=report.referred_to,
        is_private=report.is_private,
        is_anonymous=report.is_anonymous,
        reporter=_person(row.reporter),
        me_too_count=report.me_too_count,
        comment_count=report.comment_count,
        thumb_url=report_image_path(id_of(row.thumbnail), "thumb") if row.thumbnail else None,
        hidden=report.hidden_at is not None,
        created_at=report.created_at.isoformat(),
        due_at=report.due_at.isoformat(),
        answered_at=report.answered_at.isoformat() if report.answered_at else None,
        answer_minutes=report.answer_minutes,
        overdue=reports.is_overdue(report, now),
        url=report_path(id_of(report)),
    )


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


async def _report_out(report: Report, *, moderates: bool) -> ReportOut:
    session = db_session()
    last_event_id = await latest_event_id(session)
    detail: ReportDetail = await report_queries.report_detail(
        session, report=report, viewer_id=require_user().id or 0, moderates=moderates
    )
    report = detail.row.report
    return ReportOut(
        **_brief(detail.row, utcnow()).model_dump(),
        description=report.description,
        location=report.location,
        plan_x=report.plan_x,
        plan_y=report.plan_y,
        images=images_out(detail.pictures, report_image_path),
        entries=[
            EntryOut(
                id=id_of(item.entry),
                kind=item.entry.kind,
                status=item.entry.status,
                actor=_person(item.actor),
                by_reporter=item.by_reporter,
                body_html=item.entry.body_html,
                referred_to=item.entry.referred_to,
                created_at=item.entry.created_at.isoformat(),
            )
            for item in detail.entries
        ],
        comments=[
            CommentOut(
                id=id_of(item.comment),
                author=_person(item.author),
                by_reporter=item.by_reporter,
                body_html=item.comment.body_html,
                hidden=item.comment.hidden_at is not None,
                hidden_reason=item.comment.hidden_reason,
                created_at=item.comment.created_at.isoformat(),
            )
            for item in detail.comments
        ],
        me_too=detail.me_too,
        answered_by=_person(detail.answered_by),
        resolved_at=_when(report.resolved_at),
        confirm_until=_when(
            report.resolved_at + timedelta(days=reports.CONFIRM_DAYS)
            if report.resolved_at is not None and report.status == ReportStatus.RESOLVED
            else None
        ),
        closed_at=_when(report.closed_at),
        rating=report.rating,
        rating_comment=report.rating_comment,
        hidden_reason=report.hidden_reason,
        room=rooms.REPORT(id_of(report)),
        last_event_id=last_event_id,
    )


def _category_out(category: ReportCategory) -> CategoryOut:
    return CategoryOut(id=id_of(category), name=category.name, archived=category.is_archived)


def _place_out(place: ReportPlace) -> PlaceOut:
    return PlaceOut(id=id_of(place), name=place.name, archived=place.is_archived)


def _figures_out(figures: Figures) -> FiguresOut:
    return FiguresOut(
        days=figures.days,
        reports=figures.reports,
        median_answer_minutes=figures.median_answer_minutes,
        answered_in_time=figures.answered_in_time,
        resolved=figures.resolved,
        average_rating=figures.average_rating,
        ratings=figures.ratings,
    )


def _guide_out(entry: GuideEntry) -> GuideEntryOut:
    return GuideEntryOut(
        id=id_of(entry),
        district_id=entry.district_id,
        category=entry.category,
        question=entry.question,
        answer=entry.answer,
        department=entry.department,
        rule=entry.rule,
        public=entry.is_public,
        updated_at=entry.updated_at.isoformat(),
    )


def _status_filter(raw: str) -> str | None:
    """The queue's status filter: empty for none, else one of the statuses (else 422, as the action says)."""
    if not raw:
        return None
    if raw not in reports.TRANSITIONS:
        raise field_error("status", N_("Choose a status from the list."))
    return raw


# ---- the community's reports ----------------------------------------------------------------------------------


@blueprint.get("/communities/<slug>/reports")
@tag(["reports"])
@validate_querystring(ReportListQuery)
@validate_response(ReportListOut)
async def list_reports(slug: str, query_args: ReportListQuery) -> ReportListOut:
    """The neighbours' list, newest first, twenty at a time: `show` open (the default; any unknown value too),
    done (resolved or closed) or all; by category and by building. Private and hidden reports only for their
    reporter and the secretaries."""
    user = require_user()
    community, standing = await access_community_content(db_session(), user, slug)
    last_event_id = await latest_event_id(db_session())
    show = query_args.show if query_args.show in report_queries.LIST_FILTERS else "open"
    page = await report_queries.community_reports(
        db_session(),
        community_id=id_of(community),
        viewer_id=id_of(user),
        moderates=can_moderate(standing),
        show=show,
        category_id=query_args.category_id,
        place_id=query_args.place_id,
        before=query_args.before,
    )
    now = utcnow()
    return ReportListOut(
        reports=[_brief(row, now) for row in page.rows],
        earlier=page.earlier,
        room=rooms.REPORTS(id_of(community)),
        last_event_id=last_event_id,
    )


@blueprint.get("/communities/<slug>/reports/queue")
@tag(["reports"])
@validate_querystring(QueueQuery)
@validate_response(QueueOut)
async def report_queue(slug: str, query_args: QueueQuery) -> QueueOut:
    """Secretaries and district admins: reports waiting for the answer first, soonest due (so the overdue)
    first, then those being handled, then those resolved; thirty at a time. Without `status`, closed and
    declined ones are left out."""
    user = require_user()
    community, _standing = await access_community_to_moderate(db_session(), user, slug)
    status = _status_filter(query_args.status)
    after = report_queries.parse_queue_cursor(query_args.after) if query_args.after else None
    if query_args.after and after is None:
        raise field_error("after", N_("The request could not be understood."))
    last_event_id = await latest_event_id(db_session())
    page = await report_queries.queue(
        db_session(),
        community_id=id_of(community),
        viewer_id=id_of(user),
        status=status,
        category_id=query_args.category_id,
        place_id=query_args.place_id,
        after=after,
    )
    now = utcnow()
    return QueueOut(
        reports=[_brief(row, now) for row in page.rows],
        later=page.later,
        room=rooms.REPORT_QUEUE(id_of(community)),
        last_event_id=last_event_id,
    )


@blueprint.get("/communities/<slug>/reports/similar")
@tag(["reports"])
@validate_querystring(SimilarQuery)
@validate_response(SimilarOut)
async def similar_reports(slug: str, query_args: SimilarQuery) -> SimilarOut:
    """Before sending a report: open ones of the same category and place (or the same location text) from the
    last 7 days, so you can say "me too" (`PUT /api/v1/reports/<id>/me-too`) instead."""
    user = require_user()
    community, standing = await access_community_content(db_session(), user, slug)
    now = utcnow()
    rows = await report_queries.similar_open(
        db_session(),
        community_id=id_of(community),
        viewer_id=id_of(user),
        moderates=can_moderate(standing),
        category_id=query_args.category_id,
        place_id=query_args.place_id,
        location=query_args.location.strip(),
        now=now,
        days=reports.DUPLICATE_DAYS,
    )
    return SimilarOut(reports=[_brief(row, now) for row in rows])


@blueprint.post("/communities/<slug>/reports")
@tag(["reports"])
@rate_limit(limits=REPORT_LIMITS)
@validate_json_or_multipart(ReportIn, ReportWithImagesIn)
@validate_response(ReportOut, 201)
async def submit_report(slug: str, data: ReportIn) -> tuple[ReportOut, int]:
    """Verified members: report a problem, as JSON or as multipart/form-data with up to nine photos in
    `images`. The answer is due in the community's hours (`due_at`)."""
    user = require_user()
    community, standing = await access_community_content(db_session(), user, slug)
    report = await reports.submit_report(
        db_session(),
        actor=user,
        community=community,
        standing=standing,
        images=await uploaded_images(most=reports.MAX_IMAGES, too_many=reports.TOO_MANY_FOR_REPORT),
        **data.model_dump(exclude={"images"}),  # the files are read from the request by uploaded_images
    )
    await commit()
    return await _report_out(report, moderates=can_moderate(standing)), 201


# ---- one report -----------------------------------------------------------------------------------------------


@blueprint.get("/reports/<id:report_id>")
@tag(["reports"])
@validate_response(ReportOut)
async def get_report(report_id: int) -> ReportOut:
    """A report with its photos, timeline, comments and clock."""
    report, _community, standing = await access_report(db_session(), require_user(), report_id)
    return await _report_out(report, moderates=can_moderate(standing))


@blueprint.post("/reports/<id:report_id>/responses")
@tag(["reports"])
@validate_request(ResponseIn)
@validate_response(ReportOut, 201)
async def respond(report_id: int, data: ResponseIn) -> tuple[ReportOut, int]:
    """Secretaries: a formal answer, with a new status or without (a submitted report becomes answered). The
    first stops the clock. `referred` needs `referred_to` (to whom), `declined` where to go instead."""
    user = require_user()
    report, _community, standing = await access_report(db_session(), user, report_id)
    await reports.respond(
        db_session(),
        actor=user,
        report=report,
        standing=standing,
        body=data.body,
        status=data.status,
        referred_to=data.referred_to,
    )
    await commit()
    return await _report_out(report, moderates=can_moderate(standing)), 201


@blueprint.post("/reports/<id:report_id>/confirm")
@tag(["reports"])
@validate_request(ConfirmIn)
@validate_response(ReportOut)
async def confirm(report_id: int, data: ConfirmIn) -> ReportOut:
    """The reporter: a resolved report is solved; it closes, rated now if `rating` (1 to 5) is given."""
    user = require_user()
    report, _community, standing = await access_report(db_session(), user, report_id)
    await reports.confirm(
        db_session(), actor=user, report=report, standing=standing, rating=data.rating, comment=data.comment
    )
    await commit()
    return await _report_out(report, moderates=can_moderate(standing))


@blueprint.post("/reports/<id:report_id>/reopen")
@tag(["reports"])
@validate_request(ReopenIn)
@validate_response(ReportOut)
async def reopen(report_id: int, data: ReopenIn) -> ReportOut:
    """The reporter, within 7 days of "resolved": it is not solved (why); in progress again."""
    user = require_user()
    report, _community, standing = await access_report(db_session(), user, report_id)
    await reports.reopen(db_session(), actor=user, report=report, standing=standing, reason=data.reason)
    await commit()
    return await _report_out(report, moderates=can_moderate(standing))


@blueprint.post("/reports/<id:report_id>/rating")
@tag(["reports"])
@validate_request(RatingIn)
@validate_response(ReportOut)
async def rate(report_id: int, data: RatingIn) -> ReportOut:
    """The reporter rates the handling of a closed or declined report, once: 1 to 5, with a comment."""
    user = require_user()
    report, _community, standing = await access_report(db_session(), user, report_id)
    await reports.rate(
        db_session(), actor=user, report=report, standing=standing, rating=data.rating, comment=data.comment
    )
    await commit()
    return await _report_out(report, moderates=can_moderate(standing))


async def _me_too(report_id: int, on: bool) -> MeTooOut:
    user = require_user()
    report, _community, standing = await access_report(db_session(), user, report_id)
    count = await reports.set_me_too(db_session(), actor=user, report=report, standing=standing, on=on)
    await commit()
    return MeTooOut(report_id=report_id, me_too=on, me_too_count=count)


@blueprint.put("/reports/<id:report_id>/me-too")
@tag(["reports"])
@rate_limit(limits=LIKE_LIMITS)
@validate_response(MeTooOut)
async def add_me_too(report_id: int) -> MeTooOut:
    """Verified members: you have the same problem (我也遇到); idempotent."""
    return await _me_too(report_id, True)


@blueprint.delete("/reports/<id:report_id>/me-too")
@tag(["reports"])
@rate_limit(limits=LIKE_LIMITS)
@validate_response(MeTooOut)
async def remove_me_too(report_id: int) -> MeTooOut:
    """Take your "me too" back; idempotent."""
    return await _me_too(report_id, False)


@blueprint.post("/reports/<id:report_id>/comments")
@tag(["reports"])
@rate_limit(limits=POST_LIMITS)
@validate_request(CommentIn)
@validate_response(ReportOut, 201)
async def comment(report_id: int, data: CommentIn) -> tuple[ReportOut, int]:
    """A comment under a report, by whoever may see it (Markdown, as in posts)."""
    user = require_user()
    report, _community, standing = await access_report(db_session(), user, report_id)
    await reports.comment(db_session(), actor=user, report=report, standing=standing, body=data.body)
    await commit()
    return await _report_out(report, moderates=can_moderate(standing)), 201


# ---- flags and hiding: the one flag path (forum.actions.flags, forum.actions.hiding) --------------------------


@blueprint.post("/reports/<id:report_id>/flags")
@tag(["moderation"])
@rate_limit(limits=FLAG_LIMITS)
@validate_request(FlagIn)
@validate_response(FlagStateOut)
async def flag_report(report_id: int, data: FlagIn) -> FlagStateOut:
    """Verified members: flag a report for the secretaries. Three distinct members hide it until reviewed."""
    user = require_user()
    report, _community, standing = await access_report(db_session(), user, report_id)
    added = await flags.flag(
        db_session(), actor=user, item=ReportItem(report), standing=standing, reason=data.reason, note=data.note
    )
    await commit()
    return FlagStateOut(id=report_id, added=added)


@blueprint.post("/reports/<id:report_id>/review")
@tag(["moderation"])
@validate_request(ReviewIn)
@validate_response(HiddenStateOut)
async def review_report(report_id: int, data: ReviewIn) -> HiddenStateOut:
    """Secretaries: decide on a flagged report; the flaggers are told."""
    user = require_user()
    report, _community, standing = await access_report(db_session(), user, report_id)
    await flags.review(
        db_session(),
        actor=user,
        item=ReportItem(report),
        standing=standing,
        agree=data.agree,
        reason=data.reason,
        mute_hours=data.mute_hours,
    )
    await commit()
    return HiddenStateOut(id=report_id, hidden=report.hidden_at is not None, reason=report.hidden_reason)


@blueprint.post("/reports/<id:report_id>/moderate")
@tag(["moderation"])
@validate_request(HideIn)
@validate_response(HiddenStateOut)
async def moderate_report(report_id: int, data: HideIn) -> HiddenStateOut:
    """Secretaries: hide a report from neighbours (its reporter sees `reason`; the clock still runs), or show
    it again."""
    user = require_user()
    report, _community, standing = await access_report(db_session(), user, report_id)
    await hiding.set_hidden(
        db_session(), actor=user, item=ReportItem(report), standing=standing, hidden=data.hidden, reason=data.reason
    )
    await commit()
    return HiddenStateOut(id=report_id, hidden=report.hidden_at is not None, reason=report.hidden_reason)


@blueprint.post("/reports/comments/<id:comment_id>/flags")
@tag(["moderation"])
@rate_limit(limits=FLAG_LIMITS)
@validate_request(FlagIn)
@validate_response(FlagStateOut)
async def flag_report_comment(comment_id: int, data: FlagIn) -> FlagStateOut:
    """Verified members: flag a comment under a report. Three distinct members hide it until reviewed."""
    user = require_user()
    found, report, _community, standing = await access_report_comment(db_session(), user, comment_id)
    added = await flags.flag(
        db_session(),
        actor=user,
        item=ReportCommentItem(found, report),
        standing=standing,
        reason=data.reason,
        note=data.note,
    )
    await commit()
    return FlagStateOut(id=comment_id, added=added)


@blueprint.post("/reports/comments/<id:comment_id>/review")
@tag(["moderation"])
@validate_request(ReviewIn)
@validate_response(HiddenStateOut)
async def review_report_comment(comment_id: int, data: ReviewIn) -> HiddenStateOut:
    """Secretaries: decide on a flagged comment; the flaggers are told."""
    user = require_user()
    found, report, _community, standing = await access_report_comment(db_session(), user, comment_id)
    await flags.review(
        db_session(),
        actor=user,
        item=ReportCommentItem(found, report),
        standing=standing,
        agree=data.agree,
        reason=data.reason,
        mute_hours=data.mute_hours,
    )
    await commit()
    return HiddenStateOut(id=comment_id, hidden=found.hidden_at is not None, reason=found.hidden_reason)


@blueprint.post("/reports/comments/<id:comment_id>/moderate")
@tag(["moderation"])
@validate_request(HideIn)
@validate_response(HiddenStateOut)
async def moderate_report_comment(comment_id: int, data: HideIn) -> HiddenStateOut:
    """Secretaries: hide a comment (its author sees `reason`), or show it again."""
    user = require_user()
    found, report, _community, standing = await access_report_comment(db_session(), user, comment_id)
    await hiding.set_hidden(
        db_session(),
        actor=user,
        item=ReportCommentItem(found, report),
        standing=standing,
        hidden=data.hidden,
        reason=data.reason,
    )
    await commit()
    return HiddenStateOut(id=comment_id, hidden=found.hidden_at is not None, reason=found.hidden_reason)


# ---- the community's settings ---------------------------------------------------------------------------------


@blueprint.get("/communities/<slug>/report-categories")
@tag(["reports"])
@validate_querystring(SettingsListQuery)
@validate_response(CategoryListOut)
async def list_categories(slug: str, query_args: SettingsListQuery) -> CategoryListOut:
    """The categories a report is filed under, in order (`archived=true`: the archived ones too, for
    secretaries)."""
    community, standing = await access_community_content(db_session(), require_user(), slug)
    archived = query_args.archived and can_moderate(standing)
    found = await report_queries.categories_of(db_session(), id_of(community), archived=archived)
    return CategoryListOut(categories=[_category_out(category) for category in found])


@blueprint.post("/communities/<slug>/report-categories")
@tag(["reports"])
@rate_limit(limits=BOARD_LIMITS)
@validate_request(CategoryIn)
@validate_response(CategoryOut, 201)
async def add_category(slug: str, data: CategoryIn) -> tuple[CategoryOut, int]:
    """Secretaries: a new category, at the end of the list."""
    user = require_user()
    community, standing = await access_community_content(db_session(), user, slug)
    category = await report_settings.add_category(
        db_session(), actor=user, community=community, standing=standing, name=data.name
    )
    await commit()
    return _category_out(category), 201


@blueprint.patch("/communities/<slug>/report-categories/<id:category_id>")
@tag(["reports"])
@rate_limit(limits=BOARD_LIMITS)
@validate_request(CategoryChangeIn)
@validate_response(CategoryOut)
async def change_category(slug: str, category_id: int, data: CategoryChangeIn) -> CategoryOut:
    """Secretaries: rename a category (its reports carry the new name), archive it or restore it."""
    user = require_user()
    community, standing = await access_community_content(db_session(), user, slug)
    category = await report_category_in(db_session(), id_of(community), category_id)
    if data.name is not None:
        await report_settings.rename_category(
            db_session(), actor=user, category=category, standing=standing, name=data.name
        )
    if data.archived is not None:
        await report_settings.set_category_archived(
            db_session(), actor=user, category=category, standing=standing, archived=data.archived
        )
    await commit()
    return _category_out(category)


@blueprint.get("/communities/<slug>/report-places")
@tag(["reports"])
@validate_querystring(SettingsListQuery)
@validate_response(PlaceListOut)
async def list_places(slug: str, query_args: SettingsListQuery) -> PlaceListOut:
    """The buildings and places a report names, in order."""
    community, standing = await access_community_content(db_session(), require_user(), slug)
    archived = query_args.archived and can_moderate(standing)
    found = await report_queries.places_of(db_session(), id_of(community), archived=archived)
    return PlaceListOut(places=[_place_out(place) for place in found])


@blueprint.post("/communities/<slug>/report-places")
@tag(["reports"])
@rate_limit(limits=BOARD_LIMITS)
@validate_request(PlaceIn)
@validate_response(PlaceOut, 201)
async def add_place(slug: str, data: PlaceIn) -> tuple[PlaceOut, int]:
    """Secretaries: a new building or place."""
    user = require_user()
    community, standing = await access_community_content(db_session(), user, slug)
    place = await report_settings.add_place(
        db_session(), actor=user, community=community, standing=standing, name=data.name
    )
    await commit()
    return _place_out(place), 201


@blueprint.patch("/communities/<slug>/report-places/<id:place_id>")
@tag(["reports"])
@rate_limit(limits=BOARD_LIMITS)
@validate_request(PlaceChangeIn)
@validate_response(PlaceOut)
async def change_place(slug: str, place_id: int, data: PlaceChangeIn) -> PlaceOut:
    """Secretaries: archive a place (offered no more; its reports keep it) or restore it."""
    user = require_user()
    community, standing = await access_community_content(db_session(), user, slug)
    place = await report_place_in(db_session(), id_of(community), place_id)
    await report_settings.set_place_archived(
        db_session(), actor=user, place=place, standing=standing, archived=data.archived
    )
    await commit()
    return _place_out(place)


@blueprint.put("/communities/<slug>/report-settings")
@tag(["reports"])
@rate_limit(limits=BOARD_LIMITS)
@validate_request(SettingsIn)
@validate_response(SettingsOut)
async def change_settings(slug: str, data: SettingsIn) -> SettingsOut:
    """Secretaries: how many hours a formal answer may take (from 1 to 168), for reports made from now on."""
    user = require_user()
    community, standing = await access_community_content(db_session(), user, slug)
    await report_settings.set_answer_hours(
        db_session(), actor=user, community=community, standing=standing, hours=data.answer_hours
    )
    await commit()
    return SettingsOut(answer_hours=community.report_answer_hours)


# ---- accountability and the response guide --------------------------------------------------------------------


@blueprint.get("/communities/<slug>/reports/figures")
@tag(["reports"])
@validate_querystring(FiguresQuery)
@validate_response(CommunityFiguresOut)
async def report_figures(slug: str, query_args: FiguresQuery) -> CommunityFiguresOut:
    """How the community handles reports over the last 30 (or 90) days; district admins get the same per
    secretary."""
    community, standing = await access_community_content(db_session(), require_user(), slug)
    days = query_args.days if query_args.days in FIGURE_DAYS else FIGURE_DAYS[0]
    now = utcnow()
    found = await report_queries.figures(db_session(), community_id=id_of(community), now=now, days=days)
    by_secretary = None
    if standing.is_district_admin:
        per = await report_queries.figures_by_secretary(
            db_session(), community_id=id_of(community), now=now, windows=[days]
        )
        by_secretary = [
            SecretaryFiguresOut(secretary=PersonOut(**person.payload()), figures=_figures_out(figures))
            for person, (figures,) in per
        ]
    return CommunityFiguresOut(figures=_figures_out(found), by_secretary=by_secretary)


@blueprint.get("/districts/<district_slug>/guide")
@tag(["reports"])
@validate_querystring(GuideQuery)
@validate_response(GuideOut)
async def district_guide(district_slug: str, query_args: GuideQuery) -> GuideOut:
    """The district's whole response guide, for its admins and its communities' secretaries, by category and
    searched by `q` (residents read the public part through their community's `report-guide`)."""
    standing = await access_district(db_session(), require_user(), district_slug)
    found = await report_queries.guide_entries(
        db_session(),
        district_id=id_of(standing.district),
        category=query_args.category or None,
        query=query_args.q,
        public_only=False,
    )
    return GuideOut(entries=[_guide_out(entry) for entry in found])


@blueprint.get("/communities/<slug>/report-guide")
@tag(["reports"])
@validate_querystring(GuideQuery)
@validate_response(GuideOut)
async def community_guide(slug: str, query_args: GuideQuery) -> GuideOut:
    """The public part of the district's response guide, the residents' FAQ (all of it for the secretaries),
    by category and searched by `q`: offered while writing a report of that category."""
    community, standing = await access_community_content(db_session(), require_user(), slug)
    found = await report_queries.guide_entries(
        db_session(),
        district_id=community.district_id,
        category=query_args.category or None,
        query=query_args.q,
        public_only=not can_moderate(standing),
    )
    return GuideOut(entries=[_guide_out(entry) for entry in found])


@blueprint.post("/districts/<district_slug>/guide")
@tag(["reports"])
@rate_limit(limits=BOARD_LIMITS)
@validate_request(GuideEntryIn)
@validate_response(GuideEntryOut, 201)
async def add_guide_entry(district_slug: str, data: GuideEntryIn) -> tuple[GuideEntryOut, int]:
    """District admins: a question with its answer, department and rule, under a category."""
    user = require_user()
    standing = await access_district(db_session(), user, district_slug)
    require_district_admin(standing)
    entry = await guide.add_entry(
        db_session(),
        actor=user,
        district_id=id_of(standing.district),
        is_district_admin=standing.is_admin,
        **data.model_dump(),
    )
    await commit()
    return _guide_out(entry), 201


@blueprint.patch("/districts/<district_slug>/guide/<id:entry_id>")
@tag(["reports"])
@rate_limit(limits=BOARD_LIMITS)
@validate_request(GuideEntryIn)
@validate_response(GuideEntryOut)
async def edit_guide_entry(district_slug: str, entry_id: int, data: GuideEntryIn) -> GuideEntryOut:
    """District admins: change an entry (every field, as the form sends them)."""
    user = require_user()
    standing = await access_district(db_session(), user, district_slug)
    require_district_admin(standing)
    entry = await guide_entry_in(db_session(), id_of(standing.district), entry_id)
    await guide.edit_entry(
        db_session(), actor=user, entry=entry, is_district_admin=standing.is_admin, **data.model_dump()
    )
    await commit()
    return _guide_out(entry)


@blueprint.delete("/districts/<district_slug>/guide/<id:entry_id>")
@tag(["reports"])
@rate_limit(limits=BOARD_LIMITS)
async def delete_guide_entry(district_slug: str, entry_id: int) -> tuple[str, int]:
    """District admins: remove an entry."""
    user = require_user()
    standing = await access_district(db_session(), user, district_slug)
    require_district_admin(standing)
    entry = await guide_entry_in(db_session(), id_of(standing.district), entry_id)
    await guide.delete_entry(db_session(), actor=user, entry=entry, is_district_admin=standing.is_admin)
    await commit()
    return "", 204
