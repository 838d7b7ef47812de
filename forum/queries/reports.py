"""Problem reports as pages show them: the community's list, the secretaries' queue, one report with its
timeline, comments and photos, the open reports like one being written, and the community's figures.

A page of any length costs the same few statements: the reports with their category, place and reporter (one
joined statement over an index range), then the first photo of each (one). What a reader may see is decided in
the statement with the same rule as `forum.permissions.can_see_report`: public and shown, or their own, or
everything for the secretaries. A reporter who hid their name is `None` to everyone but themselves and the
secretaries (`can_see_reporter`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.models import (
    GuideEntry,
    Membership,
    Report,
    ReportCategory,
    ReportComment,
    ReportEntry,
    ReportImage,
    ReportMeToo,
    ReportPlace,
    ReportStatus,
    SitePlan,
    User,
    id_of,
)
from forum.permissions import can_see_hidden, can_see_reporter
from forum.queries.people import Person

PER_PAGE = 20
QUEUE_PER_PAGE = 30
SIMILAR_MOST = 5
OPEN = (ReportStatus.SUBMITTED, ReportStatus.ANSWERED, ReportStatus.IN_PROGRESS, ReportStatus.REFERRED)
DONE = (ReportStatus.RESOLVED, ReportStatus.CLOSED)
QUEUE_CURSOR_MAX = 40  # the longest `after` cursor of the queue
LIST_FILTERS = ("open", "done", "all")  # the neighbours' list: open, resolved (or closed), or all


class Thumbnail(NamedTuple):
    """A report's first photo, as a list shows it."""

    id: int
    thumb_width: int
    thumb_height: int


@dataclass(frozen=True, slots=True)
class ReportRow:
    """A report as a list shows it."""

    report: Any  # the report's columns, as a Core row (read only; attribute names as on `Report`)
    category: str
    place: str  # the building or landmark, and the unit or detail
    reporter: Person | None  # None: hidden from this reader, or the account is gone
    thumbnail: Thumbnail | None


@dataclass(frozen=True, slots=True)
class ReportPageOf:
    rows: list[ReportRow]
    earlier: int | None  # the neighbours' list: ask again with before=this
    later: str | None  # the queue: ask again with after=this (an opaque cursor)


@dataclass(frozen=True, slots=True)
class Entry:
    entry: ReportEntry
    actor: Person | None  # None: the clock, or a reporter hidden from this reader
    by_reporter: bool


@dataclass(frozen=True, slots=True)
class Comment:
    comment: ReportComment
    author: Person | None
    by_reporter: bool


@dataclass(frozen=True, slots=True)
class ReportDetail:
    row: ReportRow
    pictures: list[ReportImage]
    entries: list[Entry]
    comments: list[Comment]
    me_too: bool  # the viewer said "me too"
    answered_by: Person | None


def place_text(place: str | None, location: str) -> str:
    return " ".join(part for part in (place or "", location) if part)


def _with_names() -> Any:
    """Reports as flat Core rows (every column of `report`, then its category's and place's names and its
    reporter's name and badge): a list of twenty builds no ORM objects (they cost more than the query)."""
    return (
        select(
            *Report.__table__.c,  # type: ignore[attr-defined]  # a table model has __table__
            col(ReportCategory.name).label("category_name"),
            col(ReportPlace.name).label("place_name"),
            col(User.username).label("reporter_username"),
            col(User.display_name).label("reporter_display_name"),
            col(Membership.is_party_member).label("reporter_badge"),
            col(ReportImage.id).label("thumb_id"),
            col(ReportImage.thumb_width).label("thumb_width"),
            col(ReportImage.thumb_height).label("thumb_height"),
        )
        .join(ReportCategory, col(ReportCategory.id) == col(Report.category_id))
        # Its first photo, for the list (uq_report_image_report_position finds it).
        .outerjoin(ReportImage, and_(col(ReportImage.report_id) == col(Report.id), col(ReportImage.position) == 0))
        .outerjoin(ReportPlace, col(ReportPlace.id) == col(Report.place_id))
        .outerjoin(User, col(User.id) == col(Report.reporter_id))
        .outerjoin(
            Membership,
            and_(col(Membership.user_id) == col(User.id), col(Membership.community_id) == col(Report.community_id)),
        )
    )


