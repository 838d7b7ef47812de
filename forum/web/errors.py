"""Every error becomes a clear message with the right status, as a page or as JSON; never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from quart import Quart, current_app, g, jsonify
from quart_rate_limiter import RateLimitExceeded
from quart_schema import RequestSchemaValidationError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from forum.errors import DomainError, InvalidInput
from forum.i18n import N_, gettext
from forum.web.context import db_session, wants_json
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


async def database_unavailable(error: DBAPIError) -> Any:
    log.error("database unavailable: %s", error.orig)
    return await _respond(503, "unavailable", gettext(HTTP_MESSAGES[503]), headers={"Retry-After": "5"})


async def unexpected_error(error: Exception) -> Any:
    log.exception("unhandled error", exc_info=error)
    return await _respond(500, "internal_error", gettext(HTTP_MESSAGES[500]))


def register(app: Quart) -> None:
    app.register_error_handler(DomainError, domain_error)
    app.register_error_handler(RateLimitExceeded, rate_limited)
    app.register_error_handler(RequestSchemaValidationError, schema_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(IntegrityError, conflicting_write)
    app.register_error_handler(DataError, bad_value)
    app.register_error_handler(OperationalError, database_unavailable)
    app.register_error_handler(InterfaceError, database_unavailable)
    app.register_error_handler(Exception, unexpected_error)
