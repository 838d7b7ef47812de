"""A community's page, joining it, and its QR poster."""

from __future__ import annotations

from typing import Any

import segno
from markupsafe import Markup
from quart import Blueprint, redirect, request, url_for
from quart_rate_limiter import rate_limit

from forum.access import access_community, access_community_to_moderate, standing_in
from forum.actions import communities as community_actions
from forum.actions import memberships
from forum.errors import Forbidden, InvalidInput, NotFound
from forum.i18n import N_
from forum.models import Community
from forum.permissions import CommunityStanding, can_moderate, can_read_content, can_request_to_join
from forum.queries.communities import community_overview
from forum.queries.letters import featured_letters
from forum.queries.report_figures import community_figures
from forum.queries.threads import boards_of
from forum.timeutil import utcnow
from forum.web.context import commit, current_user, db_session, login_required, notify, require_user
from forum.web.ratelimits import JOIN_LIMITS
from forum.web.templating import render_template
from forum.web.urls import join_url

blueprint = Blueprint("communities", __name__)


def _join_form_values(standing: CommunityStanding | None) -> dict[str, str]:
    """A pending or declined request fills the form with what was given before."""
    membership = standing.membership if standing else None
    if membership is None:
        return {}
    return {"building": membership.building, "unit": membership.unit, "room": membership.room}


@blueprint.get("/c/<slug>")
@login_required
async def show(slug: str) -> Any:
    community, standing = await access_community(db_session(), require_user(), slug)
    return await _show_page(community, standing, form=_join_form_values(standing), errors={})


async def _show_page(
    community: Community, standing: CommunityStanding, *, form: Any, errors: dict[str, str], status: int = 200
) -> Any:
    overview = await community_overview(db_session(), community)
    readable = can_read_content(standing)
    boards = await boards_of(db_session(), community) if readable else []
    featured = await featured_letters(db_session(), community, require_user()) if readable else []
    # Accountability for problem reports, in public for the community's readers (issue 16).
    report_figures = (
        await community_figures(db_session(), community_id=community.id or 0, now=utcnow()) if readable else []
    )
    return await render_template(
        "communities/show.html",
        boards=boards,
        featured=featured,
        report_figures=report_figures,
        community=community,
        standing=standing,
        overview=overview,
        can_moderate=can_moderate(standing),
        form=form,
        errors=errors,
    ), status


async def _community_for_code(code: str) -> Community:
    community = await community_actions.find_by_join_code(db_session(), code)
    if community is None:
        raise NotFound(N_("This join code does not belong to any community. Check the poster and try again."))
    return community


async def _join_page(
    community: Community, standing: CommunityStanding | None, *, form: Any, errors: dict[str, str], status: int = 200
) -> Any:
    return await render_template(
        "communities/join.html",
        community=community,
        code=community.join_code,
        standing=standing,
        can_join=standing is None or can_request_to_join(standing),
        form=form,
        errors=errors,
    ), status


@blueprint.get("/join/<code>")
async def join(code: str) -> Any:
    """Where the poster's QR code leads. Signed-out visitors see whose community it is and are asked to sign in."""
    community = await _community_for_code(code)
    user = current_user()
    standing = await standing_in(db_session(), user, community) if user else None
    return await _join_page(community, standing, form=_join_form_values(standing), errors={})


async def _request(community: Community, standing: CommunityStanding, *, on_error: Any) -> Any:
    """Send the join form; on bad input, `on_error` renders the page the form was on, with the messages."""
    form = await request.form
    try:
        await memberships.request_to_join(
            db_session(),
            user=require_user(),
            community=community,
            standing=standing,
            building=form.get("building"),
            unit=form.get("unit"),
            room=form.get("room"),
        )
    except InvalidInput as error:
        return await on_error(community, standing, form=form, errors=error.translated_fields(), status=error.status)
    await commit()
    await notify(N_("Your request has been sent. A secretary will verify you soon."))
    return redirect(url_for("communities.show", slug=community.slug))


@blueprint.post("/join/<code>")
@login_required
@rate_limit(limits=JOIN_LIMITS)
async def join_submit(code: str) -> Any:
    community = await _community_for_code(code)
    standing = await standing_in(db_session(), require_user(), community)
    return await _request(community, standing, on_error=_join_page)


@blueprint.post("/c/<slug>/request")
@login_required
@rate_limit(limits=JOIN_LIMITS)
async def request_again(slug: str) -> Any:
    """Correct a pending request or renew a declined one without the poster: having asked once with the code is
    proof enough of having had it, even if the code has changed since."""
    community, standing = await access_community(db_session(), require_user(), slug)
    if standing.membership is None:
        raise Forbidden(N_("Scan your community's poster, or type its code, to ask to join."))
    return await _request(community, standing, on_error=_show_page)


@blueprint.get("/c/<slug>/poster")
@login_required
async def poster(slug: str) -> Any:
    community, _standing = await access_community_to_moderate(db_session(), require_user(), slug)
    url = join_url(community.join_code)
    qr = segno.make(url, error="m")
    # segno's SVG is generated from the URL's bits only: nothing user-supplied reaches the markup as text.
    svg = Markup(qr.svg_inline(scale=8, dark="#111", light="#fff", omitsize=True))  # noqa: S704
    return await render_template("communities/poster.html", community=community, url=url, qr_svg=svg)


@blueprint.post("/c/<slug>/join-code")
@login_required
async def regenerate_code(slug: str) -> Any:
    user = require_user()
    community, standing = await access_community_to_moderate(db_session(), user, slug)
    if (await request.form).get("confirm") != "1":
        await notify(N_("Tick the box to confirm: posters with the old code will stop working."), "error")
        return redirect(url_for("communities.poster", slug=community.slug))
    code = await community_actions.regenerate_join_code(
        db_session(), actor=user, community=community, standing=standing
    )
    await commit()
    await notify(N_("The new join code is %(code)s. Print the poster again: the old one no longer works."), code=code)
    return redirect(url_for("communities.poster", slug=community.slug))
