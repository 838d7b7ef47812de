"""Small helpers for driving the app through its test client, as a browser would."""

from __future__ import annotations

import re

from quart.typing import TestClientProtocol as Client

from tests.factories import PASSWORD

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


async def csrf_token(client: Client, path: str = "/") -> str:
    response = await client.get(path)
    match = _TOKEN.search(await response.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


async def login(client: Client, username: str, password: str = PASSWORD) -> None:
    token = await csrf_token(client)
    response = await client.post("/login", form={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, await response.get_data(as_text=True)


async def post_form(client: Client, path: str, form: dict[str, str] | None = None, *, token_from: str = "/") -> object:
    token = await csrf_token(client, token_from)
    return await client.post(path, form={**(form or {}), "csrf_token": token})


async def text(response: object) -> str:
    return await response.get_data(as_text=True)  # type: ignore[attr-defined, no-any-return]
