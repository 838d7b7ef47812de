"""Registration, login, logout and revocation through the pages, as a browser uses them."""

from __future__ import annotations

import os
import subprocess
import sys

from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import func, select

from forum.db import Database
from forum.models import AuthSession, User
from tests.factories import PASSWORD, make_user
from tests.helpers import csrf_token, login, post_form, text


async def test_a_visitor_registers_and_is_signed_in(client: Client, db: Database) -> None:
    response = await post_form(
        client, "/register", {"username": "Zhang_San", "password": "a-long-password", "display_name": "张三"}
    )
    assert response.status_code == 302
    home = await text(await client.get("/"))
    assert "张三" in home
    async with db.read_only() as session:
        user = (await session.execute(select(User))).scalar_one()
    assert user.username == "zhang_san"
    assert user.password_hash.startswith("$argon2id$")


async def test_registration_shows_every_problem_in_the_form_with_422(client: Client, db: Database) -> None:
    response = await post_form(client, "/register", {"username": "a", "password": "short", "display_name": ""})
    assert response.status_code == 422
    page = await text(response)
    assert page.count('class="error"') == 3
    assert 'aria-invalid="true"' in page
    assert 'value="a"' in page  # what the user typed is kept
    async with db.read_only() as session:
        assert (await session.execute(select(func.count()).select_from(User))).scalar_one() == 0


async def test_a_taken_username_is_refused_whatever_its_case(client: Client, db: Database) -> None:
    await make_user(db, username="lisi")
    response = await post_form(
        client, "/register", {"username": "LiSi", "password": "a-long-password", "display_name": "李四"}
    )
    assert response.status_code == 409
    assert "该用户名已被使用" in await text(response)


async def test_missing_and_odd_fields_never_cause_a_500(client: Client, db: Database) -> None:
    for form in (
        {},
        {"username": "x" * 10_000},
        {"username": "ok_name", "password": "p" * 5000, "display_name": "\x01"},
    ):
        response = await post_form(client, "/register", form)
        assert response.status_code in {422, 409}, form
    assert (await post_form(client, "/login", {})).status_code == 401
    # PostgreSQL cannot store NUL in text: refused up front, with a message, in forms, paths and query strings.
    for path, form in (
        ("/register", {"username": "nul\x00", "password": "a-long-password", "display_name": "x"}),
        ("/login", {"username": "al\x00ice", "password": "whatever1"}),
    ):
        response = await post_form(client, path, form)
        assert response.status_code == 400
        assert "NUL" in await text(response)
    await make_user(db, username="odd_user")
    await login(client, "odd_user")
    for path in ("/u/al%00ice", "/c/x%00y", "/join/AB%00CDEFG", "/?q=%00"):
        assert (await client.get(path)).status_code == 400, path
    # Ids beyond what the database can hold name nothing: 404, not a database error.
    for path in (
        "/memberships/2147483648/verify",
        "/memberships/99999999999999999999999/verify",
        "/settings/sessions/2147483648/end",
        "/memberships/0/verify",
    ):
        assert (await post_form(client, path)).status_code == 404, path
    # A forged CSRF token in any alphabet is a clear 403.
    response = await client.post("/settings/profile", form={"display_name": "x", "csrf_token": "令牌" * 10})
    assert response.status_code == 403
    response = await client.patch("/api/v1/me", json={"display_name": "x"}, headers={"X-CSRF-Token": "ünïcödé"})
    assert response.status_code == 403
    async with db.read_only() as session:
        assert (await session.execute(select(func.count()).select_from(User))).scalar_one() == 1


async def test_a_wrong_password_gets_one_message_that_does_not_say_which_part_was_wrong(
    client: Client, db: Database
) -> None:
    await make_user(db, username="wangwu")
    wrong_password = await post_form(client, "/login", {"username": "wangwu", "password": "not-the-password"})
    no_such_user = await post_form(client, "/login", {"username": "nobody", "password": "not-the-password"})
    assert wrong_password.status_code == no_such_user.status_code == 401
    assert "用户名或密码不正确" in await text(wrong_password)
    assert 'value="wangwu"' in await text(wrong_password)


async def test_logout_revokes_the_session_on_the_server(app: Quart, db: Database) -> None:
    await make_user(db, username="zhaoliu")
    client = app.test_client()
    await login(client, "zhaoliu")
    cookie_value = next(c.value for c in client.cookie_jar if c.name == "linli_session")  # type: ignore[union-attr]
    assert (await client.get("/settings")).status_code == 200

    response = await post_form(client, "/logout")
    assert response.status_code == 302
    async with db.read_only() as session:
        assert (await session.execute(select(func.count()).select_from(AuthSession))).scalar_one() == 0

    # Replaying the old cookie from another client gets nowhere: the server-side row is gone.
    replay = app.test_client()
    replay.set_cookie("localhost", "linli_session", cookie_value)
    response = await replay.get("/settings")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


async def test_log_out_everywhere_ends_the_sessions_of_other_devices(app: Quart, db: Database) -> None:
    await make_user(db, username="sunqi")
    phone, laptop = app.test_client(), app.test_client()
    await login(phone, "sunqi")
    await login(laptop, "sunqi")
    assert (await laptop.get("/settings")).status_code == 200

    response = await post_form(phone, "/settings/sessions/end-all", token_from="/settings")
    assert response.status_code == 302
    assert (await laptop.get("/settings")).status_code == 302
    assert (await phone.get("/settings")).status_code == 302


