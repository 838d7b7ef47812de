"""Charity sales through the JSON API: the same rules as the pages, amounts in fen, errors named per field
with the right status, and nothing stored by a refused request. Both databases."""

from __future__ import annotations

from quart import Quart

from forum.db import Database
from forum.models import Role
from tests.factories import PASSWORD, make_community, make_member, make_user
from tests.helpers import multipart, text
from tests.test_images import png


async def test_the_api_runs_a_sale_from_opening_to_its_published_summary(app: Quart, db: Database) -> None:
    community = await make_community(db)
    for name, role in (("as_org", Role.RESIDENT), ("as_buyer", Role.RESIDENT), ("as_sec", Role.SECRETARY)):
        await make_member(db, user=await make_user(db, username=name), community=community, role=role)
    await make_user(db, username="as_outsider")
    client = app.test_client()

    async def bearer(username: str) -> dict[str, str]:
        answer = await client.post("/api/v1/auth/tokens", json={"username": username, "password": PASSWORD})
        return {"Authorization": f"Bearer {(await answer.get_json())['token']}"}

    org, buyer, secretary, outsider = [await bearer(name) for name in ("as_org", "as_buyer", "as_sec", "as_outsider")]
    sales = f"/api/v1/communities/{community.slug}/sales"
    bad = await client.post(
        sales,
        json={"title": "义卖", "cause": "助学", "pickup": "门口", "starts_at": "soon", "ends_at": "", "target": -3},
        headers=org,
    )
    assert bad.status_code == 422
    assert set((await bad.get_json())["fields"]) == {"starts_at", "ends_at", "target"}
    assert (await (await client.get(sales, headers=org)).get_json())["sales"] == []

    opened = await client.post(
        sales,
        json={
            "title": "助学义卖",
            "cause": "给山区小学买图书",
            "pickup": "居委会，周六上午",
            "starts_at": "2020-01-01T09:00:00+08:00",
            "ends_at": "2099-01-01T09:00",
            "target": "1000",
            "hold_hours": 2,
        },
        headers=org,
    )
    assert opened.status_code == 201, await text(opened)
    sale = await opened.get_json()
    assert (sale["target_cents"], sale["raised_cents"], sale["status"]) == (100000, 0, "open")
    assert sale["room"] == f"sale:{sale['id']}" and sale["thread_id"] and sale["desk"] == []
    listed = await (await client.get(sales, headers=buyer)).get_json()
    assert [each["id"] for each in listed["sales"]] == [sale["id"]] and listed["room"] == f"market:{community.id}"

    body, headers = multipart({"title": "绘本一套", "price": "30.5", "quantity": "2"}, [("images", "a.png", png())])
    donated = await client.post(f"/api/v1/sales/{sale['id']}/items", data=body, headers={**headers, **org})
    assert donated.status_code == 201, await text(donated)
    (item,) = (await donated.get_json())["items"]
    assert (item["price_cents"], item["available"], len(item["images"])) == (3050, 2, 1)
    assert (await client.get(item["images"][0]["thumb_url"], headers=buyer)).status_code == 200
    assert (await client.get(item["images"][0]["thumb_url"], headers=outsider)).status_code == 404
    for fields, field in (({"price": -1}, "price"), ({"price": "3", "quantity": 0}, "quantity")):
        refused = await client.post(f"/api/v1/sales/{sale['id']}/items", json={"title": "碗", **fields}, headers=org)
        assert refused.status_code == 422 and field in (await refused.get_json())["fields"]

    reserve = f"/api/v1/sales/items/{item['id']}/reservations"
    too_many = await client.post(reserve, json={"quantity": 3}, headers=buyer)
    assert too_many.status_code == 409 and "quantity" in (await too_many.get_json())["fields"]
    held = await client.post(reserve, json={"quantity": 2}, headers=buyer)
    assert held.status_code == 201
    reservation = await held.get_json()
    assert (reservation["status"], reservation["amount_cents"]) == ("held", 6100)
    mine = await (await client.get(f"/api/v1/sales/{sale['id']}", headers=buyer)).get_json()
    assert [r["id"] for r in mine["my_reservations"]] == [reservation["id"]] and mine["desk"] is None
    desk = (await (await client.get(f"/api/v1/sales/{sale['id']}", headers=org)).get_json())["desk"]
    assert [(r["id"], r["buyer"]["username"]) for r in desk] == [(reservation["id"], "as_buyer")]

    step = f"/api/v1/sales/reservations/{reservation['id']}"
    assert (await client.post(f"{step}/paid", headers=buyer)).status_code == 403
    assert (await client.post(f"{step}/paid", headers=outsider)).status_code == 404
    paid = await client.post(f"{step}/paid", headers=secretary)
    assert (await paid.get_json())["status"] == "paid"
    assert (await client.post(f"{step}/cancel", headers=buyer)).status_code == 409
    handed = await client.post(f"{step}/handed-over", headers=org)
    assert (await handed.get_json())["status"] == "handed_over"

    early = await client.post(f"/api/v1/sales/{sale['id']}/summary", json={"summary": "已买书"}, headers=org)
    assert early.status_code == 409
    closed = await client.post(f"/api/v1/sales/{sale['id']}/close", headers=org)
    assert (await closed.get_json())["status"] == "closed"
    published = await client.post(
        f"/api/v1/sales/{sale['id']}/summary", json={"summary": "买了 20 本图书，寄往山区小学。"}, headers=org
    )
    assert published.status_code == 200 and (await published.get_json())["published"] is True
    summary = await (await client.get(f"/api/v1/sales/{sale['id']}/summary", headers=buyer)).get_json()
    assert (summary["raised_cents"], summary["units_sold"], summary["buyers"]) == (6100, 2, 1)
    assert summary["lines"][0]["amount_cents"] == 6100 and summary["summary"].startswith("买了 20 本")
    for path in (sales, f"/api/v1/sales/{sale['id']}", f"/api/v1/sales/{sale['id']}/summary"):
        assert (await client.get(path, headers=outsider)).status_code == 404, path
