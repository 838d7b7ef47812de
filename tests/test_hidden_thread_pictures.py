"""A hidden thread's pictures go with the thread: its author and the community's secretaries and district
admins, who still open the thread, see them; everyone else gets 404. Both databases."""

from __future__ import annotations

import io

from PIL import Image
from quart import Quart

from forum.db import Database
from forum.models import Role
from tests.factories import make_community, make_district_admin, make_member, make_user
from tests.helpers import bearer, multipart, text


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 40), (30, 160, 90)).save(out, format="PNG")
    return out.getvalue()


async def test_a_hidden_threads_pictures_answer_its_author_and_the_secretaries_only(app: Quart, db: Database) -> None:
    community = await make_community(db)
    for name, role in (("opener", Role.RESIDENT), ("replier", Role.RESIDENT), ("resident", Role.RESIDENT)):
        await make_member(db, user=await make_user(db, username=f"hp_{name}"), community=community, role=role)
    await make_member(db, user=await make_user(db, username="hp_secretary"), community=community, role=Role.SECRETARY)
    await make_district_admin(db, user=await make_user(db, username="hp_admin"), district_id=community.district_id)
    client = app.test_client()
    tokens = {
        name: await bearer(client, f"hp_{name}") for name in ("opener", "replier", "resident", "secretary", "admin")
    }

    body, headers = multipart({"title": "旧家具处理", "body": "看图"}, [("images", "a.png", _png())])
    created = await client.post(
        f"/api/v1/communities/{community.slug}/boards/talk/threads", data=body, headers={**headers, **tokens["opener"]}
    )
    assert created.status_code == 201, await text(created)
    thread = await created.get_json()
    body, headers = multipart({"body": "我家也有"}, [("images", "b.png", _png())])
    replied = await client.post(
        f"/api/v1/threads/{thread['id']}/replies", data=body, headers={**headers, **tokens["replier"]}
    )
    assert replied.status_code == 201, await text(replied)
    pictures = [thread["images"][0]["url"], (await replied.get_json())["images"][0]["thumb_url"]]

    for name, token in tokens.items():
        for url in pictures:
            assert (await client.get(url, headers=token)).status_code == 200, (name, url)

    hidden = await client.post(
        f"/api/v1/threads/{thread['id']}/hide", json={"hidden": True, "reason": "广告"}, headers=tokens["secretary"]
    )
    assert hidden.status_code == 200, await text(hidden)
    # Exactly those who still open the thread: its author, the secretaries, the district's admins.
    for name, token in tokens.items():
        opens_thread = (await client.get(f"/api/v1/threads/{thread['id']}", headers=token)).status_code
        expected = 200 if name in {"opener", "secretary", "admin"} else 404
        assert opens_thread == expected, name
        for url in pictures:
            assert (await client.get(url, headers=token)).status_code == expected, (name, url)
