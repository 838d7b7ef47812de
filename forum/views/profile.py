from __future__ import annotations

from typing import Any

from quart import Blueprint

from forum.errors import NotFound
from forum.models import id_of
from forum.queries.communities import activity_of, profile
from forum.queries.letters import letters_received
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
    # Only what the viewer may read anyway: the communities they share (or administer).
    community_ids = [id_of(item.community) for item in found.communities]
    return await render_template(
        "profile/show.html",
        profile=found,
        blocked=blocked,
        activity=await activity_of(db_session(), found.user, viewer=viewer, community_ids=community_ids),
        letters=await letters_received(db_session(), found.user, viewer, community_ids=community_ids),
    )
