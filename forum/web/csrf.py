"""CSRF protection for every state-changing request authenticated by cookie.

Signed double submit: a random value lives in an HttpOnly cookie; forms and JSON calls send HMAC(secret, value)
as the `csrf_token` field or the `X-CSRF-Token` header. A cross-site page can neither read the cookie nor compute
the HMAC. Requests authenticated by a bearer token carry no ambient credential and need no token; nor do
JSON requests that carry no login cookie (see `protect`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from quart import Response, current_app, g, request

from forum.errors import DomainError
from forum.i18n import N_

COOKIE_NAME = "linli_csrf"
FIELD_NAME = "csrf_token"
HEADER_NAME = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}


class CSRFError(DomainError):
    status = 403
    code = "csrf_failed"
    default_message = N_("This form has expired or did not come from this site. Reload the page and try again.")


def _sign(value: str) -> str:
    """Bound to the login session too: a token from before sign-in, or from another account, is worthless."""
    key = current_app.secret_key
    assert isinstance(key, str)  # noqa: S101 -- set by create_app
    bound = f"csrf:{g.get('auth_session_id') or '-'}:{value}"
    return hmac.new(key.encode(), bound.encode(), hashlib.sha256).hexdigest()


def _cookie_value() -> str:
    if "csrf_cookie" not in g:
        existing = request.cookies.get(COOKIE_NAME, "")
        g.csrf_cookie = existing if 20 <= len(existing) <= 100 else secrets.token_urlsafe(32)
    value: str = g.csrf_cookie
    return value


def csrf_token() -> str:
    """The token for forms on this page (a template global)."""
    return _sign(_cookie_value())


def rotate() -> None:
    """A new value at login, so a token seen before login is worthless after."""
    g.csrf_cookie = secrets.token_urlsafe(32)


async def protect() -> None:
    if request.method in SAFE_METHODS or g.get("auth_via") == "bearer":
        return
    if g.get("auth_via") is None and request.mimetype == "application/json":
        # No ambient credential to abuse, and a cross-site page cannot send a JSON body without a CORS
        # preflight, which this server never grants: API sign-up and sign-in work without a token.
        return
    cookie = request.cookies.get(COOKIE_NAME)
    sent = request.headers.get(HEADER_NAME)
    if sent is None and request.mimetype in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        sent = (await request.form).get(FIELD_NAME)
    # Compare bytes: compare_digest refuses non-ASCII str, and a forged token may be anything.
    if not cookie or not sent or not hmac.compare_digest(_sign(cookie).encode(), sent.encode("utf-8", "replace")):
        raise CSRFError()


def set_cookie(response: Response) -> Response:
    value = g.get("csrf_cookie")
    if value and value != request.cookies.get(COOKIE_NAME):
        response.set_cookie(
            COOKIE_NAME,
            value,
            httponly=True,
            samesite="Lax",
            secure=bool(current_app.config["PRODUCTION"]),
            max_age=60 * 60 * 24 * 365,
        )
    return response
