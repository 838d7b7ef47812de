"""Jinja2: translations through Babel catalogs, CSRF tokens and small filters for every template."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import DateTimePattern, format_date, get_date_format, get_datetime_format, get_time_format
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from quart import Quart, current_app, g

from forum import i18n
from forum.paths import image_path, post_action_path, post_path, profile_path
from forum.web import csrf


@functools.lru_cache(maxsize=32)
def _datetime_patterns(locale: str, style: str) -> tuple[Locale, str, DateTimePattern, DateTimePattern]:
    babel_locale = Locale.parse(locale)
    combined = str(get_datetime_format(style, locale=babel_locale)).replace("'", "")  # type: ignore[arg-type]  # babel's literal style names
    return (
        babel_locale,
        combined,
        get_time_format(style, locale=babel_locale),  # type: ignore[arg-type]
        get_date_format(style, locale=babel_locale),  # type: ignore[arg-type]
    )


@functools.lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def format_when(value: datetime, style: str, *, locale: str, timezone: str) -> str:
    """What babel's `format_datetime` gives for the styles without a time zone name ('short', 'medium'), with
    the locale's patterns parsed once: a thread page formats 50 times, and babel parses them on every call."""
    babel_locale, combined, time_pattern, date_pattern = _datetime_patterns(locale, style)
    local = value.astimezone(_zone(timezone))
    return combined.replace("{0}", time_pattern.apply(local, babel_locale)).replace(
        "{1}", date_pattern.apply(local, babel_locale)
    )


def _when_filter(timezone: str) -> Any:
    @pass_context
    def when(context: Context, value: datetime | None, style: str = "medium") -> str:
        """A time in the reader's language and the forum's time zone. The locale comes from the page context
        (see `_page_context`): looking it up on `g` costs more than the formatting, 50 times a thread page."""
        if value is None:
            return ""
        if style not in {"short", "medium"}:
            raise ValueError(f"the when filter has no {style!r} style (it would need a time zone name)")
        return format_when(value, style, locale=context.get("locale") or i18n.current_locale(), timezone=timezone)

    return when


def _day(value: datetime | None, style: str = "long") -> str:
    if value is None:
        return ""
    local = value.astimezone(_zone(current_app.config["TIMEZONE"]))
    return format_date(local, format=style, locale=i18n.current_locale())


def setup_templating(app: Quart) -> None:
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.add_extension("jinja2.ext.do")
    # newstyle gettext: autoescaped, and `_("%(n)s", n=1)` formats in the template safely.
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]  # added by the i18n extension at runtime
        lambda message: i18n.translations().gettext(message),
        lambda singular, plural, n: i18n.translations().ngettext(singular, plural, n),
        newstyle=True,
    )
    app.jinja_env.filters["when"] = _when_filter(app.config["TIMEZONE"])
    app.jinja_env.filters["day"] = _day
    app.jinja_env.globals.update(
        csrf_token=csrf.csrf_token,
        LOCALE_NAMES=i18n.LOCALE_NAMES,
        post_path=post_path,
        post_action_path=post_action_path,
        image_path=image_path,
        profile_path=profile_path,
    )

    # Same loader, globals, filters and extensions (the dicts are shared), compiled for synchronous rendering.
    app.extensions["linli.jinja_sync"] = app.jinja_env.overlay(enable_async=False)

    @app.context_processor
    def _page_context() -> dict[str, Any]:
        locale = i18n.current_locale()
        return {
            "viewer": g.get("viewer"),
            "locale": locale,
            "html_lang": i18n.HTML_LANG.get(locale, "zh-Hans"),
        }


async def render_template(template_name: str, **context: Any) -> str:
    """Like Quart's `render_template`, with the same context processors, but rendered synchronously.

    Quart's Jinja environment runs in async mode, where every macro call, filter, `gettext` and loop step is
    awaited. Nothing our templates call is asynchronous, and rendering is CPU work either way (async mode never
    yields to other requests in between), so every page renders in sync mode: with the template changes in
    docs/performance.md the thread page of 50 posts went from 11 ms of CPU to render to 3.4 ms."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # the proxy's target
    await app.update_template_context(context)
    environment: Environment = app.extensions["linli.jinja_sync"]
    return environment.get_template(template_name).render(context)
