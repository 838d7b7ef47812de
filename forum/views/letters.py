"""Thank-you letters as pages: the community's thanks wall with the form to write one, a letter, likes, a
secretary featuring a letter, a recipient hiding one from their profile."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, redirect, request, url_for
from quart_rate_limiter import rate_limit

from forum.access import access_community, access_letter, require_reader
from forum.actions import letters
from forum.errors import InvalidInput
from forum.i18n import N_
from forum.models import Community
from forum.permissions import CommunityStanding, can_moderate
from forum.queries.letters import letter_view, thanks_wall
from forum.queries.threads import latest_event_id
from forum.validation import parse_id
from forum.web.context import commit, db_session, login_required, notify, require_user, safe_next
from forum.web.ratelimits import LETTER_LIMITS, LIKE_LIMITS
from forum.web.templating import render_template
from forum.web.uploads import uploaded_images

blueprint = Blueprint("letters", __name__)


@blueprint.get("/c/<slug>/thanks")
@login_required
async def wall(slug: str) -> Any:
    community, standing = await access_community(db_session(), require_user(), slug)
    return await _wall_page(community, standing, form={}, errors={}, status=200)


async def _wall_page(
    community: Community, standing: CommunityStanding, *, form: Any, errors: dict[str, str], status: int
) -> Any:
    user = require_user()
    require_reader(standing)
    before = parse_id(request.args.get("before", "")) or None
    last_event_id = await latest_event_id(db_session())  # before the letters: one written in between is replayed
    page = await thanks_wall(db_session(), community, user, moderator=can_moderate(standing), before=before)
    return await render_template(
        "letters/wall.html",
        community=community,
        page=page,
        before=before,
        last_event_id=last_event_id,
        can_write=standing.is_verified_member,
        can_feature=can_moderate(standing),
        max_images=letters.MAX_IMAGES,
        form=form,
        errors=errors,
    ), status


@blueprint.post("/c/<slug>/thanks")
@login_required
@rate_limit(limits=LETTER_LIMITS)
async def write(slug: str) -> Any:
    user = require_user()
    community, standing = await access_community(db_session(), user, slug)
    form = await request.form
    try:
        letter = await letters.write_letter(
            db_session(),
            actor=user,
            community=community,
            standing=standing,
            usernames=form.get("usernames"),
            title=form.get("title"),
            body=form.get("body"),
            group_name=form.get("group_name", ""),
            images=await uploaded_images(most=letters.MAX_IMAGES, too_many=letters.TOO_MANY_FOR_LETTER),
        )
    except InvalidInput as error:
        return await _wall_page(community, standing, form=form, errors=error.translated_fields(), status=error.status)
    await commit()
    await notify(N_("Your thank-you letter is on the wall."))
    return redirect(url_for("letters.show", letter_id=letter.id))


@blueprint.get("/letters/<id:letter_id>")
@login_required
async def show(letter_id: int) -> Any:
    user = require_user()
    letter, community, standing = await access_letter(db_session(), user, letter_id)
    return await render_template(
        "letters/show.html",
        community=community,
        view=await letter_view(db_session(), letter, user),
        can_feature=can_moderate(standing),
        can_flag=standing.is_verified_member,
    )


def _back(letter_id: int) -> str:
    return safe_next(request.args.get("next"), url_for("letters.show", letter_id=letter_id))


@blueprint.post("/letters/<id:letter_id>/like")
@login_required
@rate_limit(limits=LIKE_LIMITS)
async def like(letter_id: int) -> Any:
    user = require_user()
    letter, _community, standing = await access_letter(db_session(), user, letter_id)
    liked = (await request.form).get("value", "1") == "1"
    await letters.set_like(db_session(), actor=user, letter=letter, standing=standing, liked=liked)
    await commit()
    return redirect(_back(letter_id))


@blueprint.post("/letters/<id:letter_id>/feature")
@login_required
async def feature(letter_id: int) -> Any:
    user = require_user()
    letter, _community, standing = await access_letter(db_session(), user, letter_id)
    featured = (await request.form).get("value", "1") == "1"
    await letters.set_featured(db_session(), actor=user, letter=letter, standing=standing, featured=featured)
    await commit()
    await notify(N_("Shown on the community page.") if featured else N_("No longer on the community page."))
    return redirect(_back(letter_id))


@blueprint.post("/letters/<id:letter_id>/hide")
@login_required
async def hide(letter_id: int) -> Any:
    user = require_user()
    letter, _community, _standing = await access_letter(db_session(), user, letter_id)
    hidden = (await request.form).get("value", "1") == "1"
    await letters.set_hidden(db_session(), actor=user, letter=letter, hidden=hidden)
    await commit()
    await notify(N_("Hidden from your profile.") if hidden else N_("Shown on your profile again."))
    return redirect(_back(letter_id))
