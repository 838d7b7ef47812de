"""Problem reports (我身边的事) as pages: the neighbours' list with the button to report one, the form (with
similar open reports and the district's FAQ offered while it is filled in), a report with its clock, timeline,
photos and comments, what its reporter and the secretaries do to it, and the secretaries' queue.

Every page works without JavaScript; static/js/reports.js makes them live (the rooms `reports:`,
`report_queue:` and `report:`) and runs the countdowns. A report's page refetches its timeline fragment
(`/reports/<id>/timeline`) on each event instead of building sentences in the browser, so the reader's
language and what they may see are decided here, once."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, redirect, request, url_for
from quart_rate_limiter import rate_limit

from forum.access import access_community_content, access_report, require_moderator
from forum.actions import reports
from forum.errors import Forbidden, InvalidInput
from forum.i18n import N_
from forum.models import Community, Report, ReportStatus, User
from forum.paths import report_image_path, report_path
from forum.permissions import CommunityStanding, can_handle_reports, can_moderate
from forum.queries import reports as report_queries
from forum.queries.threads import latest_event_id
from forum.timeutil import utcnow
from forum.validation import parse_id
from forum.web.context import commit, db_session, login_required, notify, require_user
from forum.web.ratelimits import LIKE_LIMITS, POST_LIMITS, REPORT_LIMITS
from forum.web.templating import render_template
from forum.web.uploads import uploaded_images

blueprint = Blueprint("reports", __name__)

# The order a secretary reads the statuses in a select, whatever order TRANSITIONS keeps them in.
STATUS_ORDER = tuple(ReportStatus)
SITE_PLAN_PATH = "/c/{slug}/site-plan"  # served by forum/views/report_admin.py


def _common(community: Community) -> dict[str, Any]:
    return {
        "community": community,
        "report_path": report_path,
        "report_image_path": report_image_path,
        "now": utcnow(),
        "status_order": STATUS_ORDER,
        "open_statuses": reports.OPEN_STATUSES,
    }


def _filter_id(name: str) -> int | None:
    return parse_id(request.args.get(name, "")) or None


# --- The neighbours' list ----------------------------------------------------------------------------------


@blueprint.get("/c/<slug>/reports")
@login_required
async def index(slug: str) -> Any:
    user = require_user()
    session = db_session()
    community, standing = await access_community_content(session, user, slug)
    show = request.args.get("show", "open")
    if show not in report_queries.LIST_FILTERS:
        show = "open"
    category_id, place_id, before = _filter_id("category"), _filter_id("place"), _filter_id("before")
    last_event_id = await latest_event_id(session)  # before the reports: one made in between is replayed
    page = await report_queries.community_reports(
        session,
        community_id=community.id or 0,
        viewer_id=user.id or 0,
        moderates=can_moderate(standing),
        show=show,
        category_id=category_id,
        place_id=place_id,
        before=before,
    )
    categories, places = await report_queries.choices_of(session, community.id or 0)
    return await render_template(
        "reports/index.html",
        **_common(community),
        page=page,
        show=show,
        category_id=category_id,
        place_id=place_id,
        before=before,
        categories=categories,
        places=places,
        last_event_id=last_event_id,
        can_report=standing.is_verified_member,
        can_handle=can_handle_reports(standing),
    )


# --- Reporting a problem -----------------------------------------------------------------------------------


@blueprint.get("/c/<slug>/reports/new")
@login_required
async def new(slug: str) -> Any:
    community, standing = await access_community_content(db_session(), require_user(), slug)
    return await _form_page(community, standing, form={}, errors={}, status=200)


async def _form_page(
    community: Community, standing: CommunityStanding, *, form: Any, errors: dict[str, str], status: int
) -> Any:
    session = db_session()
    if not standing.is_verified_member:
        # The action says the same on sending; saying it before the form is filled in saves the trouble.
        raise Forbidden(N_("Only verified members of this community can report problems here."))
    plan = await report_queries.site_plan_of(session, community.id or 0)
    return await render_template(
        "reports/new.html",
        **_common(community),
        categories=await report_queries.categories_of(session, community.id or 0),
        places=await report_queries.places_of(session, community.id or 0),
        plan=plan,
        plan_url=SITE_PLAN_PATH.format(slug=community.slug) if plan is not None else None,
        limits=reports,
        form=form,
        errors=errors,
    ), status


@blueprint.post("/c/<slug>/reports/new")
@login_required
@rate_limit(limits=REPORT_LIMITS)
async def submit(slug: str) -> Any:
    user = require_user()
    session = db_session()
    community, standing = await access_community_content(session, user, slug)
    form = await request.form
    try:
        report = await reports.submit_report(
            session,
            actor=user,
            community=community,
            standing=standing,
            category_id=form.get("category_id"),
            title=form.get("title", ""),
            description=form.get("description"),
            place_id=form.get("place_id"),
            location=form.get("location", ""),
            plan_x=form.get("plan_x"),
            plan_y=form.get("plan_y"),
            private=form.get("private") == "1",
            anonymous=form.get("anonymous") == "1",
            images=await uploaded_images(most=reports.MAX_IMAGES, too_many=reports.TOO_MANY_FOR_REPORT),
        )
    except InvalidInput as error:
        return await _form_page(community, standing, form=form, errors=error.translated_fields(), status=error.status)
    await commit()
    await notify(N_("Your report is in. The secretaries have been told; the clock is running."))
    return redirect(url_for("reports.show", report_id=report.id))


@blueprint.get("/c/<slug>/reports/similar")
@login_required
async def similar(slug: str) -> Any:
    """Open reports like the one being written (same category and place, last 7 days): a fragment."""
    user = require_user()
    session = db_session()
    community, standing = await access_community_content(session, user, slug)
    category_id = _filter_id("category_id")
    rows = []
    if category_id is not None:
        rows = await report_queries.similar_open(
            session,
            community_id=community.id or 0,
            viewer_id=user.id or 0,
            moderates=can_moderate(standing),
            category_id=category_id,
            place_id=_filter_id("place_id"),
            location=request.args.get("location", "").strip()[: reports.LOCATION_MAX],
            now=utcnow(),
            days=reports.DUPLICATE_DAYS,
        )
    return await render_template(
        "reports/_similar.html", **_common(community), rows=rows, viewer_id=user.id, can_me_too=True
    )


@blueprint.get("/c/<slug>/reports/faq-fragment")
@login_required
async def faq_fragment(slug: str) -> Any:
    """The public part of the district's response guide for a category: the residents' FAQ, offered while they
    write a report of that category."""
    session = db_session()
    community, _standing = await access_community_content(session, require_user(), slug)
    category_id = _filter_id("category_id")
    category = next(
        (each for each in await report_queries.categories_of(session, community.id or 0) if each.id == category_id),
        None,
    )
    entries = []
    if category is not None:
        entries = await report_queries.guide_entries(
            session, district_id=community.district_id, category=category.name, public_only=True, most=10
        )
    return await render_template("reports/_faq.html", entries=entries, category=category)


# --- The secretaries' queue --------------------------------------------------------------------------------


@blueprint.get("/c/<slug>/reports/queue")
@login_required
async def queue(slug: str) -> Any:
    user = require_user()
    session = db_session()
    community, standing = await access_community_content(session, user, slug)
    require_moderator(standing)
    status = request.args.get("status") or None
    if status not in STATUS_ORDER:
        status = None
    category_id, place_id = _filter_id("category"), _filter_id("place")
    after = report_queries.parse_queue_cursor(request.args.get("after"))
    last_event_id = await latest_event_id(session)
    page = await report_queries.queue(
        session,
        community_id=community.id or 0,
        viewer_id=user.id or 0,
        status=status,
        category_id=category_id,
        place_id=place_id,
        after=after,
    )
    categories, places = await report_queries.choices_of(session, community.id or 0)
    return await render_template(
        "reports/queue.html",
        **_common(community),
        page=page,
        status=status,
        category_id=category_id,
        place_id=place_id,
        after=after,
        categories=categories,
        places=places,
        # The live queue adds a new report only where it belongs: the first page, and a filter it passes.
        category_name=next((each.name for each in categories if each.id == category_id), ""),
        place_name=next((each.name for each in places if each.id == place_id), ""),
        last_event_id=last_event_id,
    )


# --- One report --------------------------------------------------------------------------------------------


async def _report_context(report: Report, community: Community, standing: CommunityStanding, user: User) -> Any:
    session = db_session()
    moderates = can_moderate(standing)
    detail = await report_queries.report_detail(session, report=report, viewer_id=user.id or 0, moderates=moderates)
    plan = None
    if report.plan_x is not None and report.plan_y is not None:
        plan = await report_queries.site_plan_of(session, community.id or 0)
    return {
        **_common(community),
        "report": report,
        "detail": detail,
        "plan": plan,
        "plan_url": SITE_PLAN_PATH.format(slug=community.slug) if plan is not None else None,
        "is_reporter": report.reporter_id is not None and report.reporter_id == user.id,
        "can_handle": can_handle_reports(standing),
        "can_me_too": standing.is_verified_member and report.reporter_id != user.id,
        "can_comment": standing.is_verified_member or moderates,
        "transitions": [status for status in STATUS_ORDER if status in reports.TRANSITIONS[report.status]],
        "limits": reports,
        "final_statuses": reports.FINAL_STATUSES,
    }


async def _report_page(
    report_id: int, *, action: str = "", form: Any = None, errors: dict[str, str] | None = None, status: int = 200
) -> Any:
    """The report's page; after a refused action (`action`: which form), with its messages and what was typed."""
    user = require_user()
    session = db_session()
    report, community, standing = await access_report(session, user, report_id)
    last_event_id = await latest_event_id(session)  # before the report: a change in between is replayed
    context = await _report_context(report, community, standing, user)
    guide_query = request.args.get("guide")
    guide_entries = None
    if guide_query is not None and context["can_handle"]:
        guide_query = guide_query[:100]
        guide_entries = await _guide_entries(report, community, guide_query)
    return await render_template(
        "reports/show.html",
        **context,
        last_event_id=last_event_id,
        action=action,
        form=form or {},
        errors=errors or {},
        guide_query=guide_query,
        guide_entries=guide_entries,
    ), status


