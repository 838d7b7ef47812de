"""Input cleaning shared by the HTML forms and the JSON API. Raises `InvalidInput` with translatable messages."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TypeVar
from zoneinfo import ZoneInfo

from forum.config import LOCALES
from forum.errors import InvalidInput, field_error
from forum.i18n import N_

T = TypeVar("T")

USERNAME_MAX = 32
USERNAME_RE = re.compile(rf"^[a-z0-9][a-z0-9_.-]{{2,{USERNAME_MAX - 1}}}$")
PASSWORD_MIN = 8
PASSWORD_MAX = 128


def clean_text(
    value: object, field: str, *, max_length: int, required: bool = True, min_length: int = 0, multiline: bool = False
) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise field_error(field, N_("This field must be text."))
    # NFC so that the same name typed on two phones compares equal; control characters are never wanted.
    text = unicodedata.normalize("NFC", value).strip()
    # Line breaks matter in a post (residents type on phones) and nowhere else.
    kept = "\n\t" if multiline else ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cc" or ch in kept)
    if required and not text:
        raise field_error(field, N_("This field is required."))
    if len(text) > max_length:
        raise field_error(field, N_("At most %(max)d characters."), max=max_length)
    if text and len(text) < min_length:
        raise field_error(field, N_("At least %(min)d characters."), min=min_length)
    return text


REASON_MAX = 500  # a secretary's reason for a decision, which the person concerned reads
REASON_MIN = 2


def clean_reason(value: object, field: str = "reason", *, multiline: bool = False) -> str:
    """A secretary's reason for hiding, locking, muting, suspending or removing: required, one line unless
    `multiline`."""
    return clean_text(value, field, max_length=REASON_MAX, min_length=REASON_MIN, multiline=multiline)


def clean_username(value: object) -> str:
    username = clean_text(value, "username", max_length=USERNAME_MAX).lower()
    if not USERNAME_RE.match(username):
        raise field_error(
            "username",
            N_("3 to 32 characters: letters, digits, '_', '.' or '-', starting with a letter or digit."),
        )
    return username


def clean_password(value: object, field: str = "password") -> str:
    if not isinstance(value, str) or not value:
        raise field_error(field, N_("This field is required."))
    if len(value) < PASSWORD_MIN:
        raise field_error(field, N_("At least %(min)d characters."), min=PASSWORD_MIN)
    if len(value) > PASSWORD_MAX:
        raise field_error(field, N_("At most %(max)d characters."), max=PASSWORD_MAX)
    return value


def clean_locale(value: object) -> str | None:
    if value in (None, ""):
        return None
    if value not in LOCALES:
        raise field_error("locale", N_("Choose one of the offered languages."))
    return str(value)


class FieldErrors:
    """Collects every failed field, so a form shows all of its problems at once."""

    def __init__(self) -> None:
        self._fields: dict[str, tuple[str, dict[str, object]]] = {}
        self._status = 422

    def check(self, clean: Callable[..., T], *args: object, **kwargs: object) -> T | None:
        try:
            return clean(*args, **kwargs)
        except InvalidInput as error:
            self._fields.update(error.fields)
            self._keep_status(error.status)
            return None

    def __contains__(self, field: str) -> bool:
        return field in self._fields

    def add(self, field: str, message: str, *, status: int = 422, **params: object) -> None:
        self._fields[field] = (message, params)
        self._keep_status(status)

    def _keep_status(self, status: int) -> None:
        # A specific answer (403 wrong password, 409 taken) says more than the generic 422.
        if self._status == 422:
            self._status = status

    def raise_if_any(self) -> None:
        if self._fields:
            raise InvalidInput(self._fields, status=self._status)


MAX_ID = 2**31 - 1  # ids are 32-bit in PostgreSQL


def parse_id(raw: object) -> int | None:
    """An id typed into a form or query string, or None: ASCII digits only ("²".isdigit() is true, but int()
    refuses it) and within the 32-bit range, so it can never reach the database as an error."""
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        return None
    value = int(raw)
    return value if value <= MAX_ID else None


# A number as text (a form's field, or the API's string form of one): the parsers take nine digits, a point
# and two decimals, a currency sign, a minus sign to refuse with a message. The API refuses longer text.
NUMBER_TEXT_MAX = 32


def whole_number(value: object) -> object:
    """A whole number typed into a form, as an int; anything else unchanged, for the caller to refuse by name.
    ASCII digits only ("²".isdigit() is true, but int() refuses it) and at most nine, so int() can neither fail
    nor take long."""
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 9:
            return int(text)
    return value


WHEN_TEXT_MAX = 64  # a moment as ISO 8601 text ("2026-12-05T09:00:00.000000+08:00" is 32)
_MONEY = re.compile(r"\d{1,9}(\.\d{1,2})?")


def parse_yuan(value: object, field: str, *, most_cents: int, required: bool = True) -> int | None:
    """Yuan as typed ("12", "12.5", "¥12.50") in fen; none for an empty optional field."""
    text = value.strip().lstrip("¥￥").strip() if isinstance(value, str) else value
    if isinstance(text, bool):
        raise field_error(field, N_("Give an amount in yuan, such as 12 or 12.50."))
    if isinstance(text, int | float):
        text = str(text)
    if text in (None, ""):
        if required:
            raise field_error(field, N_("Give an amount in yuan, such as 12 or 12.50."))
        return None
    if not isinstance(text, str) or not _MONEY.fullmatch(text):
        if isinstance(text, str) and text.startswith("-"):
            raise field_error(field, N_("An amount cannot be negative."))
        raise field_error(field, N_("Give an amount in yuan, such as 12 or 12.50."))
    try:
        cents = int(Decimal(text) * 100)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise field_error(field, N_("Give an amount in yuan, such as 12 or 12.50.")) from None
    if cents > most_cents:
        raise field_error(field, N_("At most ¥%(most)s."), most=f"{most_cents // 100:,}")
    return cents


def parse_count(value: object, field: str, *, most: int) -> int:
    """A whole number of units, 1 to `most`."""
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,6}\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise field_error(field, N_("Give a whole number."))
    if value < 1:
        raise field_error(field, N_("At least one."))
    if value > most:
        raise field_error(field, N_("At most %(most)d."), most=most)
    return value


def parse_when(value: object, field: str, *, zone: str) -> datetime | None:
    """A moment as a form or the API gives it: an aware datetime, or ISO 8601 text ("2026-12-05T09:00", as a
    datetime-local input sends it, or with an offset). Without an offset it is a time in `zone`, the
    community's clock. None for nothing given; an error for anything else."""
    if isinstance(value, datetime):
        moment = value
    elif value is None or (isinstance(value, str) and not value.strip()):
        return None
    elif isinstance(value, str) and len(value) <= WHEN_TEXT_MAX:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise field_error(field, N_("Give a day and time, such as 2026-12-05 09:00.")) from None
    else:
        raise field_error(field, N_("Give a day and time, such as 2026-12-05 09:00."))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset that leaves the calendar
        raise field_error(field, N_("Give a day and time, such as 2026-12-05 09:00.")) from None
    if not 2000 <= moment.year <= 2100:
        raise field_error(field, N_("Give a day and time, such as 2026-12-05 09:00."))
    return moment
