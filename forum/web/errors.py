"""Every error becomes a clear message with the right status, as a page or as JSON; never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from quart import Quart, current_app, g, jsonify, request
from quart_rate_limiter import RateLimitExceeded
from quart_schema import RequestSchemaValidationError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from werkzeug.exceptions import HTTPException

from forum.db import COMMITTED, COMMITTING
from forum.errors import DomainError, InvalidInput
from forum.i18n import N_, gettext
from forum.outage import RETRY_AFTER_SECONDS, classify
from forum.web.context import database, db_session, wants_json
from forum.web.templating import render_template

log = logging.getLogger(__name__)

HTTP_MESSAGES = {
    400: N_("The request could not be understood."),
    401: N_("Please log in first."),
    403: N_("You do not have permission to do that."),
    404: N_("That page or item does not exist, or you cannot see it."),
    405: N_("That action is not allowed here."),
    409: N_("Someone else changed this at the same moment. Please try again."),
    413: N_("What you sent is too large."),
    429: N_("That was too often. Please wait %(seconds)d seconds and try again."),
    500: N_("Something went wrong on our side. Nothing you sent was lost; please try again."),
    503: N_("The service is briefly unavailable. Please try again in a moment."),
}


async def _respond(status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **extra: Any) -> Any:
    body: Any
    if wants_json():
        body = jsonify({"error": code, "message": message, **extra})
    else:
        body = await render_template("errors/error.html", status=status, message=message, **extra)
    return body, status, headers or {}


async def domain_error(error: DomainError) -> Any:
    extra: dict[str, Any] = {}
    if isinstance(error, InvalidInput):
        extra["fields"] = error.translated_fields()
    return await _respond(error.status, error.code, error.translated(), **extra)


async def rate_limited(error: RateLimitExceeded) -> Any:
    message = gettext(HTTP_MESSAGES[429], seconds=error.retry_after)
    return await _respond(429, "rate_limited", message, headers={"Retry-After": str(error.retry_after)})


# Too long for the action: the request models carry the actions' own limits (forum/api/schemas.py), and such a
# value is answered as the action would answer it (422 and its message), not as a malformed body (400).
TOO_LONG = {"string_too_long", "too_long"}


async def schema_error(error: RequestSchemaValidationError) -> Any:
    fields: dict[str, str] = {}
    too_long_only = True
    inner = error.validation_error
    if isinstance(inner, ValidationError):
        for item in inner.errors():
            location = ".".join(str(part) for part in item["loc"]) or "body"
            too_long_only = too_long_only and item["type"] in TOO_LONG
            if item["type"] == "missing":
                fields[location] = gettext(N_("This field is required."))
            elif item["type"] == "string_too_long":
                fields[location] = gettext(N_("At most %(max)d characters."), max=item.get("ctx", {})["max_length"])
            elif item["type"] == "too_long":
                fields[location] = gettext(N_("This value is too long."))
            else:
                fields[location] = gettext(N_("This value has the wrong type or format."))
    if fields and too_long_only:
        return await _respond(422, "invalid_input", gettext(InvalidInput.default_message), fields=fields)
    message = gettext(N_("The request body is not valid JSON of the expected shape."))
    return await _respond(400, "invalid_body", message, fields=fields)


async def http_error(error: HTTPException) -> Any:
    status = error.code or 500
    if status == 429:
        message = gettext(N_("That was too often. Please wait a moment and try again."))
    elif status == 413:
        # Almost always pictures: say how much fits, so the next attempt can succeed.
        limit = current_app.config["MAX_REQUEST_BYTES"] / (1024 * 1024)
        message = gettext(
            N_("What you sent is too large: at most %(max)s MB at once. Go back and send fewer or smaller pictures."),
            max=f"{limit:g}",
        )
    else:
        message = gettext(HTTP_MESSAGES.get(status, HTTP_MESSAGES[400]))
    return await _respond(status, (error.name or "error").lower().replace(" ", "_"), message)


async def _reset_session() -> None:
    """After a failed flush the session must roll back before anything else uses it. The rollback expires the
    ORM rows; the error page reads only the plain `viewer` snapshot, so it needs none of them."""
    if "db_session" in g:
        await db_session().rollback()


async def conflicting_write(error: IntegrityError) -> Any:
    # Two people did the same thing at the same instant (the same username, the same join request): the
    # checks passed for both, the database's constraint stopped the second, and its transaction rolled back.
    log.info("integrity conflict: %s", error.orig)
    await _reset_session()
    return await _respond(409, "conflict", gettext(HTTP_MESSAGES[409]))


async def bad_value(error: DataError) -> Any:
    # A value the database cannot hold (out of range, not representable): the request was malformed.
    log.info("data error: %s", error.orig)
    await _reset_session()
    return await _respond(400, "bad_request", gettext(HTTP_MESSAGES[400]))


# While the database is away. A reader is told the page comes back by itself (and the page retries); a writer is
# told what became of what they sent: not saved, saved, or (the connection lost during the COMMIT) not known.
UNAVAILABLE_READ = N_(
    "The site is briefly unavailable and will come back by itself. This page tries again in a few seconds."
)
UNAVAILABLE_NOT_SAVED = N_(
    "The site is briefly unavailable, so what you sent was not saved. Go back and send it again in a moment."
)
UNAVAILABLE_SAVED = N_(
    "What you sent was saved, but the site became briefly unavailable before the next page could be shown. "
    "Do not send it again."
)
UNAVAILABLE_UNKNOWN = N_(
    "The site became unavailable while saving what you sent, so it may or may not have been saved. "
    "Check in a moment before sending it again."
)


def _saved() -> bool | None:
    """What became of this request's writes: True committed, None not known, False not saved."""
    info = g.db_session.info if "db_session" in g else {}
    if info.get(COMMITTED):
        return True
    return None if info.get(COMMITTING) else False


async def database_unavailable(error: BaseException) -> Any:
    """503 with Retry-After, on pages and in the API, when the database is away or busy (forum.outage). Logged
    once per outage, not per request."""
    database().outage.note(error)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return await _respond(503, "unavailable", gettext(UNAVAILABLE_READ), headers=headers, retry=True)
    saved = _saved()
    message = {True: UNAVAILABLE_SAVED, None: UNAVAILABLE_UNKNOWN, False: UNAVAILABLE_NOT_SAVED}[saved]
    return await _respond(503, "unavailable", gettext(message), headers=headers, saved=saved)


async def database_error(error: DBAPIError) -> Any:
    """A database error that is neither a conflict nor a bad value: the database away or busy (503), or a bug
    (500)."""
    return await unexpected_error(error)


async def unexpected_error(error: Exception) -> Any:
    if classify(error) is not None:  # a raw socket error from the driver, a pool timeout: the database, not a bug
        return await database_unavailable(error)
    log.exception("unhandled error", exc_info=error)
    return await _respond(500, "internal_error", gettext(HTTP_MESSAGES[500]))


def register(app: Quart) -> None:
    app.register_error_handler(DomainError, domain_error)
    app.register_error_handler(RateLimitExceeded, rate_limited)
    app.register_error_handler(RequestSchemaValidationError, schema_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(IntegrityError, conflicting_write)
    app.register_error_handler(DataError, bad_value)
    app.register_error_handler(DBAPIError, database_error)
    app.register_error_handler(Exception, unexpected_error)