async def _guide_entries(report: Report, community: Community, query: str) -> list[Any]:
    session = db_session()
    categories = await report_queries.categories_of(session, community.id or 0, archived=True)
    name = next((each.name for each in categories if each.id == report.category_id), None)
    return await report_queries.guide_entries(
        session, district_id=community.district_id, category=name, query=query, public_only=False, most=20
    )


@blueprint.get("/reports/<id:report_id>")
@login_required
async def show(report_id: int) -> Any:
    return await _report_page(report_id)


@blueprint.get("/reports/<id:report_id>/timeline")
@login_required
async def timeline(report_id: int) -> Any:
    """The report's state, timeline and comments for this reader, in their language: what reports.js puts in
    place of the page's own when the report's room says something changed."""
    user = require_user()
    report, community, standing = await access_report(db_session(), user, report_id)
    context = await _report_context(report, community, standing, user)
    return await render_template(
        "reports/_live.html", **context, action="", form={}, errors={}, guide_query=None, guide_entries=None
    )


@blueprint.get("/reports/<id:report_id>/guide")
@login_required
async def guide(report_id: int) -> Any:
    """The response guide for a secretary answering this report: its category's entries, searched."""
    user = require_user()
    session = db_session()
    report, community, standing = await access_report(session, user, report_id)
    require_moderator(standing)
    query = request.args.get("q", "")[:100]
    entries = await _guide_entries(report, community, query)
    return await render_template("reports/_guide.html", entries=entries, query=query, report=report)


