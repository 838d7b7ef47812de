"""Jinja2: translations through Babel catalogs, CSRF tokens and small filters for every template."""

from __future__ import annotations

import functools
import inspect
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import (
    DateTimePattern,
    format_date,
    format_timedelta,
    get_date_format,
    get_datetime_format,
    get_time_format,
)
from babel.support import NullTranslations
from jinja2 import Environment, pass_context
from jinja2.runtime import Context, Macro
from markupsafe import Markup
from quart import Quart, current_app, g, has_request_context, request

from forum import i18n, rooms
from forum.actions.reports import is_overdue
from forum.paths import (
    image_path,
    letter_image_path,
    letter_path,
    listing_image_path,
    listing_path,
    message_image_path,
    post_action_path,
    post_path,
    profile_path,
    sale_item_image_path,
    sale_path,
)
from forum.permissions import can_see_post_text
from forum.queries.sales import yuan
from forum.validation import REASON_MAX
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


@pass_context
def _waited(context: Context, since: datetime | None, now: datetime) -> str:
    """How long something has waited, in words of the reader's language ("35 minutes", "2 hours")."""
    if since is None:
        return ""
    return format_timedelta(
        now - since, threshold=1.1, locale=context.get("locale") or i18n.current_locale(), format="long"
    )


def _day(value: datetime | None, style: str = "long") -> str:
    if value is None:
        return ""
    local = value.astimezone(_zone(current_app.config["TIMEZONE"]))
    return format_date(local, format=style, locale=i18n.current_locale())


