"""Registration, login and logout pages."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, redirect, request, url_for
from quart_rate_limiter import rate_limit

from forum.actions import accounts
from forum.errors import InvalidInput
from forum.web.context import current_auth_session, current_user, db_session, safe_next
from forum.web.ratelimits import LOGIN_LIMITS, REGISTER_LIMITS
from forum.web.signin import sign_in, sign_out
from forum.web.templating import render_template

blueprint = Blueprint("auth", __name__)


@blueprint.get("/register")
async def register() -> Any:
    if current_user() is not None:
        return redirect(safe_next(request.args.get("next")))
    return await render_template("auth/register.html", form={}, errors={}, next=request.args.get("next", ""))


@blueprint.post("/register")
@rate_limit(limits=REGISTER_LIMITS)
async def register_submit() -> Any:
    form = await request.form
    try:
        user = await accounts.register_user(
            db_session(),
            username=form.get("username"),
            password=form.get("password"),
            display_name=form.get("display_name"),
            locale=form.get("locale") or None,
        )
    except InvalidInput as error:
        return await render_template(
            "auth/register.html", form=form, errors=error.translated_fields(), next=form.get("next", "")
        ), error.status
    await sign_in(user)
    return redirect(safe_next(form.get("next")))


@blueprint.get("/login")
async def login() -> Any:
    if current_user() is not None:
        return redirect(safe_next(request.args.get("next")))
    return await render_template("auth/login.html", form={}, errors={}, next=request.args.get("next", ""))


@blueprint.post("/login")
@rate_limit(limits=LOGIN_LIMITS)
async def login_submit() -> Any:
    form = await request.form
    try:
        user = await accounts.authenticate(db_session(), username=form.get("username"), password=form.get("password"))
    except InvalidInput as error:
        return await render_template(
            "auth/login.html",
            form={"username": form.get("username", "")},
            errors=error.translated_fields(),
            next=form.get("next", ""),
        ), error.status
    await sign_in(user)
    return redirect(safe_next(form.get("next")))


@blueprint.post("/logout")
async def logout() -> Any:
    await sign_out(current_auth_session())
    return redirect(url_for("home.index"))
