"""Swaps and give-aways through the JSON API: the same rules as the pages, errors named per field with the
right status, offers private to their maker and the owner. Both databases."""

from __future__ import annotations

from quart import Quart

from forum.db import Database
from forum.models import Role
from tests.factories import PASSWORD, make_community, make_member, make_user
from tests.helpers import multipart, text
from tests.test_images import png

PRAM = {
    "kind": "swap",
    "title": "婴儿推车",
    "description": "可折叠",
    "wanted": "儿童自行车",
    "category": "children",
    "condition": "good",
    "pickup_area": "3号楼",
}


async def test_the_api_lists_offers_accepts_and_confirms_a_swap(app: Quart, db: Database) -> None:
    community = await make_community(db)
    for name, role in (("ma_owner", Role.RESIDENT), ("ma_maker", Role.RESIDENT), ("ma_other", Role.RESIDENT)):
        await make_member(db, user=await make_user(db, username=name), community=community, role=role)
    await make_member(db, user=await make_user(db, username="ma_sec"), community=community, role=Role.SECRETARY)
    await make_user(db, username="ma_outsider")
    client = app.test_client()

    async def bearer(username: str) -> dict[str, str]:
        answer = await client.post("/api/v1/auth/tokens", json={"username": username, "password": PASSWORD})
        return {"Authorization": f"Bearer {(await answer.get_json())['token']}"}

    owner, maker, other, secretary, outsider = [
        await bearer(name) for name in ("ma_owner", "ma_maker", "ma_other", "ma_sec", "ma_outsider")
    ]
    market = f"/api/v1/communities/{community.slug}/market"
    bad = await client.post(market, json={**PRAM, "category": "cars", "kind": "sell"}, headers=owner)
    assert bad.status_code == 422 and set((await bad.get_json())["fields"]) == {"category", "kind"}

    body, headers = multipart(PRAM, [("images", "a.png", png())])
    created = await client.post(market, data=body, headers={**headers, **owner})
    assert created.status_code == 201, await text(created)
    pram = await created.get_json()
    assert (pram["status"], pram["kind"], len(pram["images"])) == ("open", "swap", 1)
    assert pram["room"] == f"listing:{pram['id']}" and pram["thread_id"]
    bike = await (
        await client.post(market, json={**PRAM, "title": "儿童自行车", "wanted": "推车"}, headers=maker)
    ).get_json()

    browsed = await (await client.get(market, headers=other, query_string={"kind": "swap", "q": "推车"})).get_json()
    assert {each["id"] for each in browsed["listings"]} == {pram["id"], bike["id"]}
    assert browsed["room"] == f"market:{community.id}"

    offers = f"/api/v1/market/{pram['id']}/offers"
    foreign = await client.post(offers, json={"message": "换", "offered_listing_id": pram["id"]}, headers=maker)
    assert foreign.status_code == 422 and "offered_listing_id" in (await foreign.get_json())["fields"]
    made = await client.post(offers, json={"message": "换我的车", "offered_listing_id": bike["id"]}, headers=maker)
    assert made.status_code == 201
    (mine,) = (await made.get_json())["offers"]
    assert mine["offered_listing_title"] == "儿童自行车"
    await client.post(offers, json={"message": "我出绘本"}, headers=other)
    seen_by_other = await (await client.get(f"/api/v1/market/{pram['id']}", headers=other)).get_json()
    assert [offer["message"] for offer in seen_by_other["offers"]] == ["我出绘本"]
    seen_by_owner = await (await client.get(f"/api/v1/market/{pram['id']}", headers=owner)).get_json()
    assert seen_by_owner["offer_count"] == 2 and len(seen_by_owner["offers"]) == 2

    assert (await client.post(f"/api/v1/market/offers/{mine['id']}/accept", headers=maker)).status_code == 403
    assert (await client.post(f"/api/v1/market/offers/{mine['id']}/accept", headers=outsider)).status_code == 404
    accepted = await (await client.post(f"/api/v1/market/offers/{mine['id']}/accept", headers=owner)).get_json()
    assert accepted["status"] == "reserved" and accepted["deal"]["id"] == mine["id"]
    assert (await (await client.get(f"/api/v1/market/{bike['id']}", headers=other)).get_json())["status"] == "reserved"
    deal_seen_by_other = (await (await client.get(f"/api/v1/market/{pram['id']}", headers=other)).get_json())["deal"]
    assert deal_seen_by_other["maker"]["username"] == "ma_maker" and deal_seen_by_other["message"] == ""
    huge = await client.post(f"/api/v1/market/{bike['id']}/offers", json={"offered_listing_id": 2**40}, headers=other)
    assert huge.status_code in (400, 422)
    confirmed = await (await client.post(f"/api/v1/market/offers/{mine['id']}/confirm", headers=maker)).get_json()
    assert confirmed["deal"]["maker_confirmed"] and not confirmed["deal"]["owner_confirmed"]
    done = await (await client.post(f"/api/v1/market/offers/{mine['id']}/confirm", headers=owner)).get_json()
    assert done["status"] == "done" and done["deal"]["status"] == "done"

    mine_listed = await (await client.get(f"{market}/mine", headers=maker)).get_json()
    assert [each["id"] for each in mine_listed["listings"]] == [bike["id"]]
    assert [each["status"] for each in mine_listed["offers"]] == ["done"]

    gift = await (
        await client.post(market, json={**PRAM, "kind": "free", "wanted": "", "title": "旧衣架"}, headers=owner)
    ).get_json()
    flagged = await client.post(
        f"/api/v1/market/{gift['id']}/flags", json={"reason": "spam", "note": "广告"}, headers=other
    )
    assert flagged.status_code == 200 and (await flagged.get_json()) == {"listing_id": gift["id"], "added": True}
    refused = await client.post(f"/api/v1/market/{gift['id']}/remove", json={"reason": "广告"}, headers=other)
    assert refused.status_code == 403
    removed = await client.post(f"/api/v1/market/{gift['id']}/remove", json={"reason": "重复发布"}, headers=secretary)
    assert (await removed.get_json())["removed_reason"] == "重复发布"
    assert (await client.get(f"/api/v1/market/{gift['id']}", headers=other)).status_code == 404
    assert (await (await client.get(f"/api/v1/market/{gift['id']}", headers=owner)).get_json())["status"] == "removed"
    for path in (market, f"/api/v1/market/{pram['id']}"):
        assert (await client.get(path, headers=outsider)).status_code == 404
