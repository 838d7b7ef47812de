"""What surrounds problem reports (我身边的事) as pages: a community's settings for them (categories, buildings
and places, the answer hours, the site plan) and its site plan's picture; a district's response guide
(社区干部问题应对指南), kept by its admins and read by its secretaries, with its public part as a community's FAQ;
and the district admins' figures per community and per secretary."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, redirect, request, url_for
from quart_rate_limiter import rate_limit

from forum.access import (
    DistrictStanding,
    access_community_content,
    access_community_to_moderate,
    access_district,
    guide_entry_in,
    report_category_in,
    report_place_in,
    require_district_admin,
)
from forum.actions import guide, report_settings
from forum.errors import InvalidInput, NotFound, field_error
from forum.i18n import N_
from forum.models import Community, GuideEntry
from forum.permissions import CommunityStanding
from forum.queries.report_figures import WINDOWS, district_figures
from forum.queries.reports import categories_of, guide_entries, places_of, site_plan_of
from forum.storage import Variant
from forum.timeutil import utcnow
from forum.views.images import send_image
from forum.web.context import commit, db_session, login_required, notify, require_user
from forum.web.ratelimits import BOARD_LIMITS
from forum.web.templating import render_template
from forum.web.uploads import uploaded_images

blueprint = Blueprint("report_admin", __name__)

GUIDE_MOST = 500  # a district's whole guide on one page, or one category of it
ONE_PLAN = N_("Choose one picture for the site plan; you chose %(count)d.")


# ---- A community's settings -------------------------------------------------------------------------------


async def _settings_page(
    community: Community,
    *,
    failed: str | None = None,
    form: Any = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    """The settings; after a failed form, that form (`failed`: "category", "category-<id>", "place", "hours",
    "plan") shows what was sent and why."""
    session = db_session()
    return await render_template(
        "report_admin/settings.html",
        community=community,
        categories=await categories_of(session, community.id or 0, archived=True),
        places=await places_of(session, community.id or 0, archived=True),
        plan=await site_plan_of(session, community.id or 0),
        hours_min=report_settings.ANSWER_HOURS_MIN,
        hours_max=report_settings.ANSWER_HOURS_MAX,
        category_max=report_settings.CATEGORY_NAME_MAX,
        place_max=report_settings.PLACE_NAME_MAX,
        failed=failed,
        form=form or {},
        errors=errors or {},
    ), status


def _settings(community: Community, anchor: str | None = None) -> Any:
    return redirect(url_for("report_admin.settings", slug=community.slug, _anchor=anchor))


@blueprint.get("/c/<slug>/reports/settings")
@login_required
async def settings(slug: str) -> Any:
    community, _standing = await access_community_to_moderate(db_session(), require_user(), slug)
    return await _settings_page(community)


async def _setting(slug: str, failed: str, step: Any, done: str, anchor: str) -> Any:
    """Run one change of the settings page's forms; bad input shows the page again with that form's messages."""
    user = require_user()
    community, standing = await access_community_to_moderate(db_session(), user, slug)
    form = await request.form
    try:
        await step(user, community, standing, form)
    except InvalidInput as error:  # refused before anything was written
        return await _settings_page(
            community, failed=failed, form=form, errors=error.translated_fields(), status=error.status
        )
    await commit()
    await notify(done)
    return _settings(community, anchor)


@blueprint.post("/c/<slug>/reports/settings/categories")
@login_required
@rate_limit(limits=BOARD_LIMITS)
async def add_category(slug: str) -> Any:
    async def step(user: Any, community: Community, standing: CommunityStanding, form: Any) -> None:
        await report_settings.add_category(
            db_session(), actor=user, community=community, standing=standing, name=form.get("name")
        )

    return await _setting(slug, "category", step, N_("The category is added."), "categories")


@blueprint.post("/c/<slug>/reports/settings/categories/<id:category_id>/rename")
@login_required
@rate_limit(limits=BOARD_LIMITS)
async def rename_category(slug: str, category_id: int) -> Any:
    async def step(user: Any, community: Community, standing: CommunityStanding, form: Any) -> None:
        category = await report_category_in(db_session(), community.id or 0, category_id)
        await report_settings.rename_category(
            db_session(), actor=user, category=category, standing=standing, name=form.get("name")
        )

    return await _setting(
        slug, f"category-{category_id}", step, N_("The category is renamed."), f"category-{category_id}"
    )


@blueprint.post("/c/<slug>/reports/settings/categories/<id:category_id>/archive")
@login_required
@rate_limit(limits=BOARD_LIMITS)
async def archive_category(slug: str, category_id: int) -> Any:
    """`archived=1` archives (offered no more), `archived=0` restores."""
    archived = (await request.form).get("archived", "1") == "1"

    async def step(user: Any, community: Community, standing: CommunityStanding, form: Any) -> None:
        category = await report_category_in(db_session(), community.id or 0, category_id)
        await report_settings.set_category_archived(
            db_session(), actor=user, category=category, standing=standing, archived=archived
        )

    done = N_("The category is archived.") if archived else N_("The category is offered again.")
    return await _setting(slug, f"category-{category_id}", step, done, f"category-{category_id}")


@blueprint.post("/c/<slug>/reports/settings/places")
@login_required
@rate_limit(limits=BOARD_LIMITS)
async def add_place(slug: str) -> Any:
    async def step(user: Any, community: Community, standing: CommunityStanding, form: Any) -> None:
        await report_settings.add_place(
            db_session(), actor=user, community=community, standing=standing, name=form.get("name")
        )

    return await _setting(slug, "place", step, N_("The place is added."), "places")


@blueprint.post("/c/<slug>/reports/settings/places/<id:place_id>/archive")
@login_required
@rate_limit(limits=BOARD_LIMITS)
async def archive_place(slug: str, place_id: int) -> Any:
    archived = (await request.form).get("archived", "1") == "1"

    async def step(user: Any, community: Community, standing: CommunityStanding, form: Any) -> None:
        place = await report_place_in(db_session(), community.id or 0, place_id)
        await report_settings.set_place_archived(
            db_session(), actor=user, place=place, standing=standing, archived=archived
        )

    done = N_("The place is archived.") if archived else N_("The place is offered again.")
    return await _setting(slug, f"place-{place_id}", step, done, f"place-{place_id}")


@blueprint.post("/c/<slug>/reports/settings/hours")
@login_required
async def answer_hours(slug: str) -> Any:
    async def step(user: Any, community: Community, standing: CommunityStanding, form: Any) -> None:
        await report_settings.set_answer_hours(
            db_session(), actor=user, community=community, standing=standing, hours=form.get("hours", "")
        )

    return await _setting(slug, "hours", step, N_("The answer time is saved, for reports made from now on."), "hours")


@blueprint.post("/c/<slug>/reports/settings/site-plan")
@login_required
@rate_limit(limits=BOARD_LIMITS)
async def upload_plan(slug: str) -> Any:
    async def step(user: Any, community: Community, standing: CommunityStanding, form: Any) -> None:
        images = await uploaded_images(most=1, too_many=ONE_PLAN)
        if not images:
            raise field_error("images", N_("Choose a picture of the site plan."))
        await report_settings.set_site_plan(
            db_session(), actor=user, community=community, standing=standing, image=images[0]
        )

    return await _setting(slug, "plan", step, N_("The site plan is saved."), "plan")


@blueprint.post("/c/<slug>/reports/settings/site-plan/remove")
@login_required
async def remove_plan(slug: str) -> Any:
    async def step(user: Any, community: Community, standing: CommunityStanding, form: Any) -> None:
        await report_settings.set_site_plan(
            db_session(), actor=user, community=community, standing=standing, image=None
        )

    return await _setting(slug, "plan", step, N_("The site plan is removed."), "plan")


@blueprint.get("/c/<slug>/site-plan")
@login_required
async def site_plan(slug: str) -> Any:
    """The community's site plan for its readers (`?size=thumb` for the small one). Its address stays the same
    when a secretary replaces it, so browsers ask again each time (the ETag makes that cheap)."""
    community, _standing = await access_community_content(db_session(), require_user(), slug)
    plan = await site_plan_of(db_session(), community.id or 0)
    if plan is None:
        raise NotFound(N_("This community has no site plan yet."))
    variant: Variant = "thumb" if request.args.get("size") == "thumb" else "full"
    return await send_image(plan, variant, cache_control="private, no-cache")


# ---- The response guide and the FAQ -----------------------------------------------------------------------


def _by_category(entries: list[GuideEntry]) -> list[tuple[str, list[GuideEntry]]]:
    grouped: dict[str, list[GuideEntry]] = {}
    for entry in entries:
        grouped.setdefault(entry.category, []).append(entry)
    return list(grouped.items())


def _category_names() -> list[str]:
    return list(report_settings.DEFAULT_CATEGORIES)


async def _guide_page(
    standing: DistrictStanding,
    *,
    failed: str | None = None,
    form: Any = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    category = request.args.get("category", "").strip()[: guide.CATEGORY_MAX]
    query = request.args.get("q", "").strip()[:100]
    entries = await guide_entries(
        db_session(),
        district_id=standing.district.id or 0,
        category=category or None,
        query=query,
        public_only=False,
        most=GUIDE_MOST,
    )
    return await render_template(
        "report_admin/guide.html",
        district=standing.district,
        standing=standing,
        groups=_by_category(entries),
        category=category,
        query=query,
        category_names=_category_names(),
        limits=guide,
        failed=failed,
        form=form or {},
        errors=errors or {},
    ), status


@blueprint.get("/d/<district_slug>/guide")
@login_required
async def guide_index(district_slug: str) -> Any:
    """The whole guide, by category, for the district's admins (who keep it) and its communities' secretaries."""
    standing = await access_district(db_session(), require_user(), district_slug)
    return await _guide_page(standing)


def _entry_fields(form: Any) -> dict[str, Any]:
    return {
        "category": form.get("category"),
        "question": form.get("question"),
        "answer": form.get("answer"),
        "department": form.get("department", ""),
        "rule": form.get("rule", ""),
        "public": form.get("public") == "1",
    }


@blueprint.post("/d/<district_slug>/guide")
@login_required
@rate_limit(limits=BOARD_LIMITS)
async def guide_add(district_slug: str) -> Any:
    user = require_user()
    standing = await access_district(db_session(), user, district_slug)
    form = await request.form
    try:
        entry = await guide.add_entry(
            db_session(),
            actor=user,
            district_id=standing.district.id or 0,
            is_district_admin=standing.is_admin,
            **_entry_fields(form),
        )
    except InvalidInput as error:  # refused before anything was written
        return await _guide_page(
            standing, failed="add", form=form, errors=error.translated_fields(), status=error.status
        )
    await commit()
    await notify(N_("The answer is in the guide."))
    return redirect(url_for("report_admin.guide_index", district_slug=district_slug, _anchor=f"entry-{entry.id}"))


async def _entry_form(
    standing: DistrictStanding, entry: GuideEntry, *, form: Any, errors: dict[str, str], status: int = 200
) -> Any:
    return await render_template(
        "report_admin/guide_edit.html",
        district=standing.district,
        entry=entry,
        category_names=_category_names(),
        limits=guide,
        form=form,
        errors=errors,
    ), status


@blueprint.get("/d/<district_slug>/guide/<id:entry_id>/edit")
@login_required
async def guide_edit_form(district_slug: str, entry_id: int) -> Any:
    standing = await access_district(db_session(), require_user(), district_slug)
    require_district_admin(standing)
    entry = await guide_entry_in(db_session(), standing.district.id or 0, entry_id)
    form = {
        "category": entry.category,
        "question": entry.question,
        "answer": entry.answer,
        "department": entry.department,
        "rule": entry.rule,
        "public": "1" if entry.is_public else "",
    }
    return await _entry_form(standing, entry, form=form, errors={})


@blueprint.post("/d/<district_slug>/guide/<id:entry_id>/edit")
@login_required
@rate_limit(limits=BOARD_LIMITS)
async def guide_edit(district_slug: str, entry_id: int) -> Any:
    user = require_user()
    standing = await access_district(db_session(), user, district_slug)
    entry = await guide_entry_in(db_session(), standing.district.id or 0, entry_id)
    form = await request.form
    try:
        await guide.edit_entry(
            db_session(), actor=user, entry=entry, is_district_admin=standing.is_admin, **_entry_fields(form)
        )
    except InvalidInput as error:  # refused before anything was written (nothing of the entry changed)
        return await _entry_form(standing, entry, form=form, errors=error.translated_fields(), status=error.status)
    await commit()
    await notify(N_("The answer is saved."))
    return redirect(url_for("report_admin.guide_index", district_slug=district_slug, _anchor=f"entry-{entry_id}"))


@blueprint.post("/d/<district_slug>/guide/<id:entry_id>/delete")
@login_required
async def guide_delete(district_slug: str, entry_id: int) -> Any:
    user = require_user()
    standing = await access_district(db_session(), user, district_slug)
    entry = await guide_entry_in(db_session(), standing.district.id or 0, entry_id)
    await guide.delete_entry(db_session(), actor=user, entry=entry, is_district_admin=standing.is_admin)
    await commit()
    await notify(N_("The answer is deleted from the guide."))
    return redirect(url_for("report_admin.guide_index", district_slug=district_slug))


@blueprint.get("/c/<slug>/reports/faq")
@login_required
async def faq(slug: str) -> Any:
    """The public part of the district's guide, by category: what residents often ask, and who is responsible."""
    community, standing = await access_community_content(db_session(), require_user(), slug)
    category = request.args.get("category", "").strip()[: guide.CATEGORY_MAX]
    entries = await guide_entries(
        db_session(), district_id=community.district_id, category=category or None, public_only=True, most=GUIDE_MOST
    )
    return await render_template(
        "report_admin/faq.html",
        community=community,
        groups=_by_category(entries),
        category=category,
        categories=[row.name for row in await categories_of(db_session(), community.id or 0)],
        moderates=standing.is_secretary or standing.is_district_admin,
    )


# ---- The district's figures -------------------------------------------------------------------------------


@blueprint.get("/d/<district_slug>/reports")
@login_required
async def district_reports(district_slug: str) -> Any:
    """For the district's admins: each community's figures over 30 and 90 days, each secretary's, and the
    reports overdue now, with a link to the community's queue."""
    standing = await access_district(db_session(), require_user(), district_slug)
    require_district_admin(standing)
    return await render_template(
        "report_admin/district.html",
        district=standing.district,
        rows=await district_figures(db_session(), district_id=standing.district.id or 0, now=utcnow()),
        windows=WINDOWS,
    )