async def test_changing_the_password_logs_out_other_devices_but_not_this_one(app: Quart, db: Database) -> None:
    await make_user(db, username="qianba")
    phone, laptop = app.test_client(), app.test_client()
    await login(phone, "qianba")
    await login(laptop, "qianba")

    wrong = await post_form(
        phone,
        "/settings/password",
        {"current_password": "nope-nope", "new_password": "new-password-1"},
        token_from="/settings",
    )
    assert wrong.status_code == 403
    response = await post_form(
        phone,
        "/settings/password",
        {"current_password": PASSWORD, "new_password": "new-password-1"},
        token_from="/settings",
    )
    assert response.status_code == 302
    assert (await phone.get("/settings")).status_code == 200
    assert (await laptop.get("/settings")).status_code == 302
    fresh = app.test_client()
    await login(fresh, "qianba", "new-password-1")


async def test_a_state_change_without_the_csrf_token_is_refused(app: Quart, db: Database) -> None:
    await make_user(db, username="csrfvictim")
    client = app.test_client()
    await login(client, "csrfvictim")
    no_token = await client.post("/settings/profile", form={"display_name": "hacked"})
    assert no_token.status_code == 403
    assert "表单已过期" in await text(no_token) or "刷新" in await text(no_token)
    forged = await client.post("/settings/profile", form={"display_name": "hacked", "csrf_token": "0" * 64})
    assert forged.status_code == 403
    # A token minted for another browser (another CSRF cookie) does not work here either.
    other = app.test_client()
    foreign_token = await csrf_token(other)
    cross = await client.post("/settings/profile", form={"display_name": "hacked", "csrf_token": foreign_token})
    assert cross.status_code == 403
    async with db.read_only() as session:
        user = (await session.execute(select(User).where(User.username == "csrfvictim"))).scalar_one()
    assert user.display_name != "hacked"


async def test_login_is_rate_limited_per_account(client: Client, db: Database) -> None:
    await make_user(db, username="target")
    statuses = []
    for _ in range(6):
        response = await post_form(client, "/login", {"username": "target", "password": "guess-guess"})
        statuses.append(response.status_code)
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    assert int(response.headers["Retry-After"]) > 0  # type: ignore[attr-defined]
    # Another account from the same address is still allowed.
    other = await post_form(client, "/login", {"username": "someone_else", "password": "guess-guess"})
    assert other.status_code == 401


async def test_login_is_rate_limited_per_client_address(client: Client) -> None:
    statuses = [
        (await post_form(client, "/login", {"username": f"spray{i}", "password": "guess-guess"})).status_code
        for i in range(31)
    ]
    assert statuses[:30] == [401] * 30
    assert statuses[30] == 429


async def test_registration_is_rate_limited_per_client_address(client: Client) -> None:
    statuses = [
        (
            await post_form(
                client,
                "/register",
                {"username": f"bot{i}", "password": "a-long-password", "display_name": "bot"},
            )
        ).status_code
        for i in range(11)
    ]
    assert statuses[:10] == [302] * 10
    assert statuses[10] == 429


async def test_next_parameter_cannot_send_the_user_to_another_site(client: Client, db: Database) -> None:
    await make_user(db, username="nextuser")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        token = await csrf_token(client)
        response = await client.post(
            "/login", form={"username": "nextuser", "password": PASSWORD, "csrf_token": token, "next": target}
        )
        assert response.headers["Location"] == "/"
        await post_form(client, "/logout")


async def test_two_registrations_of_one_name_at_the_same_moment_give_one_account_and_a_clear_409(
    app: Quart, db: Database
) -> None:
    import asyncio

    first, second = app.test_client(), app.test_client()
    tokens = [await csrf_token(first), await csrf_token(second)]
    form = {"username": "same_name", "password": "a-long-password", "display_name": "同名"}
    responses = await asyncio.gather(
        first.post("/register", form={**form, "csrf_token": tokens[0]}),
        second.post("/register", form={**form, "csrf_token": tokens[1]}),
    )
    assert sorted(r.status_code for r in responses) == [302, 409]
    async with db.read_only() as session:
        assert (await session.execute(select(func.count()).select_from(User))).scalar_one() == 1


async def test_signing_in_through_the_page_and_the_api_draws_on_one_allowance(client: Client, db: Database) -> None:
    await make_user(db, username="two_doors")
    statuses = []
    for attempt in range(6):
        if attempt % 2:
            response = await client.post(
                "/api/v1/auth/tokens", json={"username": "two_doors", "password": "guess-guess"}
            )
        else:
            response = await post_form(client, "/login", {"username": "two_doors", "password": "guess-guess"})
        statuses.append(response.status_code)
    assert statuses == [401] * 5 + [429]


async def test_registering_one_username_over_and_over_is_rate_limited(client: Client) -> None:
    form = {"username": "wanted_name", "password": "a-long-password", "display_name": "抢注"}
    statuses = [(await post_form(client, "/register", form)).status_code for _ in range(6)]
    assert statuses == [302] + [409] * 4 + [429]


def test_passwords_are_hashed_cheaply_only_when_the_test_suite_asks() -> None:
    probe = "from forum.passwords import _hasher; print(_hasher.memory_cost, _hasher.time_cost)"
    environment = {name: value for name, value in os.environ.items() if name != "LINLI_TEST_FAST_PASSWORD_HASHING"}
    production = subprocess.run(
        [sys.executable, "-c", probe], env=environment, capture_output=True, text=True, check=True
    ).stdout.split()
    tests = subprocess.run(
        [sys.executable, "-c", probe],
        env={**environment, "LINLI_TEST_FAST_PASSWORD_HASHING": "1"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert production == ["65536", "3"]  # RFC 9106's second recommendation: 64 MiB, three passes
    assert tests == ["8", "1"]
