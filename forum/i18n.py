"""Translations: Babel catalogs, one per locale, and the per-request choice of locale.

Source strings are English; `translations/zh_Hans` translates them into Simplified Chinese, the default.
Catalogs are read from the `.po` files at start-up (compiled in memory), so there is no build step to forget.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from quart import g, has_request_context

from forum.config import LOCALES

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
_catalogs: dict[str, NullTranslations] = {}
# HTML lang attribute for each locale.
HTML_LANG = {"zh_Hans": "zh-Hans", "en": "en"}
LOCALE_NAMES = {"zh_Hans": "简体中文", "en": "English"}


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now; it is translated where it is shown."""
    return message


def load_catalogs() -> None:
    for locale in LOCALES:
        po_path = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
        if not po_path.exists():
            _catalogs[locale] = NullTranslations()
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=locale)
        buffer = BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        _catalogs[locale] = Translations(buffer)


def current_locale() -> str:
    if has_request_context():
        return str(g.get("locale", "zh_Hans"))
    return "zh_Hans"


def translations(locale: str | None = None) -> NullTranslations:
    if not _catalogs:
        load_catalogs()
    return _catalogs.get(locale or current_locale(), _catalogs["zh_Hans"])


def gettext(message: str, **params: object) -> str:
    text = translations().gettext(message)
    return text % params if params else text


class Later:
    """A msgid passed as a parameter of a message (a status's name inside "A report that is %(current)s…"): it
    is translated when the message is, into the reader's language, not when the action raised it."""

    __slots__ = ("msgid",)

    def __init__(self, msgid: str) -> None:
        self.msgid = msgid

    def __str__(self) -> str:
        return translations().gettext(self.msgid)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Later) and other.msgid == self.msgid) or other == self.msgid

    def __hash__(self) -> int:
        return hash(self.msgid)


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    text = translations().ngettext(singular, plural, n)
    return text % {"num": n, **params}


def negotiate(accept_languages: list[tuple[str, float]], default: str) -> str:
    """Pick a supported locale from an Accept-Language list (already sorted by quality)."""
    for tag, _quality in accept_languages:
        tag = tag.lower()
        if tag.startswith("zh"):
            return "zh_Hans"
        if tag.startswith("en"):
            return "en"
    return default
