"""A `next` target with a control character is ignored (the default page instead): it cannot go into a
Location header, and the server used to drop the connection without an answer, even after creating the
session of a sign-in whose cookie it then never sent. Both databases."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from quart import Quart

from forum.db import Database
from tests.factories import PASSWORD, make_community, make_member, make_user
from tests.helpers import bearer, csrf_token, login
from tests.servers import run_server

CONTROL = ["\x01", "\x0b", "\x0c", "\x7f", "\x85", "\r\nX-Injected: 1"]


@pytest.mark.server
async def test_a_real_sign_in_with_a_control_character_in_next_lands_on_the_home_page_with_its_cookie(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    for n in range(len(CONTROL)):
        await make_user(db, username=f"rt_user{n}")
    with run_server(db_url=db_url, var_dir=tmp_path) as server:
        for n, character in enumerate(CONTROL):
            async with httpx.AsyncClient(base_url=server.url) as client:
                page = (await client.get("/login")).text
                token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
                form = {"username": f"rt_user{n}", "password": PASSWORD, "csrf_token": token, "next": f"/{character}"}
                signed_in = await client.post("/login", data=form)
                assert signed_in.status_code == 302, repr(character)
                assert signed_in.headers["Location"] == "/"
                assert "linli_session=" in signed_in.headers.get("Set-Cookie", "")
                assert "X-Injected" not in signed_in.headers
                # Signed in now: the login page sends them on, to the default page again.
                again = await client.get("/login", params={"next": f"/{character}"})
                assert again.status_code == 302 and again.headers["Location"] == "/", repr(character)
                assert (await client.get("/settings")).status_code == 200


async def test_every_next_taken_from_a_request_ignores_control_characters(app: Quart, db: Database) -> None:
    community = await make_community(db)
    for name in ("rt_writer", "rt_helper", "rt_reader"):
        user = await make_user(db, username=name)
        await make_member(db, user=user, community=community)
    api = app.test_client()
    letter = await api.post(
        f"/api/v1/communities/{community.slug}/letters",
        json={"usernames": "rt_helper", "title": "谢谢帮忙搬家", "body": "太感谢了"},
        headers=await bearer(api, "rt_writer"),
    )
    assert letter.status_code == 201, await letter.get_data(as_text=True)
    letter_id = (await letter.get_json())["id"]

    for n, character in enumerate(CONTROL):
        target = f"/{character}"
        newcomer = app.test_client()
        form = {"username": f"rt_new{n}", "password": "a-long-password", "display_name": "新邻居", "next": target}
        registered = await newcomer.post("/register", form={**form, "csrf_token": await csrf_token(newcomer)})
        assert (registered.status_code, registered.headers["Location"]) == (302, "/"), repr(character)
        for path in ("/register", "/login"):  # signed in: both send them on
            response = await newcomer.get(path, query_string={"next": target})
            assert (response.status_code, response.headers["Location"]) == (302, "/"), (path, repr(character))
        language = await newcomer.post(
            "/language", form={"locale": "en", "next": target, "csrf_token": await csrf_token(newcomer)}
        )
        assert (language.status_code, language.headers["Location"]) == (302, "/"), repr(character)

    reader = app.test_client()
    await login(reader, "rt_reader")
    for character in CONTROL:
        liked = await reader.post(
            f"/letters/{letter_id}/like",
            query_string={"next": f"/{character}"},
            form={"value": "1", "csrf_token": await csrf_token(reader)},
        )
        assert liked.status_code == 302, repr(character)
        assert liked.headers["Location"] == f"/letters/{letter_id}", repr(character)
    # A well-formed target is still followed.
    back = await reader.post(
        f"/letters/{letter_id}/like",
        query_string={"next": f"/c/{community.slug}/letters"},
        form={"value": "0", "csrf_token": await csrf_token(reader)},
    )
    assert back.headers["Location"] == f"/c/{community.slug}/letters"