class PostFragments:
    """Rendered posts (and report list rows, `report_rows`), kept in each process so a thread page read by many
    neighbours renders each post once.

    The key holds everything the post's markup shows: the post's stored columns themselves (so an edit, a
    deletion or a new like count is a new key), its author's name and badge, its pictures, the reader's
    language, and what differs between readers (whether they like it, whether it is theirs, whether they may
    moderate or reply). Nothing is ever invalidated: a changed post simply stops being asked for under its old
    key and ages out of the LRU. The markup holds nothing bound to one session (the like buttons post a form
    outside the posts that carries the CSRF token), so readers share entries.

    The LRU is an OrderedDict (C): cachetools' pure-Python LRUCache cost 6 µs a lookup, 50 lookups a page."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._cache: OrderedDict[tuple[Any, ...], str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._cache)

    def _get(self, key: tuple[Any, ...]) -> str | None:
        html = self._cache.get(key)
        if html is not None:
            self._cache.move_to_end(key)
        return html

    def _put(self, key: tuple[Any, ...], html: str) -> None:
        self._cache[key] = html
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)

    def render(
        self,
        context: Context,
        macro: Macro,
        page: Any,
        *,
        can_moderate: bool,
        can_reply: bool,
        text: dict[str, str],
    ) -> Markup:
        """A thread page's posts (`forum.queries.threads.ThreadPage`), each through `macro` unless kept."""
        viewer_id = getattr(context.get("viewer"), "id", None)
        locale = context.get("locale")
        parts: list[str] = []
        for row in page.posts:
            post = row.post
            liked = post.id in page.liked
            images = page.images.get(post.id)
            own = viewer_id is not None and post.author_id == viewer_id
            if not self._size:
                parts.append(macro(post, row.author, liked, images, own, can_moderate, can_reply, text))
                continue
            pictures = tuple((image.id, image.thumb_width, image.thumb_height) for image in images or ())
            key = (locale, post, row.author, pictures, liked, own, can_moderate, can_reply)
            html = self._get(key)
            if html is None:
                html = macro(post, row.author, liked, images, own, can_moderate, can_reply, text)
                self._put(key, html)
            parts.append(html)
        return Markup("").join(parts)

    def report_rows(self, context: Context, macro: Macro, rows: Any, now: datetime, *, show_reporter: bool) -> Markup:
        """The rows of a report list (`forum.queries.reports.ReportRow`), each through `macro` unless kept. The
        key holds everything a row shows: the report's columns, its category, place, thumbnail and reporter as
        this reader may see them, the language, and for a report still on the clock the minutes it has left
        (its countdown's text; the page, not the row, carries the server's exact now for static/js/reports.js)."""
        locale = context.get("locale")
        parts: list[str] = []
        for row in rows:
            report = row.report
            counting = report.answered_at is None and report.escalated_at is None and report.due_at > now
            minutes_left = int((report.due_at - now).total_seconds() // 60) if counting else None
            # The countdown is rendered from a now rounded to its minute, so the key's minutes say all it shows.
            shown_now = report.due_at - timedelta(minutes=minutes_left, seconds=30) if minutes_left is not None else now
            if not self._size:
                parts.append(macro(row, shown_now, show_reporter))
                continue
            key = (
                "report",
                locale,
                report.id,
                report.status,
                report.queue_rank,
                report.title,
                report.is_private,
                report.me_too_count,
                report.created_at,
                report.due_at,
                report.answered_at,
                report.answer_minutes,
                report.escalated_at,
                row.category,
                row.place,
                row.reporter,
                (row.thumbnail.id, row.thumbnail.thumb_width, row.thumbnail.thumb_height) if row.thumbnail else None,
                show_reporter,
                minutes_left,
            )
            html = self._get(key)
            if html is None:
                html = macro(row, shown_now, show_reporter)
                self._put(key, html)
            parts.append(html)
        return Markup("").join(parts)


@functools.lru_cache(maxsize=8)
def _template_gettext(catalog: NullTranslations) -> tuple[Callable[..., str], Callable[..., str]]:
    """`gettext` and `ngettext` for templates in one language, as jinja2.ext.i18n's newstyle ones behave
    (translations are trusted markup, variables are escaped into them), but bound to the language once per
    page rather than looked up on `g` at each of a page's forty strings, and with the strings that take no
    variables formatted once."""
    plain: dict[str, Markup] = {}

    def translated(text: str) -> Markup:
        return Markup(text)  # noqa: S704 -- our own catalogs; jinja2.ext.i18n trusts them the same way

    def gettext(message: str, **variables: Any) -> str:
        if variables:
            return translated(catalog.gettext(message)) % variables
        found = plain.get(message)
        if found is None:
            found = plain[message] = translated(catalog.gettext(message)) % {}
        return found

    def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        return translated(catalog.ngettext(singular, plural, num)) % variables

    return gettext, ngettext


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
    app.jinja_env.filters["waited"] = _waited
    app.jinja_env.filters["yuan"] = yuan
    app.jinja_env.globals.update(
        csrf_token=csrf.csrf_token,
        is_overdue=is_overdue,
        LOCALE_NAMES=i18n.LOCALE_NAMES,
        post_path=post_path,
        post_action_path=post_action_path,
        image_path=image_path,
        message_image_path=message_image_path,
        letter_image_path=letter_image_path,
        letter_path=letter_path,
        profile_path=profile_path,
        sale_path=sale_path,
        sale_item_image_path=sale_item_image_path,
        listing_path=listing_path,
        listing_image_path=listing_image_path,
        rooms=rooms.KINDS,  # data-room="{{ rooms.thread(thread.id) }}": the room kinds' one table
        REASON_MAX=REASON_MAX,
        can_see_post_text=can_see_post_text,  # the one rule for a hidden post's text (also the API's, a replay's)
    )

    app.jinja_env.globals["url_for"] = _remembering_url_for(app)
    fragments = app.extensions["linli.post_fragments"] = PostFragments(app.config["POST_CACHE_SIZE"])

    @pass_context
    def thread_posts(context: Context, macro: Macro, page: Any, **options: Any) -> Markup:
        return fragments.render(context, macro, page, **options)

    app.jinja_env.globals["thread_posts"] = thread_posts

    @pass_context
    def report_rows(context: Context, macro: Macro, rows: Any, now: datetime, show_reporter: bool = False) -> Markup:
        return fragments.report_rows(context, macro, rows, now, show_reporter=show_reporter)

    app.jinja_env.globals["report_rows"] = report_rows

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


def _remembering_url_for(app: Quart) -> Callable[..., str]:
    """Quart's `url_for` for templates, remembering the paths it built: building one costs about 20 µs, and
    every page builds a dozen (stylesheet, scripts, navigation) that are the same for everyone. A path depends
    only on the endpoint, its values and the request's root path; external URLs (which depend on the host),
    anything with options (`_anchor`, `_method`...) and endpoints relative to the current blueprint (".name")
    are built every time."""

    @functools.lru_cache(maxsize=4096)
    def remembered(root_path: str, endpoint: str, values: tuple[tuple[str, Any], ...]) -> str:
        return app.url_for(endpoint, **dict(values))

    def url_for(endpoint: str, **values: Any) -> str:
        if endpoint.startswith(".") or any(name.startswith("_") for name in values) or not has_request_context():
            return app.url_for(endpoint, **values)
        try:
            return remembered(request.root_path, endpoint, tuple(sorted(values.items())))
        except TypeError:  # a value that cannot be a key (a list of query values)
            return app.url_for(endpoint, **values)

    return url_for


async def _update_template_context(app: Quart, context: dict[str, Any]) -> None:
    """Quart's `update_template_context`, except that synchronous context processors (ours, quart-auth's and
    Flask's default one for each blueprint: cheap dictionary builders) are called directly: Quart's
    `ensure_async` sends each through a thread pool, three thread switches for every page."""
    extra: dict[str, Any] = {}
    for name in (None, *reversed(request.blueprints)) if has_request_context() else (None,):
        for processor in app.template_context_processors[name]:
            result = processor()
            extra.update(await result if inspect.isawaitable(result) else result)
    original = context.copy()
    context.update(extra)
    context.update(original)


async def render_template(template_name: str, **context: Any) -> str:
    """Like Quart's `render_template`, with the same context processors, but rendered synchronously.

    Quart's Jinja environment runs in async mode, where every macro call, filter, `gettext` and loop step is
    awaited. Nothing our templates call is asynchronous, and rendering is CPU work either way (async mode never
    yields to other requests in between), so every page renders in sync mode: with the template changes in
    docs/performance.md the thread page of 50 posts went from 11 ms of CPU to render to 3.4 ms."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # the proxy's target
    await _update_template_context(app, context)
    # `_` too: jinja2.ext.i18n's own `_` would look `gettext` up through the context on every call.
    context["gettext"], context["ngettext"] = _template_gettext(i18n.translations(context["locale"]))
    context["_"] = context["gettext"]
    environment: Environment = app.extensions["linli.jinja_sync"]
    return environment.get_template(template_name).render(context)
