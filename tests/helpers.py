"""Small helpers for driving the app through its test client, as a browser would."""

from __future__ import annotations

import re

from quart import Quart
from quart.typing import TestClientProtocol as Client

from forum.db import Database
from forum.models import Community, Role
from tests.factories import PASSWORD, make_member, make_user

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


async def signed_in(app: Quart, username: str) -> Client:
    """A test client of its own, signed in as `username` through the login form."""
    client = app.test_client()
    await login(client, username)
    return client


async def member_client(
    app: Quart,
    db: Database,
    community: Community,
    username: str,
    *,
    role: Role = Role.RESIDENT,
    party: bool = False,
    display_name: str | None = None,
) -> Client:
    """A new account `username` (shown as `display_name`, by default the username titled: "wang_fang" is
    "Wang_Fang"), made a verified member of `community`, and a test client signed in as them."""
    user = await make_user(db, username=username, display_name=display_name or username.title())
    await make_member(db, user=user, community=community, role=role, is_party_member=party)
    return await signed_in(app, username)


async def post_form(client: Client, path: str, form: dict[str, str] | None = None, *, token_from: str = "/") -> object:
    token = await csrf_token(client, token_from)
    return await client.post(path, form={**(form or {}), "csrf_token": token})


async def text(response: object) -> str:
    return await response.get_data(as_text=True)  # type: ignore[attr-defined, no-any-return]


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body as a browser sends it, with several files under one name if asked
    (Quart's test client takes one file per name)."""
    from werkzeug.datastructures import Headers
    from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartEncoder, Preamble

    boundary = "----LinliTestBoundary"
    encoder = MultipartEncoder(boundary.encode())
    body = encoder.send_event(Preamble(data=b""))
    for name, value in fields.items():
        body += encoder.send_event(Field(name=name, headers=Headers()))
        body += encoder.send_event(Data(data=value.encode(), more_data=False))
    for name, filename, data in files:
        body += encoder.send_event(File(name=name, filename=filename, headers=Headers()))
        body += encoder.send_event(Data(data=data, more_data=False))
    body += encoder.send_event(Epilogue(data=b""))
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


async def post_multipart(
    client: Client,
    path: str,
    fields: dict[str, str],
    files: list[tuple[str, str, bytes]],
    *,
    token_from: str | None = "/",
    headers: dict[str, str] | None = None,
) -> object:
    """POST a multipart form; with `token_from`, with the CSRF token from that page, as the browser would."""
    if token_from is not None:
        fields = {**fields, "csrf_token": await csrf_token(client, token_from)}
    body, content_type = multipart(fields, files)
    return await client.post(path, data=body, headers={**content_type, **(headers or {})})


async def bearer(client: Client, username: str, password: str = PASSWORD) -> dict[str, str]:
    """The Authorization header of a fresh API token for `username`."""
    response = await client.post("/api/v1/auth/tokens", json={"username": username, "password": password})
    assert response.status_code == 201, await response.get_data(as_text=True)
    return {"Authorization": f"Bearer {(await response.get_json())['token']}"}
