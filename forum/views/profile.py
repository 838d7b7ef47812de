from __future__ import annotations

from typing import Any

from quart import Blueprint

from forum.errors import NotFound
from forum.queries.communities import profile
from forum.queries.messages import has_blocked
from forum.web.context import db_session, login_required, require_user
from forum.web.templating import render_template

blueprint = Blueprint("profile", __name__)


@blueprint.get("/u/<username>")
@login_required
async def show(username: str) -> Any:
    viewer = require_user()
    found = await profile(db_session(), viewer=viewer, username=username)
    if found is None:
        raise NotFound()
    blocked = found.user.id != viewer.id and await has_blocked(db_session(), viewer, found.user)
    return await render_template("profile/show.html", profile=found, blocked=blocked)
