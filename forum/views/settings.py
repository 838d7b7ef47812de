"""Settings: display name, language, password, and the list of signed-in devices."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, redirect, request, url_for
from quart_rate_limiter import rate_limit

from forum.actions import accounts, message_settings, notifications
from forum.actions import sessions as session_actions
from forum.devices import describe_device
from forum.errors import InvalidInput, NotFound
from forum.i18n import N_
from forum.models import NotificationKind, User
from forum.queries.accounts import list_sessions
from forum.queries.messages import blocked_by, saved_answers_of
from forum.queries.notifications import muted_kinds
from forum.web.context import commit, current_auth_session, db_session, login_required, notify, require_user
from forum.web.ratelimits import PASSWORD_LIMITS
from forum.web.signin import sign_out
from forum.web.templating import render_template

blueprint = Blueprint("settings", __name__, url_prefix="/settings")


async def _page(*, errors: dict[str, str] | None = None, form: Any = None, status: int = 200) -> Any:
    user = require_user()
    auth_session = current_auth_session()
    sessions = await list_sessions(db_session(), user=user)
    return await render_template(
        "settings/index.html",
        viewer_policy=user.message_policy,
        notification_kinds=list(NotificationKind),
        muted=await muted_kinds(db_session(), user),
        answers=await saved_answers_of(db_session(), user),
        blocked=await blocked_by(db_session(), user),
        sessions=sessions,
        current_session_id=auth_session.id if auth_session else None,
        errors=errors or {},
        form=form or {"display_name": user.display_name, "locale": user.locale or ""},
        devices={item.id: describe_device(item.user_agent) for item in sessions},
    ), status


@blueprint.get("")
@login_required
async def index() -> Any:
    return await _page()


@blueprint.post("/profile")
@login_required
async def profile() -> Any:
    form = await request.form
    try:
        await accounts.update_profile(
            db_session(),
            user=require_user(),
            display_name=form.get("display_name"),
            locale=form.get("locale"),
        )
    except InvalidInput as error:
        return await _page(errors=error.translated_fields(), form=form, status=error.status)
    await commit()
    await notify(N_("Saved."))
    return redirect(url_for("settings.index"))


@blueprint.post("/messages")
@login_required
async def message_policy() -> Any:
    form = await request.form
    try:
        await message_settings.set_message_policy(db_session(), actor=require_user(), policy=form.get("message_policy"))
    except InvalidInput as error:
        return await _page(errors=error.translated_fields(), status=error.status)
    await commit()
    await notify(N_("Saved."))
    return redirect(url_for("settings.index"))


@blueprint.post("/notifications")
@login_required
async def notification_kinds() -> Any:
    """Each kind of notification is a checkbox named `on`; the kinds left unticked are turned off."""
    chosen = set((await request.form).getlist("on"))
    await notifications.set_muted(
        db_session(), user=require_user(), kinds=[kind for kind in NotificationKind if kind not in chosen]
    )
    await commit()
    await notify(N_("Saved."))
    return redirect(url_for("settings.index", _anchor="notifications-heading"))


@blueprint.post("/answers")
@login_required
async def add_answer() -> Any:
    form = await request.form
    user = require_user()
    try:
        await message_settings.add_saved_answer(
            db_session(), actor=user, title=form.get("answer_title"), body=form.get("answer_body")
        )
    except InvalidInput as error:
        kept = {"display_name": user.display_name, "locale": user.locale or "", **form.to_dict()}
        return await _page(errors=error.translated_fields(), form=kept, status=error.status)
    await commit()
    return redirect(url_for("settings.index", _anchor="answers-heading"))


@blueprint.post("/answers/<id:answer_id>/delete")
@login_required
async def delete_answer(answer_id: int) -> Any:
    await message_settings.delete_saved_answer(db_session(), actor=require_user(), answer_id=answer_id)
    await commit()
    return redirect(url_for("settings.index", _anchor="answers-heading"))


@blueprint.post("/blocked/<username>/remove")
@login_required
async def unblock(username: str) -> Any:
    await message_settings.set_blocked(
        db_session(), actor=require_user(), target=await _user_named(username), blocked=False
    )
    await commit()
    return redirect(url_for("settings.index"))


@blueprint.post("/blocked/<username>")
@login_required
async def block(username: str) -> Any:
    """Block private messages from someone (from their profile page)."""
    target = await _user_named(username)
    await message_settings.set_blocked(db_session(), actor=require_user(), target=target, blocked=True)
    await commit()
    await notify(N_("%(name)s can no longer send you private messages."), name=target.display_name)
    return redirect(url_for("profile.show", username=target.username))


async def _user_named(username: str) -> User:
    found = await accounts.find_user_by_username(db_session(), username)
    if found is None:
        raise NotFound()
    return found


@blueprint.post("/password")
@login_required
@rate_limit(limits=PASSWORD_LIMITS)
async def password() -> Any:
    form = await request.form
    auth_session = current_auth_session()
    try:
        await accounts.change_password(
            db_session(),
            user=require_user(),
            current_password=form.get("current_password"),
            new_password=form.get("new_password"),
            keep_session_id=auth_session.id if auth_session else None,
        )
    except InvalidInput as error:
        return await _page(errors=error.translated_fields(), status=error.status)
    await commit()
    await notify(N_("Password changed. Your other devices have been logged out."))
    return redirect(url_for("settings.index"))


@blueprint.post("/sessions/<id:session_id>/end")
@login_required
async def end_session(session_id: int) -> Any:
    if await session_actions.end_session_of_user(db_session(), user=require_user(), session_id=session_id):
        await commit()
        await notify(N_("That device has been logged out."))
    return redirect(url_for("settings.index"))


@blueprint.post("/sessions/end-all")
@login_required
async def end_all_sessions() -> Any:
    """Log out everywhere, this device included."""
    await session_actions.end_all_sessions(db_session(), user=require_user())
    await commit()
    await sign_out(None)
    await notify(N_("You have been logged out on all devices."))
    return redirect(url_for("auth.login"))
