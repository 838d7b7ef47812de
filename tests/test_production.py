"""What production (FORUM_ENV=production) adds over plain-HTTP development: every cookie is Secure, and the
app asks browsers to keep to HTTPS (HSTS). Both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from quart import Quart

from forum.app import create_app
from tests.conftest import app_config
from tests.helpers import csrf_token


@pytest.fixture
async def production_app(db_url: str, tmp_path: Path) -> AsyncIterator[Quart]:
    application = create_app(app_config(db_url, tmp_path, FORUM_ENV="production"))
    async with application.test_app():
        yield application


def _cookies(response: object) -> dict[str, SimpleCookie]:
    found: dict[str, SimpleCookie] = {}
    for header in response.headers.getlist("Set-Cookie"):  # type: ignore[attr-defined]
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        found.update({name: cookie for name in cookie})
    return found


async def test_the_language_cookie_is_secure_in_production(production_app: Quart) -> None:
    client = production_app.test_client()
    token = await csrf_token(client)
    switched = await client.post("/language", form={"locale": "en", "next": "/", "csrf_token": token}, scheme="https")
    assert switched.status_code == 302
    cookie = _cookies(switched)["linli_lang"]["linli_lang"]
    assert cookie.value == "en"
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"


async def test_the_language_cookie_works_over_plain_http_in_development(app: Quart) -> None:
    client = app.test_client()
    switched = await client.post("/language", form={"locale": "en", "csrf_token": await csrf_token(client)})
    assert not _cookies(switched)["linli_lang"]["linli_lang"]["secure"]


async def test_production_answers_ask_browsers_to_keep_to_https(production_app: Quart) -> None:
    client = production_app.test_client()
    for path in ("/", "/login", "/healthz", "/api/v1/me", "/static/css/linli.css", "/no-such-page"):
        response = await client.get(path, scheme="https")
        assert response.headers.get("Strict-Transport-Security") == "max-age=31536000", path


async def test_development_over_plain_http_sends_no_hsts(app: Quart) -> None:
    assert "Strict-Transport-Security" not in (await app.test_client().get("/login")).headers
