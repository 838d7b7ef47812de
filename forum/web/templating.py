"""Jinja2: translations through Babel catalogs, CSRF tokens and small filters for every template."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from quart import Quart, current_app, g

from forum import i18n
from forum.web import csrf


def _when(value: datetime | None, style: str = "medium") -> str:
    if value is None:
        return ""
    return format_datetime(value, format=style, tzinfo=current_app.config["TIMEZONE"], locale=i18n.current_locale())


def _day(value: datetime | None, style: str = "long") -> str:
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(current_app.config["TIMEZONE"]))
    return format_date(local, format=style, locale=i18n.current_locale())


def setup_templating(app: Quart) -> None:
    app.jinja_env.add_extension("jinja2.ext.i18n")
    # newstyle gettext: autoescaped, and `_("%(n)s", n=1)` formats in the template safely.
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]  # added by the i18n extension at runtime
        lambda message: i18n.translations().gettext(message),
        lambda singular, plural, n: i18n.translations().ngettext(singular, plural, n),
        newstyle=True,
    )
    app.jinja_env.filters["when"] = _when
    app.jinja_env.filters["day"] = _day
    app.jinja_env.globals.update(
        csrf_token=csrf.csrf_token,
        LOCALE_NAMES=i18n.LOCALE_NAMES,
    )

    @app.context_processor
    def _page_context() -> dict[str, Any]:
        locale = i18n.current_locale()
        return {
            "viewer": g.get("viewer"),
            "locale": locale,
            "html_lang": i18n.HTML_LANG.get(locale, "zh-Hans"),
        }
