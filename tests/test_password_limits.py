"""Changing the password takes the current one, so guesses at it have their own limit, like signing in: per
account, shared by the settings page and the API, configurable by name. Both databases."""

from __future__ import annotations

from pathlib import Path

from quart import Quart

from forum.app import create_app
from forum.db import Database
from tests.conftest import app_config
from tests.factories import PASSWORD, make_user
from tests.helpers import bearer, login, post_form

NEW = "another long password"


async def test_guesses_at_the_current_password_are_limited_per_account_across_page_and_api(
    app: Quart, db: Database
) -> None:
    await make_user(db, username="pw_owner")
    await make_user(db, username="pw_neighbour")
    api = app.test_client()
    token = await bearer(api, "pw_owner")
    page = app.test_client()
    await login(page, "pw_owner")

    for n in range(5):  # the allowance: 5 in 5 minutes, page and API together
        guess = {"current_password": f"guess {n}", "new_password": NEW}
        if n % 2:
            response = await post_form(page, "/settings/password", guess, token_from="/settings")
        else:
            response = await api.post("/api/v1/me/password", json=guess, headers=token)
        assert response.status_code == 403, n  # type: ignore[attr-defined]

    # Then even the right password waits, on either side, and nothing changed.
    right = {"current_password": PASSWORD, "new_password": NEW}
    refused = await api.post("/api/v1/me/password", json=right, headers=token)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert (await refused.get_json())["error"] == "rate_limited"
    refused_page = await post_form(page, "/settings/password", right, token_from="/settings")
    assert refused_page.status_code == 429  # type: ignore[attr-defined]
    await bearer(app.test_client(), "pw_owner")  # the old password still signs in

    # Another account behind the same address has its own allowance.
    neighbour = await bearer(api, "pw_neighbour")
    changed = await api.post("/api/v1/me/password", json=right, headers=neighbour)
    assert changed.status_code == 204


async def test_the_password_limit_is_configurable_by_name(db_url: str, tmp_path: Path, db: Database) -> None:
    await make_user(db, username="pw_configured")
    app = create_app(app_config(db_url, tmp_path, RATE_LIMITS="password.account=2/1h"))
    async with app.test_app():
        client = app.test_client()
        token = await bearer(client, "pw_configured")
        wrong = {"current_password": "not it", "new_password": NEW}
        statuses = [(await client.post("/api/v1/me/password", json=wrong, headers=token)).status_code for _ in range(3)]
    assert statuses == [403, 403, 429]
