"""What runs around every request: who is asking, in which language, and whether a write is genuine."""

from __future__ import annotations

from quart import Response, current_app, g, request
from quart_auth import current_user as auth_cookie_user
from quart_auth import logout_user

from forum.actions.sessions import resolve_session
from forum.errors import DomainError
from forum.i18n import N_, negotiate
from forum.queries.people import Person
from forum.web import csrf
from forum.web.context import db_session

LANG_COOKIE = "linli_lang"
# Production only (development is plain HTTP): browsers use HTTPS for a year after a visit. Not for
# subdomains, which may be other people's sites.
HSTS = "max-age=31536000"


async def load_user() -> None:
    """Resolve the bearer token or login cookie against the session table; a revoked cookie is deleted."""
    g.user = None
    g.auth_session = None
    g.auth_via = None
    # Plain snapshots for templates and CSRF: they stay readable even after a failed write rolled back
    # (and so expired) the ORM rows above.
    g.viewer = None
    g.auth_session_id = None
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        resolved = await resolve_session(db_session(), header[7:].strip())
        g.auth_via = "bearer"  # even when invalid: a bearer request never falls back to the cookie
    else:
        auth_id = auth_cookie_user.auth_id
        resolved = await resolve_session(db_session(), auth_id) if auth_id else None
        if auth_id and resolved is None:
            logout_user()
        elif resolved is not None:
            g.auth_via = "cookie"
    if resolved is not None:
        g.auth_session, g.user = resolved.auth_session, resolved.user
        g.auth_session_id = g.auth_session.id
        g.viewer = Person.of_viewer(resolved.user, is_party_member=resolved.is_party_member)
        if db_session().dirty:
            await db_session().commit()  # the throttled last-seen touch


def choose_locale() -> None:
    """The user's setting, else the language cookie, else Accept-Language, else Simplified Chinese."""
    user = g.get("user")
    if user is not None and user.locale:
        g.locale = user.locale
        return
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in {"zh_Hans", "en"}:
        g.locale = cookie
        return
    g.locale = negotiate(list(request.accept_languages), current_app.config["DEFAULT_LOCALE"])


async def reject_nul_bytes() -> None:
    """No legitimate text contains NUL, and PostgreSQL refuses it inside strings: answer 400 up front."""
    if "\x00" in request.path or any("\x00" in value for value in request.args.values()):
        raise DomainError(N_("The request contains a character that cannot be stored (a NUL byte)."))
    if request.mimetype in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        form = await request.form
        if any("\x00" in value for value in form.values()):
            raise DomainError(
                N_("The text contains a character that cannot be stored (a NUL byte). Remove it and try again.")
            )


async def before_request() -> None:
    await reject_nul_bytes()
    await load_user()
    choose_locale()
    await csrf.protect()


async def after_request(response: Response) -> Response:
    csrf.set_cookie(response)
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'",
    )
    if current_app.config["PRODUCTION"]:
        headers.setdefault("Strict-Transport-Security", HSTS)
    if g.get("user") is not None or request.path.startswith("/api/"):
        headers.setdefault("Cache-Control", "private, no-store")
    return response
