"""Home (my communities), the language switch and the health check."""

from __future__ import annotations

import logging
from typing import Any

from quart import Blueprint, current_app, jsonify, redirect, request, url_for

from forum.actions import accounts
from forum.actions.communities import find_by_join_code
from forum.config import LOCALES
from forum.i18n import N_, gettext
from forum.outage import RETRY_AFTER_SECONDS
from forum.queries.communities import my_communities
from forum.web.context import commit, current_user, database, db_session, login_required, require_user, safe_next
from forum.web.hooks import LANG_COOKIE
from forum.web.templating import render_template

log = logging.getLogger(__name__)
blueprint = Blueprint("home", __name__)


@blueprint.get("/")
async def index() -> Any:
    user = current_user()
    if user is None:
        return await render_template("home/welcome.html")
    return await render_template(
        "home/index.html", communities=await my_communities(db_session(), user), code="", code_error=""
    )


@blueprint.post("/join")
@login_required
async def join_with_code() -> Any:
    typed = (await request.form).get("code", "")
    community = await find_by_join_code(db_session(), typed)
    if community is None:
        # Back to the same form, with what was typed and why it did not work.
        message = gettext(N_("No community has this join code. Check the code under the poster's QR code."))
        return await render_template(
            "home/index.html",
            communities=await my_communities(db_session(), require_user()),
            code=typed[:20],
            code_error=message,
        ), 422
    return redirect(url_for("communities.join", code=community.join_code))


@blueprint.post("/language")
async def set_language() -> Any:
    form = await request.form
    locale = form.get("locale")
    response = redirect(safe_next(form.get("next")))
    if locale not in LOCALES:
        return response
    user = current_user()
    if user is not None:
        await accounts.update_profile(db_session(), user=user, display_name=user.display_name, locale=locale)
        await commit()
    response.set_cookie(
        LANG_COOKIE,
        locale,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        httponly=True,
        secure=bool(current_app.config["PRODUCTION"]),  # as the session and CSRF cookies
    )
    return response


@blueprint.get("/healthz")
async def health() -> Any:
    try:
        await database().ping()
    except Exception as error:  # the answer is "unavailable", whatever the cause; the log has it (once an outage)
        if not database().outage.note(error):
            log.exception("health check: database unreachable")
        retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503, retry
    return jsonify({"status": "ok", "database": "ok"})