_LISTED = _with_names()  # built once: building it cost more than SQLite takes to run it


def visible_to(viewer_id: int | None, moderates: bool) -> ColumnElement[bool] | None:
    """`can_see_report` as SQL: None when the reader sees every report (a secretary)."""
    if moderates:
        return None
    return or_(
        and_(col(Report.is_private).is_(False), col(Report.hidden_at).is_(None)),
        col(Report.reporter_id) == viewer_id,
    )


async def _rows(
    session: AsyncSession, statement: Select[Any], viewer_id: int | None, moderates: bool
) -> list[ReportRow]:
    found = (await session.execute(statement)).all()
    return [
        ReportRow(
            report=row,
            category=row.category_name,
            place=place_text(row.place_name, row.location),
            reporter=(
                Person(row.reporter_id, row.reporter_username, row.reporter_display_name, bool(row.reporter_badge))
                if row.reporter_username is not None and can_see_reporter(row, user_id=viewer_id, moderates=moderates)
                else None
            ),
            thumbnail=Thumbnail(row.thumb_id, row.thumb_width, row.thumb_height) if row.thumb_id is not None else None,
        )
        for row in found
    ]


async def community_reports(
    session: AsyncSession,
    *,
    community_id: int,
    viewer_id: int,
    moderates: bool,
    show: str = "open",
    category_id: int | None = None,
    place_id: int | None = None,
    before: int | None = None,
    per_page: int = PER_PAGE,
) -> ReportPageOf:
    """The neighbours' list, newest first: open ones, resolved and closed ones, or all; by category or by
    building. Private and hidden reports only for their reporter (and the secretaries)."""
    statement = _LISTED.where(col(Report.community_id) == community_id)
    rule = visible_to(viewer_id, moderates)
    if rule is not None:
        statement = statement.where(rule)
    if show == "open":
        statement = statement.where(col(Report.status).in_(OPEN))
    elif show == "done":
        statement = statement.where(col(Report.status).in_(DONE))
    if category_id is not None:
        statement = statement.where(col(Report.category_id) == category_id)
    if place_id is not None:
        statement = statement.where(col(Report.place_id) == place_id)
    if before is not None:
        statement = statement.where(col(Report.id) < before)
    statement = statement.order_by(col(Report.id).desc()).limit(per_page + 1)
    rows = await _rows(session, statement, viewer_id, moderates)
    earlier = id_of(rows[per_page - 1].report) if len(rows) > per_page else None
    return ReportPageOf(rows=rows[:per_page], earlier=earlier, later=None)


def _queue_cursor(report: Report) -> str:
    return f"{report.queue_rank}.{int(report.due_at.timestamp() * 1_000_000)}.{id_of(report)}"


def parse_queue_cursor(raw: object) -> tuple[int, datetime, int] | None:
    """The queue's `after` cursor, or None for anything that is not one."""
    if not isinstance(raw, str) or len(raw) > QUEUE_CURSOR_MAX:
        return None
    parts = raw.split(".")
    if len(parts) != 3 or not all(part.isascii() and part.isdigit() for part in parts):
        return None
    rank, micros, ident = (int(part) for part in parts)
    if rank > 9 or micros > 10**17 or ident > 2**31:
        return None
    from datetime import UTC

    return rank, datetime.fromtimestamp(micros / 1_000_000, UTC), ident


async def queue(
    session: AsyncSession,
    *,
    community_id: int,
    viewer_id: int,
    status: str | None = None,
    category_id: int | None = None,
    place_id: int | None = None,
    after: tuple[int, datetime, int] | None = None,
    per_page: int = QUEUE_PER_PAGE,
) -> ReportPageOf:
    """The secretaries' queue: reports waiting for their answer first, soonest due first (so the overdue lead),
    then those being handled, then those resolved and waiting for the reporter; by status, category and
    building. Without a status, only reports still open or resolved (not closed or declined)."""
    statement = _LISTED.where(col(Report.community_id) == community_id)
    if status is not None:
        statement = statement.where(col(Report.status) == status)
    else:
        statement = statement.where(col(Report.queue_rank) <= 2)
    if category_id is not None:
        statement = statement.where(col(Report.category_id) == category_id)
    if place_id is not None:
        statement = statement.where(col(Report.place_id) == place_id)
    if after is not None:
        rank, due, ident = after
        # A row value, so that both databases start the index range at the cursor rather than filter up to it.
        statement = statement.where(
            tuple_(col(Report.queue_rank), col(Report.due_at), col(Report.id)) > tuple_(rank, due, ident)
        )
    statement = statement.order_by(col(Report.queue_rank), col(Report.due_at), col(Report.id)).limit(per_page + 1)
    rows = await _rows(session, statement, viewer_id, True)
    later = _queue_cursor(rows[per_page - 1].report) if len(rows) > per_page else None
    return ReportPageOf(rows=rows[:per_page], earlier=None, later=later)


