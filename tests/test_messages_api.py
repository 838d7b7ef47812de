"""Private messages through the JSON API with bearer tokens: the same rules as the pages. Both databases."""

from __future__ import annotations

from quart import Quart

from forum.db import Database
from forum.models import Role
from tests.factories import PASSWORD, make_community, make_district_admin, make_member, make_user


async def _bearer(app: Quart, username: str) -> dict[str, str]:
    response = await app.test_client().post("/api/v1/auth/tokens", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, await response.get_data(as_text=True)
    return {"Authorization": f"Bearer {(await response.get_json())['token']}"}


async def test_an_app_starts_a_conversation_sends_retries_reads_and_lists(app: Quart, db: Database) -> None:
    community = await make_community(db)
    for username, role in (("zhangwei", Role.RESIDENT), ("secretary_li", Role.SECRETARY)):
        await make_member(db, user=await make_user(db, username=username), community=community, role=role)
    client = app.test_client()
    resident, secretary = await _bearer(app, "zhangwei"), await _bearer(app, "secretary_li")

    started = await client.post(
        f"/api/v1/communities/{community.slug}/conversations", json={"username": "secretary_li"}, headers=resident
    )
    assert started.status_code == 201
    conversation = await started.get_json()
    again = await client.post(
        f"/api/v1/communities/{community.slug}/conversations", json={"username": "zhangwei"}, headers=secretary
    )
    assert again.status_code == 200 and (await again.get_json())["id"] == conversation["id"]  # the same one
    assert conversation["others"][0]["username"] == "secretary_li" and not conversation["is_group"]
    path = f"/api/v1/conversations/{conversation['id']}"
    assert conversation["room"] == f"conversation:{conversation['id']}"

    body = {"body": "小区门口的井盖松了", "client_id": "app-0c1d2e3f"}
    first = await client.post(f"{path}/messages", json=body, headers=resident)
    retry = await client.post(f"{path}/messages", json=body, headers=resident)
    assert first.status_code == retry.status_code == 201
    assert (await first.get_json())["id"] == (await retry.get_json())["id"]

    listed = await (
        await client.get(f"/api/v1/communities/{community.slug}/conversations", headers=secretary)
    ).get_json()
    assert listed["unread_total"] == 1 and listed["conversations"][0]["unread"] == 1
    assert listed["conversations"][0]["waiting_since"] is not None  # awaiting the secretary's answer
    page = await (await client.get(f"{path}/messages", headers=secretary)).get_json()
    assert [m["client_id"] for m in page["messages"]] == ["app-0c1d2e3f"] and not page["has_earlier"]
    read = await client.post(f"{path}/read", json={"up_to": page["messages"][-1]["id"]}, headers=secretary)
    assert (await read.get_json())["last_read_message_id"] == page["messages"][-1]["id"]
    after = await (
        await client.get(f"/api/v1/communities/{community.slug}/conversations", headers=secretary)
    ).get_json()
    assert after["unread_total"] == 0
    mine = await (await client.get(f"{path}/messages", headers=resident)).get_json()
    assert mine["read_marks"] == {
        str(page["messages"][-1]["sender_id"] and conversation["others"][0]["id"]): page["messages"][-1]["id"]
    }


async def test_the_api_refuses_outsiders_and_explains_bad_input(app: Quart, db: Database) -> None:
    community = await make_community(db)
    for username in ("zhangwei", "wangfang", "lina"):
        await make_member(db, user=await make_user(db, username=username), community=community)
    await make_member(db, user=await make_user(db, username="secretary_li"), community=community, role=Role.SECRETARY)
    admin = await make_user(db, username="district_admin")
    await make_district_admin(db, user=admin, district_id=community.district_id)
    client = app.test_client()
    zhang = await _bearer(app, "zhangwei")
    started = await client.post(
        f"/api/v1/communities/{community.slug}/conversations", json={"username": "wangfang"}, headers=zhang
    )
    path = f"/api/v1/conversations/{(await started.get_json())['id']}"
    await client.post(f"{path}/messages", json={"body": "私事", "client_id": "private-001"}, headers=zhang)
    for outsider in ("lina", "secretary_li", "district_admin"):
        headers = await _bearer(app, outsider)
        for response in (
            await client.get(f"{path}/messages", headers=headers),
            await client.post(f"{path}/messages", json={"body": "偷看", "client_id": "intruder-01"}, headers=headers),
            await client.post(f"{path}/read", json={"up_to": 1}, headers=headers),
        ):
            assert response.status_code == 404
            assert "私事" not in await response.get_data(as_text=True)
    bad = await client.post(f"{path}/messages", json={"body": "", "client_id": "x"}, headers=zhang)
    assert bad.status_code == 422
    assert set((await bad.get_json())["fields"]) == {"client_id"}  # checked first; nothing stored either way
    nobody = await client.post(
        f"/api/v1/communities/{community.slug}/conversations", json={"username": "no-such-person"}, headers=zhang
    )
    assert nobody.status_code == 404
    document = await (await client.get("/openapi.json")).get_json()
    assert "/api/v1/conversations/{conversation_id}/messages" in document["paths"]


async def test_an_app_starts_a_group(app: Quart, db: Database) -> None:
    community = await make_community(db)
    for username in ("zhangwei", "wangfang", "lina"):
        await make_member(db, user=await make_user(db, username=username), community=community)
    client = app.test_client()
    zhang = await _bearer(app, "zhangwei")
    groups = f"/api/v1/communities/{community.slug}/groups"
    made = await client.post(groups, json={"title": "楼组", "usernames": ["wangfang", "lina"]}, headers=zhang)
    assert made.status_code == 201
    group = await made.get_json()
    assert group["is_group"] and group["title"] == "楼组"
    assert sorted(person["username"] for person in group["others"]) == ["lina", "wangfang"]
    unknown = await client.post(groups, json={"usernames": ["wangfang", "ghost"]}, headers=zhang)
    assert unknown.status_code == 422 and "usernames" in (await unknown.get_json())["fields"]
