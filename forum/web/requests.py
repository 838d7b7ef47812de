"""The request class: a JSON body is read strictly, in one place, for every route and for the rate limiter.

Quart decodes the body as UTF-8 before its try (a stray byte raised UnicodeDecodeError), lets RecursionError
out of a deeply nested body, and hands NUL characters on to PostgreSQL, which refuses them in text. Each was
a 500 on every JSON endpoint; here each is a 400 that says what is wrong, before anything runs.
"""

from __future__ import annotations

import json
from typing import Any

from quart import Request as QuartRequest

from forum.errors import InvalidInput
from forum.i18n import N_

# Deeper than any request model (three levels at most); a fixed bound, rather than whatever the recursion
# limit leaves at the moment of parsing, so that a body is accepted or refused the same way everywhere.
MAX_DEPTH = 32


class MalformedBody(InvalidInput):
    """The body is not UTF-8, not JSON, nested too deeply, or holds a NUL character (`fields` says where)."""

    code = "invalid_body"
    default_message = N_("The request body is not valid JSON of the expected shape.")

    def __init__(self, field: str, message: str, **params: object) -> None:
        super().__init__({field: (message, params)}, status=400)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python reads them, JSON has no such thing


def parse_json(raw: bytes) -> Any:
    """The JSON value in `raw`, or MalformedBody."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("body", N_("The body is not UTF-8 text.")) from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise _too_deep() from None
    except ValueError:
        raise MalformedBody("body", N_("The body is not valid JSON.")) from None
    _check(value)
    return value


def _too_deep() -> MalformedBody:
    return MalformedBody("body", N_("The body is nested too deeply (at most %(depth)d levels)."), depth=MAX_DEPTH)


def _nul(where: str) -> MalformedBody:
    return MalformedBody(
        where or "body",
        N_("The text contains a character that cannot be stored (a NUL byte). Remove it and try again."),
    )


def _check(value: Any) -> None:
    """Walk the value without recursion: refuse nesting beyond MAX_DEPTH and NUL in any string or key."""
    pending: list[tuple[Any, int, str]] = [(value, 1, "")]
    while pending:
        item, depth, where = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise _nul(where)
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise _too_deep()
        entries = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in entries:
            if isinstance(key, str) and "\x00" in key:
                raise _nul(where)
            pending.append((child, depth + 1, f"{where}.{key}" if where else str(key)))


class Request(QuartRequest):
    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """As Quart's, with `parse_json`: a malformed body raises MalformedBody (None when `silent`)."""
        if cache and self._cached_json[silent] is not Ellipsis:
            return self._cached_json[silent]
        if not (force or self.is_json):
            return None
        try:
            result = parse_json(await self.get_data(cache, False, False))  # bytes: decoded in parse_json
        except MalformedBody:
            if not silent:
                raise
            result = None
        if cache:
            self._cached_json[silent] = result
        return result