async def report_detail(session: AsyncSession, *, report: Report, viewer_id: int, moderates: bool) -> ReportDetail:
    """One report as its page shows it (after the access check): five statements."""
    report_id = id_of(report)
    (row,) = await _rows(session, _LISTED.where(col(Report.id) == report_id), viewer_id, moderates)
    pictures = list(
        (
            await session.execute(
                select(ReportImage).where(col(ReportImage.report_id) == report_id).order_by(col(ReportImage.position))
            )
        ).scalars()
    )
    names_shown = can_see_reporter(report, user_id=viewer_id, moderates=moderates)
    people = (
        select(ReportEntry, User, Membership)
        .outerjoin(User, col(User.id) == col(ReportEntry.actor_id))
        .outerjoin(
            Membership,
            and_(col(Membership.user_id) == col(User.id), col(Membership.community_id) == report.community_id),
        )
        .where(col(ReportEntry.report_id) == report_id)
        .order_by(col(ReportEntry.id))
    )
    entries = []
    answered_by = None
    for entry, user, membership in (await session.execute(people)).all():
        by_reporter = entry.actor_id is not None and entry.actor_id == report.reporter_id
        shown = user is not None and (names_shown or not by_reporter)
        entries.append(Entry(entry, Person.of(user, membership) if shown else None, by_reporter))
        if user is not None and entry.actor_id == report.answered_by_id and answered_by is None and not by_reporter:
            answered_by = Person.of(user, membership)
    comments = []
    for item, user, membership in (
        await session.execute(
            select(ReportComment, User, Membership)
            .outerjoin(User, col(User.id) == col(ReportComment.author_id))
            .outerjoin(
                Membership,
                and_(col(Membership.user_id) == col(User.id), col(Membership.community_id) == report.community_id),
            )
            .where(col(ReportComment.report_id) == report_id)
            .order_by(col(ReportComment.id))
        )
    ).all():
        is_author = item.author_id is not None and item.author_id == viewer_id
        if item.hidden_at is not None and not can_see_hidden(is_author=is_author, moderates=moderates):
            continue
        by_reporter = item.author_id is not None and item.author_id == report.reporter_id
        shown = user is not None and (names_shown or not by_reporter)
        comments.append(Comment(item, Person.of(user, membership) if shown else None, by_reporter))
    me_too = (
        await session.execute(
            select(col(ReportMeToo.user_id)).where(
                col(ReportMeToo.report_id) == report_id, col(ReportMeToo.user_id) == viewer_id
            )
        )
    ).first() is not None
    return ReportDetail(
        row=row, pictures=pictures, entries=entries, comments=comments, me_too=me_too, answered_by=answered_by
    )


async def similar_open(
    session: AsyncSession,
    *,
    community_id: int,
    viewer_id: int,
    moderates: bool,
    category_id: int,
    place_id: int | None,
    location: str = "",
    now: datetime,
    days: int = 7,
) -> list[ReportRow]:
    """Open reports of the same category and place from the last `days` days that this reader can see: offered
    before sending, so a neighbour can say "me too" instead of reporting it again."""
    statement = _LISTED.where(
        col(Report.community_id) == community_id,
        col(Report.category_id) == category_id,
        col(Report.created_at) >= now - timedelta(days=days),
        col(Report.status).in_(OPEN),
    )
    if place_id is not None:
        statement = statement.where(col(Report.place_id) == place_id)
    elif location:
        statement = statement.where(col(Report.location) == location)
    else:
        return []
    rule = visible_to(viewer_id, moderates)
    if rule is not None:
        statement = statement.where(rule)
    statement = statement.order_by(col(Report.id).desc()).limit(SIMILAR_MOST)
    return await _rows(session, statement, viewer_id, moderates)