async def _act(report_id: int, action: str, done: str, act: Any) -> Any:
    """Run one of the report's actions; a refusal with fields re-renders the page with the message in place,
    any other refusal is the error page with its message (never a 500)."""
    user = require_user()
    session = db_session()
    report, _community, standing = await access_report(session, user, report_id)
    form = await request.form
    try:
        await act(session, user, report, standing, form)
    except InvalidInput as error:
        # Every action checks before it writes: nothing to roll back (the request's session does at its end).
        return await _report_page(
            report_id, action=action, form=form, errors=error.translated_fields(), status=error.status
        )
    await commit()
    if done:
        await notify(done)
    return redirect(url_for("reports.show", report_id=report_id))


@blueprint.post("/reports/<id:report_id>/respond")
@login_required
async def respond(report_id: int) -> Any:
    async def act(session: Any, user: User, report: Report, standing: CommunityStanding, form: Any) -> None:
        await reports.respond(
            session,
            actor=user,
            report=report,
            standing=standing,
            body=form.get("body"),
            status=form.get("status") or None,
            referred_to=form.get("referred_to", ""),
        )

    return await _act(report_id, "respond", N_("Your answer is on the report; its reporter has been told."), act)


@blueprint.post("/reports/<id:report_id>/confirm")
@login_required
async def confirm(report_id: int) -> Any:
    async def act(session: Any, user: User, report: Report, standing: CommunityStanding, form: Any) -> None:
        await reports.confirm(
            session,
            actor=user,
            report=report,
            standing=standing,
            rating=form.get("rating") or None,
            comment=form.get("comment", ""),
        )

    return await _act(report_id, "confirm", N_("Thank you: the report is closed."), act)


@blueprint.post("/reports/<id:report_id>/reopen")
@login_required
async def reopen(report_id: int) -> Any:
    async def act(session: Any, user: User, report: Report, standing: CommunityStanding, form: Any) -> None:
        await reports.reopen(session, actor=user, report=report, standing=standing, reason=form.get("reason"))

    return await _act(report_id, "reopen", N_("Reopened: the secretaries have been told."), act)


@blueprint.post("/reports/<id:report_id>/rate")
@login_required
async def rate(report_id: int) -> Any:
    async def act(session: Any, user: User, report: Report, standing: CommunityStanding, form: Any) -> None:
        await reports.rate(
            session,
            actor=user,
            report=report,
            standing=standing,
            rating=form.get("rating"),
            comment=form.get("comment", ""),
        )

    return await _act(report_id, "rate", N_("Thank you for rating how it was handled."), act)


@blueprint.post("/reports/<id:report_id>/me-too")
@login_required
@rate_limit(limits=LIKE_LIMITS)
async def me_too(report_id: int) -> Any:
    async def act(session: Any, user: User, report: Report, standing: CommunityStanding, form: Any) -> None:
        on = form.get("value", "1") == "1"
        await reports.set_me_too(session, actor=user, report=report, standing=standing, on=on)

    return await _act(report_id, "me-too", "", act)


@blueprint.post("/reports/<id:report_id>/comments")
@login_required
@rate_limit(limits=POST_LIMITS)
async def comment(report_id: int) -> Any:
    async def act(session: Any, user: User, report: Report, standing: CommunityStanding, form: Any) -> None:
        await reports.comment(session, actor=user, report=report, standing=standing, body=form.get("body"))

    return await _act(report_id, "comments", "", act)
