"""The app factory. `forum.asgi` is the one module that builds the served object."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from quart import Quart
from quart_auth import QuartAuth
from quart_schema import DataSource, QuartSchema
from quart_schema.openapi import OpenAPIProvider
from sqlalchemy.ext.asyncio import AsyncSession
from werkzeug.routing import Rule

from forum import i18n, search
from forum.actions.events import prune_events
from forum.actions.listings import expire_due
from forum.actions.notifications import prune_read
from forum.actions.report_clock import run_due as run_report_clock
from forum.actions.reservations import lapse_due, remind_due
from forum.actions.sales import close_ended
from forum.actions.suspensions import lift_due
from forum.actions.thread_tools import close_due
from forum.api.bodies import MULTIPART_ATTRIBUTE
from forum.config import ConfigError, load_config
from forum.db import Database, PoolSettings
from forum.timeutil import utcnow
from forum.web import errors, hooks
from forum.web.context import close_db_session
from forum.web.converters import IdConverter
from forum.web.ratelimits import create_limiter
from forum.web.requests import Request
from forum.web.templating import setup_templating
from realtime.server import SocketIOApp, create_socket_server

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)


class _APIOnlyProvider(OpenAPIProvider):
    """The OpenAPI document describes the JSON API, not the HTML pages."""

    def generate_rules(self) -> Any:
        return (rule for rule in super().generate_rules() if isinstance(rule, Rule) and rule.rule.startswith("/api/"))

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        """Routes that take JSON or multipart (`forum.api.bodies`) list both request bodies."""
        paths, components = super().build_paths(rule)
        # quart-schema's own pattern lets `<slug>/x/<id:item_id>` match as one converter (`[^:]*` runs past `>`),
        # naming the path `/x/{item_id}`: name it from the rule again, one parameter per `<...>`.
        paths = {re.sub(r"<(?:[^:>]*:)?([^>]+)>", r"{\1}", rule.rule): operations for operations in paths.values()}
        multipart = getattr(self._app.view_functions[rule.endpoint], MULTIPART_ATTRIBUTE, None)
        if multipart is not None:
            body, more = self.build_request_body(multipart, DataSource.FORM_MULTIPART)
            components.update(more)
            for operations in paths.values():
                for operation in operations.values():
                    operation["requestBody"]["content"].update(body["content"])
        return paths, components


def create_app(overrides: dict[str, Any] | None = None) -> Quart:
    config = load_config(overrides)
    app = Quart("forum", template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    app.request_class = Request  # JSON bodies read strictly: malformed ones are a 400, never a 500
    app.config.update(config)
    app.secret_key = config["SECRET_KEY"]
    app.config.update(
        QUART_AUTH_COOKIE_NAME="linli_session",
        QUART_AUTH_COOKIE_SECURE=config["PRODUCTION"],
        QUART_AUTH_DURATION=config["SESSION_DAYS"] * 24 * 3600,
        QUART_AUTH_SALT="linli.session",
        MAX_CONTENT_LENGTH=config["MAX_REQUEST_BYTES"],
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    logging.basicConfig(level=logging.INFO)

    app.url_map.converters["id"] = IdConverter
    i18n.load_catalogs()
    setup_templating(app)
    QuartAuth(app)
    # Our hooks first: the rate limiter keys writes by the user they load.
    app.before_request(hooks.before_request)
    app.after_request(hooks.after_request)
    app.teardown_request(close_db_session)
    try:
        limiter = create_limiter(config["REDIS_URL"], config["RATE_LIMITS"], config["REDIS_CHANNEL"])
    except ValueError as error:
        raise ConfigError(f"RATE_LIMITS: {error}") from error
    limiter.init_app(app, enabled=config["RATE_LIMITS_ENABLED"])
    QuartSchema(
        app,
        info={"title": "Linli API", "version": "1"},
        openapi_path="/openapi.json",
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path=None,
        security_schemes={
            "bearer": {"type": "http", "scheme": "bearer"},
            "cookie": {"type": "apiKey", "in_": "cookie", "name": "linli_session"},
        },
        conversion_preference="pydantic",
        openapi_provider_class=_APIOnlyProvider,
    )
    errors.register(app)
    _register_blueprints(app)

    @app.before_serving
    async def open_database() -> None:
        database = Database(
            config["DATABASE_URL"],
            echo=config["SQL_ECHO"],
            upload_dir=config["UPLOAD_DIR"],
            pool=PoolSettings.from_config(config),
        )
        database.event_sinks.append(app.extensions["linli.relay"].sink)
        database.event_sinks.append(app.extensions["linli.relay"].publish)
        app.extensions["linli.db"] = database

    @app.before_serving
    async def load_segmenter() -> None:
        await asyncio.to_thread(search.initialize)

    @app.before_serving
    async def start_periodic_jobs() -> None:
        stopping = asyncio.Event()
        app.extensions["linli.jobs"] = (
            stopping,
            [
                asyncio.create_task(_every(3600, _prune, app, stopping, at_once=True)),
                asyncio.create_task(_every(app.config["SALE_LAPSE_SECONDS"], _lapse, app, stopping, at_once=False)),
            ],
        )

    sio = create_socket_server(app)
    app.extensions["socketio"] = sio

    # Registered after the socket server, so that it runs after the relay has stopped (Quart runs these in
    # order): nothing may still be reading when the pool is disposed.
    @app.after_serving
    async def close_database() -> None:
        # The jobs finish the round they are in (a few statements) rather than being cancelled in the middle of
        # a transaction, which makes SQLAlchemy throw the connection away while its statement still runs.
        stopping, jobs = app.extensions.pop("linli.jobs")
        stopping.set()
        await asyncio.gather(*jobs)
        await app.extensions.pop("linli.db").dispose()

    # Wrapping asgi_app keeps `app` a Quart object (test client, test_app(), lifespan hooks all still work);
    # no on_startup/on_shutdown here, or Quart's before_serving/after_serving would stop running.
    app.asgi_app = SocketIOApp(sio, other_asgi_app=app.asgi_app)  # type: ignore[method-assign]  # the documented way to wrap
    return app


async def _every(
    seconds: float,
    work: Callable[[Quart], Awaitable[None]],
    app: Quart,
    stopping: asyncio.Event,
    *,
    at_once: bool,
) -> None:
    """Run `work` every `seconds` until `stopping` is set (first straight away if `at_once`). Every process
    runs the jobs, which is harmless: each is safe to run twice at once. A failed round is retried next time;
    it must never stop the server."""
    if not at_once:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), seconds)
    while not stopping.is_set():
        try:
            await work(app)
        except Exception as error:
            if not app.extensions["linli.db"].outage.note(error):  # an outage is logged once, not every round
                log.exception("the periodic round %s failed", work.__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), seconds)


async def _prune(app: Quart) -> None:
    """Keep the event log and read notifications to their retention windows."""
    hours, days = app.config["EVENT_RETENTION_HOURS"], app.config["NOTIFICATION_RETENTION_DAYS"]
    await _each_alone(
        app,
        [
            ("prune the event log", lambda session: prune_events(session, before=utcnow() - timedelta(hours=hours))),
            ("prune read notifications", lambda session: prune_read(session, before=utcnow() - timedelta(days=days))),
        ],
    )


async def _lapse(app: Quart) -> None:
    """The clock: give back the units of sale reservations not paid in time (each lapses once), remind buyers
    whose reservations lapse soon, close sales whose end has passed, expire listings past their 30 days,
    lock threads whose timer has run out, end suspensions whose time is up, and take the problem reports'
    clock steps that are due (reminders, escalation, closing)."""
    now = utcnow()
    await _each_alone(
        app,
        [
            ("lapse sale reservations", lambda session: lapse_due(session, now=now)),
            ("remind sale buyers", lambda session: remind_due(session, now=now)),
            ("close ended sales", lambda session: close_ended(session, now=now)),
            ("expire listings", lambda session: expire_due(session, now=now)),
            ("close timed threads", lambda session: close_due(session, now=now)),
            ("lift ended suspensions", lambda session: lift_due(session, now=now)),
        ],
    )
    # Each report's step in its own unit of work (forum.actions.report_clock), so it runs beside the others.
    await run_report_clock(app.extensions["linli.db"], now=now)


async def _each_alone(app: Quart, jobs: list[tuple[str, Callable[[AsyncSession], Awaitable[object]]]]) -> None:
    """Run each job in its own unit of work: one that fails rolls back only its own changes, is logged with its
    name, and the others still run (each is retried at the next round)."""
    for name, job in jobs:
        try:
            async with app.extensions["linli.db"].unit_of_work() as session:
                await job(session)
        except Exception as error:
            if app.extensions["linli.db"].outage.note(error):
                raise  # the database is away: the other jobs would fail alike; the next round tries them all
            log.exception("the periodic job %r failed; it runs again at the next round", name)


def _register_blueprints(app: Quart) -> None:
    import forum.api.accounts_v1  # adds the account, token and profile routes to the v1 blueprint
    import forum.api.boards_v1  # adds the board management routes to the v1 blueprint
    import forum.api.communities_v1  # adds the community and membership routes to the v1 blueprint
    import forum.api.forum_v1  # adds the forum routes to the v1 blueprint
    import forum.api.letters_v1  # adds the thank-you letter routes to the v1 blueprint
    import forum.api.market_v1  # adds the swap, give-away and market routes to the v1 blueprint
    import forum.api.messages_v1  # adds the private message routes to the v1 blueprint
    import forum.api.moderation_v1  # adds the moderation routes to the v1 blueprint
    import forum.api.notifications_v1  # adds the notification routes to the v1 blueprint
    import forum.api.reports_v1  # adds the problem report routes to the v1 blueprint
    import forum.api.sales_v1  # noqa: F401 -- adds the charity sale routes to the v1 blueprint
    from forum.api.v1 import blueprint as api_v1
    from forum.views import (
        auth,
        boards,
        communities,
        home,
        images,
        letters,
        market,
        members,
        messages,
        moderation,
        notifications,
        profile,
        report_admin,
        reports,
        sales,
        settings,
        threads,
    )

    for module in (
        home,
        auth,
        communities,
        members,
        boards,
        profile,
        settings,
        threads,
        images,
        messages,
        notifications,
        letters,
        sales,
        market,
        moderation,
        reports,
        report_admin,
    ):
        app.register_blueprint(module.blueprint)
    app.register_blueprint(api_v1)