async def categories_of(session: AsyncSession, community_id: int, *, archived: bool = False) -> list[ReportCategory]:
    statement = select(ReportCategory).where(col(ReportCategory.community_id) == community_id)
    if not archived:
        statement = statement.where(col(ReportCategory.is_archived).is_(False))
    return list(
        (await session.execute(statement.order_by(col(ReportCategory.position), col(ReportCategory.id)))).scalars()
    )


async def places_of(session: AsyncSession, community_id: int, *, archived: bool = False) -> list[ReportPlace]:
    statement = select(ReportPlace).where(col(ReportPlace.community_id) == community_id)
    if not archived:
        statement = statement.where(col(ReportPlace.is_archived).is_(False))
    return list((await session.execute(statement.order_by(col(ReportPlace.position), col(ReportPlace.id)))).scalars())


class Choice(NamedTuple):
    """A category or place as a filter or a form offers it."""

    id: int
    name: str
    is_archived: bool


def _choices() -> Any:
    community: BindParameter[int] = bindparam("community_id")
    kinds = [
        select(
            literal(kind).label("kind"),
            col(table.id),
            col(table.name),
            col(table.is_archived),
            col(table.position),
        ).where(col(table.community_id) == community, col(table.is_archived).is_(False))
        for kind, table in ((0, ReportCategory), (1, ReportPlace))
    ]
    return union_all(*kinds).order_by("kind", "position", "id")


_CHOICES = _choices()


async def choices_of(session: AsyncSession, community_id: int) -> tuple[list[Choice], list[Choice]]:
    """The community's categories and places still offered, in their order: one statement for both."""
    found: tuple[list[Choice], list[Choice]] = ([], [])
    for row in (await session.execute(_CHOICES, {"community_id": community_id})).all():
        found[row.kind].append(Choice(row.id, row.name, row.is_archived))
    return found


async def site_plan_of(session: AsyncSession, community_id: int) -> SitePlan | None:
    return (
        await session.execute(select(SitePlan).where(col(SitePlan.community_id) == community_id))
    ).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class Figures:
    """How a community (or one secretary) handles reports over a window of days."""

    days: int
    reports: int  # made in the window (by this secretary: answered first by them)
    median_answer_minutes: int | None  # to the first formal answer, of those answered
    answered_in_time: float | None  # of the reports answered or past due, the share answered before due
    resolved: float | None  # share resolved or closed
    average_rating: float | None
    ratings: int


