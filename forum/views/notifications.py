"""The notifications page: newest first, opening one marks it read, "mark all as read"."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, redirect, request, url_for

from forum.access import access_notification
from forum.actions import notifications
from forum.queries.notifications import notifications_page
from forum.validation import parse_id
from forum.web.context import commit, db_session, login_required, require_user, safe_next
from forum.web.templating import render_template

blueprint = Blueprint("notifications", __name__)


@blueprint.get("/notifications")
@login_required
async def index() -> Any:
    user = require_user()
    page = await notifications_page(db_session(), user, before=parse_id(request.args.get("before", "")) or None)
    return await render_template(
        "notifications/index.html",
        page=page,
        show_community=len({row.community.id for row in page.rows}) > 1,
    )


@blueprint.post("/notifications/<id:notification_id>/open")
@login_required
async def open(notification_id: int) -> Any:
    found = await access_notification(db_session(), require_user(), notification_id)
    await notifications.mark_read(db_session(), user=require_user(), notification_ids=[notification_id])
    await commit()
    return redirect(safe_next(found.url, url_for("notifications.index")))


@blueprint.post("/notifications/<id:notification_id>/read")
@login_required
async def read(notification_id: int) -> Any:
    await access_notification(db_session(), require_user(), notification_id)
    await notifications.mark_read(db_session(), user=require_user(), notification_ids=[notification_id])
    await commit()
    return redirect(url_for("notifications.index", _anchor=f"n-{notification_id}"))


@blueprint.post("/notifications/read")
@login_required
async def read_all() -> Any:
    await notifications.mark_read(db_session(), user=require_user())
    await commit()
    return redirect(url_for("notifications.index"))