def _window(community_id: int, since: datetime, now: datetime, answered_by_id: int | None) -> list[Any]:
    """Scalar subqueries for the figures of the reports made since `since` (by one secretary's first answers,
    if given): the total, answered in time, resolved, the sum and number of ratings, and the two middle answer
    times (the same when their number is odd), found by their offset in the ordered answer times. Each is a
    range of `ix_report_community_created`."""
    made: tuple[Any, ...] = (col(Report.community_id) == community_id, col(Report.created_at) >= since)
    if answered_by_id is not None:
        made = (*made, col(Report.answered_by_id) == answered_by_id)
    answered = (*made, col(Report.answer_minutes).is_not(None))

    def count(*where: Any) -> Any:
        return select(func.count()).select_from(Report).where(*where).scalar_subquery()

    answers = count(*answered)

    def nth(offset: Any) -> Any:
        at = case((answers > 0, offset), else_=0)
        return (
            select(col(Report.answer_minutes))
            .where(*answered)
            .order_by(col(Report.answer_minutes))
            .limit(1)
            .offset(at)
            .scalar_subquery()
        )

    return [
        count(*made),
        # Of those whose answer is due by now or came: one still on its clock is neither late nor in time yet.
        count(*made, or_(col(Report.answered_at).is_not(None), col(Report.due_at) <= now)),
        count(*made, col(Report.answered_at) <= col(Report.due_at)),
        count(*made, col(Report.status).in_(DONE)),
        select(func.coalesce(func.sum(col(Report.rating)), 0)).where(*made).scalar_subquery(),
        count(*made, col(Report.rating).is_not(None)),
        nth((answers - 1) // 2),
        nth(answers // 2),
    ]


def _figures(days: int, values: Sequence[Any]) -> Figures:
    total, decided, in_time, resolved, rating_sum, ratings, low, high = values
    total, decided, ratings = int(total or 0), int(decided or 0), int(ratings or 0)
    return Figures(
        days=days,
        reports=total,
        median_answer_minutes=None if low is None else (int(low) + int(high) + 1) // 2,
        answered_in_time=in_time / decided if decided else None,
        resolved=resolved / total if total else None,
        average_rating=float(rating_sum or 0) / ratings if ratings else None,
        ratings=ratings,
    )


WINDOW_COLUMNS = 8  # what `_window` gives for one window


def _windows(community_id: int, now: datetime, windows: Sequence[int], answered_by_id: int | None) -> list[Any]:
    return [
        column for days in windows for column in _window(community_id, now - timedelta(days=days), now, answered_by_id)
    ]


def _split(row: Sequence[Any], windows: Sequence[int]) -> list[Figures]:
    width = WINDOW_COLUMNS
    return [_figures(days, row[index * width : (index + 1) * width]) for index, days in enumerate(windows)]


async def figures_over(
    session: AsyncSession, *, community_id: int, now: datetime, windows: Sequence[int]
) -> list[Figures]:
    """Accountability over the last N days for each N of `windows` (reports made in that window): all in one
    statement."""
    row = (await session.execute(select(*_windows(community_id, now, windows, None)))).one()
    return _split(row, windows)


async def figures(session: AsyncSession, *, community_id: int, now: datetime, days: int) -> Figures:
    """Accountability over the last `days` days (reports made in that window): one statement."""
    (found,) = await figures_over(session, community_id=community_id, now=now, windows=[days])
    return found


async def figures_by_secretary(
    session: AsyncSession, *, community_id: int, now: datetime, windows: Sequence[int]
) -> list[tuple[Person, list[Figures]]]:
    """The same figures for each secretary who gave first answers in the longest window (of the reports they
    answered first), for district admins: two statements whatever the number of secretaries and windows."""
    rows = await session.execute(
        select(User, Membership)
        .join(Report, col(Report.answered_by_id) == col(User.id))
        .outerjoin(
            Membership, and_(col(Membership.user_id) == col(User.id), col(Membership.community_id) == community_id)
        )
        .where(col(Report.community_id) == community_id, col(Report.created_at) >= now - timedelta(days=max(windows)))
        .distinct()
    )
    people = sorted(
        ((Person.of(user, membership), id_of(user)) for user, membership in rows.all()), key=lambda p: p[0].display_name
    )
    if not people:
        return []
    columns = [column for _person, user_id in people for column in _windows(community_id, now, windows, user_id)]
    row = (await session.execute(select(*columns))).one()
    width = WINDOW_COLUMNS * len(windows)
    return [
        (person, _split(row[index * width : (index + 1) * width], windows))
        for index, (person, _user_id) in enumerate(people)
    ]


async def guide_entries(
    session: AsyncSession,
    *,
    district_id: int,
    category: str | None = None,
    query: str = "",
    public_only: bool,
    most: int = 50,
) -> list[GuideEntry]:
    """The response guide of a district, by category, searched by a word in the question, answer, department or
    rule (Chinese has no spaces: a substring, case-insensitive for Latin letters). Residents see the public part."""
    statement = select(GuideEntry).where(col(GuideEntry.district_id) == district_id)
    if public_only:
        statement = statement.where(col(GuideEntry.is_public).is_(True))
    if category:
        statement = statement.where(col(GuideEntry.category) == category)
    words = query.split()[:5]
    for word in words:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            or_(
                col(GuideEntry.question).ilike(pattern, escape="\\"),
                col(GuideEntry.answer).ilike(pattern, escape="\\"),
                col(GuideEntry.department).ilike(pattern, escape="\\"),
                col(GuideEntry.rule).ilike(pattern, escape="\\"),
            )
        )
    statement = statement.order_by(col(GuideEntry.category), col(GuideEntry.id)).limit(most)
    return list((await session.execute(statement)).scalars())
